import Foundation

/// The masked-LM loss of one batch.
public struct MaskedLMLoss: Sendable, Equatable {
    /// Mean cross-entropy over the masked positions (natural log); 0 when none is masked.
    public var mean: Float
    /// Positions with a label other than -100.
    public var maskedTokens: Int
    /// The next-sentence loss when the batch had next-sentence labels (`BertForPreTraining`,
    /// whose loss is `mean + nextSentence.mean`), else nil.
    public var nextSentence: NextSentenceLoss?

    public init(mean: Float, maskedTokens: Int, nextSentence: NextSentenceLoss? = nil) {
        self.mean = mean
        self.maskedTokens = maskedTokens
        self.nextSentence = nextSentence
    }
}

/// A masked language model of any family that learns: the `TrainableEncoder` and the family's
/// masked-LM head (transform dense H → E + activation + LayerNorm over E, then the decoder
/// `[V, E]` tied to the word embeddings plus its own bias), computed only on the masked
/// positions, with the cross-entropy over the vocabulary. E = H except in ELECTRA's generator.
///
/// | family | transform | activation | LayerNorm | decoder (tied) + bias |
/// |---|---|---|---|---|
/// | bert | `cls.predictions.transform.dense` | `hidden_act` | `….transform.LayerNorm` | `cls.predictions.decoder`, `cls.predictions.bias` |
/// | distilbert | `vocab_transform` | `activation` | `vocab_layer_norm` (eps 1e-12) | `vocab_projector` |
/// | roberta, xlm-roberta | `lm_head.dense` | GELU | `lm_head.layer_norm` | `lm_head.decoder`, `lm_head.bias` |
/// | electra (generator) | `generator_predictions.dense` (H → E) | GELU | `generator_predictions.LayerNorm` (E) | `generator_lm_head` (E → V) |
///
/// The decoder's weight is the word-embedding parameter itself when the config ties them
/// (`tie_word_embeddings`, the default), so its gradient adds into the word-embedding gradient
/// (every row, the padding id's too, as autograd does); an untied checkpoint's decoder weight is
/// a parameter of its own. The decoder runs on `logitRows` masked rows at a time, so the
/// `[M, V]` logits never exist whole. Reference: transformers (v4.57.1) `BertForMaskedLM` /
/// `BertLMPredictionHead`, `DistilBertForMaskedLM`, `RobertaForMaskedLM` / `RobertaLMHead`,
/// `ElectraForMaskedLM` / `ElectraGeneratorPredictions`; dropout off: `CrossEntropyLoss` over
/// the positions whose label is not -100, mean over them.
///
/// Loaded with `nextSentence`, it is a `BertForPreTraining` (BERT only: no other family has a
/// next-sentence head in transformers): the pooler and `cls.seq_relationship`
/// (`TrainableNextSentenceHead`) train beside the masked-LM head, and the loss is the sum of the
/// two means, as `BertForPreTraining`'s.
public final class TrainableMaskedLM {
    public let config: BertConfig
    /// Every trainable tensor, its gradient, and whether weight decay applies.
    public let parameters: ParameterSet
    public let kernel: Kernel
    /// V, the decoder's outputs.
    public let vocabularySize: Int
    let encoder: TrainableEncoder
    let transform: TrainableLinear
    let activation: Activation
    let transformNorm: TrainableLayerNorm
    /// `[V, E]` weight (the word embeddings when tied) and `[V]` bias.
    let decoder: TrainableLinear
    /// Whether `decoder.weight` is the word-embedding parameter.
    public let tiedDecoder: Bool
    /// The pooler and `cls.seq_relationship` when loaded with `nextSentence`.
    let nextSentence: TrainableNextSentenceHead?
    /// Whether the model trains next-sentence prediction too (`BertForPreTraining`).
    public var hasNextSentenceHead: Bool { nextSentence != nil }

    /// Masked rows decoded at once: the logits scratch is `[logitRows, V]`.
    public let logitRows: Int

    /// Train mode's dropout (default `.off`), in the encoder only: no family's masked-LM head
    /// (nor BERT's pooler and `cls.seq_relationship`) drops anything in transformers.
    /// `Dropout(directory:seed:task: .maskedLM)` gives the checkpoint's rates. It applies in
    /// `lossAndGradients` only, never in `loss` (evaluation).
    public var dropout: Dropout = .off
    /// Training steps taken with dropout (each draws new masks).
    var dropoutStep: UInt64 = 0

    /// The head's workspace slices (`TrainingWorkspace.head[slot.rawValue]`).
    enum Slot: Int, CaseIterable {
        /// `[N, H]` the masked positions' hidden states, gathered (M ≤ N rows used).
        case gathered
        /// `[N, E]` transform dense + bias, before the activation.
        case transformSum
        /// `[N, E]` the activation's output, the LayerNorm's input.
        case activated
        /// `[N, E]` the LayerNorm's output, the decoder's input.
        case transformed
        /// `[logitRows, V]` one chunk of logits, and its loss gradient.
        case logits, dLogits
        /// `[N, E]` backward scratch: the gradient of `transformed`, then of `transformSum`.
        case dTransformed
        /// `[N, H]` the gradient of `gathered`, scattered into `ws.dHidden`.
        case dGathered
    }
    let slices: [TrainingWorkspace.HeadSlice]

    /// Loads a checkpoint with a masked-LM head for training.
    ///
    /// - Parameters:
    ///   - directory: a HuggingFace folder (`config.json`, `model.safetensors`) of `model_type`
    ///     bert (`BertForMaskedLM` or `BertForPreTraining`), distilbert, roberta, xlm-roberta or
    ///     electra (the generator, `ElectraForMaskedLM`) with the family's masked-LM head.
    ///   - kernel: `.blas` (default) or `.naive`.
    ///   - logitRows: masked rows decoded at once (default 64): the `[logitRows, V]` logits and
    ///     their gradient are the head's largest scratch; results do not depend on it.
    ///   - nextSentence: also load the pooler and `cls.seq_relationship` (a `BertForPreTraining`
    ///     checkpoint, BERT only) and train them on next-sentence labels; false leaves them out.
    /// - Throws: `BertError.unsupported` naming config.json for a `model_type` outside those, or
    ///   for `nextSentence` on a family without a next-sentence head; `.missingTensor` naming
    ///   the head tensor that is absent, `.shape`, `.config`, `.io`; `.invalidInput` when
    ///   `logitRows` is not positive.
    public init(directory: URL, kernel: Kernel = .blas, logitRows: Int = 64, nextSentence: Bool = false) throws {
        guard logitRows > 0 else { throw BertError(.invalidInput, "logitRows must be positive, got \(logitRows)") }
        let (config, weights) = try TrainableEncoder.open(directory, task: .maskedLM, families: Set(ModelFamily.allCases))
        if nextSentence, config.tensorNames.heads.seqRelationship == nil {
            throw BertError(.unsupported, "\(directory.appendingPathComponent("config.json").path): model_type \(config.modelType ?? config.family.rawValue) has no next-sentence head (\(config.className(.maskedLM)) trains the masked LM only; next-sentence prediction is BERT's, BertForPreTraining)")
        }
        let names = config.tensorNames.heads.maskedLM
        var required = [names.transformDense.weight, names.transformDense.bias, names.transformLayerNorm.weight,
                        names.transformLayerNorm.bias, names.bias]
        if !config.tieWordEmbeddings { required.append(names.decoderWeight) }
        try HeadWeights.require(weights, required, task: .maskedLM, config: config)
        // The transform maps H to the decoder's width E (ELECTRA's generator; H elsewhere).
        let h = config.hiddenSize, e = config.embeddingSize, v = config.vocabSize
        var builder = ParameterSet.Builder()
        encoder = try TrainableEncoder(weights, config: config, kernel: kernel, into: &builder)
        transform = try TrainableLinear(weights, names.transformDense, inFeatures: h, outFeatures: e, into: &builder)
        activation = config.family.maskedLMActivation(config)
        transformNorm = try TrainableLayerNorm(weights, names.transformLayerNorm, width: e, eps: config.layerNormEps, into: &builder)
        let biasTensor = try weights.tensor(names.bias, shape: [v])
        let bias = try builder.add(biasTensor, name: names.bias.description, decays: false)
        if config.tieWordEmbeddings {
            decoder = TrainableLinear(weight: encoder.embeddings.word, bias: bias, inFeatures: e, outFeatures: v)
        } else {
            let weightTensor = try weights.tensor(names.decoderWeight, shape: [v, e])
            let weight = try builder.add(weightTensor, name: names.decoderWeight.description, decays: true)
            decoder = TrainableLinear(weight: weight, bias: bias, inFeatures: e, outFeatures: v)
        }
        tiedDecoder = config.tieWordEmbeddings
        self.nextSentence = nextSentence
            ? try TrainableNextSentenceHead(weights, config: config, base: Slot.allCases.count, into: &builder) : nil
        parameters = try builder.build()
        slices = Slot.allCases.map { slot in
            switch slot {
            case .logits, .dLogits: TrainingWorkspace.HeadSlice(rows: .count(logitRows), width: v)
            case .gathered, .dGathered: TrainingWorkspace.HeadSlice(rows: .tokens, width: h)
            case .transformSum, .activated, .transformed, .dTransformed: TrainingWorkspace.HeadSlice(rows: .tokens, width: e)
            }
        } + (nextSentence ? TrainableNextSentenceHead.slices(hiddenSize: h) : [])
        vocabularySize = v
        self.logitRows = logitRows
        self.config = config
        self.kernel = kernel
    }

    /// Allocates the activations and scratch of steps of up to `maxBatch` sequences of up to
    /// `maxLength` tokens, `maxTokens` in all (default maxBatch × maxLength).
    ///
    /// - Throws: `BertError.invalidInput` unless the sizes are positive and `maxLength` fits the
    ///   position table, or when the buffers cannot be allocated.
    public func makeWorkspace(maxBatch: Int, maxLength: Int, maxTokens: Int? = nil) throws -> TrainingWorkspace {
        try encoder.makeWorkspace(maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens, head: slices)
    }

    /// The masked-LM loss of a batch, forward only (evaluation); gradients are untouched.
    ///
    /// - Parameters:
    ///   - ids: the (masked) input ids per sequence, special tokens included, no padding.
    ///   - typeIds: token types per sequence, nil for all 0.
    ///   - labels: per sequence, the original id at predicted positions and -100 elsewhere
    ///     (`MLMMasker`'s output).
    ///   - nextSentenceLabels: per sequence 0 (IsNext) or 1 (NotNext), for a model loaded with
    ///     `nextSentence`; nil scores the masked LM only.
    /// - Throws: `BertError.invalidInput` naming the sequence when the labels do not match the
    ///   ids or a label is outside the vocabulary, when next-sentence labels are given to a model
    ///   without the head, and the cases of the encoder's forward.
    public func loss(ids: [[Int32]], typeIds: [[Int32]]? = nil, labels: [[Int32]], nextSentenceLabels: [Int]? = nil,
                     workspace ws: TrainingWorkspace) throws -> MaskedLMLoss {
        try run(ids: ids, typeIds: typeIds, labels: labels, nextSentenceLabels: nextSentenceLabels, workspace: ws, backward: false)
    }

    /// One batch's masked-LM loss and gradients: forward (with `dropout`, train mode),
    /// cross-entropy on the masked positions (and with `nextSentenceLabels` the next-sentence
    /// cross-entropy, the two means summed as `BertForPreTraining`'s loss), backward. Gradients are added to
    /// `parameters.gradients` (zero them between optimizer steps); a batch with no masked
    /// position and no next-sentence labels adds nothing.
    ///
    /// - Throws: the cases of `loss(ids:typeIds:labels:nextSentenceLabels:workspace:)`.
    public func lossAndGradients(ids: [[Int32]], typeIds: [[Int32]]? = nil, labels: [[Int32]], nextSentenceLabels: [Int]? = nil,
                                 workspace ws: TrainingWorkspace) throws -> MaskedLMLoss {
        try run(ids: ids, typeIds: typeIds, labels: labels, nextSentenceLabels: nextSentenceLabels, workspace: ws, backward: true)
    }

    private func run(ids: [[Int32]], typeIds: [[Int32]]?, labels: [[Int32]], nextSentenceLabels: [Int]?,
                     workspace ws: TrainingWorkspace, backward: Bool) throws -> MaskedLMLoss {
        guard labels.count == ids.count else {
            throw BertError(.invalidInput, "\(labels.count) label sequences for \(ids.count) id sequences")
        }
        if let nextSentenceLabels {
            guard nextSentence != nil else {
                throw BertError(.invalidInput, "next-sentence labels given, but the model was loaded without its next-sentence head")
            }
            try TrainableNextSentenceHead.check(labels: nextSentenceLabels, sequences: ids.count)
        }
        let v = vocabularySize
        for (b, sequence) in labels.enumerated() {
            guard sequence.count == ids[b].count else {
                throw BertError(.invalidInput, "sequence \(b) has \(sequence.count) labels for \(ids[b].count) ids")
            }
            if let t = sequence.firstIndex(where: { $0 != MLMMasker.ignoreLabel && ($0 < 0 || Int($0) >= v) }) {
                throw BertError(.invalidInput, "sequence \(b), position \(t): label \(sequence[t]) is outside the vocabulary of \(v)")
            }
        }
        _ = try encoder.forward(parameters, ids: ids, typeIds: typeIds, head: slices, workspace: ws,
                                dropout: backward ? dropout.nextDraw(&dropoutStep) : nil)
        // The masked rows of the packed batch, and their targets.
        var rows: [Int] = [], targets: [Int] = []
        for (b, sequence) in labels.enumerated() {
            for (t, label) in sequence.enumerated() where label != MLMMasker.ignoreLabel {
                rows.append(ws.starts[b] + t)
                targets.append(Int(label))
            }
        }
        let m = rows.count
        var next: NextSentenceLoss?
        if let nextSentence, let nextSentenceLabels {
            _ = nextSentence.forward(parameters, workspace: ws, kernel: kernel)
            let (mean, correct) = nextSentence.loss(labels: nextSentenceLabels, workspace: ws)
            next = NextSentenceLoss(mean: mean, correct: correct, sequences: ids.count)
        }
        guard m > 0 else {
            if let nextSentence, next != nil, backward {
                nextSentence.backward(parameters, workspace: ws, kernel: kernel, addingToHidden: false)
                encoder.backward(parameters, ids: ids, typeIds: typeIds, workspace: ws)
            }
            return MaskedLMLoss(mean: 0, maskedTokens: 0, nextSentence: next)
        }
        let p = parameters, h = config.hiddenSize, e = config.embeddingSize
        let gathered = ws.head[Slot.gathered.rawValue], transformSum = ws.head[Slot.transformSum.rawValue]
        let activated = ws.head[Slot.activated.rawValue], transformed = ws.head[Slot.transformed.rawValue]
        let logits = ws.head[Slot.logits.rawValue], dLogits = ws.head[Slot.dLogits.rawValue]
        let dTransformed = ws.head[Slot.dTransformed.rawValue]
        let out = ws.encoderOutput
        for (r, row) in rows.enumerated() { (gathered + r * h).update(from: out + row * h, count: h) }
        // The transform, in the inference head's order: dense + bias, activation, LayerNorm.
        transform.forward(p, gathered, rows: m, into: transformSum, kernel: kernel)
        activated.update(from: transformSum, count: m * e)
        activation.apply(UnsafeMutableBufferPointer(start: activated, count: m * e))
        transformNorm.forward(p, activated, rows: m, into: transformed)
        // Decoder and loss a chunk at a time; each chunk's backward runs while its logits exist.
        var total = 0.0
        var first = 0
        while first < m {
            let count = min(logitRows, m - first)
            decoder.forward(p, transformed + first * e, rows: count, into: logits, kernel: kernel)
            let mean = Losses.crossEntropy(logits: logits, rows: count, classes: v, labels: Array(targets[first..<first + count]),
                                           gradient: dLogits, normalizer: m)
            total += Double(mean)
            if backward {
                // dW (the word embeddings when tied) += dLogitsᵀ X, db += Σ dLogits, dX = dLogits W.
                decoder.backward(p, dY: dLogits, x: transformed + first * e, rows: count, dX: dTransformed + first * e, kernel: kernel)
            }
            first += count
        }
        if backward {
            let dGathered = ws.head[Slot.dGathered.rawValue]
            transformNorm.backward(p, input: activated, rows: m, dOutput: dTransformed, into: dTransformed)
            RowGradients.activation(activation, input: transformSum, dTransformed, count: m * e)
            transform.backward(p, dY: dTransformed, x: gathered, rows: m, dX: dGathered, kernel: kernel)
            // Only the masked rows reach the head.
            ws.dHidden.update(repeating: 0, count: ws.tokenCount * h)
            for (r, row) in rows.enumerated() { (ws.dHidden + row * h).update(from: dGathered + r * h, count: h) }
            if let nextSentence, next != nil {
                nextSentence.backward(p, workspace: ws, kernel: kernel, addingToHidden: true)
            }
            encoder.backward(p, ids: ids, typeIds: typeIds, workspace: ws)
        }
        return MaskedLMLoss(mean: Float(total), maskedTokens: m, nextSentence: next)
    }
}
