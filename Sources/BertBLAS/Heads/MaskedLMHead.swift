import Foundation

/// `cls.predictions`: transform (dense `[H, H]` + `hidden_act` + LayerNorm) then the decoder
/// `[V, H]` + bias `[V]` (`BertForMaskedLM`, `BertForPreTraining`).
///
/// The decoder weight is the word-embedding matrix when the config ties them
/// (`tie_word_embeddings`, the default, where checkpoints omit `cls.predictions.decoder.weight`).
/// Reference: transformers v4.57.1 `models/bert/modeling_bert.py` (`BertLMPredictionHead`,
/// `BertPredictionHeadTransform`).
struct MaskedLMHead: Sendable {
    let transform: Linear
    let activation: Activation
    let layerNorm: LayerNorm
    let decoder: Linear

    var vocabularySize: Int { decoder.outFeatures }

    /// - Throws: `BertError.missingTensor` naming every absent `cls.predictions` tensor,
    ///   `BertError.shape` when a size disagrees with the config.
    init(_ weights: WeightStore, config: BertConfig) throws {
        let names = TensorNames.MaskedLM.self
        var required = [names.transformDense.weight, names.transformDense.bias, names.transformLayerNorm.weight,
                        names.transformLayerNorm.bias, names.bias]
        if !config.tieWordEmbeddings { required.append(names.decoderWeight) }
        try HeadWeights.require(weights, required, task: "BertForMaskedLM", config: config)
        let h = config.hiddenSize, v = config.vocabSize
        transform = try Linear(weights, names.transformDense, inFeatures: h, outFeatures: h)
        activation = try Activation(hiddenAct: config.hiddenAct)
        layerNorm = try LayerNorm(weights, names.transformLayerNorm, width: h, eps: config.layerNormEps)
        let decoderWeight = try weights.tensor(config.tieWordEmbeddings ? TensorNames.Embeddings.word : names.decoderWeight,
                                               shape: [v, h])
        decoder = try Linear(weight: decoderWeight, bias: try weights.tensor(names.bias, shape: [v]))
    }

    /// Vocabulary logits `[rows, V]` of `rows` hidden states `[rows, H]` (only the rows asked for,
    /// e.g. the masks, so the `[V, H]` product runs on a handful of rows).
    func forward(_ x: UnsafePointer<Float>, rows: Int, kernel: Kernel) -> [Float] {
        let h = transform.outFeatures
        var logits = [Float](repeating: 0, count: rows * vocabularySize)
        guard rows > 0 else { return logits }
        let hidden = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows * h)
        defer { hidden.deallocate() }
        guard let base = hidden.baseAddress else { return logits }
        transform.forward(x, rows: rows, into: base, kernel: kernel)
        activation.apply(hidden)
        layerNorm.forward(base, rows: rows, into: base)
        logits.withUnsafeMutableBufferPointer { out in
            if let o = out.baseAddress { decoder.forward(base, rows: rows, into: o, kernel: kernel) }
        }
        return logits
    }
}
