import Foundation

/// BertNormalizer settings (tokenizers `normalizers/bert.rs`).
public struct NormalizerOptions: Sendable, Equatable {
    /// Drop control characters and U+FFFD, map whitespace to a space. Default true.
    public var cleanText: Bool = true
    /// Put spaces around CJK ideographs so each becomes its own word. Default true.
    public var handleChineseChars: Bool = true
    /// NFD then drop nonspacing marks; `nil` means "same as `lowercase`". Default nil.
    public var stripAccents: Bool? = nil
    /// Lowercase every character (full Unicode mapping, no context). Default true.
    public var lowercase: Bool = true

    /// BertNormalizer settings; the defaults are tokenizers' (and the uncased BERT folders').
    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil,
                lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }
}

/// A token of the text (literal special/added token), matched on the raw text before
/// normalization, as `tokenizers`' `AddedVocabulary` does for `normalized: false` tokens.
struct AddedToken: Sendable {
    var content: [UInt8]
    var id: Int32
    var special: Bool
}

/// Normalizer + pre-tokenizer + WordPiece for one sequence, fused into one pass over UTF-8: the
/// BERT stages of the `SequenceEncoder` seam (fused because they are BERT's hot path).
///
/// Stages (huggingface/tokenizers: normalizers/bert.rs, pre_tokenizers/bert.rs,
/// models/wordpiece/mod.rs, tokenizer/added_vocabulary.rs):
/// 1. literal added tokens (`[MASK]` ...) are cut out of the raw text first;
/// 2. each scalar is normalized (clean_text, CJK spacing, NFD + drop Mn, lowercase); each output
///    scalar remembers the code-point index of the input scalar it came from;
/// 3. whitespace ends a word, punctuation is a word of its own;
/// 4. each word is split by greedy longest-match WordPiece (`##` pieces), or becomes one `[UNK]`.
///
/// Offsets of a token are (origin of its first scalar, origin of its last scalar + 1).
struct WordPieceEncoder: SequenceEncoder {
    let vocabulary: Vocabulary
    let unk: Int32
    let maxInputCharsPerWord: Int
    let cleanText: Bool
    let chinese: Bool
    let strip: Bool
    let lower: Bool
    let addedTokens: [AddedToken]
    /// `addedFirstByte[b]`: some added token starts with byte `b`.
    let addedFirstByte: [Bool]
    /// The first byte of every added token, when they share one.
    let addedOnlyFirstByte: UInt8?
    /// ASCII class per byte for this configuration (see `AsciiClass`).
    let ascii: [UInt8]

    enum AsciiClass {
        static let word: UInt8 = 0       // appended to the current word (already lowercased if asked)
        static let space: UInt8 = 1      // ends the current word
        static let punct: UInt8 = 2      // a word of its own
        static let drop: UInt8 = 3       // removed by clean_text
    }

    init(vocabulary: Vocabulary, unk: Int32, maxInputCharsPerWord: Int, normalizer: NormalizerOptions?,
         addedTokens: [AddedToken]) {
        self.vocabulary = vocabulary
        self.unk = unk
        self.maxInputCharsPerWord = maxInputCharsPerWord
        let n = normalizer
        cleanText = n?.cleanText ?? false
        chinese = n?.handleChineseChars ?? false
        lower = n?.lowercase ?? false
        strip = n.map { $0.stripAccents ?? $0.lowercase } ?? false
        // Longest first, so a scan can take the first (longest) match at a position.
        self.addedTokens = addedTokens.filter { !$0.content.isEmpty }.sorted { $0.content.count > $1.content.count }
        var first = [Bool](repeating: false, count: 256)
        for t in self.addedTokens { first[Int(t.content[0])] = true }
        addedFirstByte = first
        let firsts = Set(self.addedTokens.map { $0.content[0] })
        addedOnlyFirstByte = firsts.count == 1 ? firsts.first : nil
        var table = [UInt8](repeating: AsciiClass.word, count: 128)
        for b in 0..<128 {
            let f = UnicodeTables.computeFlags(UInt32(b))
            if cleanText && f.contains(.removed) {
                table[b] = AsciiClass.drop
            } else if f.contains(.whitespace) {
                table[b] = AsciiClass.space
            } else if f.contains(.punctuation) {
                table[b] = AsciiClass.punct
            }
        }
        ascii = table
    }

    /// One sequence's tokens before post-processing.
    func encode(_ text: String) -> Encoding.Part {
        var part = Encoding.Part()
        var text = text
        text.withUTF8 { utf8 in
            withState(capacity: utf8.count) { state in
                run(utf8, &state)
                part.ids = state.ids
                part.offsets = state.offsets
                part.wordIds = state.words
            }
        }
        return part
    }

    /// The pre-tokens (normalized words) of `text`, without WordPiece: for parity tests of the
    /// normalizer and pre-tokenizer. Literal added tokens are returned as they appear.
    func preTokens(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { utf8 in
            withState(capacity: utf8.count) { state in
                state.collectWords = true
                run(utf8, &state)
                return state.collected
            }
        }
    }

    /// Pointers into the vocabulary's tables, taken once per `encode` call.
    struct Tables {
        var full: UnsafeBufferPointer<Int32>
        var continuation: UnsafeBufferPointer<Int32>
        var bytes: UnsafeBufferPointer<UInt8>
        var starts: UnsafeBufferPointer<Int32>
        var ascii: UnsafeBufferPointer<UInt8>
    }

    /// Runs `body` with a fresh state whose table pointers are valid for the call.
    private func withState<R>(capacity: Int, _ body: (inout State) -> R) -> R {
        vocabulary.fullTable.withUnsafeBufferPointer { full in
            vocabulary.continuationTable.withUnsafeBufferPointer { cont in
                vocabulary.bytes.withUnsafeBufferPointer { vb in
                    vocabulary.starts.withUnsafeBufferPointer { vs in
                        ascii.withUnsafeBufferPointer { a in
                            var state = State(capacity: capacity,
                                              tables: Tables(full: full, continuation: cont, bytes: vb, starts: vs, ascii: a))
                            defer { state.word.free() }
                            return body(&state)
                        }
                    }
                }
            }
        }
    }

    /// The word being built: normalized UTF-8 bytes and, per byte, the code point of the input
    /// it came from. Managed by hand so that appending is two stores; grows by doubling.
    struct WordBuffer {
        var bytes: UnsafeMutablePointer<UInt8>
        var origin: UnsafeMutablePointer<Int32>
        var count = 0
        var capacity: Int
        /// Scalars in the word (for `max_input_chars_per_word`).
        var chars = 0

        init(capacity: Int) {
            self.capacity = capacity
            bytes = .allocate(capacity: capacity)
            origin = .allocate(capacity: capacity)
        }

        @inline(__always)
        mutating func append(_ b: UInt8, _ o: Int32) {
            if count == capacity { grow() }
            bytes[count] = b
            origin[count] = o
            count += 1
        }

        mutating func grow() {
            let newCapacity = capacity * 2
            let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            let no = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity)
            nb.update(from: bytes, count: count)
            no.update(from: origin, count: count)
            bytes.deallocate()
            origin.deallocate()
            bytes = nb
            origin = no
            capacity = newCapacity
        }

        func free() {
            bytes.deallocate()
            origin.deallocate()
        }
    }

    /// Scratch and output of one `encode` call: allocated once per call, reused for every word.
    struct State {
        var ids: [Int32] = []
        var offsets: [Offset] = []
        var words: [Int?] = []
        var wordIndex = 0
        var word = WordBuffer(capacity: 128)
        let tables: Tables
        var scratch: [UInt32] = []
        var scratch2: [UInt32] = []
        /// When set, words are collected as strings instead of being WordPiece-encoded (tests).
        var collectWords = false
        var collected: [String] = []

        init(capacity: Int, tables: Tables) {
            self.tables = tables
            ids.reserveCapacity(capacity / 3 + 4)
            offsets.reserveCapacity(capacity / 3 + 4)
            words.reserveCapacity(capacity / 3 + 4)
        }
    }

    private func run(_ utf8: UnsafeBufferPointer<UInt8>, _ st: inout State) {
        let n = utf8.count
        var segmentStart = 0, cp = 0
        if !addedTokens.isEmpty, let base = utf8.baseAddress {
            var i = 0
            while i < n {
                // Jump to the next byte that can start an added token (memchr when, as in BERT
                // folders, they all start with the same byte, `[`).
                if let only = addedOnlyFirstByte {
                    guard let hit = memchr(base + i, Int32(only), n - i) else { break }
                    i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                } else if !addedFirstByte[Int(utf8[i])] {
                    i += 1
                    continue
                }
                guard let t = matchAdded(utf8, at: i) else {
                    i += 1
                    continue
                }
                cp = normalizeSegment(utf8, segmentStart, i, cp, &st)
                let length = t.content.count
                var chars = 0
                for k in i..<(i + length) where utf8[k] & 0xC0 != 0x80 { chars += 1 }
                if st.collectWords { st.collected.append(String(decoding: t.content, as: UTF8.self)) }
                st.ids.append(t.id)
                st.offsets.append(Offset(start: cp, end: cp + chars))
                st.words.append(st.wordIndex)
                st.wordIndex += 1
                i += length
                cp += chars
                segmentStart = i
            }
        }
        normalizeSegment(utf8, segmentStart, n, cp, &st)
    }

    private func matchAdded(_ utf8: UnsafeBufferPointer<UInt8>, at i: Int) -> AddedToken? {
        let n = utf8.count
        for t in addedTokens where i + t.content.count <= n {
            var ok = true
            for k in 0..<t.content.count where utf8[i + k] != t.content[k] {
                ok = false
                break
            }
            if ok { return t }
        }
        return nil
    }

    /// Normalizes, pre-tokenizes and WordPiece-encodes bytes `start..<end` whose first scalar
    /// is code point `cp0` of the text.
    /// - Returns: the code point index after the segment.
    @discardableResult
    private func normalizeSegment(_ utf8: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ cp0: Int,
                                  _ st: inout State) -> Int {
        var i = start
        var cp = cp0
        let asciiClass = st.tables.ascii
        do {
            while i < end {
                let b = utf8[i]
                if b < 0x80 {
                    switch asciiClass[Int(b)] {
                    case AsciiClass.word:
                        let c = (lower && b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
                        st.word.append(c, Int32(cp))
                        st.word.chars += 1
                    case AsciiClass.space:
                        flushWord(&st)
                    case AsciiClass.punct:
                        flushWord(&st)
                        st.word.append(b, Int32(cp))
                        st.word.chars = 1
                        flushWord(&st)
                    default:
                        break
                    }
                    i += 1
                    cp += 1
                    continue
                }
                // Decode one multi-byte scalar (the input is valid UTF-8: it came from a String).
                var v: UInt32
                var len: Int
                if b < 0xE0 {
                    v = UInt32(b & 0x1F)
                    len = 2
                } else if b < 0xF0 {
                    v = UInt32(b & 0x0F)
                    len = 3
                } else {
                    v = UInt32(b & 0x07)
                    len = 4
                }
                for k in 1..<len where i + k < end { v = (v << 6) | UInt32(utf8[i + k] & 0x3F) }
                normalizeScalar(v, cp, &st)
                i += len
                cp += 1
            }
        }
        flushWord(&st)
        return cp
    }

    /// The general path for one non-ASCII scalar.
    private func normalizeScalar(_ v: UInt32, _ cp: Int, _ st: inout State) {
        var v = v
        let f = UnicodeTables.flags(of: v)
        if cleanText {
            if f.contains(.removed) { return }
            if f.contains(.whitespace) { v = 0x20 }
        }
        let isCJK = chinese && f.contains(.chinese)
        if isCJK { flushWord(&st) }
        if (strip && (f.contains(.decomposes) || f.contains(.nonspacingMark)))
            || (lower && f.contains(.lowercases)) {
            st.scratch.removeAll(keepingCapacity: true)
            if strip {
                UnicodeTables.decompose(v, into: &st.scratch)
                st.scratch.removeAll { UnicodeTables.flags(of: $0).contains(.nonspacingMark) }
            } else {
                st.scratch.append(v)
            }
            if lower {
                st.scratch2.removeAll(keepingCapacity: true)
                for s in st.scratch {
                    if UnicodeTables.flags(of: s).contains(.lowercases) {
                        UnicodeTables.lowercase(s, into: &st.scratch2)
                    } else {
                        st.scratch2.append(s)
                    }
                }
                swap(&st.scratch, &st.scratch2)
            }
            for s in st.scratch { pretokenize(s, cp, &st) }
        } else {
            pretokenize(v, cp, &st)
        }
        if isCJK { flushWord(&st) }
    }

    /// BertPreTokenizer on one normalized scalar.
    @inline(__always)
    private func pretokenize(_ v: UInt32, _ cp: Int, _ st: inout State) {
        let f = UnicodeTables.flags(of: v)
        if f.contains(.whitespace) {
            flushWord(&st)
        } else if f.contains(.punctuation) {
            flushWord(&st)
            appendScalar(v, cp, &st)
            flushWord(&st)
        } else {
            appendScalar(v, cp, &st)
        }
    }

    @inline(__always)
    private func appendScalar(_ v: UInt32, _ cp: Int, _ st: inout State) {
        let o = Int32(cp)
        if v < 0x80 {
            st.word.append(UInt8(v), o)
        } else if v < 0x800 {
            st.word.append(UInt8(0xC0 | (v >> 6)), o)
            st.word.append(UInt8(0x80 | (v & 0x3F)), o)
        } else if v < 0x10000 {
            st.word.append(UInt8(0xE0 | (v >> 12)), o)
            st.word.append(UInt8(0x80 | ((v >> 6) & 0x3F)), o)
            st.word.append(UInt8(0x80 | (v & 0x3F)), o)
        } else {
            st.word.append(UInt8(0xF0 | (v >> 18)), o)
            st.word.append(UInt8(0x80 | ((v >> 12) & 0x3F)), o)
            st.word.append(UInt8(0x80 | ((v >> 6) & 0x3F)), o)
            st.word.append(UInt8(0x80 | (v & 0x3F)), o)
        }
        st.word.chars += 1
    }

    /// WordPiece on the current word, then clears it.
    private func flushWord(_ st: inout State) {
        let n = st.word.count
        guard n > 0 else { return }
        defer {
            st.word.count = 0
            st.word.chars = 0
            st.wordIndex += 1
        }
        let w = UnsafeBufferPointer(start: st.word.bytes, count: n)
        let origin = st.word.origin
        if st.collectWords {
            st.collected.append(String(decoding: w, as: UTF8.self))
            return
        }
        let word = st.wordIndex
        let first = Int(origin[0]), last = Int(origin[n - 1]) + 1
        if st.word.chars > maxInputCharsPerWord {
            st.ids.append(unk)
            st.offsets.append(Offset(start: first, end: last))
            st.words.append(word)
            return
        }
        let mark = st.ids.count
        let t = st.tables
        let mask = vocabulary.mask
        let prefixLength = vocabulary.continuationPrefix.utf8.count
        var start = 0
        var ok = true
        while start < n {
            var end = min(n, start + (start == 0 ? vocabulary.maxTokenBytes : vocabulary.maxContinuationBytes))
            // Back up to a scalar boundary.
            while end < n && end > start && w[end] & 0xC0 == 0x80 { end -= 1 }
            var found: Int32? = nil
            while end > start {
                let key = UnsafeBufferPointer(rebasing: w[start..<end])
                found = start == 0
                    ? Vocabulary.probe(t.full, t.bytes, t.starts, mask, key, 0)
                    : Vocabulary.probe(t.continuation, t.bytes, t.starts, mask, key, prefixLength)
                if found != nil { break }
                end -= 1
                while end > start && w[end] & 0xC0 == 0x80 { end -= 1 }
            }
            guard let id = found else {
                ok = false
                break
            }
            st.ids.append(id)
            st.offsets.append(Offset(start: Int(origin[start]), end: Int(origin[end - 1]) + 1))
            st.words.append(word)
            start = end
        }
        if !ok {
            st.ids.removeSubrange(mark...)
            st.offsets.removeSubrange(mark...)
            st.words.removeSubrange(mark...)
            st.ids.append(unk)
            st.offsets.append(Offset(start: first, end: last))
            st.words.append(word)
        }
    }
}
