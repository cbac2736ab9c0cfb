import Foundation

/// Continued masked-LM pre-training of a BERT checkpoint on plain text (FinBERT's recipe: BERT
/// further pre-trained on domain text), with held-out MLM loss and perplexity per epoch.
///
/// The corpus's lines are tokenized without special tokens, concatenated and cut into
/// sequences of `maxLength − 2` tokens, each wrapped in [CLS] … [SEP] (transformers'
/// `run_mlm.py` `group_texts`). A seeded fraction of the sequences is held out; its masks are
/// drawn once from the seed, so every evaluation scores the same predictions. Training
/// sequences are shuffled and re-masked every epoch (`MLMMasker`: 15%, 80/10/10, optional whole
/// words, as `DataCollatorForLanguageModeling`), and trained with AdamW (no decay on biases and
/// LayerNorm), linear warm-up and decay, and clipping.
public enum MaskedLMPretrainer {
    public struct Options: Sendable {
        public var epochs = 1
        public var learningRate: Float = 5e-5
        public var batchSize = 32
        /// Tokens per sequence, [CLS] and [SEP] included.
        public var maxLength = 128
        /// Fraction of the sequences held out, in [0, 1).
        public var validationSplit = 0.1
        public var seed: UInt64 = 42
        public var policy = MaskingPolicy.languageModeling()
        public var weightDecay: Float = 0.01
        public var warmupRatio = 0.06
        public var maxGradNorm: Float = 1
        /// Use only the first this many sequences of the corpus (nil: all).
        public var maxSequences: Int?

        public init() {}
    }

    /// After every optimizer step.
    public struct Progress: Sendable {
        public var epoch: Int
        public var step: Int
        public var totalSteps: Int
        /// Mean masked-LM loss of the epoch so far.
        public var loss: Double
        public var tokensPerSecond: Double
    }

    /// The held-out masked-LM figures.
    public struct Evaluation: Sendable, Codable, Equatable {
        /// Mean cross-entropy over the held-out masked positions (natural log).
        public var loss: Double
        /// exp(loss).
        public var perplexity: Double
        public var maskedTokens: Int

        enum CodingKeys: String, CodingKey {
            case loss, perplexity
            case maskedTokens = "masked_tokens"
        }
    }

    public struct Epoch: Sendable, Codable {
        public var epoch: Int
        /// Mean masked-LM loss over the epoch's masked positions.
        public var trainLoss: Double
        public var seconds: Double
        /// Training tokens (every token of the sequences) per second.
        public var tokensPerSecond: Double
        public var validation: Evaluation?

        enum CodingKeys: String, CodingKey {
            case epoch, seconds, validation
            case trainLoss = "train_loss", tokensPerSecond = "tokens_per_second"
        }
    }

    public struct Result {
        public var model: TrainableMaskedLM
        /// The held-out figures before the first step (nil without a held-out split).
        public var initial: Evaluation?
        public var epochs: [Epoch]
        public var trainSequences: Int
        public var validationSequences: Int
        /// Tokens of the training sequences, special tokens included.
        public var trainTokens: Int
    }

    /// Cuts `texts` into training sequences: each text tokenized without special tokens, all
    /// concatenated, cut into pieces of `maxLength − 2` (the last may be shorter), each wrapped
    /// in the tokenizer's [CLS] and [SEP].
    ///
    /// - Returns: the ids and special-tokens masks of the sequences.
    /// - Throws: `BertError.invalidInput` when `maxLength` < 3 or the tokenizer does not wrap a
    ///   single text in one token on each side.
    public static func sequences(_ texts: [String], tokenizer: BertTokenizer, maxLength: Int) throws -> [(ids: [Int32], special: [Int32])] {
        guard maxLength >= 3 else { throw BertError(.invalidInput, "maxLength must be at least 3, got \(maxLength)") }
        let template = tokenizer.encode("")
        guard template.ids.count == 2 else {
            throw BertError(.invalidInput, "the tokenizer wraps a text in \(template.ids.count) special tokens, expected 2 ([CLS] and [SEP])")
        }
        let first = template.ids[0], last = template.ids[1], width = maxLength - 2
        var stream: [Int32] = []
        for text in texts { stream += tokenizer.encode(text, addSpecialTokens: false).ids }
        var out: [(ids: [Int32], special: [Int32])] = []
        var start = 0
        while start < stream.count {
            let end = min(start + width, stream.count)
            let ids = [first] + stream[start..<end] + [last]
            var special = [Int32](repeating: 0, count: ids.count)
            special[0] = 1
            special[ids.count - 1] = 1
            out.append((ids, special))
            start = end
        }
        return out
    }

    /// Trains the checkpoint in `directory` on `texts`.
    ///
    /// - Parameters:
    ///   - directory: a BERT folder with a masked-LM head (`cls.predictions`) and a tokenizer.
    ///   - texts: the corpus, e.g. one line of a text file each.
    ///   - progress: called after every step.
    /// - Throws: `BertError.invalidInput` naming the option (`epochs`, `batchSize`, `maxLength`,
    ///   `learningRate`, `validationSplit`, `maxSequences`) when it is out of range or the training
    ///   split is empty; the errors of loading the model, tokenizer and masking policy.
    public static func train(directory: URL, texts: [String], options: Options, kernel: Kernel = .blas,
                             progress: (Progress) -> Void = { _ in }) throws -> Result {
        try SequenceFineTuner.checkSteps(epochs: options.epochs, batchSize: options.batchSize, learningRate: options.learningRate)
        guard (0..<1).contains(options.validationSplit) else {
            throw BertError(.invalidInput, "validationSplit must be in [0, 1), got \(options.validationSplit)")
        }
        if let m = options.maxSequences, m < 1 { throw BertError(.invalidInput, "maxSequences must be at least 1, got \(m)") }
        let tokenizer = try BertTokenizer(directory: directory)
        let model = try TrainableMaskedLM(directory: directory, kernel: kernel)
        let maxLength = min(options.maxLength, model.config.maxSequenceLength)
        let masker = try MLMMasker(policy: options.policy, vocabulary: MaskingVocabulary(tokenizer: tokenizer))
        var all = try sequences(texts, tokenizer: tokenizer, maxLength: maxLength)
        if let m = options.maxSequences, all.count > m { all.removeLast(all.count - m) }

        // A seeded split of the sequences, and the held-out masks, drawn once.
        var splitter = SeededRandom(seed: options.seed)
        var order = Array(all.indices)
        splitter.shuffle(&order)
        let held = Int((Double(all.count) * options.validationSplit).rounded())
        let validation = Array(order.prefix(held)).sorted()
        var train = Array(order.dropFirst(held)).sorted()
        guard !train.isEmpty else { throw BertError(.invalidInput, "the training split is empty (\(all.count) sequences)") }
        var validationMasker = SeededRandom(seed: options.seed &+ 2)
        let heldOut = try validation.map { try masker.mask(all[$0].ids, specialTokensMask: all[$0].special, using: &validationMasker) }

        let ws = try model.makeWorkspace(maxBatch: options.batchSize, maxLength: maxLength)
        let optimizer = AdamW(for: model.parameters, weightDecay: options.weightDecay)
        let totalSteps = LinearSchedule.steps(examples: train.count, batchSize: options.batchSize, epochs: options.epochs)
        let schedule = LinearSchedule(peak: options.learningRate, warmupRatio: options.warmupRatio, totalSteps: totalSteps)
        let initial = heldOut.isEmpty ? nil : try evaluate(model, heldOut, workspace: ws)
        var shuffler = SeededRandom(seed: options.seed &+ 1)
        var trainMasker = SeededRandom(seed: options.seed &+ 3)
        let trainTokens = train.reduce(0) { $0 + all[$1].ids.count }
        var epochs: [Epoch] = []
        var step = 0
        for epoch in 1...options.epochs {
            shuffler.shuffle(&train)
            let start = ContinuousClock.now
            var lossSum = 0.0, masked = 0, tokens = 0
            for batchStart in stride(from: 0, to: train.count, by: options.batchSize) {
                let batch = train[batchStart..<min(batchStart + options.batchSize, train.count)]
                let examples = try batch.map { try masker.mask(all[$0].ids, specialTokensMask: all[$0].special, using: &trainMasker) }
                model.parameters.zeroGradients()
                let loss = try model.lossAndGradients(ids: examples.map(\.inputIds), labels: examples.map(\.labels), workspace: ws)
                if loss.maskedTokens > 0 {
                    AdamW.clipGradients(model.parameters, maxNorm: options.maxGradNorm)
                    try optimizer.update(model.parameters, learningRate: schedule.learningRate(step: step))
                }
                step += 1
                lossSum += Double(loss.mean) * Double(loss.maskedTokens)
                masked += loss.maskedTokens
                tokens += examples.reduce(0) { $0 + $1.inputIds.count }
                let seconds = max(SequenceFineTuner.seconds(ContinuousClock.now - start), 1e-9)
                progress(Progress(epoch: epoch, step: step, totalSteps: totalSteps, loss: lossSum / Double(max(masked, 1)),
                                  tokensPerSecond: Double(tokens) / seconds))
            }
            let seconds = SequenceFineTuner.seconds(ContinuousClock.now - start)
            epochs.append(Epoch(epoch: epoch, trainLoss: lossSum / Double(max(masked, 1)), seconds: seconds,
                                tokensPerSecond: Double(tokens) / max(seconds, 1e-9),
                                validation: heldOut.isEmpty ? nil : try evaluate(model, heldOut, workspace: ws)))
        }
        return Result(model: model, initial: initial, epochs: epochs, trainSequences: train.count,
                      validationSequences: validation.count, trainTokens: trainTokens)
    }

    /// The mean masked-LM loss over every masked position of `examples`, in batches of the
    /// workspace's size.
    static func evaluate(_ model: TrainableMaskedLM, _ examples: [MaskedSequence], workspace ws: TrainingWorkspace) throws -> Evaluation {
        var sum = 0.0, masked = 0
        for start in stride(from: 0, to: examples.count, by: ws.maxBatch) {
            let batch = examples[start..<min(start + ws.maxBatch, examples.count)]
            let loss = try model.loss(ids: batch.map(\.inputIds), labels: batch.map(\.labels), workspace: ws)
            sum += Double(loss.mean) * Double(loss.maskedTokens)
            masked += loss.maskedTokens
        }
        let mean = masked > 0 ? sum / Double(masked) : 0
        return Evaluation(loss: mean, perplexity: Foundation.exp(mean), maskedTokens: masked)
    }
}
