import Foundation

/// A BERT token classifier that learns: the `TrainableEncoder` (embeddings, N layers) and one
/// linear classifier on every token's last hidden state, with the forward pass that keeps
/// activations and the backward pass that accumulates every parameter's gradient into
/// `parameters`.
///
/// The loss is cross-entropy over the tokens whose label is not `ignoredLabel` (-100), averaged
/// over those tokens, as transformers' `BertForTokenClassification` (`CrossEntropyLoss` with
/// `ignore_index=-100`; v4.57.1), dropout off. Batches are packed without padding.
public final class TrainableTokenClassifier {
    public let config: BertConfig
    /// Every trainable tensor, its gradient, and whether weight decay applies.
    public let parameters: ParameterSet
    public let kernel: Kernel
    /// L, the classifier's outputs.
    public let labelCount: Int
    /// Train mode's dropout (default `.off`); `Dropout(directory:seed:task: .tokenClassification)`
    /// gives the checkpoint's: the encoder's, and `classifier` on the classifier's input
    /// (`BertForTokenClassification`: `classifier(dropout(sequence_output))`). Applies in
    /// `lossAndGradients` only.
    public var dropout: Dropout = .off
    /// Training steps taken with dropout (each draws new masks).
    var dropoutStep: UInt64 = 0
    /// Whether the last forward dropped the classifier's input, for the backward.
    private var inputDropped = false
    let encoder: TrainableEncoder
    let classifier: TrainableLinear

    /// The label of a token that the loss skips (special tokens, a word's later sub-tokens).
    public static let ignoredLabel = -100

    /// The head's workspace slices (`TrainingWorkspace.head[slot.rawValue]`), one row per token.
    enum Slot: Int, CaseIterable {
        /// `[N, L]`
        case logits
        /// `[N, L]` the loss's gradient.
        case dLogits
        /// `[N, H]` the classifier's dropout mask and its input after dropout (train mode).
        case classifierMask, dropped
    }
    let slices: [TrainingWorkspace.HeadSlice]

    /// Loads a BERT checkpoint for token-classification training.
    ///
    /// - Parameters:
    ///   - directory: a HuggingFace BERT folder (`config.json`, `model.safetensors`).
    ///   - labels: the classifier's outputs when the checkpoint has no `classifier` (an encoder):
    ///     a new one is initialized as transformers does (weight N(0, `initializerRange`²), bias
    ///     0) from `seed`. nil requires a stored classifier; a value must match a stored one.
    ///   - initializerRange: the new classifier's standard deviation (`initializer_range`, 0.02).
    ///   - seed: the new classifier's seed.
    ///   - kernel: `.blas` (default) or `.naive`.
    /// - Throws: `BertError.unsupported` naming config.json for another `model_type` (every
    ///   family's classifier is one `classifier` Linear), `.missingTensor` naming
    ///   the classifier when `labels` is nil and it is absent, `.shape` (a stored classifier of
    ///   another size), `.config`, `.io`.
    public init(directory: URL, labels: Int? = nil, initializerRange: Float = 0.02, seed: UInt64 = 42,
                kernel: Kernel = .blas) throws {
        let (config, weights) = try TrainableEncoder.open(directory, task: .tokenClassification,
                                                          families: Set(ModelFamily.allCases))
        let h = config.hiddenSize
        var builder = ParameterSet.Builder()
        encoder = try TrainableEncoder(weights, config: config, kernel: kernel, into: &builder)
        let names = config.tensorNames.heads.tokenClassifier
        if let labels, !weights.contains(names.weight) {
            guard labels > 0 else { throw BertError(.invalidInput, "labels must be positive, got \(labels)") }
            labelCount = labels
            classifier = try TrainableLinear(new: names, inFeatures: h, outFeatures: labels, std: initializerRange,
                                             seed: seed, into: &builder)
        } else {
            let stored = try weights.tensor(names.weight)
            guard stored.shape.count == 2, stored.shape[1] == h, labels == nil || labels == stored.shape[0] else {
                throw BertError(.shape, "\(weights.url.path): tensor \(stored.name) has shape \(stored.shape), expected [\(labels.map(String.init) ?? "labels"), \(h)]")
            }
            labelCount = stored.shape[0]
            classifier = try TrainableLinear(weights, names, inFeatures: h, outFeatures: labelCount, into: &builder)
        }
        parameters = try builder.build()
        let l = labelCount
        slices = Slot.allCases.map { slot in
            switch slot {
            case .logits, .dLogits: TrainingWorkspace.HeadSlice(rows: .tokens, width: l)
            case .classifierMask, .dropped: TrainingWorkspace.HeadSlice(rows: .tokens, width: h)
            }
        }
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

    /// Runs the forward pass, keeping activations for the backward.
    ///
    /// - Returns: the logits `[N, L]` of every token of the packed batch (sequence b's rows are
    ///   `ws.starts[b] ..< ws.starts[b] + ids[b].count`), valid until the workspace's next step.
    /// - Throws: `BertError.invalidInput` naming the sequence when the batch does not fit the
    ///   workspace or an id is out of range.
    public func forward(ids: [[Int32]], typeIds: [[Int32]]? = nil, workspace ws: TrainingWorkspace) throws -> UnsafeBufferPointer<Float> {
        try forward(ids: ids, typeIds: typeIds, workspace: ws, dropout: nil)
    }

    /// The forward pass; with `dropout` (train mode), masks of that step are drawn and kept.
    private func forward(ids: [[Int32]], typeIds: [[Int32]]?, workspace ws: TrainingWorkspace,
                         dropout: (Dropout, step: UInt64)?) throws -> UnsafeBufferPointer<Float> {
        let n = try encoder.forward(parameters, ids: ids, typeIds: typeIds, head: slices, workspace: ws, dropout: dropout)
        let logits = ws.head[Slot.logits.rawValue]
        let input: UnsafePointer<Float>
        (input, inputDropped) = Dropout.headInput(dropout, site: encoder.dropoutSites, ws.encoderOutput, rows: n,
                                                  width: config.hiddenSize, mask: ws.head[Slot.classifierMask.rawValue],
                                                  into: ws.head[Slot.dropped.rawValue])
        classifier.forward(parameters, input, rows: n, into: logits, kernel: kernel)
        return UnsafeBufferPointer(start: logits, count: n * labelCount)
    }

    /// One batch's loss and gradients: forward, cross-entropy over the labelled tokens,
    /// backward. The gradients are added to `parameters.gradients` (zero them between steps).
    ///
    /// - Parameter labels: one label per token of each sequence: a class index, or
    ///   `ignoredLabel` for a token the loss skips.
    /// - Returns: the mean loss over the labelled tokens (0 when there is none).
    /// - Throws: `BertError.invalidInput` when a sequence's labels do not match its tokens or a
    ///   label is out of range, and the cases of `forward`.
    public func lossAndGradients(ids: [[Int32]], typeIds: [[Int32]]? = nil, labels: [[Int]],
                                 workspace ws: TrainingWorkspace) throws -> Float {
        guard labels.count == ids.count else {
            throw BertError(.invalidInput, "\(labels.count) label sequences for \(ids.count) sequences")
        }
        for (b, sequence) in labels.enumerated() {
            guard sequence.count == ids[b].count else {
                throw BertError(.invalidInput, "sequence \(b): \(sequence.count) labels for \(ids[b].count) tokens")
            }
            if let bad = sequence.first(where: { $0 != Self.ignoredLabel && ($0 < 0 || $0 >= labelCount) }) {
                throw BertError(.invalidInput, "sequence \(b): label \(bad) is outside the classifier's \(labelCount) labels")
            }
        }
        let logits = try forward(ids: ids, typeIds: typeIds, workspace: ws, dropout: dropout.nextDraw(&dropoutStep))
        guard let base = logits.baseAddress else { return 0 }
        let n = ws.tokenCount
        let dLogits = ws.head[Slot.dLogits.rawValue]
        let loss = Losses.crossEntropy(logits: base, rows: n, classes: labelCount, labels: Array(labels.joined()),
                                       ignoreIndex: Self.ignoredLabel, gradient: dLogits)
        // Every row of dHidden is written: the classifier sees every token.
        classifier.backward(parameters, dY: dLogits, x: inputDropped ? ws.head[Slot.dropped.rawValue] : ws.encoderOutput, rows: n,
                            dX: ws.dHidden, kernel: kernel)
        if inputDropped {
            RowGradients.multiply(ws.dHidden, by: ws.head[Slot.classifierMask.rawValue], count: n * config.hiddenSize)
        }
        encoder.backward(parameters, ids: ids, typeIds: typeIds, workspace: ws)
        return loss
    }
}
