import Foundation

/// The masked-LM head of any family: transform (dense + activation + LayerNorm), then the
/// decoder `[V, E]` + bias `[V]`.
///
/// BERT `cls.predictions` (the config's `hidden_act`), DistilBERT `vocab_transform` /
/// `vocab_layer_norm` / `vocab_projector` (the config's `activation`), RoBERTa `lm_head` (GELU),
/// ELECTRA's generator `generator_predictions` / `generator_lm_head` (GELU, dense H → E). The
/// decoder weight is the word-embedding matrix when the config ties them (`tie_word_embeddings`,
/// the default, where checkpoints omit it).
/// Reference: transformers v4.57.1 `BertLMPredictionHead`, `DistilBertForMaskedLM`,
/// `RobertaLMHead`, `ElectraGeneratorPredictions` + `ElectraForMaskedLM`.
struct MaskedLMHead: Sendable {
    let transform: Linear
    let activation: Activation
    let layerNorm: LayerNorm
    let decoder: Linear

    var vocabularySize: Int { decoder.outFeatures }

    /// - Throws: `BertError.missingTensor` naming every absent head tensor, `BertError.shape` when
    ///   a size disagrees with the config.
    init(_ weights: WeightStore, config: BertConfig) throws {
        let names = config.tensorNames.heads.maskedLM
        var required = [names.transformDense.weight, names.transformDense.bias, names.transformLayerNorm.weight,
                        names.transformLayerNorm.bias, names.bias]
        if !config.tieWordEmbeddings { required.append(names.decoderWeight) }
        try HeadWeights.require(weights, required, task: .maskedLM, config: config)
        // The transform maps H to the decoder's width: E (ELECTRA's generator) or H.
        let h = config.hiddenSize, e = config.embeddingSize, v = config.vocabSize
        transform = try Linear(weights, names.transformDense, inFeatures: h, outFeatures: e)
        activation = config.family.maskedLMActivation(config)
        layerNorm = try LayerNorm(weights, names.transformLayerNorm, width: e, eps: config.layerNormEps)
        let decoderWeight = try weights.tensor(config.tieWordEmbeddings ? config.tensorNames.embeddings.word : names.decoderWeight,
                                               shape: [v, e])
        decoder = try Linear(weight: decoderWeight, bias: try weights.tensor(names.bias, shape: [v]))
    }

    /// Vocabulary logits `[rows, V]` of `rows` hidden states `[rows, H]` (only the rows asked for,
    /// e.g. the masks, so the `[V, H]` product runs on a handful of rows).
    func forward(_ x: UnsafePointer<Float>, rows: Int, kernel: Kernel) -> [Float] {
        let e = transform.outFeatures
        var logits = [Float](repeating: 0, count: rows * vocabularySize)
        guard rows > 0 else { return logits }
        let hidden = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows * e)
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
