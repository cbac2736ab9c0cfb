/// The input embeddings of every family with their backward: word + token type (when the family
/// has them) + position, then LayerNorm, then ELECTRA's projection to the hidden size.
///
/// The forward is the inference `Embeddings`' (same order of sums, same position ids through
/// `Embeddings.positionId`); dropout and the projection are applied by `TrainableEncoder`
/// between `forward` and `project`. The backward scatters each token's gradient into the rows it
/// read: the word table's gradient is accumulated sparsely (only the batch's ids are touched; a
/// repeated id sums).
/// Reference (v4.57.1): transformers `BertEmbeddings.forward` (absolute positions `0..<T`);
/// DistilBERT `Embeddings` (no token types; a sinusoidal table has `requires_grad = False`);
/// `RobertaEmbeddings` (positions from `padding_idx + 1`, `create_position_ids_from_input_ids`);
/// `ElectraEmbeddings` + `ElectraModel.embeddings_project`. `nn.Embedding(padding_idx=…)`: the
/// word row of `pad_token_id` (and RoBERTa's position row `padding_idx`) gets no gradient.
struct TrainableEmbeddings: Sendable {
    let word: ParameterSet.Parameter
    let position: ParameterSet.Parameter
    /// nil when the family has no token types (DistilBERT).
    let tokenType: ParameterSet.Parameter?
    let layerNorm: TrainableLayerNorm
    /// `embeddings_project` `[H, E]` (ELECTRA when E ≠ H); nil otherwise.
    let projection: TrainableLinear?
    /// E.
    let width: Int
    /// RoBERTa's `padding_idx`: positions count from it + 1 over non-padding tokens.
    let paddingIndex: Int32?
    /// The word row `nn.Embedding(padding_idx=pad_token_id)` keeps out of the gradient.
    let paddingRow: Int32?
    /// False for DistilBERT's sinusoidal table, which transformers does not train.
    let trainsPositions: Bool

    /// - Throws: `BertError.missingTensor` / `.shape` from the checkpoint lookup, `.config` when
    ///   E ≠ H in a family without a projection.
    init(_ weights: WeightStore, config: BertConfig, into builder: inout ParameterSet.Builder) throws {
        let names = config.tensorNames.embeddings
        let e = config.embeddingSize, h = config.hiddenSize
        let w = try weights.tensor(names.word, shape: [config.vocabSize, e])
        word = try builder.add(w, name: names.word.description, decays: true)
        // A batch writes a few hundred of its rows: zeroing, the norm and AdamW skip the others.
        builder.trackRows(of: word, width: e)
        trainsPositions = !config.sinusoidalPositionEmbeddings
        if config.sinusoidalPositionEmbeddings && !weights.contains(names.position) {
            // As inference: HF's `_init_weights` fills a missing table with the sinusoid.
            let table = Embeddings.sinusoid(positions: config.maxPositionEmbeddings, width: e, name: names.position.description)
            position = try builder.add(names.position.description, shape: table.shape,
                                       values: Array(UnsafeBufferPointer(start: table.pointer, count: table.count)), decays: false)
        } else {
            let p = try weights.tensor(names.position, shape: [config.maxPositionEmbeddings, e])
            // A frozen table is never updated: no gradient, and no weight decay.
            position = try builder.add(p, name: names.position.description, decays: trainsPositions)
        }
        if let typeNames = names.tokenType, config.hasTokenTypes {
            let t = try weights.tensor(typeNames, shape: [config.typeVocabSize, e])
            tokenType = try builder.add(t, name: typeNames.description, decays: true)
        } else {
            tokenType = nil
        }
        layerNorm = try TrainableLayerNorm(weights, names.layerNorm, width: e, eps: config.layerNormEps, into: &builder)
        if e != h {
            guard let projectionNames = names.projection else {
                throw BertError(.config, "\(weights.url.path): embedding size \(e) differs from hidden size \(h), and \(config.family.rawValue) has no embedding projection")
            }
            projection = try TrainableLinear(weights, projectionNames, inFeatures: e, outFeatures: h, into: &builder)
        } else {
            projection = nil
        }
        width = e
        paddingIndex = config.positionPaddingIndex.map { Int32($0) }
        // transformers' configs default pad_token_id to 0 (RoBERTa's to 1, set by BertConfig).
        paddingRow = Int32(exactly: config.padTokenId ?? 0)
    }

    /// Writes `sum` `[N, E]` (kept) and its LayerNorm into `output` `[N, E]`, each sequence at
    /// its start row. Ids are validated by the caller; `typeIds` nil (or no type table) is type 0.
    func forward(_ p: ParameterSet, ids: [[Int32]], typeIds: [[Int32]]?, starts: [Int],
                 sum: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, tokens n: Int) {
        let e = width
        let wordTable = p.value(word), positionTable = p.value(position), typeTable = tokenType.map { p.value($0) }
        for (b, sequence) in ids.enumerated() {
            let types = typeIds?[b]
            var counted: Int32 = 0
            for (t, id) in sequence.enumerated() {
                let row = sum + (starts[b] + t) * e
                let w = wordTable + Int(id) * e
                let pos = positionTable + Embeddings.positionId(t, id: id, paddingIndex: paddingIndex, counted: &counted) * e
                if let typeTable {
                    let type = typeTable + Int(types?[t] ?? 0) * e
                    // The inference order: (word + type) + position.
                    for j in 0..<e { row[j] = (w[j] + type[j]) + pos[j] }
                } else {
                    for j in 0..<e { row[j] = w[j] + pos[j] }
                }
            }
        }
        layerNorm.forward(p, sum, rows: n, into: output)
    }

    /// ELECTRA's `embeddings_project`: `hidden` `[N, H]` from the (dropped-out) embeddings
    /// `embedded` `[N, E]`; nothing without a projection.
    func project(_ p: ParameterSet, _ embedded: UnsafePointer<Float>, rows n: Int, into hidden: UnsafeMutablePointer<Float>,
                 kernel: Kernel) {
        projection?.forward(p, embedded, rows: n, into: hidden, kernel: kernel)
    }

    /// From `dOutput` `[N, E]` (the gradient of the LayerNorm's output; overwritten with the
    /// gradient of `sum`), accumulates the LayerNorm's and the tables' gradients.
    func backward(_ p: ParameterSet, ids: [[Int32]], typeIds: [[Int32]]?, starts: [Int],
                  sum: UnsafePointer<Float>, dOutput: UnsafeMutablePointer<Float>, tokens n: Int) {
        let e = width
        layerNorm.backward(p, input: sum, rows: n, dOutput: dOutput, into: dOutput)
        let dPosition = p.gradient(position), dType = tokenType.map { p.gradient($0) }
        for (b, sequence) in ids.enumerated() {
            let types = typeIds?[b]
            var counted: Int32 = 0
            for (t, id) in sequence.enumerated() {
                let d = UnsafePointer(dOutput + (starts[b] + t) * e)
                let positionId = Embeddings.positionId(t, id: id, paddingIndex: paddingIndex, counted: &counted)
                if id != paddingRow { RowGradients.add(d, to: p.rowGradient(word, row: Int(id), width: e), count: e) }
                if let dType { RowGradients.add(d, to: dType + Int(types?[t] ?? 0) * e, count: e) }
                if trainsPositions, paddingIndex.map({ Int($0) != positionId }) ?? true {
                    RowGradients.add(d, to: dPosition + positionId * e, count: e)
                }
            }
        }
    }
}
