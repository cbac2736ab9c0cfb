/// A WordPiece vocabulary: token strings and ids, with a byte-keyed hash table for the hot path.
///
/// Tokens are stored once as UTF-8 bytes in one contiguous buffer. Two open-addressing tables map
/// bytes to ids without creating a `String`: one keyed by the whole token, one keyed by the part
/// after the continuation prefix (`##`) for continuation pieces, so WordPiece never concatenates
/// the prefix to look a piece up.
///
/// When a token appears twice (possible in a hand-made `vocab.txt`), the later id wins for
/// `id(_:)`, as in HuggingFace's `load_vocab`; `token(_:)` still returns each id's own string.
public struct Vocabulary: Sendable {
    /// Number of ids (the largest id + 1); ids without a token map to `nil` in `token(_:)`.
    public var count: Int

    /// The continuation prefix of WordPiece pieces, `##` for BERT.
    public let continuationPrefix: String
    /// For a model without a continuation prefix: the mark a word's first token starts with, the
    /// byte-level space `Ġ` (byte-level BPE) or the Metaspace replacement `▁` (Unigram); empty otherwise.
    public let wordStartMarker: String

    /// Token string per id (empty for ids that no token uses; see `hasToken`).
    let tokens: [String]
    let hasToken: [Bool]
    /// UTF-8 bytes of all tokens, back to back; token `i` is `bytes[starts[i] ..< starts[i + 1]]`.
    let bytes: [UInt8]
    let starts: [Int32]
    /// Open-addressing tables (linear probing) of ids + 1; 0 means empty. `mask` = capacity − 1.
    let fullTable: [Int32]
    /// Keyed by the bytes after the continuation prefix; only tokens that start with it.
    let continuationTable: [Int32]
    let mask: Int
    /// The longest token in bytes, and the longest continuation piece without its prefix, so
    /// WordPiece never tries a longer candidate than can match.
    let maxTokenBytes: Int
    let maxContinuationBytes: Int
    /// Whether each id continues a word: it starts with the prefix, or (with a word-start marker)
    /// it is a model token that does not start with the marker.
    let continuation: [Bool]

    /// Builds a vocabulary from `(token, id)` pairs.
    ///
    /// - Parameters:
    ///   - entries: tokens with their ids; ids must be non-negative. Later duplicates of a token win.
    ///   - continuationPrefix: the WordPiece continuation prefix (default `##`).
    ///   - wordStartMarker: used only when `continuationPrefix` is empty: a token that does not
    ///     start with it continues the word before it (`Ġ` for byte-level BPE, `▁` for Metaspace).
    ///     Default empty: no token is a continuation.
    ///   - wordStarts: ids that never continue a word whatever their string (added and special tokens).
    public init(_ entries: [(String, Int32)], continuationPrefix: String = "##", wordStartMarker: String = "",
                wordStarts: Set<Int32> = []) {
        let count = Int((entries.map(\.1).max() ?? -1) + 1)
        var tokens = [String](repeating: "", count: count)
        var hasToken = [Bool](repeating: false, count: count)
        for (token, id) in entries where id >= 0 {
            tokens[Int(id)] = token
            hasToken[Int(id)] = true
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 8)
        var starts: [Int32] = []
        starts.reserveCapacity(count + 1)
        for token in tokens {
            starts.append(Int32(bytes.count))
            bytes.append(contentsOf: token.utf8)
        }
        starts.append(Int32(bytes.count))

        var capacity = 16
        while capacity < count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        var full = [Int32](repeating: 0, count: capacity)
        var cont = [Int32](repeating: 0, count: capacity)
        let prefix = Array(continuationPrefix.utf8)
        var isCont = [Bool](repeating: false, count: count)
        var maxFull = 0, maxCont = 0
        // Insert in the order given, so a later duplicate overwrites an earlier one.
        bytes.withUnsafeBufferPointer { b in
            for (_, id) in entries where id >= 0 {
                let s = Int(starts[Int(id)]), e = Int(starts[Int(id) + 1])
                Vocabulary.insert(&full, mask: mask, bytes: b, start: s, end: e, id: id, starts: starts)
                maxFull = max(maxFull, e - s)
                if !prefix.isEmpty, e - s >= prefix.count,
                   prefix.indices.allSatisfy({ b[s + $0] == prefix[$0] }) {
                    isCont[Int(id)] = true
                    Vocabulary.insert(&cont, mask: mask, bytes: b, start: s + prefix.count, end: e, id: id,
                                      starts: starts, keyOffset: prefix.count)
                    maxCont = max(maxCont, e - s - prefix.count)
                }
            }
        }
        // fairseq's is_beginning_of_word for byte-level BPE and SentencePiece: a word's first token
        // carries the space (Ġ / ▁), every other token continues the word before it.
        let marker = Array(wordStartMarker.utf8)
        if prefix.isEmpty && !marker.isEmpty {
            for id in 0 ..< count where hasToken[id] && !wordStarts.contains(Int32(id)) {
                isCont[id] = !tokens[id].utf8.starts(with: marker)
            }
        }
        self.count = count
        self.continuationPrefix = continuationPrefix
        self.wordStartMarker = prefix.isEmpty ? wordStartMarker : ""
        self.tokens = tokens
        self.hasToken = hasToken
        self.bytes = bytes
        self.starts = starts
        self.fullTable = full
        self.continuationTable = cont
        self.mask = mask
        self.maxTokenBytes = maxFull
        self.maxContinuationBytes = maxCont
        self.continuation = isCont
    }

    /// The id of `token`, or `nil` when it is not in the vocabulary.
    public func id(_ token: String) -> Int32? {
        var token = token
        return token.withUTF8 { lookup(fullTable, $0, keyOffset: 0) }
    }

    /// The token string of `id`, or `nil` when `id` is out of range or unused.
    public func token(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < count, hasToken[Int(id)] else { return nil }
        return tokens[Int(id)]
    }

    /// True when `id` continues the word of the token before it: a WordPiece continuation piece
    /// (its token starts with `continuationPrefix`, e.g. `##ing`), or, with a `wordStartMarker`, a
    /// model token that does not start with it (`ing` after `Ġread`; `Ġ`/`▁` tokens and added tokens
    /// start words). Used for whole-word masking.
    public func isContinuation(_ id: Int32) -> Bool {
        guard id >= 0, Int(id) < count else { return false }
        return continuation[Int(id)]
    }

    // MARK: - Hashing

    /// FNV-1a, 64-bit: cheap for the short keys of a vocabulary.
    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    @inline(__always)
    static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = a.count
        guard n == b.count else { return false }
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        var i = 0
        while i + 8 <= n {
            if UnsafeRawPointer(pa + i).loadUnaligned(as: UInt64.self)
                != UnsafeRawPointer(pb + i).loadUnaligned(as: UInt64.self) { return false }
            i += 8
        }
        while i < n {
            if pa[i] != pb[i] { return false }
            i += 1
        }
        return true
    }

    private static func insert(_ table: inout [Int32], mask: Int, bytes: UnsafeBufferPointer<UInt8>,
                               start: Int, end: Int, id: Int32, starts: [Int32], keyOffset: Int = 0) {
        let key = UnsafeBufferPointer(rebasing: bytes[start..<end])
        var slot = hash(key) & mask
        while table[slot] != 0 {
            let other = Int(table[slot] - 1)
            let os = Int(starts[other]) + keyOffset, oe = Int(starts[other + 1])
            if equal(UnsafeBufferPointer(rebasing: bytes[os..<oe]), key) { break }
            slot = (slot + 1) & mask
        }
        table[slot] = id + 1
    }

    /// Looks `key` up in `table`; `keyOffset` is the prefix length skipped in stored tokens
    /// (the continuation table).
    @inline(__always)
    func lookup(_ table: [Int32], _ key: UnsafeBufferPointer<UInt8>, keyOffset: Int) -> Int32? {
        table.withUnsafeBufferPointer { t in
            bytes.withUnsafeBufferPointer { b in
                starts.withUnsafeBufferPointer { st in
                    Vocabulary.probe(t, b, st, mask, key, keyOffset)
                }
            }
        }
    }

    @inline(__always)
    static func probe(_ t: UnsafeBufferPointer<Int32>, _ b: UnsafeBufferPointer<UInt8>,
                      _ st: UnsafeBufferPointer<Int32>, _ mask: Int,
                      _ key: UnsafeBufferPointer<UInt8>, _ keyOffset: Int) -> Int32? {
        var slot = hash(key) & mask
        while true {
            let entry = t[slot]
            if entry == 0 { return nil }
            let id = Int(entry - 1)
            let os = Int(st[id]) + keyOffset, oe = Int(st[id + 1])
            if oe - os == key.count && equal(UnsafeBufferPointer(rebasing: b[os..<oe]), key) {
                return Int32(id)
            }
            slot = (slot + 1) & mask
        }
    }
}
