import Foundation

/// The trainable BERT encoder every training head is built on: embeddings and N layers, with
/// the forward that keeps activations and the backward from a gradient on the last hidden state.
///
/// It registers its tensors in the head's `ParameterSet.Builder` (the head owns the
/// `ParameterSet`, so one arena holds the whole model) and keeps its activations in the
/// `TrainingWorkspace`; a head adds its own slices there (`TrainingWorkspace.HeadSlice`).
/// Batches are packed without padding: sequence b's rows are `ws.starts[b] ..< ws.starts[b] +
/// ws.lengths[b]` of the output `[N, H]`.
/// Reference: transformers `BertModel` (embeddings + encoder, no pooler; v4.57.1); dropout as
/// `Dropout` describes, in train mode only.
struct TrainableEncoder: Sendable {
    let config: BertConfig
    let kernel: Kernel
    let embeddings: TrainableEmbeddings
    let layers: [TrainableEncoderLayer]

    /// Reads and validates a checkpoint's config and maps its weights, for a trainable model.
    ///
    /// - Throws: `BertError.unsupported` for families other than BERT (`model_type` bert,
    ///   absolute positions, no embedding projection), `.config`, `.io`.
    static func open(_ directory: URL) throws -> (BertConfig, WeightStore) {
        let configURL = directory.appendingPathComponent("config.json")
        let config = try BertConfig.load(configURL)
        try config.validate(file: configURL.path)
        let weights = try WeightStore(url: directory.appendingPathComponent("model.safetensors"))
        guard config.family == .bert, config.embeddingSize == config.hiddenSize, config.positionPaddingIndex == nil,
              config.positionEmbeddingType == "absolute" else {
            throw BertError(.unsupported, "\(directory.path): training supports BERT checkpoints (model_type bert, absolute positions), not \(config.family.rawValue)")
        }
        return (config, weights)
    }

    /// Registers the embeddings' and layers' tensors, copied from the checkpoint.
    ///
    /// - Throws: `BertError.missingTensor` / `.shape` naming the tensor, `.config` for an
    ///   unsupported `hidden_act`.
    init(_ weights: WeightStore, config: BertConfig, kernel: Kernel, into builder: inout ParameterSet.Builder) throws {
        self.config = config
        self.kernel = kernel
        embeddings = try TrainableEmbeddings(weights, config: config, into: &builder)
        layers = try (0..<config.numHiddenLayers).map { try TrainableEncoderLayer(weights, index: $0, config: config, into: &builder) }
    }

    /// Allocates the encoder's activations plus the head's `slices` for steps of up to
    /// `maxBatch` sequences of up to `maxLength` tokens, `maxTokens` in all (default
    /// maxBatch × maxLength).
    ///
    /// - Throws: `BertError.invalidInput` unless the sizes are positive and `maxLength` fits the
    ///   position table, or when the buffers cannot be allocated.
    func makeWorkspace(maxBatch: Int, maxLength: Int, maxTokens: Int?, head slices: [TrainingWorkspace.HeadSlice]) throws -> TrainingWorkspace {
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
        return try TrainingWorkspace(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: tokens, head: slices)
    }

    /// Validates the batch, lays it out in the workspace (`starts`, `lengths`, `tokenCount`) and
    /// runs embeddings and layers; the last hidden state `[N, H]` is `ws.encoderOutput`.
    ///
    /// - Parameters:
    ///   - ids: token ids per sequence, special tokens included, no padding.
    ///   - typeIds: token type ids per sequence (same lengths), nil for all 0.
    ///   - head: the slices the calling head declared (checks the workspace was made for it).
    /// - Returns: N, the batch's tokens.
    /// - Throws: `BertError.invalidInput` naming the sequence when the batch does not fit the
    ///   workspace or an id is out of range, or when the workspace was made for another model.
    ///   - dropout: train mode's dropout and the step it draws masks for; nil (evaluation) drops
    ///     nothing. Site 0 is the embeddings, 1 + 3l … 3 + 3l layer l's (a head numbers its own
    ///     from `dropoutSites`).
    func forward(_ p: ParameterSet, ids: [[Int32]], typeIds: [[Int32]]?, head: [TrainingWorkspace.HeadSlice],
                 workspace ws: TrainingWorkspace, dropout: (Dropout, step: UInt64)? = nil) throws -> Int {
        let n = try layout(ids: ids, typeIds: typeIds, head: head, workspace: ws)
        ws.hiddenDropout = dropout.map { $0.0.hidden } ?? 0
        ws.attentionDropout = dropout.map { $0.0.attention } ?? 0
        embeddings.forward(p, ids: ids, typeIds: typeIds, starts: ws.starts, sum: ws.embeddingSum, output: ws.hidden[0], tokens: n)
        if let (settings, step) = dropout, settings.hidden > 0 {
            // BertEmbeddings: dropout(LayerNorm(sum)).
            Dropout.draw(ws.embeddingMask, rows: n, width: config.hiddenSize, probability: settings.hidden,
                         key: settings.key(step: step, site: 0), applyTo: ws.hidden[0])
        }
        for (l, layer) in layers.enumerated() {
            let keys = dropout.map { d in (0..<3).map { d.0.key(step: d.step, site: UInt64(1 + 3 * l + $0)) } }
            layer.forward(p, ws, layer: l, tokens: n, kernel: kernel, dropoutKeys: keys)
        }
        return n
    }

    /// The first dropout site a head may use.
    var dropoutSites: UInt64 { UInt64(1 + 3 * layers.count) }

    /// Backward from `ws.dHidden` (the gradient of `ws.encoderOutput`, every row of the batch
    /// written by the head) through the layers and embeddings, accumulating every encoder
    /// parameter's gradient in `p`. `ids`/`typeIds` are those of the last `forward`.
    func backward(_ p: ParameterSet, ids: [[Int32]], typeIds: [[Int32]]?, workspace ws: TrainingWorkspace) {
        let n = ws.tokenCount
        for l in layers.indices.reversed() {
            layers[l].backward(p, ws, layer: l, tokens: n, kernel: kernel)
        }
        if ws.hiddenDropout > 0 {
            RowGradients.rowPanels(rows: n, width: config.hiddenSize) { r0, rows in
                let h = config.hiddenSize
                RowGradients.multiply(ws.dHidden + r0 * h, by: ws.embeddingMask + r0 * h, count: rows * h)
            }
        }
        embeddings.backward(p, ids: ids, typeIds: typeIds, starts: ws.starts, sum: ws.embeddingSum, dOutput: ws.dHidden, tokens: n)
    }

    /// Validates the batch and lays it out in the workspace; returns N.
    private func layout(ids: [[Int32]], typeIds: [[Int32]]?, head: [TrainingWorkspace.HeadSlice],
                        workspace ws: TrainingWorkspace) throws -> Int {
        guard ws.hiddenSize == config.hiddenSize, ws.intermediateSize == config.intermediateSize,
              ws.layerCount == config.numHiddenLayers, ws.headSlices == head else {
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
        ws.tokenCount = 0
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
        ws.tokenCount = n
        return n
    }
}
