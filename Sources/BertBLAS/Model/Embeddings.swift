/// BERT's input embeddings: word + token type + absolute position, then LayerNorm.
///
/// Reference: transformers `BertEmbeddings.forward` (v4.57.1): `inputs_embeds +
/// token_type_embeddings`, then `+= position_embeddings`, then LayerNorm (dropout is identity at
/// inference). Position ids are `0..<T` per sequence.
public struct Embeddings: Sendable {
    /// `[V, H]`; also the tied MLM decoder weight.
    public let word: Tensor
    /// `[max_position_embeddings, H]`.
    public let position: Tensor
    /// `[type_vocab_size, H]`.
    public let tokenType: Tensor
    public let layerNorm: LayerNorm
    let hiddenSize: Int

    public init(_ weights: WeightStore, config: BertConfig) throws {
        let h = config.hiddenSize
        word = try weights.tensor(TensorNames.Embeddings.word, shape: [config.vocabSize, h])
        position = try weights.tensor(TensorNames.Embeddings.position, shape: [config.maxPositionEmbeddings, h])
        tokenType = try weights.tensor(TensorNames.Embeddings.tokenType, shape: [config.typeVocabSize, h])
        layerNorm = try LayerNorm(weights, TensorNames.Embeddings.layerNorm, width: h, eps: config.layerNormEps)
        hiddenSize = h
    }

    /// Writes the embeddings of one sequence's tokens into `output` `[T, H]`.
    ///
    /// The ids must already be validated (in range of the tables).
    func forward(ids: ArraySlice<Int32>, typeIds: ArraySlice<Int32>?, into output: UnsafeMutablePointer<Float>) {
        let h = hiddenSize
        for (t, id) in ids.enumerated() {
            let row = output + t * h
            let w = word.pointer + Int(id) * h
            let type = tokenType.pointer + Int(typeIds.map { $0[$0.startIndex + t] } ?? 0) * h
            let p = position.pointer + t * h
            for j in 0..<h { row[j] = (w[j] + type[j]) + p[j] }
        }
        layerNorm.forward(output, rows: ids.count, into: output)
    }
}
