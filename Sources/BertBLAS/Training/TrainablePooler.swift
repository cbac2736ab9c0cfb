import Foundation

/// The dense layer on each sequence's first token, as a part of a trainable head: first token →
/// (train mode: dropout) → dense → activation, with its backward into the first tokens' rows of
/// `ws.dHidden`. The heads that read it:
///
/// | head | dense | activation | dropout before the dense |
/// |---|---|---|---|
/// | BERT's pooler (sequence and next-sentence heads) | `bert.pooler.dense` | tanh | no |
/// | DistilBERT's sequence head | `pre_classifier` | ReLU | no |
/// | RoBERTa's / ELECTRA's sequence head | `classifier.dense` | tanh / GELU | yes |
///
/// Its slices start at `base` in `TrainingWorkspace.head` (after the slices of the head that
/// owns it). Reference: transformers `BertPooler`, `DistilBertForSequenceClassification`,
/// `RobertaClassificationHead`, `ElectraClassificationHead` (v4.57.1).
struct TrainablePooler: Sendable {
    let dense: TrainableLinear
    /// After `dense`: tanh (BERT's pooler, RoBERTa), ReLU (DistilBERT), GELU (ELECTRA).
    let activation: Activation
    /// Whether train mode drops the first token before `dense` (RoBERTa, ELECTRA).
    let dropsInput: Bool
    /// Index of the first slice in `ws.head`.
    let base: Int

    enum Slot: Int, CaseIterable {
        /// `[B, H]` the first token's rows, the dense layer's input.
        case cls
        /// `[B, H]` dense + bias, before the activation.
        case poolerSum
        /// `[B, H]` the output (after the activation).
        case pooled
        /// `[B, H]` backward: the output's gradient (the owning head writes it), then the first token's.
        case dPooled, dCls
        /// `[B, H]` the first token's dropout mask and the dense layer's input after it; only
        /// declared when `dropsInput`.
        case inputMask, droppedInput
    }

    /// - Parameters:
    ///   - dense: the `[H, H]` layer, registered by the owning head (it knows the tensor names).
    ///   - base: index of the pooler's first slice in `ws.head`.
    init(dense: TrainableLinear, activation: Activation, dropsInput: Bool, base: Int) {
        self.dense = dense
        self.activation = activation
        self.dropsInput = dropsInput
        self.base = base
    }

    var hiddenSize: Int { dense.inFeatures }

    /// The slices, in `Slot` order (without the dropout slots unless `dropsInput`): `[B, H]` each.
    static func slices(hiddenSize h: Int, dropsInput: Bool) -> [TrainingWorkspace.HeadSlice] {
        let count = dropsInput ? Slot.allCases.count : Slot.inputMask.rawValue
        return Array(repeating: TrainingWorkspace.HeadSlice(rows: .sequences, width: h), count: count)
    }

    var slices: [TrainingWorkspace.HeadSlice] { Self.slices(hiddenSize: hiddenSize, dropsInput: dropsInput) }

    func slice(_ ws: TrainingWorkspace, _ slot: Slot) -> UnsafeMutablePointer<Float> { ws.head[base + slot.rawValue] }

    /// The output `[B, H]` of the batch whose encoder output is in `ws` (the encoder's forward ran).
    ///
    /// - Parameters:
    ///   - dropout: a training step's draw; its `classifier` probability drops the first token
    ///     at `site` when `dropsInput`.
    func forward(_ p: ParameterSet, workspace ws: TrainingWorkspace, kernel: Kernel,
                 dropout: (Dropout, step: UInt64)? = nil, site: UInt64 = 0) -> UnsafeMutablePointer<Float> {
        let h = hiddenSize, b = ws.starts.count
        let cls = slice(ws, .cls), sum = slice(ws, .poolerSum), pooled = slice(ws, .pooled)
        for (s, start) in ws.starts.enumerated() { (cls + s * h).update(from: ws.encoderOutput + start * h, count: h) }
        // RobertaClassificationHead / ElectraClassificationHead: dense(dropout(x)).
        let input = dropsInput ? Dropout.headInput(dropout, site: site, cls, rows: b, width: h, mask: slice(ws, .inputMask),
                                                   into: slice(ws, .droppedInput)).input : UnsafePointer(cls)
        dense.forward(p, input, rows: b, into: sum, kernel: kernel)
        pooled.update(from: sum, count: b * h)
        activation.apply(UnsafeMutableBufferPointer(start: pooled, count: b * h))
        return pooled
    }

    /// Backward from the output's gradient, which the owning head wrote into the `dPooled`
    /// slice, through the activation, the dense layer and the first token's dropout, into the
    /// first tokens' rows of `ws.dHidden` (zeroed first unless `addingToHidden`).
    ///
    /// - Parameter inputDropped: whether the last forward's draw had a positive `classifier`
    ///   probability (the mask is used only when `dropsInput`).
    func backward(_ p: ParameterSet, workspace ws: TrainingWorkspace, kernel: Kernel, inputDropped: Bool,
                  addingToHidden: Bool) {
        let h = hiddenSize, b = ws.starts.count
        let dPooled = slice(ws, .dPooled), dCls = slice(ws, .dCls)
        let dropped = inputDropped && dropsInput
        RowGradients.activation(activation, input: slice(ws, .poolerSum), dPooled, count: b * h)
        dense.backward(p, dY: dPooled, x: slice(ws, dropped ? .droppedInput : .cls), rows: b, dX: dCls, kernel: kernel)
        if dropped { RowGradients.multiply(dCls, by: slice(ws, .inputMask), count: b * h) }
        // Only the first tokens' rows reach the pooler.
        if !addingToHidden { ws.dHidden.update(repeating: 0, count: ws.tokenCount * h) }
        for (s, start) in ws.starts.enumerated() {
            RowGradients.add(dCls + s * h, to: ws.dHidden + start * h, count: h)
        }
    }
}
