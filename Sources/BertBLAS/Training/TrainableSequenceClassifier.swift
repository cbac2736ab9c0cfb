import Foundation

/// A BERT sequence classifier that learns: embeddings, N layers, pooler (tanh over [CLS]) and
/// classifier, with the forward pass that keeps activations and the backward pass that
/// accumulates every parameter's gradient into `parameters`.
///
/// Batches are packed without padding, as in inference. The model's weights are copied once
/// from the checkpoint into `parameters` (the optimizer writes them); the forward runs the
/// inference kernels, so its logits equal `SequenceClassifier`'s on the same weights.
/// Reference: transformers `BertForSequenceClassification` (v4.57.1), dropout off: the loss
/// follows `problem_type` (cross-entropy, BCE with logits, MSE).
public final class TrainableSequenceClassifier {
    public let config: BertConfig
    /// Every trainable tensor, its gradient, and whether weight decay applies.
    public let parameters: ParameterSet
    public let kernel: Kernel
    /// L, the classifier's outputs.
    public let labelCount: Int
    let embeddings: TrainableEmbeddings
    let layers: [TrainableEncoderLayer]
    let pooler: TrainableLinear
    let classifier: TrainableLinear

    /// Loads a BERT checkpoint for training.
    ///
    /// - Parameters:
    ///   - directory: a HuggingFace BERT folder (`config.json`, `model.safetensors`).
    ///   - labels: the classifier's outputs when the checkpoint has no classifier (an encoder
    ///     such as all-MiniLM-L6-v2): a new one is initialized as transformers does (weight
    ///     N(0, `initializerRange`²), bias 0) from `seed`. nil requires a stored classifier; a
    ///     value must match a stored one.
    ///   - initializerRange: the new classifier's standard deviation (`initializer_range`, 0.02).
    ///   - seed: the new classifier's seed.
    ///   - kernel: `.blas` (default) or `.naive`.
    /// - Throws: `BertError.unsupported` for families other than BERT (`model_type` bert),
    ///   `.missingTensor` naming the tensor (the pooler, and the classifier when `labels` is
    ///   nil), `.shape` (a stored classifier with another label count), `.config`, `.io`.
    public init(directory: URL, labels: Int? = nil, initializerRange: Float = 0.02, seed: UInt64 = 42,
                kernel: Kernel = .blas) throws {
        let config = try BertConfig.load(directory.appendingPathComponent("config.json"))
        try config.validate(file: directory.appendingPathComponent("config.json").path)
        let weights = try WeightStore(url: directory.appendingPathComponent("model.safetensors"))
        guard config.family == .bert, config.embeddingSize == config.hiddenSize, config.positionPaddingIndex == nil,
              config.positionEmbeddingType == "absolute", let poolerNames = config.tensorNames.pooler else {
            throw BertError(.unsupported, "\(directory.path): training supports BERT checkpoints (model_type bert, absolute positions), not \(config.family.rawValue)")
        }
        let h = config.hiddenSize
        var builder = ParameterSet.Builder()
        embeddings = try TrainableEmbeddings(weights, config: config, into: &builder)
        layers = try (0..<config.numHiddenLayers).map { try TrainableEncoderLayer(weights, index: $0, config: config, into: &builder) }
        pooler = try TrainableLinear(weights, poolerNames, inFeatures: h, outFeatures: h, into: &builder)
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
        self.config = config
        self.kernel = kernel
    }

    /// Allocates the activations and scratch of training steps of up to `maxBatch` sequences
    /// of up to `maxLength` tokens, `maxTokens` in all (default maxBatch × maxLength).
    ///
    /// - Throws: `BertError.invalidInput` unless the sizes are positive and `maxLength` fits the
    ///   position table, or when the buffers cannot be allocated.
    public func makeWorkspace(maxBatch: Int, maxLength: Int, maxTokens: Int? = nil) throws -> TrainingWorkspace {
        guard maxBatch > 0, maxLength > 0 else {
            throw BertError(.invalidInput, "training workspace needs a positive batch and length, got \(maxBatch) × \(maxLength)")
        }
        guard maxLength <= config.maxSequenceLength else {
            throw BertError(.invalidInput, "max length \(maxLength) exceeds the model's \(config.maxSequenceLength) positions (max_position_embeddings)")
        }
        let (product, overflow) = maxBatch.multipliedReportingOverflow(by: maxLength)
        let tokens = maxTokens ?? (overflow ? Int.max : product)
        guard tokens >= maxLength else {
            throw BertError(.invalidInput, "training workspace of \(tokens) tokens cannot hold one sequence of max length \(maxLength)")
        }
        return try TrainingWorkspace(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: tokens, labels: labelCount)
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
        let n = try layout(ids: ids, typeIds: typeIds, workspace: ws)
        let p = parameters, h = config.hiddenSize
        embeddings.forward(p, ids: ids, typeIds: typeIds, starts: ws.starts, sum: ws.embeddingSum, output: ws.hidden[0], tokens: n)
        for (l, layer) in layers.enumerated() {
            layer.forward(p, ws, layer: l, tokens: n, kernel: kernel)
        }
        let out = ws.hidden[layers.count], b = ids.count
        for (s, start) in ws.starts.enumerated() {
            (ws.cls + s * h).update(from: out + start * h, count: h)
        }
        pooler.forward(p, ws.cls, rows: b, into: ws.poolerSum, kernel: kernel)
        ws.pooled.update(from: ws.poolerSum, count: b * h)
        Activation.tanh.apply(UnsafeMutableBufferPointer(start: ws.pooled, count: b * h))
        classifier.forward(p, ws.pooled, rows: b, into: ws.logits, kernel: kernel)
        return UnsafeBufferPointer(start: ws.logits, count: b * labelCount)
    }

    /// The hidden states `[N, H]` of the last `forward` (the encoder output).
    public func lastHiddenState(_ ws: TrainingWorkspace) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: ws.hidden[layers.count], count: (ws.starts.last.map { $0 + (ws.lengths.last ?? 0) } ?? 0) * config.hiddenSize)
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
        let logits = try forward(ids: ids, typeIds: typeIds, workspace: ws)
        guard let base = logits.baseAddress else { return 0 }
        let loss: Float
        switch targets {
        case .classes(let labels):
            loss = Losses.crossEntropy(logits: base, rows: b, classes: l, labels: labels, gradient: ws.dLogits)
        case .multiLabel(let values):
            loss = Losses.binaryCrossEntropy(logits: base, count: b * l, targets: values, gradient: ws.dLogits)
        case .values(let values):
            loss = Losses.meanSquaredError(predictions: base, count: b * l, targets: values, gradient: ws.dLogits)
        }
        backward(ids: ids, typeIds: typeIds, workspace: ws)
        return loss
    }

    /// Backward from `ws.dLogits` through the classifier, pooler, layers and embeddings.
    private func backward(ids: [[Int32]], typeIds: [[Int32]]?, workspace ws: TrainingWorkspace) {
        let p = parameters, h = config.hiddenSize, b = ids.count
        let n = (ws.starts.last ?? 0) + (ws.lengths.last ?? 0)
        classifier.backward(p, dY: ws.dLogits, x: ws.pooled, rows: b, dX: ws.dPooled, kernel: kernel)
        RowGradients.activation(.tanh, input: ws.poolerSum, ws.dPooled, count: b * h)
        pooler.backward(p, dY: ws.dPooled, x: ws.cls, rows: b, dX: ws.dCls, kernel: kernel)
        // Only the [CLS] rows reach the classifier.
        ws.dHidden.update(repeating: 0, count: n * h)
        for (s, start) in ws.starts.enumerated() {
            (ws.dHidden + start * h).update(from: ws.dCls + s * h, count: h)
        }
        for l in layers.indices.reversed() {
            layers[l].backward(p, ws, layer: l, tokens: n, kernel: kernel)
        }
        embeddings.backward(p, ids: ids, typeIds: typeIds, starts: ws.starts, sum: ws.embeddingSum, dOutput: ws.dHidden, tokens: n)
    }

    /// Validates the batch and lays it out in the workspace; returns N.
    private func layout(ids: [[Int32]], typeIds: [[Int32]]?, workspace ws: TrainingWorkspace) throws -> Int {
        guard ws.hiddenSize == config.hiddenSize, ws.intermediateSize == config.intermediateSize,
              ws.layerCount == config.numHiddenLayers, ws.labels == labelCount else {
            throw BertError(.invalidInput, "the training workspace was made for another model")
        }
        guard !ids.isEmpty, ids.count <= ws.maxBatch else {
            throw BertError(.invalidInput, "batch of \(ids.count) sequences: the training workspace holds 1 to \(ws.maxBatch)")
        }
        if let typeIds, typeIds.count != ids.count {
            throw BertError(.invalidInput, "\(typeIds.count) type-id sequences for \(ids.count) id sequences")
        }
        ws.starts.removeAll(keepingCapacity: true)
        ws.lengths.removeAll(keepingCapacity: true)
        ws.probabilityStarts.removeAll(keepingCapacity: true)
        var n = 0, probabilities = 0
        for (b, sequence) in ids.enumerated() {
            try config.checkSequence(sequence, types: typeIds?[b], index: b, maxLength: ws.maxLength, in: "the training workspace")
            ws.starts.append(n)
            ws.lengths.append(sequence.count)
            ws.probabilityStarts.append(probabilities)
            n += sequence.count
            probabilities += config.numAttentionHeads * sequence.count * sequence.count
        }
        guard n <= ws.maxTokens else {
            throw BertError(.invalidInput, "batch of \(n) tokens exceeds the training workspace's \(ws.maxTokens)")
        }
        return n
    }
}
