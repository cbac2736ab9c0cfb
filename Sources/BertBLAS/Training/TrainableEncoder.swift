import Foundation

/// The trainable encoder every training head is built on: embeddings and N layers, with the
/// forward that keeps activations and the backward from a gradient on the last hidden state.
/// Every family's (`ModelFamily`): the layers are BERT's in each, loaded through the family's
/// `TensorNames`; the embeddings differ (`TrainableEmbeddings`).
///
/// It registers its tensors in the head's `ParameterSet.Builder` (the head owns the
/// `ParameterSet`, so one arena holds the whole model) and keeps its activations in the
/// `TrainingWorkspace`; a head adds its own slices there (`TrainingWorkspace.HeadSlice`).
/// Batches are packed without padding: sequence b's rows are `ws.starts[b] ..< ws.starts[b] +
/// ws.lengths[b]` of the output `[N, H]`.
/// Reference: transformers `BertModel`, `DistilBertModel`, `RobertaModel`, `ElectraModel`
/// (embeddings + encoder, no pooler; v4.57.1); dropout as `Dropout` describes, in train mode only.
struct TrainableEncoder: Sendable {
    let config: BertConfig
    let kernel: Kernel
    let embeddings: TrainableEmbeddings
    let layers: [TrainableEncoderLayer]
    /// The encoder's own workspace slices, after the head's: with ELECTRA's projection (E ≠ H),
    /// the embeddings' `[N, E]` sum, LayerNorm output, dropout mask and gradient (`Embedded`);
    /// none otherwise (the workspace's `embeddingSum`, `hidden[0]`, `embeddingMask` and
    /// `dHidden` are `[N, H]`).
    let slices: [TrainingWorkspace.HeadSlice]

    /// Reads and validates a checkpoint's config and maps its weights, for a trainable model.
    ///
    /// - Parameters:
    ///   - task: the head to be trained, named in the message (nil: not named).
    ///   - families: the families that head trains (default: BERT only, for heads whose family
    ///     variants have no gradient parity yet).
    /// - Throws: `BertError.unsupported` naming config.json and its `model_type` when the family
    ///   is not one of `families`, `.config`, `.io`.
    static func open(_ directory: URL, task: HeadTask? = nil, families: Set<ModelFamily> = [.bert]) throws -> (BertConfig, WeightStore) {
        let configURL = directory.appendingPathComponent("config.json")
        let config = try BertConfig.load(configURL)
        try config.validate(file: configURL.path)
        guard families.contains(config.family) else {
            let supported = ModelFamily.modelTypes.filter { families.contains($0.1) }.map(\.0).joined(separator: ", ")
            let what = task.map { " as \(config.className($0))" } ?? ""
            throw BertError(.unsupported, "\(configURL.path): model_type \(config.modelType ?? config.family.rawValue) cannot be trained\(what) (trainable model types for this head: \(supported))")
        }
        let weights = try WeightStore(url: directory.appendingPathComponent("model.safetensors"))
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
        slices = embeddings.projection == nil ? []
            : Embedded.allCases.map { _ in TrainingWorkspace.HeadSlice(rows: .tokens, width: config.embeddingSize) }
    }

    /// The embeddings' buffers when E ≠ H, in the encoder's slices.
    enum Embedded: Int, CaseIterable {
        /// `[N, E]` word + type + position, before LayerNorm.
        case sum
        /// `[N, E]` the LayerNorm output after dropout: the projection's input.
        case output
        /// `[N, E]` its dropout mask.
        case mask
        /// `[N, E]` the gradient of `output`, then of `sum`.
        case gradient
    }

    /// The embeddings' sum, output, mask and gradient buffers: the encoder's slices with a
    /// projection, else the workspace's `[N, H]` ones (the output is then the first layer's input).
    private func embeddingBuffers(_ ws: TrainingWorkspace) -> (sum: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>,
                                                               mask: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>) {
        guard !slices.isEmpty else { return (ws.embeddingSum, ws.hidden[0], ws.embeddingMask, ws.dHidden) }
        let first = ws.head.count - slices.count
        return (ws.head[first + Embedded.sum.rawValue], ws.head[first + Embedded.output.rawValue],
                ws.head[first + Embedded.mask.rawValue], ws.head[first + Embedded.gradient.rawValue])
    }

    /// The type ids the model reads: none when the family reads none (RoBERTa, DistilBERT), as
    /// `BertModel.forward`.
    private func modelTypeIds(_ typeIds: [[Int32]]?) -> [[Int32]]? {
        config.readsTokenTypeIds && config.hasTokenTypes ? typeIds : nil
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
        return try TrainingWorkspace(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: tokens, head: slices + self.slices)
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
        let typeIds = modelTypeIds(typeIds)
        let n = try layout(ids: ids, typeIds: typeIds, head: head, workspace: ws)
        ws.hiddenDropout = dropout.map { $0.0.hidden } ?? 0
        ws.attentionDropout = dropout.map { $0.0.attention } ?? 0
        let buffers = embeddingBuffers(ws)
        embeddings.forward(p, ids: ids, typeIds: typeIds, starts: ws.starts, sum: buffers.sum, output: buffers.output, tokens: n)
        if let (settings, step) = dropout, settings.hidden > 0 {
            // BertEmbeddings: dropout(LayerNorm(sum)); ElectraModel projects after it.
            Dropout.draw(buffers.mask, rows: n, width: embeddings.width, probability: settings.hidden,
                         key: settings.key(step: step, site: 0), applyTo: buffers.output)
        }
        embeddings.project(p, buffers.output, rows: n, into: ws.hidden[0], kernel: kernel)
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
        let buffers = embeddingBuffers(ws)
        embeddings.projection?.backward(p, dY: ws.dHidden, x: buffers.output, rows: n, dX: buffers.gradient, kernel: kernel)
        if ws.hiddenDropout > 0 {
            let e = embeddings.width
            RowGradients.rowPanels(rows: n, width: e) { r0, rows in
                RowGradients.multiply(buffers.gradient + r0 * e, by: buffers.mask + r0 * e, count: rows * e)
            }
        }
        embeddings.backward(p, ids: ids, typeIds: modelTypeIds(typeIds), starts: ws.starts, sum: buffers.sum,
                            dOutput: buffers.gradient, tokens: n)
    }

    /// Validates the batch and lays it out in the workspace; returns N.
    private func layout(ids: [[Int32]], typeIds: [[Int32]]?, head: [TrainingWorkspace.HeadSlice],
                        workspace ws: TrainingWorkspace) throws -> Int {
        guard ws.hiddenSize == config.hiddenSize, ws.intermediateSize == config.intermediateSize,
              ws.layerCount == config.numHiddenLayers, ws.headSlices == head + slices else {
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
