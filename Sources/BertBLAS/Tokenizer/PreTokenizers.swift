/// The pre-tokenizers of the staged pipeline (tokenizers `pre_tokenizers/`): each splits a
/// normalized piece into smaller pieces (words) and may transform them.
/// (BERT's BertPreTokenizer is fused into `WordPieceEncoder`.)
enum PreTokenizerStep: Sendable {
    /// GPT-2's byte-level split (`ByteLevel`): the pieces stay raw UTF-8 bytes here; the BPE model
    /// reads them byte by byte, which is what tokenizers' byte-to-character mapping amounts to.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// SentencePiece's `Metaspace`: spaces become the replacement (`▁`), a replacement is
    /// prepended, and pieces start at each replacement.
    case metaspace(replacement: [UInt8], prepend: PrependScheme, split: Bool)
    /// Split on whitespace, dropping it (`WhitespaceSplit`).
    case whitespaceSplit

    /// The `pre_tokenizer.type` values this library reads.
    static let supported = "Sequence, ByteLevel, Metaspace, WhitespaceSplit (BertPreTokenizer with WordPiece)"

    enum PrependScheme: Sendable {
        case always, first, never
    }

    /// Splits `piece` (whose text starts at code point `pieceStart` of the sequence, for the
    /// `first` prepend scheme) into the next pieces, appending them to `out`.
    func apply(_ piece: NormalizedText, isFirst: Bool, into out: inout [NormalizedText]) {
        switch self {
        case .byteLevel(let addPrefixSpace, let useRegex):
            var p = piece
            if addPrefixSpace && p.bytes.first != 0x20 { p.prepend([0x20]) }
            if useRegex {
                ByteLevelSplitter.split(p, into: &out)
            } else if !p.isEmpty {
                out.append(p)
            }
        case .metaspace(let replacement, let prepend, let split):
            var p = piece
            NormalizerStep.replace(&p, .init(literal: [0x20], minimumRepeats: nil), replacement)
            let startsWith = p.bytes.starts(with: replacement)
            if !startsWith && (prepend == .always || (prepend == .first && isFirst)) {
                p.prepend(replacement)
            }
            guard split else {
                if !p.isEmpty { out.append(p) }
                return
            }
            // MergedWithNext: each replacement starts a piece (a run of them leaves single ones).
            var start = 0, i = 0
            let n = replacement.count
            while i < p.bytes.count {
                if i > start && i + n <= p.bytes.count && p.bytes[i..<(i + n)].elementsEqual(replacement) {
                    out.append(p.slice(start..<i))
                    start = i
                    i += n
                    continue
                }
                i += i == start && p.bytes[i...].starts(with: replacement) ? n : 1
            }
            if start < p.bytes.count { out.append(p.slice(start..<p.bytes.count)) }
        case .whitespaceSplit:
            var start: Int? = nil
            for (v, r) in piece.scalars {
                if NormalizerStep.isWhitespace(v) {
                    if let s = start { out.append(piece.slice(s..<r.lowerBound)) }
                    start = nil
                } else if start == nil {
                    start = r.lowerBound
                }
            }
            if let s = start { out.append(piece.slice(s..<piece.bytes.count)) }
        }
    }
}

/// GPT-2's pre-tokenizer pattern as a hand-written scanner over UTF-8, no regex engine:
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// (tokenizers `pre_tokenizers/byte_level.rs`, split with the matches isolated).
enum ByteLevelSplitter {
    /// Character class of a scalar: letter, number, whitespace, other.
    enum Class: UInt8 {
        case letter = 0, number, space, other
    }

    /// Classes of the scalars below 0x30000, built once (Swift's Unicode properties).
    static let table: [UInt8] = {
        var t = [UInt8](repeating: Class.other.rawValue, count: 0x30000)
        for v in 0..<0x30000 { t[v] = computeClass(UInt32(v)).rawValue }
        return t
    }()

    static func computeClass(_ v: UInt32) -> Class {
        guard let s = Unicode.Scalar(v) else { return .other }
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    @inline(__always)
    static func classOf(_ v: UInt32) -> Class {
        if v < 0x80 {
            // ASCII fast path.
            if (v >= 0x61 && v <= 0x7A) || (v >= 0x41 && v <= 0x5A) { return .letter }
            if v >= 0x30 && v <= 0x39 { return .number }
            if v == 0x20 || (v >= 0x09 && v <= 0x0D) { return .space }
            return .other
        }
        if v < 0x30000 { return Class(rawValue: table[Int(v)]) ?? .other }
        return computeClass(v)
    }

    /// Appends the pieces of `text` (every byte lands in exactly one piece).
    static func split(_ text: NormalizedText, into out: inout [NormalizedText]) {
        let b = text.bytes
        let n = b.count
        // Scalars with their classes, decoded once.
        var starts: [Int] = []
        var classes: [Class] = []
        starts.reserveCapacity(n + 1)
        classes.reserveCapacity(n)
        var i = 0
        while i < n {
            let (v, len) = UTF8Scalars.decode(b, at: i)
            starts.append(i)
            classes.append(classOf(v))
            i += len
        }
        let count = starts.count
        starts.append(n)
        var k = 0
        while k < count {
            let end = match(b, starts, classes, k)
            out.append(text.slice(starts[k]..<starts[end]))
            k = end
        }
    }

    /// The scalar index one past the match that starts at scalar `k`.
    @inline(__always)
    static func match(_ b: [UInt8], _ starts: [Int], _ classes: [Class], _ k: Int) -> Int {
        let count = classes.count
        let at = starts[k]
        // 's 't 're 've 'm 'll 'd
        if b[at] == 0x27 && k + 1 < count {
            let c1 = b[starts[k + 1]]
            if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return k + 2 }  // s t m d
            if k + 2 < count {
                let c2 = b[starts[k + 2]]
                if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) { return k + 3 }
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        var j = k
        if b[at] == 0x20 && k + 1 < count && classes[k + 1] != .space { j = k + 1 }
        let c = classes[j]
        if c != .space {
            var e = j + 1
            while e < count && classes[e] == c { e += 1 }
            return e
        }
        // `\s+(?!\S)` then `\s+`: a whitespace run; before a non-space, leave its last scalar.
        var e = k + 1
        while e < count && classes[e] == .space { e += 1 }
        if e < count && e - k > 1 { return e - 1 }
        return e
    }
}
