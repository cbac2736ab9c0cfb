import Foundation

/// BERT's next-sentence head as a part of a trainable model: the pooler (dense + tanh over the
/// [CLS] row) and `cls.seq_relationship` `[2, H]` (index 0 IsNext, 1 NotNext), with the
/// cross-entropy over the sequences. `TrainableNextSentencePredictor` puts it on the encoder
/// alone, `TrainableMaskedLM` beside the masked-LM head (`BertForPreTraining`).
///
/// Its slices start at `base` in `TrainingWorkspace.head` (after the slices of the head it sits
/// beside). Reference: transformers `BertPooler`, `BertOnlyNSPHead` (v4.57.1).
struct TrainableNextSentenceHead: Sendable {
    let pooler: TrainablePooler
    let classifier: TrainableLinear
    /// Index of the first slice in `ws.head`.
    let base: Int

    /// The head's own slices, then the pooler's.
    enum Slot: Int, CaseIterable {
        /// `[B, 2]` the logits, and the loss's gradient.
        case logits, dLogits
    }

    /// The slices, in `Slot` order, then the pooler's (`[B, H]` each).
    static func slices(hiddenSize h: Int) -> [TrainingWorkspace.HeadSlice] {
        Slot.allCases.map { _ in TrainingWorkspace.HeadSlice(rows: .sequences, width: 2) }
            + TrainablePooler.slices(hiddenSize: h, dropsInput: false)
    }

    /// Registers the pooler and `cls.seq_relationship`, copied from the checkpoint.
    ///
    /// - Throws: `BertError.missingTensor` naming every absent tensor of the two (one message),
    ///   `.unsupported` for a family without a next-sentence head, `.shape`.
    init(_ weights: WeightStore, config: BertConfig, base: Int, into builder: inout ParameterSet.Builder) throws {
        guard let names = config.tensorNames.heads.seqRelationship, let poolerNames = config.tensorNames.pooler else {
            throw BertError(.unsupported, "\(weights.url.path): \(config.family.rawValue) has no next-sentence head (only bert)")
        }
        try HeadWeights.require(weights, [poolerNames.weight, poolerNames.bias, names.weight, names.bias],
                                task: .nextSentencePrediction, config: config)
        let h = config.hiddenSize
        let dense = try TrainableLinear(weights, poolerNames, inFeatures: h, outFeatures: h, into: &builder)
        pooler = TrainablePooler(dense: dense, activation: .tanh, dropsInput: false, base: base + Slot.allCases.count)
        classifier = try TrainableLinear(weights, names, inFeatures: h, outFeatures: 2, into: &builder)
        self.base = base
    }

    private func slice(_ ws: TrainingWorkspace, _ slot: Slot) -> UnsafeMutablePointer<Float> { ws.head[base + slot.rawValue] }

    /// The logits `[B, 2]` of the batch whose encoder output is in `ws` (the forward ran).
    func forward(_ p: ParameterSet, workspace ws: TrainingWorkspace, kernel: Kernel) -> UnsafeBufferPointer<Float> {
        let b = ws.starts.count, logits = slice(ws, .logits)
        classifier.forward(p, pooler.forward(p, workspace: ws, kernel: kernel), rows: b, into: logits, kernel: kernel)
        return UnsafeBufferPointer(start: logits, count: b * 2)
    }

    /// Mean cross-entropy of the last `forward`'s logits against `labels` (0 IsNext, 1 NotNext),
    /// writing its gradient for `backward`, and how many sequences the argmax gets right.
    func loss(labels: [Int], workspace ws: TrainingWorkspace) -> (mean: Float, correct: Int) {
        let logits = slice(ws, .logits), b = labels.count
        let mean = Losses.crossEntropy(logits: logits, rows: b, classes: 2, labels: labels, gradient: slice(ws, .dLogits))
        // Ties go to IsNext, as argmax does.
        let correct = (0..<b).filter { (logits[2 * $0 + 1] > logits[2 * $0] ? 1 : 0) == labels[$0] }.count
        return (mean, correct)
    }

    /// Backward from the loss's gradient through `cls.seq_relationship` and the pooler,
    /// adding the [CLS] rows' gradient into `ws.dHidden` (zeroed first unless `addingToHidden`).
    func backward(_ p: ParameterSet, workspace ws: TrainingWorkspace, kernel: Kernel, addingToHidden: Bool) {
        classifier.backward(p, dY: slice(ws, .dLogits), x: pooler.slice(ws, .pooled), rows: ws.starts.count,
                            dX: pooler.slice(ws, .dPooled), kernel: kernel)
        pooler.backward(p, workspace: ws, kernel: kernel, inputDropped: false, addingToHidden: addingToHidden)
    }

    /// - Throws: `BertError.invalidInput` unless there is one label, 0 or 1, per sequence.
    static func check(labels: [Int], sequences: Int) throws {
        guard labels.count == sequences else {
            throw BertError(.invalidInput, "\(labels.count) next-sentence labels for \(sequences) sequences")
        }
        if let s = labels.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw BertError(.invalidInput, "sequence \(s): next-sentence label \(labels[s]) is neither 0 (IsNext) nor 1 (NotNext)")
        }
    }
}

/// The next-sentence loss of one batch.
public struct NextSentenceLoss: Sendable, Equatable {
    /// Mean cross-entropy over the sequences (natural log).
    public var mean: Float
    /// Sequences whose argmax is their label.
    public var correct: Int
    public var sequences: Int

    public init(mean: Float, correct: Int, sequences: Int) {
        self.mean = mean
        self.correct = correct
        self.sequences = sequences
    }
}

/// A BERT next-sentence predictor that learns: the `TrainableEncoder` and the pooler +
/// `cls.seq_relationship` head, with the cross-entropy over the sequences (label 0 IsNext,
/// 1 NotNext). Reference: transformers `BertForNextSentencePrediction` (v4.57.1), dropout off.
public final class TrainableNextSentencePredictor {
    public let config: BertConfig
    /// Every trainable tensor, its gradient, and whether weight decay applies.
    public let parameters: ParameterSet
    public let kernel: Kernel
    let encoder: TrainableEncoder
    let head: TrainableNextSentenceHead
    let slices: [TrainingWorkspace.HeadSlice]

    /// Loads a BERT checkpoint with a next-sentence head (`BertForNextSentencePrediction` or
    /// `BertForPreTraining`; the masked-LM head of the latter is not loaded).
    ///
    /// - Throws: `BertError.unsupported` for families other than BERT, `.missingTensor` naming
    ///   the pooler or `cls.seq_relationship` tensors that are absent, `.shape`, `.config`, `.io`.
    public init(directory: URL, kernel: Kernel = .blas) throws {
        let (config, weights) = try TrainableEncoder.open(directory, task: .nextSentencePrediction)
        var builder = ParameterSet.Builder()
        encoder = try TrainableEncoder(weights, config: config, kernel: kernel, into: &builder)
        head = try TrainableNextSentenceHead(weights, config: config, base: 0, into: &builder)
        parameters = try builder.build()
        slices = TrainableNextSentenceHead.slices(hiddenSize: config.hiddenSize)
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
    /// - Returns: the logits `[B, 2]` (IsNext, NotNext), valid until the workspace's next step.
    /// - Throws: `BertError.invalidInput` naming the sequence when the batch does not fit the
    ///   workspace or an id is out of range.
    public func forward(ids: [[Int32]], typeIds: [[Int32]]? = nil, workspace ws: TrainingWorkspace) throws -> UnsafeBufferPointer<Float> {
        _ = try encoder.forward(parameters, ids: ids, typeIds: typeIds, head: slices, workspace: ws)
        return head.forward(parameters, workspace: ws, kernel: kernel)
    }

    /// One batch's loss and gradients: forward, cross-entropy against `labels` (one per
    /// sequence: 0 IsNext, 1 NotNext), backward. Gradients are added to `parameters.gradients`.
    ///
    /// - Throws: `BertError.invalidInput` when the labels do not match the batch, and the cases
    ///   of `forward`.
    public func lossAndGradients(ids: [[Int32]], typeIds: [[Int32]]? = nil, labels: [Int],
                                 workspace ws: TrainingWorkspace) throws -> NextSentenceLoss {
        try TrainableNextSentenceHead.check(labels: labels, sequences: ids.count)
        _ = try forward(ids: ids, typeIds: typeIds, workspace: ws)
        let (mean, correct) = head.loss(labels: labels, workspace: ws)
        head.backward(parameters, workspace: ws, kernel: kernel, addingToHidden: false)
        encoder.backward(parameters, ids: ids, typeIds: typeIds, workspace: ws)
        return NextSentenceLoss(mean: mean, correct: correct, sequences: ids.count)
    }
}
