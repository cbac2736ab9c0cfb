/// Byte-pair encoding (tokenizers `models/bpe/`): a word starts as one symbol per byte
/// (byte-level, GPT-2/RoBERTa) or per character, then the pair of adjacent symbols with the
/// lowest merge rank is merged, leftmost first, until no pair has a merge.
struct BPEModel: Sendable {
    /// Symbol id of each byte (byte-level), -1 when the vocabulary lacks it.
    let byteIds: [Int32]
    let byteLevel: Bool
    /// (left id, right id) → (rank, merged id), packed as UInt64 both ways.
    let merges: [UInt64: UInt64]
    /// Unknown-character id (`unk_token`), or nil: unknown characters are then dropped.
    let unk: Int32?
    /// Per-character lookups for a non-byte-level model.
    let vocabulary: Vocabulary
    /// `ignore_merges`: a word that is itself in the vocabulary is one token.
    let ignoreMerges: Bool
    /// Byte-level: raw-bytes → id of every token, for `ignoreMerges`.
    let wholeWords: [[UInt8]: Int32]

    @inline(__always)
    static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    struct Symbol {
        var id: Int32
        var start: Int
        var length: Int
        var prev: Int
        var next: Int
    }

    /// A merge candidate: the pair starting at symbol `pos`; ordered by rank, then position.
    struct Candidate {
        var rank: UInt32
        var pos: Int
        var newId: Int32
        @inline(__always)
        func precedes(_ o: Candidate) -> Bool { rank != o.rank ? rank < o.rank : pos < o.pos }
    }

    func tokenize(_ word: [UInt8], _ emit: (Int32, Range<Int>, Bool) -> Void) {
        if ignoreMerges, let id = wholeWords[word] {
            emit(id, 0..<word.count, false)
            return
        }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(word.count)
        var i = 0
        while i < word.count {
            let n = byteLevel ? 1 : UTF8Scalars.length(word[i])
            let id: Int32?
            if byteLevel {
                let b = byteIds[Int(word[i])]
                id = b >= 0 ? b : nil
            } else {
                id = vocabulary.id(String(decoding: word[i..<min(i + n, word.count)], as: UTF8.self))
            }
            if let id = id ?? unk {
                symbols.append(Symbol(id: id, start: i, length: n, prev: symbols.count - 1, next: symbols.count + 1))
            }
            i += n
        }
        guard !symbols.isEmpty else { return }
        // Unknown characters dropped without an unk token leave gaps: relink.
        for k in symbols.indices {
            symbols[k].prev = k - 1
            symbols[k].next = k + 1 < symbols.count ? k + 1 : -1
        }
        mergeAll(&symbols)
        for s in symbols where s.length > 0 { emit(s.id, s.start..<(s.start + s.length), false) }
    }

    /// tokenizers `models/bpe/word.rs` `merge_all` (no dropout): a priority queue of candidate
    /// merges; stale entries (a side already merged, or the pair now merges to another id) skip.
    private func mergeAll(_ symbols: inout [Symbol]) {
        var heap: [Candidate] = []
        heap.reserveCapacity(symbols.count)
        func push(_ c: Candidate) {
            heap.append(c)
            var k = heap.count - 1
            while k > 0 {
                let parent = (k - 1) / 2
                guard heap[k].precedes(heap[parent]) else { break }
                heap.swapAt(k, parent)
                k = parent
            }
        }
        func pop() -> Candidate? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var k = 0
                while true {
                    let l = 2 * k + 1, r = l + 1
                    var m = k
                    if l < heap.count && heap[l].precedes(heap[m]) { m = l }
                    if r < heap.count && heap[r].precedes(heap[m]) { m = r }
                    if m == k { break }
                    heap.swapAt(k, m)
                    k = m
                }
            }
            return top
        }
        func candidate(_ pos: Int, _ a: Int32, _ b: Int32) -> Candidate? {
            guard let m = merges[Self.key(a, b)] else { return nil }
            return Candidate(rank: UInt32(truncatingIfNeeded: m >> 32), pos: pos, newId: Int32(bitPattern: UInt32(truncatingIfNeeded: m)))
        }
        for k in 0..<(symbols.count - 1) {
            if let c = candidate(k, symbols[k].id, symbols[k + 1].id) { push(c) }
        }
        while let top = pop() {
            let pos = top.pos
            guard symbols[pos].length > 0, symbols[pos].next >= 0 else { continue }
            let nextPos = symbols[pos].next
            let right = symbols[nextPos]
            guard let m = merges[Self.key(symbols[pos].id, right.id)],
                  Int32(bitPattern: UInt32(truncatingIfNeeded: m)) == top.newId else { continue }
            symbols[pos].id = top.newId
            symbols[pos].length += right.length
            symbols[pos].next = right.next
            symbols[nextPos].length = 0
            if right.next >= 0 && right.next < symbols.count { symbols[right.next].prev = pos }
            let current = symbols[pos]
            if current.prev >= 0, let c = candidate(current.prev, symbols[current.prev].id, current.id) { push(c) }
            if current.next >= 0 && current.next < symbols.count,
               let c = candidate(pos, current.id, symbols[current.next].id) { push(c) }
        }
    }
}
