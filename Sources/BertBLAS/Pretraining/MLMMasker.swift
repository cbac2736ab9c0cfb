/// One sequence after masking: the model's input and its masked-LM labels.
public struct MaskedSequence: Sendable, Equatable {
    /// The input ids with selected positions replaced (`[MASK]`, a random id, or kept).
    public var inputIds: [Int32]
    /// The original id at selected positions, `MLMMasker.ignoreLabel` (-100) elsewhere.
    public var labels: [Int32]

    public init(inputIds: [Int32], labels: [Int32]) {
        self.inputIds = inputIds
        self.labels = labels
    }
}

/// Applies a `MaskingPolicy` to token ids, drawing from a caller-supplied `SeededRandom`.
///
/// Candidates are the positions whose special-tokens-mask entry is 0 and whose id is not
/// `[PAD]`: `[CLS]`, `[SEP]` and padding are never selected. A `[UNK]` that came from the text
/// (special-tokens-mask 0, as the tokenizer reports it) is an ordinary candidate, as in HF when
/// the batch carries the tokenizer's `special_tokens_mask`.
///
/// Words, for whole-word masking: a candidate that is not a `##` piece starts a word, and the
/// `##` candidates right after it belong to it. A `##` piece whose left neighbour is not a
/// candidate (e.g. the first token after `[SEP]`) starts its own word; HF and google-research
/// would glue it to the last word before the `[SEP]`, across the separator.
///
/// The random stream is consumed as follows (this fixes the output for a seed): per-token
/// selection draws one 64-bit value per candidate (or per word); the budget selection shuffles
/// the candidate list with `SeededRandom.shuffle`; then every selected position draws one value
/// for its fate (`< maskFraction`: `[MASK]`, `< maskFraction + randomFraction`: random, else
/// kept) and, when random, one `int(below: vocabulary.size)`.
public struct MLMMasker: Sendable {
    /// The label of positions that are not predicted (PyTorch's cross-entropy `ignore_index`).
    public static let ignoreLabel: Int32 = -100

    /// What is selected and how it is replaced.
    public let policy: MaskingPolicy
    /// Vocabulary size, `[MASK]`/`[PAD]` ids and `##` pieces.
    public let vocabulary: MaskingVocabulary

    private let selectThreshold: UInt64
    private let maskThreshold: UInt64
    private let randomThreshold: UInt64

    /// Creates a masker.
    ///
    /// - Parameters:
    ///   - policy: what to select and how to replace it; validated here.
    ///   - vocabulary: the vocabulary facts.
    /// - Throws: `BertError.invalidInput` from `MaskingPolicy.validate()`.
    public init(policy: MaskingPolicy, vocabulary: MaskingVocabulary) throws {
        try policy.validate()
        self.policy = policy
        self.vocabulary = vocabulary
        selectThreshold = SeededRandom.threshold53(policy.probability)
        maskThreshold = SeededRandom.threshold53(policy.maskFraction)
        randomThreshold = SeededRandom.threshold53(policy.maskFraction + policy.randomFraction)
    }

    /// Masks one sequence.
    ///
    /// - Parameters:
    ///   - ids: the token ids, special tokens included (e.g. an `Encoding`'s `ids`).
    ///   - specialTokensMask: 1 at special tokens (never selected), 0 elsewhere; same length.
    ///   - rng: the generator to draw from; it advances.
    /// - Returns: the masked ids and labels. An empty sequence, or one without candidates, comes
    ///   back unchanged with all labels -100.
    /// - Throws: `BertError.shape` when the two arrays differ in length.
    public func mask(_ ids: [Int32], specialTokensMask: [Int32],
                     using rng: inout SeededRandom) throws -> MaskedSequence {
        guard ids.count == specialTokensMask.count else {
            throw BertError(.shape, "mask: ids has \(ids.count) entries but specialTokensMask has \(specialTokensMask.count)")
        }
        var output = ids
        var labels = [Int32](repeating: Self.ignoreLabel, count: ids.count)
        output.withUnsafeMutableBufferPointer { out in
            labels.withUnsafeMutableBufferPointer { lab in
                specialTokensMask.withUnsafeBufferPointer { special in
                    _ = maskInPlace(out, specialTokensMask: special, labels: lab, using: &rng)
                }
            }
        }
        return MaskedSequence(inputIds: output, labels: labels)
    }

    /// Masks one sequence in place, without allocating (except a small scratch list of words
    /// for the budget selection): the hot path for batch producers and benchmarks.
    ///
    /// - Parameters:
    ///   - ids: the token ids; selected positions are overwritten.
    ///   - specialTokensMask: 1 at special tokens, 0 elsewhere; at least `ids.count` entries.
    ///   - labels: receives the labels; at least `ids.count` entries.
    ///   - rng: the generator to draw from; it advances.
    /// - Returns: the number of selected (predicted) positions.
    @discardableResult
    public func maskInPlace(_ ids: UnsafeMutableBufferPointer<Int32>,
                            specialTokensMask: UnsafeBufferPointer<Int32>,
                            labels: UnsafeMutableBufferPointer<Int32>,
                            using rng: inout SeededRandom) -> Int {
        let n = min(ids.count, specialTokensMask.count, labels.count)
        for i in 0 ..< n { labels[i] = Self.ignoreLabel }
        switch (policy.selection, policy.wholeWord) {
        case (.perToken, false):
            return perToken(ids, specialTokensMask, labels, n, &rng)
        case (.perToken, true):
            return withWords(ids, specialTokensMask, n) { starts, lengths in
                perWord(ids, labels, starts, lengths, &rng)
            }
        case (.budget(let maxPredictions), _):
            var length = 0
            let pad = vocabulary.padId
            for i in 0 ..< n where ids[i] != pad { length += 1 }
            let budget = min(maxPredictions,
                             max(1, Int((Double(length) * policy.probability).rounded(.toNearestOrEven))))
            if policy.wholeWord {
                return withWords(ids, specialTokensMask, n) { starts, lengths in
                    budgeted(ids, labels, starts, lengths, budget, &rng)
                }
            }
            return withCandidates(ids, specialTokensMask, n) { starts in
                budgeted(ids, labels, starts, nil, budget, &rng)
            }
        }
    }

    @inline(__always)
    private func isCandidate(_ ids: UnsafeMutableBufferPointer<Int32>,
                             _ special: UnsafeBufferPointer<Int32>, _ i: Int) -> Bool {
        special[i] == 0 && ids[i] != vocabulary.padId
    }

    /// Decides the fate of selected position `i` and records its label.
    @inline(__always)
    private func replace(_ ids: UnsafeMutableBufferPointer<Int32>, _ labels: UnsafeMutableBufferPointer<Int32>,
                         _ i: Int, _ rng: inout SeededRandom) {
        labels[i] = ids[i]
        let u = rng.nextRaw() >> 11
        if u < maskThreshold {
            ids[i] = vocabulary.maskId
        } else if u < randomThreshold {
            ids[i] = Int32(truncatingIfNeeded: rng.int(below: vocabulary.size))
        }
    }

    private func perToken(_ ids: UnsafeMutableBufferPointer<Int32>, _ special: UnsafeBufferPointer<Int32>,
                          _ labels: UnsafeMutableBufferPointer<Int32>, _ n: Int,
                          _ rng: inout SeededRandom) -> Int {
        var selected = 0
        for i in 0 ..< n where isCandidate(ids, special, i) {
            if rng.nextRaw() >> 11 < selectThreshold {
                replace(ids, labels, i, &rng)
                selected += 1
            }
        }
        return selected
    }

    private func perWord(_ ids: UnsafeMutableBufferPointer<Int32>, _ labels: UnsafeMutableBufferPointer<Int32>,
                         _ starts: UnsafeMutableBufferPointer<Int32>, _ lengths: UnsafeMutableBufferPointer<Int32>,
                         _ rng: inout SeededRandom) -> Int {
        var selected = 0
        for w in 0 ..< starts.count where rng.nextRaw() >> 11 < selectThreshold {
            let start = Int(starts[w])
            for i in start ..< start + Int(lengths[w]) { replace(ids, labels, i, &rng) }
            selected += Int(lengths[w])
        }
        return selected
    }

    /// Shuffles the candidates (words, or single tokens when `lengths` is nil) and takes them in
    /// order while they fit in `budget`, as `create_masked_lm_predictions` does.
    private func budgeted(_ ids: UnsafeMutableBufferPointer<Int32>, _ labels: UnsafeMutableBufferPointer<Int32>,
                          _ starts: UnsafeMutableBufferPointer<Int32>, _ lengths: UnsafeMutableBufferPointer<Int32>?,
                          _ budget: Int, _ rng: inout SeededRandom) -> Int {
        let count = starts.count
        // Fisher–Yates, the same draws as `SeededRandom.shuffle`, on the parallel arrays.
        var i = count - 1
        while i > 0 {
            let j = rng.int(below: i + 1)
            if i != j {
                starts.swapAt(i, j)
                lengths?.swapAt(i, j)
            }
            i -= 1
        }
        var selected = 0
        for w in 0 ..< count {
            if selected >= budget { break }
            let length = lengths.map { Int($0[w]) } ?? 1
            if selected + length > budget { continue }
            let start = Int(starts[w])
            for p in start ..< start + length { replace(ids, labels, p, &rng) }
            selected += length
        }
        return selected
    }

    /// Calls `body` with the candidate positions, in order.
    private func withCandidates<R>(_ ids: UnsafeMutableBufferPointer<Int32>, _ special: UnsafeBufferPointer<Int32>,
                                   _ n: Int, _ body: (UnsafeMutableBufferPointer<Int32>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: max(n, 1)) { scratch in
            var count = 0
            for i in 0 ..< n where isCandidate(ids, special, i) {
                scratch[count] = Int32(truncatingIfNeeded: i)
                count += 1
            }
            return body(UnsafeMutableBufferPointer(rebasing: scratch[0 ..< count]))
        }
    }

    /// Calls `body` with the words (start position and length of each), in order.
    private func withWords<R>(_ ids: UnsafeMutableBufferPointer<Int32>, _ special: UnsafeBufferPointer<Int32>,
                              _ n: Int,
                              _ body: (UnsafeMutableBufferPointer<Int32>, UnsafeMutableBufferPointer<Int32>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: max(2 * n, 2)) { scratch in
            let starts = UnsafeMutableBufferPointer(rebasing: scratch[0 ..< max(n, 1)])
            let lengths = UnsafeMutableBufferPointer(rebasing: scratch[max(n, 1) ..< 2 * max(n, 1)])
            var count = 0
            var previousWasCandidate = false
            for i in 0 ..< n {
                guard isCandidate(ids, special, i) else {
                    previousWasCandidate = false
                    continue
                }
                if previousWasCandidate && vocabulary.isContinuation(ids[i]) {
                    lengths[count - 1] += 1
                } else {
                    starts[count] = Int32(truncatingIfNeeded: i)
                    lengths[count] = 1
                    count += 1
                }
                previousWasCandidate = true
            }
            return body(UnsafeMutableBufferPointer(rebasing: starts[0 ..< count]),
                        UnsafeMutableBufferPointer(rebasing: lengths[0 ..< count]))
        }
    }
}
