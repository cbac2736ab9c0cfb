import Foundation

/// Continued masked-LM pre-training of a checkpoint of any family (BERT, DistilBERT, RoBERTa /
/// XLM-R, ELECTRA's generator: `TrainableMaskedLM`) on plain text (FinBERT's recipe: BERT
/// further pre-trained on domain text), with held-out MLM loss and perplexity per epoch.
///
/// The corpus's lines are tokenized without special tokens, concatenated and cut into
/// sequences of `maxLength − 2` tokens, each wrapped in the tokenizer's [CLS] … [SEP] (`<s>` …
/// `</s>` for RoBERTa; transformers' `run_mlm.py` `group_texts`). Whole words are the
/// tokenizer's (`MaskingVocabulary`: `##` pieces, or the byte-level BPE / Unigram space mark). A seeded fraction of the sequences is held out; its masks are
/// drawn once from the seed, so every evaluation scores the same predictions. Training
/// sequences are shuffled and re-masked every epoch (`MLMMasker`: 15%, 80/10/10, optional whole
/// words, as `DataCollatorForLanguageModeling`), and trained with AdamW (no decay on biases and
/// LayerNorm), linear warm-up and decay, and clipping.
///
/// A BERT checkpoint with a next-sentence head (`cls.seq_relationship`, `BertForPreTraining`) trains
/// it too (`Options.nextSentence`): the corpus is read in google-research/bert's format (one
/// sentence per line, a blank line between documents), a seeded fraction of the documents is
/// held out, and `NSPExampleBuilder` makes `[CLS] A [SEP] B [SEP]` pairs (`create_pretraining_data.py`:
/// IsNext / NotNext, short_seq_prob, truncation from either end) masked with the same policy:
/// the held-out pairs once from the seed, the training pairs afresh every epoch (one dupe-factor
/// pass each). The loss is MLM + NSP, as `BertForPreTraining`'s; the held-out MLM loss and NSP
/// loss and accuracy are reported.
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
        /// Use only the first this many sequences of the corpus (nil: all); with next-sentence
        /// pairs, the first this many training pairs of each epoch.
        public var maxSequences: Int?
        /// Next-sentence pairs: nil (default) trains them when the checkpoint has a next-sentence
        /// head (`cls.seq_relationship`, BERT only), true requires one, false trains the masked
        /// LM only.
        public var nextSentence: Bool?
        /// With next-sentence pairs, the probability of a shorter target length (google's
        /// `short_seq_prob`, 0.1).
        public var shortSequenceProbability = 0.1
        /// Train mode's dropout, as HF Trainer trains (`model.train()`): the checkpoint's
        /// encoder rates (`hidden_dropout_prob` and `attention_probs_dropout_prob`, DistilBERT's
        /// `dropout` and `attention_dropout`; `Dropout(directory:seed:task: .maskedLM)`), seeded
        /// by `seed`. False (default) trains without dropout (deterministic, the parity setting).
        public var dropout = false

        public init() {}
    }

    /// After every optimizer step.
    public struct Progress: Sendable {
        public var epoch: Int
        public var step: Int
        public var totalSteps: Int
        /// Mean masked-LM loss of the epoch so far.
        public var loss: Double
        /// Mean next-sentence loss of the epoch so far (nil without next-sentence pairs).
        public var nextSentenceLoss: Double?
        public var tokensPerSecond: Double
    }

    /// The held-out masked-LM figures.
    public struct Evaluation: Sendable, Codable, Equatable {
        /// Mean cross-entropy over the held-out masked positions (natural log).
        public var loss: Double
        /// exp(loss).
        public var perplexity: Double
        public var maskedTokens: Int
        /// With next-sentence pairs: their mean cross-entropy, the share whose argmax is the
        /// label, and their number.
        public var nextSentenceLoss: Double?
        public var nextSentenceAccuracy: Double?
        public var pairs: Int?

        enum CodingKeys: String, CodingKey {
            case loss, perplexity, pairs
            case maskedTokens = "masked_tokens"
            case nextSentenceLoss = "next_sentence_loss", nextSentenceAccuracy = "next_sentence_accuracy"
        }
    }

    public struct Epoch: Sendable, Codable {
        public var epoch: Int
        /// Mean masked-LM loss over the epoch's masked positions.
        public var trainLoss: Double
        /// Mean next-sentence loss over the epoch's pairs (nil without next-sentence pairs).
        public var trainNextSentenceLoss: Double?
        public var seconds: Double
        /// Training tokens (every token of the sequences) per second.
        public var tokensPerSecond: Double
        public var validation: Evaluation?

        enum CodingKeys: String, CodingKey {
            case epoch, seconds, validation
            case trainLoss = "train_loss", tokensPerSecond = "tokens_per_second"
            case trainNextSentenceLoss = "train_next_sentence_loss"
        }
    }

    public struct Result {
        public var model: TrainableMaskedLM
        /// The held-out figures before the first step (nil without a held-out split).
        public var initial: Evaluation?
        public var epochs: [Epoch]
        /// Training sequences (with next-sentence pairs: the first epoch's pairs).
        public var trainSequences: Int
        public var validationSequences: Int
        /// Tokens of the training sequences, special tokens included.
        public var trainTokens: Int
        /// Whether next-sentence pairs were trained (the model keeps its next-sentence head).
        public var nextSentence: Bool
        /// With next-sentence pairs: the documents of the training and held-out splits.
        public var trainDocuments: Int?
        public var validationDocuments: Int?
    }

    /// One training or held-out example: masked ids, labels, and with next-sentence pairs the
    /// token types and the pair's label.
    struct Example {
        var ids: [Int32]
        var typeIds: [Int32]?
        var labels: [Int32]
        var nextSentence: Int?

        init(_ masked: MaskedSequence) {
            ids = masked.inputIds
            labels = masked.labels
        }

        init(_ pair: PretrainingExample) {
            ids = pair.inputIds
            typeIds = pair.tokenTypeIds
            labels = pair.labels
            nextSentence = Int(pair.nextSentenceLabel)
        }
    }

    /// The examples of the held-out split and of every epoch, in training order.
    private struct TrainingData {
        var heldOut: [Example]
        /// Epoch e's examples (1-based), made when asked, in training order.
        var epoch: (Int) throws -> [Example]
        var totalSteps: Int
        var trainSequences: Int, validationSequences: Int, trainTokens: Int
        var documents: (train: Int, validation: Int)?
    }

    /// Whether the checkpoint in `directory` trains next-sentence pairs under `requested`.
    ///
    /// - Throws: `BertError.unsupported` when `requested` is true for a family without a
    ///   next-sentence head (all but BERT); `.missingTensor` when `requested` is true and a BERT
    ///   checkpoint has no `cls.seq_relationship`; the errors of opening it.
    static func trainsNextSentence(_ directory: URL, requested: Bool?) throws -> Bool {
        if requested == false { return false }
        let (config, weights) = try TrainableEncoder.open(directory, task: .maskedLM, families: Set(ModelFamily.allCases))
        guard let names = config.tensorNames.heads.seqRelationship else {
            if requested == true {
                throw BertError(.unsupported, "\(directory.appendingPathComponent("config.json").path): nextSentence is true, but model_type \(config.modelType ?? config.family.rawValue) has no next-sentence head (transformers has next-sentence prediction for bert only); \(config.className(.maskedLM)) trains the masked LM alone")
            }
            return false
        }
        let present = weights.contains(names.weight)
        if requested == true && !present {
            throw BertError(.missingTensor, "\(weights.url.path): nextSentence needs a next-sentence head (cls.seq_relationship, as in BertForPreTraining), which this checkpoint lacks")
        }
        return present
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
    ///   - directory: a folder with a masked-LM head (`BertForMaskedLM` / `BertForPreTraining`,
    ///     `DistilBertForMaskedLM`, `RobertaForMaskedLM`, `XLMRobertaForMaskedLM`,
    ///     `ElectraForMaskedLM`) and a tokenizer.
    ///   - texts: the corpus, e.g. one line of a text file each.
    ///   - progress: called after every step.
    /// - Throws: `BertError.invalidInput` naming the option (`epochs`, `batchSize`, `maxLength`,
    ///   `learningRate`, `validationSplit`, `maxSequences`) when it is out of range or the training
    ///   split is empty; `.unsupported` when `nextSentence` is true for a family without a
    ///   next-sentence head (all but BERT); the errors of loading the model, tokenizer and
    ///   masking policy.
    public static func train(directory: URL, texts: [String], options: Options, kernel: Kernel = .blas,
                             progress: (Progress) -> Void = { _ in }) throws -> Result {
        try SequenceFineTuner.checkSteps(epochs: options.epochs, batchSize: options.batchSize, learningRate: options.learningRate)
        guard (0..<1).contains(options.validationSplit) else {
            throw BertError(.invalidInput, "validationSplit must be in [0, 1), got \(options.validationSplit)")
        }
        if let m = options.maxSequences, m < 1 { throw BertError(.invalidInput, "maxSequences must be at least 1, got \(m)") }
        guard (0...1).contains(options.shortSequenceProbability) else {
            throw BertError(.invalidInput, "shortSequenceProbability must be in [0, 1], got \(options.shortSequenceProbability)")
        }
        let tokenizer = try BertTokenizer(directory: directory)
        let nextSentence = try trainsNextSentence(directory, requested: options.nextSentence)
        let model = try TrainableMaskedLM(directory: directory, kernel: kernel, nextSentence: nextSentence)
        if options.dropout { model.dropout = try Dropout(directory: directory, seed: options.seed, task: .maskedLM) }
        let maxLength = min(options.maxLength, model.config.maxSequenceLength)
        let data = nextSentence
            ? try pairs(texts, tokenizer: tokenizer, maxLength: maxLength, options: options)
            : try groupedSequences(texts, tokenizer: tokenizer, maxLength: maxLength, options: options)

        let ws = try model.makeWorkspace(maxBatch: options.batchSize, maxLength: maxLength)
        let optimizer = AdamW(for: model.parameters, weightDecay: options.weightDecay)
        let totalSteps = data.totalSteps
        let schedule = LinearSchedule(peak: options.learningRate, warmupRatio: options.warmupRatio, totalSteps: totalSteps)
        let initial = data.heldOut.isEmpty ? nil : try evaluate(model, data.heldOut, workspace: ws)
        var epochs: [Epoch] = []
        var step = 0
        for epoch in 1...options.epochs {
            let examples = try data.epoch(epoch)
            let start = ContinuousClock.now
            var lossSum = 0.0, masked = 0, tokens = 0, nextSum = 0.0, pairs = 0
            for batchStart in stride(from: 0, to: examples.count, by: options.batchSize) {
                let batch = examples[batchStart..<min(batchStart + options.batchSize, examples.count)]
                model.parameters.zeroGradients()
                let loss = try model.lossAndGradients(ids: batch.map(\.ids), typeIds: typeIds(batch), labels: batch.map(\.labels),
                                                      nextSentenceLabels: nextSentenceLabels(batch), workspace: ws)
                if loss.maskedTokens > 0 || loss.nextSentence != nil {
                    try optimizer.update(model.parameters, learningRate: schedule.learningRate(step: step),
                                         clippingNormTo: options.maxGradNorm)
                }
                step += 1
                lossSum += Double(loss.mean) * Double(loss.maskedTokens)
                masked += loss.maskedTokens
                if let next = loss.nextSentence {
                    nextSum += Double(next.mean) * Double(next.sequences)
                    pairs += next.sequences
                }
                tokens += batch.reduce(0) { $0 + $1.ids.count }
                let seconds = max(SequenceFineTuner.seconds(ContinuousClock.now - start), 1e-9)
                progress(Progress(epoch: epoch, step: step, totalSteps: totalSteps, loss: lossSum / Double(max(masked, 1)),
                                  nextSentenceLoss: pairs > 0 ? nextSum / Double(pairs) : nil,
                                  tokensPerSecond: Double(tokens) / seconds))
            }
            let seconds = SequenceFineTuner.seconds(ContinuousClock.now - start)
            epochs.append(Epoch(epoch: epoch, trainLoss: lossSum / Double(max(masked, 1)),
                                trainNextSentenceLoss: pairs > 0 ? nextSum / Double(pairs) : nil, seconds: seconds,
                                tokensPerSecond: Double(tokens) / max(seconds, 1e-9),
                                validation: data.heldOut.isEmpty ? nil : try evaluate(model, data.heldOut, workspace: ws)))
        }
        return Result(model: model, initial: initial, epochs: epochs, trainSequences: data.trainSequences,
                      validationSequences: data.validationSequences, trainTokens: data.trainTokens, nextSentence: nextSentence,
                      trainDocuments: data.documents?.train, validationDocuments: data.documents?.validation)
    }

    /// The token types of a batch: nil when no example has any (grouped sequences).
    private static func typeIds(_ batch: ArraySlice<Example>) -> [[Int32]]? {
        guard batch.contains(where: { $0.typeIds != nil }) else { return nil }
        return batch.map { $0.typeIds ?? [Int32](repeating: 0, count: $0.ids.count) }
    }

    /// The next-sentence labels of a batch of pairs, nil for grouped sequences.
    private static func nextSentenceLabels(_ batch: ArraySlice<Example>) -> [Int]? {
        let labels = batch.compactMap(\.nextSentence)
        return labels.count == batch.count ? labels : nil
    }

    /// The masked-LM data: grouped sequences, a seeded held-out split masked once, and the
    /// training split shuffled and re-masked every epoch.
    private static func groupedSequences(_ texts: [String], tokenizer: BertTokenizer, maxLength: Int, options: Options) throws -> TrainingData {
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
        let heldOut = try validation.map {
            Example(try masker.mask(all[$0].ids, specialTokensMask: all[$0].special, using: &validationMasker))
        }
        var shuffler = SeededRandom(seed: options.seed &+ 1)
        var trainMasker = SeededRandom(seed: options.seed &+ 3)
        // Each epoch shuffles, then masks in training order (the draws of batch-by-batch masking).
        let epoch: (Int) throws -> [Example] = { _ in
            shuffler.shuffle(&train)
            return try train.map { Example(try masker.mask(all[$0].ids, specialTokensMask: all[$0].special, using: &trainMasker)) }
        }
        return TrainingData(heldOut: heldOut, epoch: epoch,
                    totalSteps: LinearSchedule.steps(examples: train.count, batchSize: options.batchSize, epochs: options.epochs),
                    trainSequences: train.count, validationSequences: validation.count,
                    trainTokens: train.reduce(0) { $0 + all[$1].ids.count }, documents: nil)
    }

    /// Masked next-sentence pairs: the corpus's documents (google's format) split seeded, the
    /// held-out documents' pairs built and masked once, and one fresh pass of `NSPExampleBuilder`
    /// over the training documents per epoch (all built here, so the schedule knows its steps).
    private static func pairs(_ texts: [String], tokenizer: BertTokenizer, maxLength: Int, options: Options) throws -> TrainingData {
        let corpus = PretrainingCorpus.parse(lines: texts, tokenize: { tokenizer.encode($0, addSpecialTokens: false).ids })
        let documents = corpus.documents
        var splitter = SeededRandom(seed: options.seed)
        var order = Array(documents.indices)
        splitter.shuffle(&order)
        var held = Int((Double(documents.count) * options.validationSplit).rounded())
        // NotNext pairs need a second document on each side.
        if options.validationSplit > 0 { held = max(held, 2) }
        let trainDocuments = order.dropFirst(held).sorted().map { documents[$0] }
        let heldDocuments = order.prefix(held).sorted().map { documents[$0] }
        guard trainDocuments.count >= 2 else {
            throw BertError(.invalidInput, "next-sentence pairs need at least two training documents (a blank line ends a document): the corpus has \(documents.count), \(held) held out")
        }
        let builder = try NSPExampleBuilder(
            options: NSPOptions(maxSeqLength: maxLength, shortSeqProbability: options.shortSequenceProbability, dupeFactor: 1,
                                masking: options.policy),
            vocabulary: MaskingVocabulary(tokenizer: tokenizer), clsId: tokenizer.specialTokens.cls, sepId: tokenizer.specialTokens.sep)
        var validationRandom = SeededRandom(seed: options.seed &+ 2)
        let heldOut = held > 0
            ? try builder.examples(from: PretrainingCorpus(documents: heldDocuments), using: &validationRandom).map(Example.init) : []
        var trainRandom = SeededRandom(seed: options.seed &+ 3)
        let trainCorpus = PretrainingCorpus(documents: trainDocuments)
        var epochs: [[Example]] = []
        for _ in 0..<options.epochs {
            var examples = try builder.examples(from: trainCorpus, using: &trainRandom).map(Example.init)
            if let m = options.maxSequences, examples.count > m { examples.removeLast(examples.count - m) }
            epochs.append(examples)
        }
        let steps = epochs.reduce(0) { $0 + LinearSchedule.steps(examples: $1.count, batchSize: options.batchSize, epochs: 1) }
        let first = epochs.first ?? []
        return TrainingData(heldOut: heldOut, epoch: { epochs[$0 - 1] }, totalSteps: steps, trainSequences: first.count,
                    validationSequences: heldOut.count, trainTokens: first.reduce(0) { $0 + $1.ids.count },
                    documents: (trainDocuments.count, heldDocuments.count))
    }

    /// The mean masked-LM loss over every masked position of `examples`, and with next-sentence
    /// pairs their loss and accuracy, in batches of the workspace's size.
    static func evaluate(_ model: TrainableMaskedLM, _ examples: [Example], workspace ws: TrainingWorkspace) throws -> Evaluation {
        var sum = 0.0, masked = 0, nextSum = 0.0, correct = 0, pairs = 0
        for start in stride(from: 0, to: examples.count, by: ws.maxBatch) {
            let batch = examples[start..<min(start + ws.maxBatch, examples.count)]
            let loss = try model.loss(ids: batch.map(\.ids), typeIds: typeIds(batch), labels: batch.map(\.labels),
                                      nextSentenceLabels: nextSentenceLabels(batch), workspace: ws)
            sum += Double(loss.mean) * Double(loss.maskedTokens)
            masked += loss.maskedTokens
            if let next = loss.nextSentence {
                nextSum += Double(next.mean) * Double(next.sequences)
                correct += next.correct
                pairs += next.sequences
            }
        }
        let mean = masked > 0 ? sum / Double(masked) : 0
        return Evaluation(loss: mean, perplexity: Foundation.exp(mean), maskedTokens: masked,
                          nextSentenceLoss: pairs > 0 ? nextSum / Double(pairs) : nil,
                          nextSentenceAccuracy: pairs > 0 ? Double(correct) / Double(pairs) : nil, pairs: pairs > 0 ? pairs : nil)
    }
}
