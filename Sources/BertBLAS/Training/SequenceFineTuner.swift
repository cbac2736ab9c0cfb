import Foundation

/// Fine-tunes a whole BERT sequence classifier on labelled texts: HF Trainer's recipe (AdamW,
/// linear warm-up then decay, gradient clipping) on packed batches, validation after each
/// epoch, the best epoch's parameters kept. The problem type picks the targets, the loss and
/// the validation metrics: single-label (cross-entropy; accuracy, macro-F1), multi-label (BCE;
/// micro/macro-F1 of the labels scored ≥ 0.5) or regression (MSE; Pearson r, RMSE, and star
/// accuracy on a rating scale).
public enum SequenceFineTuner {
    /// Training settings; the defaults are HF Trainer's where it has one.
    public struct Options: Sendable {
        public var epochs: Int
        /// Peak learning rate (HF default 5e-5).
        public var learningRate: Float
        public var batchSize: Int
        /// Tokens per text, special tokens included (longer texts are truncated).
        public var maxLength: Int
        /// Fraction of each label held out for validation, in [0, 1).
        public var validationSplit: Double
        /// Seeds the split, the new classifier and the shuffling of each epoch.
        public var seed: UInt64
        /// Fraction of the steps spent warming up (`warmup_ratio`; steps = ceil(ratio × total)).
        public var warmupRatio: Double
        /// AdamW weight decay on weights other than biases and LayerNorm (HF default 0).
        public var weightDecay: Float
        /// Gradient clipping by global norm (HF `max_grad_norm` 1).
        public var maxGradNorm: Float
        /// What the labels are (default single-label classification).
        public var problemType: ProblemType
        /// Multi-label: what joins the labels of one example (default `;`).
        public var labelSeparator: String
        /// Regression: the name of the one output, written as its `id2label` (default `label`).
        public var targetName: String
        /// Regression: the scale whose star classes give `validationStarAccuracy` (default none).
        public var ratingScale: RatingScale?
        /// Train mode's dropout, as HF Trainer trains (`model.train()`): the checkpoint's rates
        /// from config.json (`Dropout(directory:seed:)`, seeded by `seed`). Default true; false
        /// trains without dropout (deterministic, the parity setting).
        public var dropout: Bool

        public init(epochs: Int = 2, learningRate: Float = 5e-5, batchSize: Int = 32, maxLength: Int = 128,
                    validationSplit: Double = 0.2, seed: UInt64 = 42, warmupRatio: Double = 0.06,
                    weightDecay: Float = 0, maxGradNorm: Float = 1, problemType: ProblemType = .singleLabelClassification,
                    labelSeparator: String = ";", targetName: String = "label", ratingScale: RatingScale? = nil,
                    dropout: Bool = true) {
            self.epochs = epochs
            self.learningRate = learningRate
            self.batchSize = batchSize
            self.maxLength = maxLength
            self.validationSplit = validationSplit
            self.seed = seed
            self.warmupRatio = warmupRatio
            self.weightDecay = weightDecay
            self.maxGradNorm = maxGradNorm
            self.problemType = problemType
            self.labelSeparator = labelSeparator
            self.targetName = targetName
            self.ratingScale = ratingScale
            self.dropout = dropout
        }
    }

    /// Reported after every optimizer step.
    public struct Progress: Sendable {
        public var epoch: Int
        /// Steps done (of all epochs) and their total.
        public var step: Int
        public var totalSteps: Int
        /// Mean training loss of the epoch so far.
        public var loss: Double
        /// Training tokens per second over the epoch so far (real tokens, no padding).
        public var tokensPerSecond: Double
    }

    /// One epoch's figures; the validation ones that apply to the problem type are set.
    public struct Epoch: Sendable, Codable, Equatable {
        public var epoch: Int
        public var trainLoss: Double
        /// Single-label.
        public var validationAccuracy: Double?
        /// Single-label and multi-label.
        public var validationMacroF1: Double?
        /// Multi-label.
        public var validationMicroF1: Double?
        /// Regression.
        public var validationPearson: Double?
        /// Regression.
        public var validationRMSE: Double?
        /// Regression with a rating scale.
        public var validationStarAccuracy: Double?
        /// Token classification: entity-level F1 (conlleval chunks).
        public var validationEntityF1: Double?
        /// Token classification: the fraction of words tagged right.
        public var validationWordAccuracy: Double?
        public var seconds: Double
        public var tokensPerSecond: Double

        enum CodingKeys: String, CodingKey {
            case epoch, seconds
            case trainLoss = "train_loss", validationAccuracy = "validation_accuracy"
            case validationMacroF1 = "validation_macro_f1", validationMicroF1 = "validation_micro_f1"
            case validationPearson = "validation_pearson", validationRMSE = "validation_rmse"
            case validationStarAccuracy = "validation_star_accuracy", tokensPerSecond = "tokens_per_second"
            case validationEntityF1 = "validation_entity_f1", validationWordAccuracy = "validation_word_accuracy"
        }

        /// The figure the best epoch is chosen by, higher is better: accuracy, micro-F1, entity
        /// F1, or −RMSE.
        var score: Double? {
            validationAccuracy ?? validationMicroF1 ?? validationEntityF1 ?? validationRMSE.map { -$0 }
        }
    }

    public struct Result {
        /// The model with the best epoch's parameters (the last epoch's without validation).
        public var model: TrainableSequenceClassifier
        /// The model's outputs: label names, or the regression target's name.
        public var labels: [String]
        public var problemType: ProblemType
        public var epochs: [Epoch]
        /// 1-based.
        public var bestEpoch: Int
        public var trainExamples: Int
        public var validationExamples: Int
        /// The dropout trained with (`.off` without).
        public var dropout: Dropout
    }

    /// Trains on `data` from the checkpoint in `directory`.
    ///
    /// - Parameters:
    ///   - directory: a BERT folder with a tokenizer; its classifier is used when it has one with
    ///     as many labels as `data`, else a new one is initialized.
    ///   - data: labelled texts, read as `options.problemType` says (see `LabeledTargets`).
    ///   - progress: called after every step.
    /// - Throws: `BertError.invalidInput` naming the option (`epochs`, `batchSize`, `maxLength`,
    ///   `learningRate`) when it is out of range or the training split is empty, the errors of
    ///   `LabeledTargets` (a label that is not a number …), and the errors of loading the model
    ///   and tokenizer.
    public static func train(directory: URL, data: LabeledDataset, options: Options, kernel: Kernel = .blas,
                             progress: (Progress) -> Void = { _ in }) throws -> Result {
        try check(options)
        let targets = try LabeledTargets(data, problemType: options.problemType, separator: options.labelSeparator,
                                         targetName: options.targetName)
        let tokenizer = try BertTokenizer(directory: directory)
        let (train, validation) = try data.split(validationFraction: options.validationSplit, seed: options.seed,
                                                 stratified: options.problemType.stratifiedSplit)
        guard !train.isEmpty else { throw BertError(.invalidInput, "the training split is empty (\(data.examples.count) examples)") }
        let model = try TrainableSequenceClassifier(directory: directory, labels: targets.outputs.count, seed: options.seed, kernel: kernel)
        if options.dropout { model.dropout = try Dropout(directory: directory, seed: options.seed) }
        let maxLength = min(options.maxLength, model.config.maxSequenceLength)
        let truncation = Truncation(maxLength: maxLength, strategy: .longestFirst)
        let encodings = data.examples.map { tokenizer.encode($0.text, truncation: truncation) }
        let ids = encodings.map { $0.ids }
        let typeIds = encodings.map { $0.typeIds.count == $0.ids.count ? $0.typeIds : [Int32](repeating: 0, count: $0.ids.count) }

        let ws = try model.makeWorkspace(maxBatch: options.batchSize, maxLength: maxLength)
        func step(_ batch: ArraySlice<Int>) throws -> (loss: Float, tokens: Int) {
            let batchIds = batch.map { ids[$0] }
            let loss = try model.lossAndGradients(ids: batchIds, typeIds: batch.map { typeIds[$0] },
                                                  targets: targets.trainingTargets(batch), workspace: ws)
            return (loss, batchIds.reduce(0) { $0 + $1.count })
        }
        func measure(_ record: inout Epoch) throws {
            let logits = try predict(model, ids: validation.map { ids[$0] }, typeIds: validation.map { typeIds[$0] }, workspace: ws)
            try validate(&record, logits: logits, targets: targets, validation: validation, scale: options.ratingScale)
        }
        let (epochs, bestEpoch) = try loop(model.parameters, train: train, options: options, progress: progress,
                                           step: step, validate: validation.isEmpty ? nil : measure)
        return Result(model: model, labels: targets.outputs, problemType: options.problemType, epochs: epochs, bestEpoch: bestEpoch,
                      trainExamples: train.count, validationExamples: validation.count, dropout: model.dropout)
    }

    /// The training loop of every task: per epoch a seeded shuffle of `train`, batches of
    /// `options.batchSize` (gradients zeroed, `step` adds the batch's and returns its mean loss
    /// and tokens, clipping, AdamW at the schedule's rate), then `validate` fills the epoch's
    /// figures; the parameters of the epoch with the best `Epoch.score` are restored at the end
    /// (the last epoch's without validation).
    /// - Returns: the epochs' figures and the kept epoch (1-based).
    static func loop(_ parameters: ParameterSet, train: [Int], options: Options, progress: (Progress) -> Void,
                     step run: (ArraySlice<Int>) throws -> (loss: Float, tokens: Int),
                     validate: ((inout Epoch) throws -> Void)?) throws -> (epochs: [Epoch], bestEpoch: Int) {
        let optimizer = AdamW(for: parameters, weightDecay: options.weightDecay)
        let totalSteps = LinearSchedule.steps(examples: train.count, batchSize: options.batchSize, epochs: options.epochs)
        let schedule = LinearSchedule(peak: options.learningRate, warmupRatio: options.warmupRatio, totalSteps: totalSteps)
        var generator = SplitMix64(seed: options.seed &+ 1)
        var order = train
        var epochs: [Epoch] = []
        var best: (epoch: Int, score: Double, values: [Float])?
        var step = 0
        for epoch in 1...options.epochs {
            // Fisher–Yates, seeded: the same batches on every machine.
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
            }
            let start = ContinuousClock.now
            var lossSum = 0.0, tokens = 0
            for batchStart in stride(from: 0, to: order.count, by: options.batchSize) {
                let batch = order[batchStart..<min(batchStart + options.batchSize, order.count)]
                parameters.zeroGradients()
                let (loss, batchTokens) = try run(batch)
                try optimizer.update(parameters, learningRate: schedule.learningRate(step: step), clippingNormTo: options.maxGradNorm)
                step += 1
                lossSum += Double(loss) * Double(batch.count)
                tokens += batchTokens
                let seconds = max(Self.seconds(ContinuousClock.now - start), 1e-9)
                progress(Progress(epoch: epoch, step: step, totalSteps: totalSteps,
                                  loss: lossSum / Double(batchStart + batch.count), tokensPerSecond: Double(tokens) / seconds))
            }
            let seconds = Self.seconds(ContinuousClock.now - start)
            var record = Epoch(epoch: epoch, trainLoss: lossSum / Double(order.count), seconds: seconds,
                               tokensPerSecond: Double(tokens) / max(seconds, 1e-9))
            if let validate {
                try validate(&record)
                if let score = record.score, best == nil || score > (best?.score ?? 0) {
                    best = (epoch, score, Array(parameters.values))
                }
            }
            epochs.append(record)
        }
        guard let best else { return (epochs, options.epochs) }
        _ = parameters.values.update(from: best.values)
        return (epochs, best.epoch)
    }

    /// What `trainTokens` produced.
    public struct TokenResult {
        /// The model with the best epoch's parameters (by entity F1).
        public var model: TrainableTokenClassifier
        /// The tags, in classifier order.
        public var labels: [String]
        public var epochs: [Epoch]
        /// 1-based.
        public var bestEpoch: Int
        public var trainExamples: Int
        public var validationExamples: Int
        /// The dropout trained with (`.off` without).
        public var dropout: Dropout
    }

    /// Fine-tunes a token classifier (NER) on token-tagged sentences from the checkpoint in
    /// `directory`: labels on each word's first sub-token (`TaggedDataset.encode`), a seeded
    /// split of the sentences (not stratified), the same loop and recipe as `train`; validation
    /// entity F1 and word accuracy per epoch, a word's predicted tag being its first sub-token's
    /// argmax, over the words kept after truncation.
    ///
    /// - Throws: as `train` (`options.problemType` and the label options are not used).
    public static func trainTokens(directory: URL, data: TaggedDataset, options: Options, kernel: Kernel = .blas,
                                   progress: (Progress) -> Void = { _ in }) throws -> TokenResult {
        try check(options)
        guard data.labels.count >= 2 else {
            throw BertError(.invalidInput, "token classification needs at least two tags, the data has \(data.labels.count) (\(data.labels.joined(separator: ", ")))")
        }
        let tokenizer = try BertTokenizer(directory: directory)
        let (train, validation) = try LabeledDataset.seededSplit(count: data.sentences.count, validationFraction: options.validationSplit,
                                                                 seed: options.seed)
        guard !train.isEmpty else { throw BertError(.invalidInput, "the training split is empty (\(data.sentences.count) sentences)") }
        let model = try TrainableTokenClassifier(directory: directory, labels: data.labels.count, seed: options.seed, kernel: kernel)
        if options.dropout { model.dropout = try Dropout(directory: directory, seed: options.seed, task: .tokenClassification) }
        let maxLength = min(options.maxLength, model.config.maxSequenceLength)
        let encoded = data.sentences.indices.map { data.encode($0, tokenizer: tokenizer, maxLength: maxLength) }
        let ws = try model.makeWorkspace(maxBatch: options.batchSize, maxLength: maxLength)
        func step(_ batch: ArraySlice<Int>) throws -> (loss: Float, tokens: Int) {
            let ids = batch.map { encoded[$0].ids }
            let loss = try model.lossAndGradients(ids: ids, labels: batch.map { encoded[$0].labels }, workspace: ws)
            return (loss, ids.reduce(0) { $0 + $1.count })
        }
        func measure(_ record: inout Epoch) throws {
            let metrics = try entityMetrics(model, tags: data.labels, data: data, sentences: validation, encoded: encoded, workspace: ws)
            record.validationEntityF1 = metrics.f1
            record.validationWordAccuracy = metrics.wordAccuracy
        }
        let (epochs, bestEpoch) = try loop(model.parameters, train: train, options: options, progress: progress,
                                           step: step, validate: validation.isEmpty ? nil : measure)
        return TokenResult(model: model, labels: data.labels, epochs: epochs, bestEpoch: bestEpoch,
                           trainExamples: train.count, validationExamples: validation.count, dropout: model.dropout)
    }

    /// Entity F1 and word accuracy of a token classifier on `sentences` of `data`: a word's
    /// predicted tag is `tags[argmax]` of its first sub-token (`encoded[i].wordStarts`), over the
    /// words kept after truncation (the NER validation of `trainTokens`).
    static func entityMetrics(_ model: TrainableTokenClassifier, tags: [String], data: TaggedDataset, sentences: [Int],
                              encoded: [TaggedEncoding], workspace ws: TrainingWorkspace) throws -> EntityMetrics {
        var truth: [[String]] = [], predicted: [[String]] = []
        let l = model.labelCount
        for start in stride(from: 0, to: sentences.count, by: ws.maxBatch) {
            let batch = sentences[start..<min(start + ws.maxBatch, sentences.count)]
            let logits = try model.forward(ids: batch.map { encoded[$0].ids }, workspace: ws)
            for (b, sentence) in batch.enumerated() {
                let starts = encoded[sentence].wordStarts
                truth.append(Array(data.sentences[sentence].tags.prefix(starts.count)))
                predicted.append(starts.map { t in
                    let row = (ws.starts[b] + t) * l
                    return tags[TaskMath.argmax(Array(logits[row..<(row + l)])) ?? 0]
                })
            }
        }
        return try EntityMetrics(truth: truth, predicted: predicted)
    }

    /// Evaluates a fine-tuned token classifier (a `…ForTokenClassification` folder) on tagged
    /// sentences as `trainTokens`' validation does: each word tokenized on its own, sentences cut
    /// to `maxLength` at a word boundary, a word's tag its first sub-token's argmax; entity F1
    /// (conlleval chunks) and word accuracy.
    ///
    /// - Parameters:
    ///   - directory: the folder (its `id2label` names the tags).
    ///   - data: the tagged sentences.
    ///   - sentences: the indices of `data.sentences` to evaluate (e.g. one part of `seededSplit`).
    ///   - maxLength: tokens per sentence, special tokens included (`trainTokens`' `maxLength`).
    ///   - batchSize: sentences per forward pass.
    /// - Throws: `BertError.invalidInput` naming the tags of `data` that the model does not have,
    ///   or when `maxLength` or `batchSize` is out of range; the errors of loading the folder.
    public static func evaluateTokens(directory: URL, data: TaggedDataset, sentences: [Int], maxLength: Int = 128,
                                      batchSize: Int = 32, kernel: Kernel = .blas) throws -> EntityMetrics {
        guard batchSize >= 1 else { throw BertError(.invalidInput, "batchSize must be at least 1, got \(batchSize)") }
        guard maxLength >= 2 else { throw BertError(.invalidInput, "maxLength must be at least 2, got \(maxLength)") }
        if let bad = sentences.first(where: { !data.sentences.indices.contains($0) }) {
            throw BertError(.invalidInput, "sentence index \(bad) is outside the data's \(data.sentences.count) sentences")
        }
        let model = try TrainableTokenClassifier(directory: directory, kernel: kernel)
        let tags = try HeadWeights.labels(model.config, count: model.labelCount, file: directory.appendingPathComponent("config.json").path)
        let unknown = data.labels.filter { !tags.contains($0) }
        guard unknown.isEmpty else {
            throw BertError(.invalidInput, "tag(s) \(unknown.joined(separator: ", ")) are not among the model's labels (\(tags.joined(separator: ", ")))")
        }
        let tokenizer = try BertTokenizer(directory: directory)
        let length = min(maxLength, model.config.maxSequenceLength)
        var encoded = [TaggedEncoding](repeating: TaggedEncoding(ids: [], labels: [], wordStarts: []), count: data.sentences.count)
        for i in sentences { encoded[i] = data.encode(i, tokenizer: tokenizer, maxLength: length) }
        let ws = try model.makeWorkspace(maxBatch: batchSize, maxLength: length)
        return try entityMetrics(model, tags: tags, data: data, sentences: sentences, encoded: encoded, workspace: ws)
    }

    /// Refuses options out of range, naming the option.
    static func check(_ options: Options) throws {
        try checkSteps(epochs: options.epochs, batchSize: options.batchSize, learningRate: options.learningRate)
        guard options.maxLength >= 2 else { throw BertError(.invalidInput, "maxLength must be at least 2, got \(options.maxLength)") }
    }

    /// The settings every training loop shares: at least one epoch, batches of at least one, a
    /// positive finite learning rate. - Throws: `BertError.invalidInput` naming the setting.
    static func checkSteps(epochs: Int, batchSize: Int, learningRate: Float) throws {
        guard epochs >= 1 else { throw BertError(.invalidInput, "epochs must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw BertError(.invalidInput, "batchSize must be at least 1, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else {
            throw BertError(.invalidInput, "learningRate must be a positive number, got \(learningRate)")
        }
    }

    /// The logits `[N, L]` of every sequence, in batches of the workspace's size.
    static func predict(_ model: TrainableSequenceClassifier, ids: [[Int32]], typeIds: [[Int32]], workspace ws: TrainingWorkspace) throws -> [Float] {
        var all: [Float] = []
        all.reserveCapacity(ids.count * model.labelCount)
        for start in stride(from: 0, to: ids.count, by: ws.maxBatch) {
            let end = min(start + ws.maxBatch, ids.count)
            all += try model.forward(ids: Array(ids[start..<end]), typeIds: Array(typeIds[start..<end]), workspace: ws)
        }
        return all
    }

    /// Sets the validation figures of `record` from the validation examples' logits `[V, L]`:
    /// the argmax label (single-label), the labels with a logit ≥ 0 i.e. sigmoid ≥ 0.5
    /// (multi-label), the logit itself (regression).
    static func validate(_ record: inout Epoch, logits: [Float], targets: LabeledTargets, validation: [Int], scale: RatingScale?) throws {
        let l = targets.outputs.count
        switch targets.values {
        case .classes(let classes):
            let predicted = stride(from: 0, to: logits.count, by: l).map { TaskMath.argmax(Array(logits[$0..<($0 + l)])) ?? 0 }
            let metrics = try ClassificationMetrics(truth: validation.map { classes[$0] }, predicted: predicted, labels: targets.outputs)
            record.validationAccuracy = metrics.accuracy
            record.validationMacroF1 = metrics.macroF1
        case .sets(let sets):
            let predicted = MultiLabelMetrics.predictedSets(scores: logits, labels: l, threshold: 0)
            let metrics = try MultiLabelMetrics(truth: validation.map { sets[$0] }, predicted: predicted, labels: targets.outputs)
            record.validationMicroF1 = metrics.microF1
            record.validationMacroF1 = metrics.macroF1
        case .numbers(let numbers):
            let metrics = try RegressionMetrics(truth: validation.map { numbers[$0] }, predicted: logits.map(Double.init), scale: scale)
            record.validationPearson = metrics.pearson
            record.validationRMSE = metrics.rmse
            record.validationStarAccuracy = metrics.starAccuracy
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
