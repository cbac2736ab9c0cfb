/// SentencePiece's Unigram model (tokenizers `models/unigram/model.rs`, `encode_optimized`):
/// the segmentation of a word into pieces with the highest total score (Viterbi over a trie of the
/// pieces). A character no piece starts with becomes the unknown piece (score: the lowest piece
/// score − 10); runs of unknown characters fuse into one unknown token; with `byte_fallback`, an
/// unknown run becomes its `<0xXX>` byte pieces when the vocabulary has them all.
struct UnigramModel: Sendable {
    /// Trie over the pieces' UTF-8 bytes: child of (node, byte) at `children[node << 8 | byte]`.
    let children: [Int: Int32]
    /// Piece id ending at each trie node, -1 if none (a later duplicate piece wins, as in tokenizers).
    let pieceAt: [Int32]
    let scores: [Double]
    let unk: Int32?
    let unkScore: Double
    let byteFallback: Bool
    /// `<0xXX>` piece ids for byte fallback, -1 when absent.
    let byteIds: [Int32]

    init(pieces: [(bytes: [UInt8], score: Double)], unk: Int32?, byteFallback: Bool) {
        var children: [Int: Int32] = [:]
        var pieceAt: [Int32] = [-1]
        var minScore = Double.infinity
        for (id, p) in pieces.enumerated() {
            var node = 0
            for b in p.bytes {
                let key = node << 8 | Int(b)
                if let child = children[key] {
                    node = Int(child)
                } else {
                    children[key] = Int32(pieceAt.count)
                    node = pieceAt.count
                    pieceAt.append(-1)
                }
            }
            if node != 0 { pieceAt[node] = Int32(id) }
            minScore = min(minScore, p.score)
        }
        self.children = children
        self.pieceAt = pieceAt
        self.scores = pieces.map(\.score)
        self.unk = unk
        self.unkScore = minScore - 10
        self.byteFallback = byteFallback
        var byteIds = [Int32](repeating: -1, count: 256)
        let hex = Array("0123456789ABCDEF".utf8)
        for b in 0..<256 {
            let name: [UInt8] = Array("<0x".utf8) + [hex[b >> 4], hex[b & 15], UInt8(ascii: ">")]
            byteIds[b] = Self.lookup(name[...], children, pieceAt) ?? -1
        }
        self.byteIds = byteIds
    }

    static func lookup(_ bytes: ArraySlice<UInt8>, _ children: [Int: Int32], _ pieceAt: [Int32]) -> Int32? {
        var node = 0
        for b in bytes {
            guard let child = children[node << 8 | Int(b)] else { return nil }
            node = Int(child)
        }
        let id = pieceAt[node]
        return node != 0 && id >= 0 ? id : nil
    }

    func tokenize(_ word: [UInt8], _ emit: (Int32, Range<Int>, Bool) -> Void) {
        let size = word.count
        guard size > 0 else { return }
        var bestScore = [Double](repeating: 0, count: size + 1)
        var startsAt = [Int](repeating: -1, count: size + 1)
        var bestId = [Int32](repeating: 0, count: size + 1)
        var start = 0
        while start < size {
            let here = bestScore[start]
            let charLength = UTF8Scalars.length(word[start])
            var hasSingle = false
            var node = 0
            var end = start
            while end < size, let child = children[node << 8 | Int(word[end])] {
                node = Int(child)
                end += 1
                let id = pieceAt[node]
                guard id >= 0 else { continue }
                let candidate = scores[Int(id)] + here
                if startsAt[end] < 0 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    startsAt[end] = start
                    bestId[end] = id
                }
                if end - start == charLength { hasSingle = true }
            }
            if !hasSingle {
                let target = min(start + charLength, size)
                let candidate = unkScore + here
                if startsAt[target] < 0 || candidate > bestScore[target] {
                    bestScore[target] = candidate
                    startsAt[target] = start
                    bestId[target] = unk ?? -1
                }
            }
            start += charLength
        }
        // Back from the end; consecutive unknown nodes fuse into one token.
        var spans: [(Range<Int>, Bool)] = []
        var end = size
        while end > 0 {
            let s = max(startsAt[end], 0)
            let isUnk = unk != nil && bestId[end] == unk
            if isUnk, let last = spans.last, last.1, last.0.lowerBound == end {
                spans[spans.count - 1].0 = s..<last.0.upperBound
            } else {
                spans.append((s..<end, isUnk))
            }
            if s == end { break }
            end = s
        }
        for (range, _) in spans.reversed() {
            if let id = Self.lookup(word[range], children, pieceAt) {
                emit(id, range, false)
                continue
            }
            if byteFallback, word[range].allSatisfy({ byteIds[Int($0)] >= 0 }) {
                for b in word[range] { emit(byteIds[Int(b)], range, false) }
                continue
            }
            if let unk { emit(unk, range, true) }
        }
    }
}
