import Foundation

/// A sequence classifier that learns: the `TrainableEncoder` (embeddings, N layers) and the
/// family's sequence head (`ModelFamily.sequenceClassification`), with the forward pass that
/// keeps activations and the backward pass that accumulates every parameter's gradient into
/// `parameters`. Every head is first token → dense → activation → classifier:
///
/// | family | dense | activation | classifier | dropout (train mode) |
/// |---|---|---|---|---|
/// | bert | `bert.pooler.dense` | tanh | `classifier` | before the classifier |
/// | distilbert | `pre_classifier` | ReLU | `classifier` | before the classifier |
/// | roberta | `classifier.dense` | tanh | `classifier.out_proj` | before the dense and the classifier |
/// | electra | `classifier.dense` | GELU | `classifier.out_proj` | before the dense and the classifier |
///
/// Batches are packed without padding, as in inference. The model's weights are copied once
/// from the checkpoint into `parameters` (the optimizer writes them); the forward runs the
/// inference kernels, so its logits equal `SequenceClassifier`'s on the same weights.
/// Reference: transformers `BertForSequenceClassification`, `DistilBertForSequenceClassification`,
/// `RobertaClassificationHead`, `ElectraClassificationHead` (v4.57.1): the loss follows
/// `problem_type` (cross-entropy, BCE with logits, MSE); `dropout` applies in
/// `lossAndGradients` only (train mode), never in `forward`.
public final class TrainableSequenceClassifier {
    public let config: BertConfig
    /// Every trainable tensor, its gradient, and whether weight decay applies.
    public let parameters: ParameterSet
    public let kernel: Kernel
    /// L, the classifier's outputs.
    public let labelCount: Int
    /// Train mode's dropout (default `.off`); `Dropout(directory:seed:)` gives the checkpoint's.
    public var dropout: Dropout = .off
    /// Training steps taken with dropout (each draws new masks).
    var dropoutStep: UInt64 = 0
    /// Whether the last forward dropped the classifier's input, for the backward.
    private var inputDropped = false
    let encoder: TrainableEncoder
    /// The dense layer and activation on the first token: BERT's pooler, DistilBERT's
    /// `pre_classifier` + ReLU, RoBERTa's and ELECTRA's `classifier.dense` (dropout before it).
    let pooler: TrainablePooler
    let classifier: TrainableLinear

    /// The head's workspace slices (`TrainingWorkspace.head[slot.rawValue]`), then the pooler's.
    enum Slot: Int, CaseIterable {
        /// `[B, L]`
        case logits
        /// `[B, L]` the loss's gradient.
        case dLogits
        /// `[B, H]` the classifier's dropout mask and its input after dropout (train mode).
        case classifierMask, dropped
    }
    /// Sizes of `Slot`s, in order (L wide for the logits, H for the rest), then the pooler's.
    let slices: [TrainingWorkspace.HeadSlice]

    /// Loads a checkpoint of any family for training.
    ///
    /// - Parameters:
    ///   - directory: a HuggingFace folder (`config.json`, `model.safetensors`) of `model_type`
    ///     bert, distilbert, roberta, xlm-roberta or electra.
    ///   - labels: the classifier's outputs when the checkpoint has no classifier (an encoder
    ///     such as all-MiniLM-L6-v2): a new one is initialized as transformers does (weight
    ///     N(0, `initializerRange`²), bias 0) from `seed`, and so is the family's dense layer
    ///     when it is absent too (not BERT's pooler). nil requires a stored classifier; a
    ///     value must match a stored one.
    ///   - initializerRange: the new classifier's standard deviation (`initializer_range`, 0.02).
    ///   - seed: the new classifier's seed.
    ///   - kernel: `.blas` (default) or `.naive`.
    /// - Throws: `BertError.unsupported` naming config.json for another `model_type`,
    ///   `.missingTensor` naming the tensor (BERT's pooler, the dense layer and the classifier
    ///   when `labels` is nil), `.shape` (a stored classifier with another label count),
    ///   `.config`, `.io`.
    public init(directory: URL, labels: Int? = nil, initializerRange: Float = 0.02, seed: UInt64 = 42,
                kernel: Kernel = .blas) throws {
        let (config, weights) = try TrainableEncoder.open(directory, task: .sequenceClassification,
                                                          families: Set(ModelFamily.allCases))
        let h = config.hiddenSize
        var builder = ParameterSet.Builder()
        encoder = try TrainableEncoder(weights, config: config, kernel: kernel, into: &builder)
        let head = config.family.sequenceClassification
        if head.readsPooler {
            // BertForSequenceClassification: the pooler (tanh over [CLS]) must be stored.
            guard let poolerNames = config.tensorNames.pooler else {
                throw BertError(.unsupported, "\(directory.path): model_type \(config.family.rawValue) has no pooler")
            }
            let dense = try TrainableLinear(weights, poolerNames, inFeatures: h, outFeatures: h, into: &builder)
            pooler = TrainablePooler(dense: dense, activation: .tanh, dropsInput: false, base: Slot.allCases.count)
        } else {
            guard let preNames = config.tensorNames.heads.sequencePre else {
                throw BertError(.unsupported, "\(directory.path): model_type \(config.family.rawValue) has no sequence-classification dense layer")
            }
            let dense = labels != nil && !weights.contains(preNames.weight)
                ? try TrainableLinear(new: preNames, inFeatures: h, outFeatures: h, std: initializerRange, seed: seed &+ 1,
                                      into: &builder)
                : try TrainableLinear(weights, preNames, inFeatures: h, outFeatures: h, into: &builder)
            pooler = TrainablePooler(dense: dense, activation: head.activation ?? .tanh,
                                     dropsInput: config.family == .roberta || config.family == .electra,
                                     base: Slot.allCases.count)
        }
        let classifierNames = config.tensorNames.heads.sequenceOutput
        if let labels, !weights.contains(classifierNames.weight) {
            guard labels > 0 else { throw BertError(.invalidInput, "labels must be positive, got \(labels)") }
            labelCount = labels
            classifier = try TrainableLinear(new: classifierNames, inFeatures: h, outFeatures: labels, std: initializerRange,
                                             seed: seed, into: &builder)
        } else {
            let classifierWeight = try weights.tensor(classifierNames.weight)
            guard classifierWeight.shape.count == 2, classifierWeight.shape[1] == h,
                  labels == nil || labels == classifierWeight.shape[0] else {
                throw BertError(.shape, "\(weights.url.path): tensor \(classifierWeight.name) has shape \(classifierWeight.shape), expected [\(labels.map(String.init) ?? "labels"), \(h)]")
            }
            labelCount = classifierWeight.shape[0]
            classifier = try TrainableLinear(weights, classifierNames, inFeatures: h, outFeatures: labelCount, into: &builder)
        }
        parameters = try builder.build()
        let l = labelCount
        slices = Slot.allCases.map { slot in
            switch slot {
            case .logits, .dLogits: TrainingWorkspace.HeadSlice(rows: .sequences, width: l)
            case .classifierMask, .dropped: TrainingWorkspace.HeadSlice(rows: .sequences, width: h)
            }
        } + pooler.slices
        self.config = config
        self.kernel = kernel
    }

    /// Allocates the activations and scratch of training steps of up to `maxBatch` sequences
    /// of up to `maxLength` tokens, `maxTokens` in all (default maxBatch × maxLength).
    ///
    /// - Throws: `BertError.invalidInput` unless the sizes are positive and `maxLength` fits the
    ///   position table, or when the buffers cannot be allocated.
    public func makeWorkspace(maxBatch: Int, maxLength: Int, maxTokens: Int? = nil) throws -> TrainingWorkspace {
        try encoder.makeWorkspace(maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens, head: slices)
    }

    /// Runs the forward pass, keeping activations for `backward`.
    ///
    /// - Parameters:
    ///   - ids: token ids per sequence, special tokens included, no padding.
    ///   - typeIds: token type ids per sequence (same lengths), nil for all 0.
    ///   - workspace: from `makeWorkspace`.
    /// - Returns: the logits `[B, L]`, valid until the workspace's next step.
    /// - Throws: `BertError.invalidInput` naming the sequence when the batch does not fit the
    ///   workspace or an id is out of range.
    public func forward(ids: [[Int32]], typeIds: [[Int32]]? = nil, workspace ws: TrainingWorkspace) throws -> UnsafeBufferPointer<Float> {
        try forward(ids: ids, typeIds: typeIds, workspace: ws, dropout: nil)
    }

    /// The forward pass; with `dropout` (train mode), masks of that step are drawn and kept.
    private func forward(ids: [[Int32]], typeIds: [[Int32]]?, workspace ws: TrainingWorkspace,
                         dropout: (Dropout, step: UInt64)?) throws -> UnsafeBufferPointer<Float> {
        _ = try encoder.forward(parameters, ids: ids, typeIds: typeIds, head: slices, workspace: ws, dropout: dropout)
        let p = parameters, h = config.hiddenSize, b = ids.count
        let logits = ws.head[Slot.logits.rawValue]
        let pooled = pooler.forward(p, workspace: ws, kernel: kernel, dropout: dropout, site: encoder.dropoutSites + 1)
        // classifier(dropout(activation(dense(x)))), BERT's pooler included.
        let input: UnsafePointer<Float>
        (input, inputDropped) = Dropout.headInput(dropout, site: encoder.dropoutSites, pooled, rows: b, width: h,
                                                  mask: ws.head[Slot.classifierMask.rawValue], into: ws.head[Slot.dropped.rawValue])
        classifier.forward(p, input, rows: b, into: logits, kernel: kernel)
        return UnsafeBufferPointer(start: logits, count: b * labelCount)
    }

    /// The hidden states `[N, H]` of the last `forward` (the encoder output).
    public func lastHiddenState(_ ws: TrainingWorkspace) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: ws.encoderOutput, count: ws.tokenCount * config.hiddenSize)
    }

    /// The pooler outputs `[B, H]` of the last `forward`.
    func pooledOutput(_ ws: TrainingWorkspace) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: pooler.slice(ws, .pooled), count: ws.starts.count * config.hiddenSize)
    }

    /// The logits `[B, L]` of the last `forward`.
    func logits(_ ws: TrainingWorkspace) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: ws.head[Slot.logits.rawValue], count: ws.starts.count * labelCount)
    }

    /// One batch's loss and gradients: forward, the loss `targets` select, backward. The
    /// gradients are added to `parameters.gradients` (zero them between optimizer steps).
    ///
    /// - Returns: the mean loss over the batch.
    /// - Throws: `BertError.invalidInput` when the targets do not match the batch and labels,
    ///   and the cases of `forward`.
    public func lossAndGradients(ids: [[Int32]], typeIds: [[Int32]]? = nil, targets: TrainingTargets,
                                 workspace ws: TrainingWorkspace) throws -> Float {
        let b = ids.count, l = labelCount
        switch targets {
        case .classes(let labels):
            guard labels.count == b else { throw BertError(.invalidInput, "\(labels.count) labels for \(b) sequences") }
            if let bad = labels.first(where: { $0 < 0 || $0 >= l }) {
                throw BertError(.invalidInput, "label \(bad) is outside the classifier's \(l) labels")
            }
        case .multiLabel(let values), .values(let values):
            guard values.count == b * l else {
                throw BertError(.invalidInput, "\(values.count) targets for \(b) sequences × \(l) labels")
            }
        }
        let logits = try forward(ids: ids, typeIds: typeIds, workspace: ws, dropout: dropout.nextDraw(&dropoutStep))
        guard let base = logits.baseAddress else { return 0 }
        let dLogits = ws.head[Slot.dLogits.rawValue]
        let loss: Float
        switch targets {
        case .classes(let labels):
            loss = Losses.crossEntropy(logits: base, rows: b, classes: l, labels: labels, gradient: dLogits)
        case .multiLabel(let values):
            loss = Losses.binaryCrossEntropy(logits: base, count: b * l, targets: values, gradient: dLogits)
        case .values(let values):
            loss = Losses.meanSquaredError(predictions: base, count: b * l, targets: values, gradient: dLogits)
        }
        backward(ids: ids, typeIds: typeIds, workspace: ws)
        return loss
    }

    /// Backward from the dLogits slice through the classifier and pooler into the [CLS] rows of
    /// `ws.dHidden`, then through the encoder.
    private func backward(ids: [[Int32]], typeIds: [[Int32]]?, workspace ws: TrainingWorkspace) {
        let p = parameters, h = config.hiddenSize, b = ids.count
        let dPooled = pooler.slice(ws, .dPooled)
        classifier.backward(p, dY: ws.head[Slot.dLogits.rawValue], x: inputDropped ? ws.head[Slot.dropped.rawValue] : pooler.slice(ws, .pooled),
                            rows: b, dX: dPooled, kernel: kernel)
        if inputDropped {
            RowGradients.multiply(dPooled, by: ws.head[Slot.classifierMask.rawValue], count: b * h)
        }
        pooler.backward(p, workspace: ws, kernel: kernel, inputDropped: inputDropped, addingToHidden: false)
        encoder.backward(p, ids: ids, typeIds: typeIds, workspace: ws)
    }
}
