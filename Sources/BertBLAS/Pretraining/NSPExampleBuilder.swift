/// Options of next-sentence-prediction example creation, named after google-research/bert
/// `create_pretraining_data.py` flags.
public struct NSPOptions: Sendable, Equatable {
    /// The hard limit on `[CLS] A [SEP] B [SEP]` (`max_seq_length`), at least 5. Default 128.
    public var maxSeqLength: Int
    /// The probability that a document uses a shorter random target length in
    /// `2 ... maxSeqLength - 3` instead of `maxSeqLength - 3` (`short_seq_prob`). Default 0.1.
    public var shortSeqProbability: Double
    /// How many passes over the corpus, each with fresh random choices (`dupe_factor`), at
    /// least 1. Default 10.
    public var dupeFactor: Int
    /// The masking of each example; default `.createPretrainingData()` (15%, at most
    /// `max_predictions_per_seq` 20 predictions, 80/10/10, per token).
    public var masking: MaskingPolicy
    /// When true (the default) every pair draws its label first, IsNext or NotNext with
    /// probability 0.5 each, and an IsNext pair whose chunk holds a single sentence takes the
    /// document's following sentence as B, or, for the document's last sentence, takes it as B
    /// and the sentence before it as A (again). Only a one-sentence document is always NotNext.
    /// When false, google-research's rule: a one-sentence chunk is always NotNext, which skews
    /// the labels towards NotNext (about 55% on BBC News at length 128).
    public var balancedLabels: Bool

    /// Creates options; `NSPExampleBuilder.init` validates them.
    ///
    /// - Parameters:
    ///   - maxSeqLength: default 128.
    ///   - shortSeqProbability: default 0.1.
    ///   - dupeFactor: default 10.
    ///   - masking: default `.createPretrainingData()`.
    ///   - balancedLabels: default true.
    public init(maxSeqLength: Int = 128, shortSeqProbability: Double = 0.1, dupeFactor: Int = 10,
                masking: MaskingPolicy = .createPretrainingData(), balancedLabels: Bool = true) {
        self.maxSeqLength = maxSeqLength
        self.shortSeqProbability = shortSeqProbability
        self.dupeFactor = dupeFactor
        self.masking = masking
        self.balancedLabels = balancedLabels
    }
}

/// One pre-training example: `[CLS] A [SEP] B [SEP]`, masked, with its NSP label.
public struct PretrainingExample: Sendable, Equatable {
    /// Where the segments came from, for checking and debugging.
    public struct Origin: Sendable, Equatable {
        /// The document of segment A (an index into `PretrainingCorpus.documents`).
        public var documentA: Int
        /// The sentences of A before truncation.
        public var sentencesA: Range<Int>
        /// The document of segment B: `documentA` for IsNext, another one for NotNext.
        public var documentB: Int
        /// The sentences of B before truncation.
        public var sentencesB: Range<Int>
        /// Tokens cut from the front and the back of A, and of B, by truncation.
        public var trimmedAFront = 0, trimmedABack = 0, trimmedBFront = 0, trimmedBBack = 0
    }

    /// The label of an example whose B really follows A.
    public static let isNext: Int32 = 0
    /// The label of an example whose B comes from another document.
    public static let notNext: Int32 = 1

    /// `[CLS] A [SEP] B [SEP]` after masking; at most `maxSeqLength` ids, no padding.
    public var inputIds: [Int32]
    /// 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    public var tokenTypeIds: [Int32]
    /// The original id at masked positions, -100 elsewhere.
    public var labels: [Int32]
    /// 0 IsNext, 1 NotNext (HF `next_sentence_label`; google's `is_random_next`).
    public var nextSentenceLabel: Int32
    /// Where A and B came from.
    public var origin: Origin
}

/// Builds masked-LM + next-sentence-prediction examples from a tokenized corpus, with the
/// semantics of google-research/bert `create_pretraining_data.py` (eedf571):
///
/// - per document, the target length is `maxSeqLength - 3`, or with probability
///   `shortSeqProbability` a random length in `2 ... maxSeqLength - 3`;
/// - sentences accumulate into a chunk until it reaches the target (or the document ends);
///   A is the first `randint(1, len(chunk) - 1)` sentences of the chunk (all of a 1-sentence one);
/// - B is the rest of the chunk (IsNext), or, with probability 0.5, sentences from a random
///   point of another document until the remaining target is filled (NotNext); the chunk's
///   unused sentences are then "put back" and start the next chunk (see
///   `NSPOptions.balancedLabels` for one-sentence chunks);
/// - the pair is truncated to `maxSeqLength - 3` by removing one token at a time from the
///   longer side, from its front or its back with probability 0.5 each;
/// - the example is masked with `options.masking` (`[CLS]`/`[SEP]` are never selected);
/// - `dupeFactor` passes over all documents, then all examples are shuffled.
///
/// Deviations: by default labels are balanced (`NSPOptions.balancedLabels`); the random
/// document is drawn uniformly from the *other* documents (google retries up to 10 times and
/// could, in theory, keep the same one); documents are visited in corpus order (google shuffles
/// them first, which only reorders examples that are shuffled at the end anyway).
public struct NSPExampleBuilder: Sendable {
    /// The options, validated.
    public let options: NSPOptions
    /// `[CLS]` and `[SEP]` ids.
    public let clsId: Int32, sepId: Int32
    private let masker: MLMMasker

    /// Creates a builder.
    ///
    /// - Parameters:
    ///   - options: lengths, probabilities, dupe factor and masking.
    ///   - vocabulary: the masking vocabulary (size, `[MASK]`, `[PAD]`, `##` pieces).
    ///   - clsId: the `[CLS]` id.
    ///   - sepId: the `[SEP]` id.
    /// - Throws: `BertError.invalidInput` naming the option when `maxSeqLength < 5`,
    ///   `shortSeqProbability` is outside [0, 1], `dupeFactor < 1`, or the masking policy is
    ///   invalid.
    public init(options: NSPOptions = NSPOptions(), vocabulary: MaskingVocabulary,
                clsId: Int32, sepId: Int32) throws {
        guard options.maxSeqLength >= 5 else {
            throw BertError(.invalidInput,
                            "max-seq-length must be at least 5 ([CLS] A [SEP] B [SEP] with one token each side), got \(options.maxSeqLength)")
        }
        guard options.shortSeqProbability >= 0, options.shortSeqProbability <= 1 else {
            throw BertError(.invalidInput, "short-seq-prob must be in [0, 1], got \(options.shortSeqProbability)")
        }
        guard options.dupeFactor >= 1 else {
            throw BertError(.invalidInput, "dupe-factor must be at least 1, got \(options.dupeFactor)")
        }
        self.options = options
        self.clsId = clsId
        self.sepId = sepId
        self.masker = try MLMMasker(policy: options.masking, vocabulary: vocabulary)
    }

    /// Builds every example of the corpus: `dupeFactor` passes, then one shuffle.
    ///
    /// - Parameters:
    ///   - corpus: the tokenized corpus; it needs at least two documents.
    ///   - rng: the generator to draw from; it advances.
    ///   - progress: called after each document with (documents done, documents × dupeFactor).
    /// - Returns: the examples in shuffled order.
    /// - Throws: `BertError.invalidInput` when the corpus is empty or has a single document
    ///   (NotNext needs a second document; separate documents with blank lines), or when
    ///   `dupeFactor` is so large that documents × dupeFactor overflows.
    public func examples(from corpus: PretrainingCorpus, using rng: inout SeededRandom,
                         progress: ((Int, Int) -> Void)? = nil) throws -> [PretrainingExample] {
        try Self.checkCorpus(corpus)
        let (total, tooMany) = corpus.documents.count.multipliedReportingOverflow(by: options.dupeFactor)
        let (tokens, tooManyTokens) = corpus.tokenCount.multipliedReportingOverflow(by: options.dupeFactor)
        guard !tooMany, !tooManyTokens else {
            throw BertError(.invalidInput, "dupe-factor \(options.dupeFactor) is too large for \(corpus.documents.count) documents of \(corpus.tokenCount) tokens")
        }
        var examples: [PretrainingExample] = []
        examples.reserveCapacity(min(tokens / max(options.maxSeqLength - 3, 1) + 16, 1 << 20))
        var done = 0
        for _ in 0 ..< options.dupeFactor {
            for document in corpus.documents.indices {
                appendExamples(fromDocument: document, of: corpus, using: &rng, into: &examples)
                done += 1
                progress?(done, total)
            }
        }
        rng.shuffle(&examples)
        return examples
    }

    /// Builds the examples of one document, in order (google's `create_instances_from_document`).
    ///
    /// - Parameters:
    ///   - document: an index into `corpus.documents`.
    ///   - corpus: the tokenized corpus; it needs at least two documents.
    ///   - rng: the generator to draw from; it advances.
    /// - Returns: the document's examples, unshuffled.
    /// - Throws: `BertError.invalidInput` when the corpus has fewer than two documents or
    ///   `document` is out of range.
    public func examples(fromDocument document: Int, of corpus: PretrainingCorpus,
                         using rng: inout SeededRandom) throws -> [PretrainingExample] {
        try Self.checkCorpus(corpus)
        guard corpus.documents.indices.contains(document) else {
            throw BertError(.invalidInput, "document index \(document) is outside 0..<\(corpus.documents.count)")
        }
        var examples: [PretrainingExample] = []
        appendExamples(fromDocument: document, of: corpus, using: &rng, into: &examples)
        return examples
    }

    private static func checkCorpus(_ corpus: PretrainingCorpus) throws {
        if corpus.documents.isEmpty {
            throw BertError(.invalidInput, "the corpus is empty: no line produced any token")
        }
        if corpus.documents.count == 1 {
            throw BertError(.invalidInput,
                            "the corpus has a single document: next-sentence prediction needs at least two (separate documents with a blank line)")
        }
    }

    private func appendExamples(fromDocument documentIndex: Int, of corpus: PretrainingCorpus,
                                using rng: inout SeededRandom, into examples: inout [PretrainingExample]) {
        let documents = corpus.documents
        let document = documents[documentIndex]
        let maxNumTokens = options.maxSeqLength - 3
        var target = maxNumTokens
        if rng.unitDouble() < options.shortSeqProbability {
            target = rng.int(in: 2 ... maxNumTokens)
        }
        var chunkStart = 0
        var chunkLength = 0
        var i = 0
        while i < document.count {
            chunkLength += document[i].count
            if i == document.count - 1 || chunkLength >= target {
                var chunkCount = i - chunkStart + 1
                var aEnd = 1
                if chunkCount >= 2 { aEnd = rng.int(in: 1 ... chunkCount - 1) }
                var randomNext: Bool
                if options.balancedLabels {
                    randomNext = rng.unitDouble() < 0.5
                    if !randomNext && chunkCount == 1 {
                        if i + 1 < document.count {
                            // B is the sentence right after the one-sentence chunk.
                            i += 1
                            chunkCount = 2
                        } else if i >= 1 {
                            // The document's last sentence: A is the sentence before it again.
                            chunkStart -= 1
                            chunkCount = 2
                        } else {
                            randomNext = true
                        }
                    }
                } else {
                    randomNext = chunkCount == 1 || rng.unitDouble() < 0.5
                }
                var tokensA: [Int32] = []
                for s in chunkStart ..< chunkStart + aEnd { tokensA.append(contentsOf: document[s]) }
                var tokensB: [Int32] = []
                let label: Int32
                let documentB: Int
                let sentencesB: Range<Int>
                if randomNext {
                    label = PretrainingExample.notNext
                    let targetB = target - tokensA.count
                    var other = rng.int(below: documents.count - 1)
                    if other >= documentIndex { other += 1 }
                    let randomDocument = documents[other]
                    let randomStart = rng.int(below: randomDocument.count)
                    var end = randomStart
                    while end < randomDocument.count {
                        tokensB.append(contentsOf: randomDocument[end])
                        end += 1
                        if tokensB.count >= targetB { break }
                    }
                    documentB = other
                    sentencesB = randomStart ..< end
                    // The chunk's sentences after A were not used: put them back.
                    i -= chunkCount - aEnd
                } else {
                    label = PretrainingExample.isNext
                    for s in chunkStart + aEnd ... i { tokensB.append(contentsOf: document[s]) }
                    documentB = documentIndex
                    sentencesB = chunkStart + aEnd ..< i + 1
                }
                var origin = PretrainingExample.Origin(
                    documentA: documentIndex, sentencesA: chunkStart ..< chunkStart + aEnd,
                    documentB: documentB, sentencesB: sentencesB)
                examples.append(makeExample(tokensA, tokensB, label: label, origin: &origin,
                                            maxNumTokens: maxNumTokens, rng: &rng))
                chunkStart = i + 1
                chunkLength = 0
            }
            i += 1
        }
    }

    /// Truncates the pair (google's `truncate_seq_pair`), lays out `[CLS] A [SEP] B [SEP]` and
    /// masks it.
    private func makeExample(_ a: [Int32], _ b: [Int32], label: Int32, origin: inout PretrainingExample.Origin,
                             maxNumTokens: Int, rng: inout SeededRandom) -> PretrainingExample {
        var aLo = 0, aHi = a.count, bLo = 0, bHi = b.count
        while (aHi - aLo) + (bHi - bLo) > maxNumTokens {
            let truncateA = (aHi - aLo) > (bHi - bLo)
            let front = rng.unitDouble() < 0.5
            switch (truncateA, front) {
            case (true, true): aLo += 1
            case (true, false): aHi -= 1
            case (false, true): bLo += 1
            case (false, false): bHi -= 1
            }
        }
        origin.trimmedAFront = aLo
        origin.trimmedABack = a.count - aHi
        origin.trimmedBFront = bLo
        origin.trimmedBBack = b.count - bHi
        let lengthA = aHi - aLo, lengthB = bHi - bLo
        let count = lengthA + lengthB + 3
        var ids = [Int32](repeating: 0, count: count)
        var special = [Int32](repeating: 0, count: count)
        var types = [Int32](repeating: 0, count: count)
        var labels = [Int32](repeating: MLMMasker.ignoreLabel, count: count)
        ids[0] = clsId
        special[0] = 1
        for k in 0 ..< lengthA { ids[1 + k] = a[aLo + k] }
        ids[lengthA + 1] = sepId
        special[lengthA + 1] = 1
        for k in 0 ..< lengthB {
            ids[lengthA + 2 + k] = b[bLo + k]
            types[lengthA + 2 + k] = 1
        }
        ids[count - 1] = sepId
        special[count - 1] = 1
        types[count - 1] = 1
        _ = ids.withUnsafeMutableBufferPointer { idsBuffer in
            special.withUnsafeBufferPointer { specialBuffer in
                labels.withUnsafeMutableBufferPointer { labelsBuffer in
                    masker.maskInPlace(idsBuffer, specialTokensMask: specialBuffer, labels: labelsBuffer, using: &rng)
                }
            }
        }
        return PretrainingExample(inputIds: ids, tokenTypeIds: types, labels: labels,
                                  nextSentenceLabel: label, origin: origin)
    }
}
