/// Added tokens matched in the text before the model sees it (tokenizers
/// `tokenizer/added_vocabulary.rs`): tokens with `normalized: false` are found in the raw text,
/// the others in each normalized piece; a match becomes one token spanning it (with the spaces
/// `lstrip`/`rstrip` swallow). Used by the staged pipeline (WordPiece has its own fused matcher).
struct AddedVocabulary: Sendable {
    struct Entry: Sendable {
        var content: [UInt8]
        var id: Int32
        var lstrip = false
        var rstrip = false
        var singleWord = false
    }

    /// Longest first, so the first entry matching at a position is the leftmost-longest match.
    let entries: [Entry]
    let firstByte: [Bool]

    init(_ entries: [Entry]) {
        self.entries = entries.filter { !$0.content.isEmpty }.sorted { $0.content.count > $1.content.count }
        var first = [Bool](repeating: false, count: 256)
        for e in self.entries { first[Int(e.content[0])] = true }
        firstByte = first
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Splits `text` into pieces: `(piece, nil)` for text, `(piece, id)` for an added token
    /// (`find_matches` + `split_with_indices`). Empty pieces are dropped, as tokenizers drops them.
    func split(_ text: NormalizedText, into out: inout [(NormalizedText, Int32?)]) {
        let b = text.bytes
        guard !entries.isEmpty else {
            if !b.isEmpty { out.append((text, nil)) }
            return
        }
        var startOffset = 0
        var i = 0
        while i < b.count {
            guard firstByte[Int(b[i])], let e = entries.first(where: { matches($0.content, b, at: i) }) else {
                i += 1
                continue
            }
            var start = i, stop = i + e.content.count
            if e.singleWord {
                let startSpace = start == 0 || !Self.endsWithWord(b, before: start)
                let stopSpace = stop == b.count || !Self.startsWithWord(b, at: stop)
                if !startSpace || !stopSpace {
                    i += 1
                    continue
                }
            }
            if e.lstrip {
                var s = start
                while s > 0 {
                    let p = Self.previousScalar(b, before: s)
                    guard NormalizerStep.isWhitespace(p.0) else { break }
                    s = p.1
                }
                start = max(s, startOffset)
            }
            if e.rstrip {
                while stop < b.count {
                    let (v, n) = UTF8Scalars.decode(b, at: stop)
                    guard NormalizerStep.isWhitespace(v) else { break }
                    stop += n
                }
            }
            if startOffset < start { out.append((text.slice(startOffset..<start), nil)) }
            out.append((text.slice(start..<stop), e.id))
            startOffset = stop
            i = stop
        }
        if startOffset < b.count { out.append((text.slice(startOffset..<b.count), nil)) }
    }

    @inline(__always)
    private func matches(_ p: [UInt8], _ b: [UInt8], at i: Int) -> Bool {
        i + p.count <= b.count && b[i..<(i + p.count)].elementsEqual(p)
    }

    /// The scalar that ends at byte `end` and its first byte.
    static func previousScalar(_ b: [UInt8], before end: Int) -> (UInt32, Int) {
        var s = end - 1
        while s > 0 && b[s] & 0xC0 == 0x80 { s -= 1 }
        return (UTF8Scalars.decode(b, at: s).0, s)
    }

    /// Rust regex `\w`: alphanumeric, marks, connector punctuation (and join controls).
    static func isWord(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v) else { return false }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .decimalNumber, .nonspacingMark, .spacingMark, .enclosingMark, .connectorPunctuation: return true
        default: return false
        }
    }

    static func endsWithWord(_ b: [UInt8], before i: Int) -> Bool { isWord(previousScalar(b, before: i).0) }
    static func startsWithWord(_ b: [UInt8], at i: Int) -> Bool { isWord(UTF8Scalars.decode(b, at: i).0) }
}
