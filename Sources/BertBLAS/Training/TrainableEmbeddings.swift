/// BERT's input embeddings with their backward: word + token type + position, then LayerNorm.
///
/// Reference: transformers `BertEmbeddings.forward` (v4.57.1), absolute positions `0..<T`.
/// The backward scatters each token's gradient into the rows it read: the word table's gradient
/// is accumulated sparsely (only the batch's ids are touched; a repeated id sums).
struct TrainableEmbeddings: Sendable {
    let word: ParameterSet.Parameter
    let position: ParameterSet.Parameter
    let tokenType: ParameterSet.Parameter
    let layerNorm: TrainableLayerNorm
    let width: Int

    /// - Throws: `BertError.missingTensor` / `.shape` from the checkpoint lookup.
    init(_ weights: WeightStore, config: BertConfig, into builder: inout ParameterSet.Builder) throws {
        let names = config.tensorNames.embeddings
        let h = config.hiddenSize
        guard let typeNames = names.tokenType else {
            throw BertError(.unsupported, "\(weights.url.path): training needs token-type embeddings (model_type \(config.family.rawValue))")
        }
        let w = try weights.tensor(names.word, shape: [config.vocabSize, h])
        let p = try weights.tensor(names.position, shape: [config.maxPositionEmbeddings, h])
        let t = try weights.tensor(typeNames, shape: [config.typeVocabSize, h])
        word = try builder.add(w, name: names.word.description, decays: true)
        position = try builder.add(p, name: names.position.description, decays: true)
        tokenType = try builder.add(t, name: typeNames.description, decays: true)
        layerNorm = try TrainableLayerNorm(weights, names.layerNorm, width: h, eps: config.layerNormEps, into: &builder)
        width = h
    }

    /// Writes `sum` `[N, H]` (kept) and its LayerNorm into `output` `[N, H]`, each sequence at
    /// its start row. Ids are validated by the caller.
    func forward(_ p: ParameterSet, ids: [[Int32]], typeIds: [[Int32]]?, starts: [Int],
                 sum: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, tokens n: Int) {
        let e = width
        let wordTable = p.value(word), positionTable = p.value(position), typeTable = p.value(tokenType)
        for (b, sequence) in ids.enumerated() {
            let types = typeIds?[b]
            for (t, id) in sequence.enumerated() {
                let row = sum + (starts[b] + t) * e
                let w = wordTable + Int(id) * e
                let type = typeTable + Int(types?[t] ?? 0) * e
                let pos = positionTable + t * e
                // The inference order: (word + type) + position.
                for j in 0..<e { row[j] = (w[j] + type[j]) + pos[j] }
            }
        }
        layerNorm.forward(p, sum, rows: n, into: output)
    }

    /// From `dOutput` `[N, H]` (overwritten with the gradient of `sum`), accumulates the
    /// LayerNorm's and the three tables' gradients.
    func backward(_ p: ParameterSet, ids: [[Int32]], typeIds: [[Int32]]?, starts: [Int],
                  sum: UnsafePointer<Float>, dOutput: UnsafeMutablePointer<Float>, tokens n: Int) {
        let e = width
        layerNorm.backward(p, input: sum, rows: n, dOutput: dOutput, into: dOutput)
        let dWord = p.gradient(word), dPosition = p.gradient(position), dType = p.gradient(tokenType)
        for (b, sequence) in ids.enumerated() {
            let types = typeIds?[b]
            for (t, id) in sequence.enumerated() {
                let d = UnsafePointer(dOutput + (starts[b] + t) * e)
                RowGradients.add(d, to: dWord + Int(id) * e, count: e)
                RowGradients.add(d, to: dType + Int(types?[t] ?? 0) * e, count: e)
                RowGradients.add(d, to: dPosition + t * e, count: e)
            }
        }
    }
}
