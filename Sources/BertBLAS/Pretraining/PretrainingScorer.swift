import Foundation

// The one Pretraining file that runs a model: it closes the loop on the data by scoring it
// with the masked-LM and next-sentence heads (Heads/), so it depends on Model/ and Heads/.

/// One example to score, as `bert pretrain-data` or `bert mask` writes it.
public struct ScoringExample: Sendable, Equatable {
    /// The (masked) input ids, special tokens included, no padding.
    public var inputIds: [Int32]
    /// Token types; nil means all 0.
    public var tokenTypeIds: [Int32]?
    /// The original id at predicted positions, -100 elsewhere.
    public var labels: [Int32]
    /// 0 IsNext, 1 NotNext; nil when the example has no NSP label.
    public var nextSentenceLabel: Int32?

    public init(inputIds: [Int32], tokenTypeIds: [Int32]? = nil, labels: [Int32], nextSentenceLabel: Int32? = nil) {
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds
        self.labels = labels
        self.nextSentenceLabel = nextSentenceLabel
    }
}

/// The scores of one example.
public struct ExampleScore: Sendable, Equatable {
    /// Positions with a label other than -100.
    public var maskedTokens: Int
    /// Sum over those positions of the cross-entropy `-log softmax(logits)[label]` (natural log).
    public var mlmLossSum: Double
    /// Positions whose highest logit (the first, on ties) is the label.
    public var mlmCorrect: Int
    /// Cross-entropy of the NSP label; nil without an NSP head or label.
    public var nspLoss: Double?
    /// Whether the NSP argmax is the label; nil without an NSP head or label.
    public var nspCorrect: Bool?
    /// P(IsNext); nil without an NSP head.
    public var isNextProbability: Double?
}

/// Totals over many examples: what `bert mlm-score` prints.
public struct ScoreSummary: Sendable, Equatable {
    /// Examples scored.
    public var examples = 0
    /// Predicted positions over all examples.
    public var maskedTokens = 0
    /// Sum of the per-token masked-LM cross-entropies.
    public var mlmLossSum = 0.0
    /// Correct masked-LM predictions.
    public var mlmCorrect = 0
    /// Examples with an NSP score.
    public var nspExamples = 0
    /// Sum of the NSP cross-entropies.
    public var nspLossSum = 0.0
    /// Correct NSP predictions.
    public var nspCorrect = 0

    public init() {}

    /// Adds one example's score.
    public mutating func add(_ score: ExampleScore) {
        examples += 1
        maskedTokens += score.maskedTokens
        mlmLossSum += score.mlmLossSum
        mlmCorrect += score.mlmCorrect
        if let loss = score.nspLoss, let correct = score.nspCorrect {
            nspExamples += 1
            nspLossSum += loss
            nspCorrect += correct ? 1 : 0
        }
    }

    /// Mean cross-entropy per masked token, HF's `masked_lm_loss` over the whole set; nil when
    /// nothing was masked.
    public var mlmLoss: Double? { maskedTokens > 0 ? mlmLossSum / Double(maskedTokens) : nil }
    /// Share of masked tokens predicted exactly; nil when nothing was masked.
    public var mlmAccuracy: Double? { maskedTokens > 0 ? Double(mlmCorrect) / Double(maskedTokens) : nil }
    /// Mean NSP cross-entropy per example, HF's `next_sentence_loss`; nil without NSP scores.
    public var nspLoss: Double? { nspExamples > 0 ? nspLossSum / Double(nspExamples) : nil }
    /// Share of examples whose NSP label is predicted; nil without NSP scores.
    public var nspAccuracy: Double? { nspExamples > 0 ? Double(nspCorrect) / Double(nspExamples) : nil }
}

/// Scores masked-LM (and next-sentence) examples with a `BertForMaskedLM` or
/// `BertForPreTraining` checkpoint: the losses HF's `BertForPreTraining` computes
/// (`CrossEntropyLoss` over the labelled positions, and over the NSP label), plus accuracies.
///
/// Only the hidden states at labelled positions go through the `[V, H]` decoder, in the
/// workspace's head scratch. Immutable and `Sendable`.
public final class PretrainingScorer: EncoderTask {
    public let model: LoadedModel
    let mlmHead: MaskedLMHead
    let nspHead: NextSentenceHead?

    /// True when the checkpoint has the NSP head (`cls.seq_relationship`) and a pooler.
    public var hasNextSentenceHead: Bool { nspHead != nil }
    /// The vocabulary size of the decoder.
    public var vocabularySize: Int { mlmHead.vocabularySize }
    /// The longest example the model takes (`max_position_embeddings`).
    public var maxLength: Int { model.config.maxSequenceLength }

    /// A scorer on a loaded checkpoint.
    ///
    /// - Throws: `.missingTensor` naming the absent `cls.predictions` tensors when the checkpoint
    ///   has no masked-LM head. A missing NSP head is not an error.
    public init(model: LoadedModel) throws {
        self.model = model
        mlmHead = try MaskedLMHead(model.weights, config: model.config)
        let names = model.config.tensorNames.heads.seqRelationship.map { [$0.weight, $0.bias] } ?? []
        if !names.isEmpty && names.allSatisfy({ model.weights.contains($0) }) && model.encoder.pooler != nil {
            nspHead = try NextSentenceHead(model.weights, config: model.config)
        } else {
            nspHead = nil
        }
    }

    /// Loads a folder (config.json, model.safetensors, tokenizer files), then builds the scorer.
    public convenience init(directory: URL, kernel: Kernel = .blas) throws {
        try self.init(model: LoadedModel(directory: directory, kernel: kernel))
    }

    /// Checks one example before it goes into a batch.
    ///
    /// - Throws: `BertError.invalidInput` naming the field: empty ids, arrays of different
    ///   lengths, an id or label outside the vocabulary, a type id outside `type_vocab_size` (for a
    ///   family that reads type ids; DistilBERT and RoBERTa ignore them, as their forward pass does), a
    ///   sequence longer than `max_position_embeddings`, an NSP label other than 0 or 1.
    public func validate(_ example: ScoringExample) throws {
        let n = example.inputIds.count
        let config = model.config
        guard n > 0 else { throw BertError(.invalidInput, "input_ids is empty") }
        guard n <= maxLength else {
            throw BertError(.invalidInput, "input_ids has \(n) tokens, more than the model's \(maxLength) positions")
        }
        guard example.labels.count == n else {
            throw BertError(.invalidInput, "labels has \(example.labels.count) entries for \(n) input_ids")
        }
        let v = Int32(clamping: min(vocabularySize, config.vocabSize))
        if let bad = example.inputIds.first(where: { $0 < 0 || $0 >= v }) {
            throw BertError(.invalidInput, "input_ids: id \(bad) is outside the vocabulary (\(v))")
        }
        if let bad = example.labels.first(where: { $0 != MLMMasker.ignoreLabel && ($0 < 0 || $0 >= v) }) {
            throw BertError(.invalidInput, "labels: id \(bad) is neither -100 nor in the vocabulary (\(v))")
        }
        if let types = example.tokenTypeIds {
            guard types.count == n else {
                throw BertError(.invalidInput, "token_type_ids has \(types.count) entries for \(n) input_ids")
            }
            // A family that reads no type ids (DistilBERT: type_vocab_size 0; RoBERTa) ignores them
            // in the forward pass, so only a family that reads them checks their range.
            if config.readsTokenTypeIds && config.hasTokenTypes,
               let bad = types.first(where: { $0 < 0 || Int($0) >= config.typeVocabSize }) {
                throw BertError(.invalidInput, "token_type_ids: \(bad) is outside type_vocab_size \(config.typeVocabSize)")
            }
        }
        if let label = example.nextSentenceLabel, label != 0, label != 1 {
            throw BertError(.invalidInput, "next_sentence_label must be 0 or 1, got \(label)")
        }
    }

    /// - Throws: the cases of `validate`.
    public func encode(_ example: ScoringExample) throws -> [Encoding] {
        try validate(example)
        return [Encoding(ids: example.inputIds,
                         typeIds: example.tokenTypeIds ?? [Int32](repeating: 0, count: example.inputIds.count))]
    }

    /// Unsupported: the positions to score are the example's labels (see the variant with `input`).
    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> ExampleScore {
        throw BertError(.unsupported, "PretrainingScorer reads with the input (its labels): call read(_:sequence:input:encoding:workspace:)")
    }

    public func read(_ output: EncoderOutput, sequence b: Int, input example: ScoringExample, encoding: Encoding,
                     workspace: Workspace) throws -> ExampleScore {
        var score = ExampleScore(maskedTokens: 0, mlmLossSum: 0, mlmCorrect: 0)
        let positions = example.labels.indices.filter { example.labels[$0] != MLMMasker.ignoreLabel }
        try mlmHead.forEachLogits(output.hiddenStates(sequence: b), positions: positions, workspace: workspace,
                                  kernel: model.kernel) { m, logits in
            let target = Int(example.labels[positions[m]])
            let (loss, argmax) = Self.crossEntropy(UnsafeBufferPointer(logits), target)
            score.maskedTokens += 1
            score.mlmLossSum += loss
            if argmax == target { score.mlmCorrect += 1 }
        }
        if let nspHead, output.pooledOutput != nil {
            let row = nspHead.forward(try output.pooled(sequence: b), rows: 1, kernel: model.kernel)
            row.withUnsafeBufferPointer { row in
                score.isNextProbability = exp(-Self.crossEntropy(row, 0).0)
                if let label = example.nextSentenceLabel {
                    let (loss, argmax) = Self.crossEntropy(row, Int(label))
                    score.nspLoss = loss
                    score.nspCorrect = argmax == Int(label)
                }
            }
        }
        return score
    }

    public func finish(_ example: ScoringExample, encodings: [Encoding], partials: [ExampleScore]) throws -> ExampleScore {
        partials[0]
    }

    /// Scores examples in batches.
    ///
    /// - Parameters:
    ///   - examples: the examples; each must pass `validate`.
    ///   - batchSize: sequences per forward pass (default 16).
    /// - Returns: one score per example, in order.
    /// - Throws: `BertError.invalidInput` from `validate` for the first bad example.
    public func score(_ examples: [ScoringExample], batchSize: Int = 16) throws -> [ExampleScore] {
        for example in examples { try validate(example) }
        return try run(examples, batchSize: max(1, batchSize))
    }

    /// `-log softmax(logits)[target]` in double precision, and the first argmax.
    static func crossEntropy(_ logits: UnsafeBufferPointer<Float>, _ target: Int) -> (Double, Int) {
        var best = 0
        var maximum = -Float.infinity
        for (i, x) in logits.enumerated() where x > maximum {
            maximum = x
            best = i
        }
        var sum = 0.0
        let m = Double(maximum)
        for x in logits { sum += Foundation.exp(Double(x) - m) }
        return (m + Foundation.log(sum) - Double(logits[target]), best)
    }
}
