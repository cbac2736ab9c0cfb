import Foundation

/// A BERT extractive question answerer that learns: the `TrainableEncoder` (embeddings, N
/// layers) and `qa_outputs` `[2, H]` on every token's last hidden state (start and end logits),
/// with the forward pass that keeps activations and the backward pass that accumulates every
/// parameter's gradient into `parameters`.
///
/// The loss is transformers' `BertForQuestionAnswering` (v4.57.1): cross-entropy of the start
/// logits against the start position plus that of the end logits against the end position,
/// halved, averaged over the sequences. Each sequence's softmax runs over its own tokens: a
/// packed batch has no padding, whereas HF's padded batch lets the padding positions' logits
/// into the softmax, so the loss equals HF's on each sequence run unpadded (the parity golden's
/// definition).
public final class TrainableQuestionAnswerer {
    public let config: BertConfig
    /// Every trainable tensor, its gradient, and whether weight decay applies.
    public let parameters: ParameterSet
    public let kernel: Kernel
    /// Train mode's dropout (default `.off`); `Dropout(directory:seed:task: .questionAnswering)`
    /// gives the checkpoint's: the encoder's, and `classifier` on `qa_outputs`' input, which
    /// only DistilBERT has (`qa_dropout`). Applies in `lossAndGradients` only.
    public var dropout: Dropout = .off
    /// Training steps taken with dropout (each draws new masks).
    var dropoutStep: UInt64 = 0
    /// Whether the last forward dropped `qa_outputs`' input, for the backward.
    private var inputDropped = false
    let encoder: TrainableEncoder
    /// `qa_outputs`: `[2, H]` weight (row 0 start, row 1 end) and `[2]` bias.
    let outputs: TrainableLinear

    /// The head's workspace slices (`TrainingWorkspace.head[slot.rawValue]`), per token.
    enum Slot: Int, CaseIterable {
        /// `[N, 2]` qa_outputs: start and end logit side by side.
        case logits
        /// `[N]` the start logits, then the end logits, each sequence's contiguous (the softmax rows).
        case start, end
        /// `[N]` their loss gradients.
        case dStart, dEnd
        /// `[N, 2]` the gradient of `logits`.
        case dLogits
        /// `[N, H]` the dropout mask of `qa_outputs`' input and that input after dropout (train mode).
        case inputMask, dropped
    }
    let slices: [TrainingWorkspace.HeadSlice]

    /// Loads a BERT checkpoint for question-answering training.
    ///
    /// - Parameters:
    ///   - directory: a HuggingFace BERT folder (`config.json`, `model.safetensors`).
    ///   - newHead: when the checkpoint has no `qa_outputs` (an encoder), initialize one as
    ///     transformers does (weight N(0, `initializerRange`²), bias 0) from `seed`; false
    ///     requires a stored one. A stored head is always used.
    ///   - initializerRange: the new head's standard deviation (`initializer_range`, 0.02).
    ///   - seed: the new head's seed.
    ///   - kernel: `.blas` (default) or `.naive`.
    /// - Throws: `BertError.unsupported` for families other than BERT, `.missingTensor` naming
    ///   `qa_outputs` when it is absent and `newHead` is false, `.shape`, `.config`, `.io`.
    public init(directory: URL, newHead: Bool = false, initializerRange: Float = 0.02, seed: UInt64 = 42,
                kernel: Kernel = .blas) throws {
        let (config, weights) = try TrainableEncoder.open(directory, task: .questionAnswering,
                                                          families: Set(ModelFamily.allCases))
        let h = config.hiddenSize
        var builder = ParameterSet.Builder()
        encoder = try TrainableEncoder(weights, config: config, kernel: kernel, into: &builder)
        let names = config.tensorNames.heads.qaOutputs
        if newHead, !weights.contains(names.weight) {
            outputs = try TrainableLinear(new: names, inFeatures: h, outFeatures: 2, std: initializerRange, seed: seed, into: &builder)
        } else {
            try HeadWeights.require(weights, [names.weight, names.bias], task: .questionAnswering, config: config)
            outputs = try TrainableLinear(weights, names, inFeatures: h, outFeatures: 2, into: &builder)
        }
        parameters = try builder.build()
        slices = Slot.allCases.map { slot in
            switch slot {
            case .logits, .dLogits: TrainingWorkspace.HeadSlice(rows: .tokens, width: 2)
            case .start, .end, .dStart, .dEnd: TrainingWorkspace.HeadSlice(rows: .tokens, width: 1)
            case .inputMask, .dropped: TrainingWorkspace.HeadSlice(rows: .tokens, width: h)
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
    /// - Returns: the start and end logits `[N]` each of the packed batch (sequence b's are
    ///   `ws.starts[b] ..< ws.starts[b] + ids[b].count`), valid until the workspace's next step.
    /// - Throws: `BertError.invalidInput` naming the sequence when the batch does not fit the
    ///   workspace or an id is out of range.
    public func forward(ids: [[Int32]], typeIds: [[Int32]]? = nil,
                        workspace ws: TrainingWorkspace) throws -> (start: UnsafeBufferPointer<Float>, end: UnsafeBufferPointer<Float>) {
        try forward(ids: ids, typeIds: typeIds, workspace: ws, dropout: nil)
    }

    /// The forward pass; with `dropout` (train mode), masks of that step are drawn and kept.
    private func forward(ids: [[Int32]], typeIds: [[Int32]]?, workspace ws: TrainingWorkspace,
                         dropout: (Dropout, step: UInt64)?) throws -> (start: UnsafeBufferPointer<Float>, end: UnsafeBufferPointer<Float>) {
        let n = try encoder.forward(parameters, ids: ids, typeIds: typeIds, head: slices, workspace: ws, dropout: dropout)
        let logits = ws.head[Slot.logits.rawValue], start = ws.head[Slot.start.rawValue], end = ws.head[Slot.end.rawValue]
        // DistilBertForQuestionAnswering: qa_outputs(dropout(hidden_states)); the other families' is 0.
        let input: UnsafePointer<Float>
        (input, inputDropped) = Dropout.headInput(dropout, site: encoder.dropoutSites, ws.encoderOutput, rows: n,
                                                  width: config.hiddenSize, mask: ws.head[Slot.inputMask.rawValue],
                                                  into: ws.head[Slot.dropped.rawValue])
        outputs.forward(parameters, input, rows: n, into: logits, kernel: kernel)
        // BertForQuestionAnswering: logits.split(1, dim=-1) → start, end.
        for i in 0..<n {
            start[i] = logits[2 * i]
            end[i] = logits[2 * i + 1]
        }
        return (UnsafeBufferPointer(start: start, count: n), UnsafeBufferPointer(start: end, count: n))
    }

    /// One batch's loss and gradients: forward, (CE(start) + CE(end)) / 2 per sequence averaged
    /// over the batch, backward. The gradients are added to `parameters.gradients` (zero them
    /// between steps).
    ///
    /// - Parameters:
    ///   - startPositions: per sequence, the answer's first token (0, the [CLS], for no answer).
    ///   - endPositions: per sequence, the answer's last token.
    /// - Returns: the mean loss over the batch.
    /// - Throws: `BertError.invalidInput` naming the sequence when a position is outside its
    ///   tokens or the counts do not match the batch, and the cases of `forward`.
    public func lossAndGradients(ids: [[Int32]], typeIds: [[Int32]]? = nil, startPositions: [Int], endPositions: [Int],
                                 workspace ws: TrainingWorkspace) throws -> Float {
        let b = ids.count
        guard startPositions.count == b, endPositions.count == b else {
            throw BertError(.invalidInput, "\(startPositions.count) start and \(endPositions.count) end positions for \(b) sequences")
        }
        for s in 0..<b {
            let t = ids[s].count
            guard (0..<t).contains(startPositions[s]), (0..<t).contains(endPositions[s]) else {
                throw BertError(.invalidInput, "sequence \(s): answer positions \(startPositions[s])...\(endPositions[s]) are outside its \(t) tokens")
            }
        }
        let (start, end) = try forward(ids: ids, typeIds: typeIds, workspace: ws, dropout: dropout.nextDraw(&dropoutStep))
        guard let startBase = start.baseAddress, let endBase = end.baseAddress else { return 0 }
        let n = ws.tokenCount
        let dStart = ws.head[Slot.dStart.rawValue], dEnd = ws.head[Slot.dEnd.rawValue], dLogits = ws.head[Slot.dLogits.rawValue]
        // Each sequence's softmax over its own tokens; normalizer 2B makes the sum the mean of
        // (CE(start) + CE(end)) / 2.
        var loss: Float = 0
        for s in 0..<b {
            let first = ws.starts[s], t = ws.lengths[s]
            loss += Losses.crossEntropy(logits: startBase + first, rows: 1, classes: t, labels: [startPositions[s]],
                                        gradient: dStart + first, normalizer: 2 * b)
            loss += Losses.crossEntropy(logits: endBase + first, rows: 1, classes: t, labels: [endPositions[s]],
                                        gradient: dEnd + first, normalizer: 2 * b)
        }
        for i in 0..<n {
            dLogits[2 * i] = dStart[i]
            dLogits[2 * i + 1] = dEnd[i]
        }
        // Every row of dHidden is written: qa_outputs sees every token.
        outputs.backward(parameters, dY: dLogits, x: inputDropped ? ws.head[Slot.dropped.rawValue] : ws.encoderOutput, rows: n,
                         dX: ws.dHidden, kernel: kernel)
        if inputDropped {
            RowGradients.multiply(ws.dHidden, by: ws.head[Slot.inputMask.rawValue], count: n * config.hiddenSize)
        }
        encoder.backward(parameters, ids: ids, typeIds: typeIds, workspace: ws)
        return loss
    }
}
