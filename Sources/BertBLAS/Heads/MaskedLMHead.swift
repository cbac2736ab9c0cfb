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

    /// Decodes the hidden states at `positions` of one sequence (`states` `[T, H]`) into
    /// vocabulary logits, in the workspace's head scratch (no allocation): the transform (H → E)
    /// runs on the gathered rows, the `[V, H]` decoder on `Workspace.headLogitRows` rows at a time, and
    /// `body` gets each position's index in `positions` with its logits `[V]`, valid during the call.
    ///
    /// - Parameters:
    ///   - states: the sequence's hidden states, from the forward pass that used `workspace`.
    ///   - positions: token positions in the sequence (each below T), at most `workspace.maxLength`.
    /// - Throws: `BertError.invalidInput` for a position outside the sequence; what `body` throws.
    func forEachLogits(_ states: UnsafeBufferPointer<Float>, positions: [Int], workspace: Workspace, kernel: Kernel,
                       _ body: (_ index: Int, _ logits: UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        let h = transform.inFeatures, e = transform.outFeatures, v = vocabularySize, m = positions.count
        let tokens = states.count / max(h, 1)
        guard m > 0, let base = states.baseAddress else { return }
        guard m <= workspace.maxLength, positions.allSatisfy({ $0 >= 0 && $0 < tokens }) else {
            throw BertError(.invalidInput, "masked-LM positions \(positions) are outside the sequence of \(tokens) tokens")
        }
        let gathered = workspace.headRows
        let transformed = workspace.headRows + workspace.maxLength * h
        for (r, p) in positions.enumerated() { (gathered + r * h).update(from: base + p * h, count: h) }
        transform.forward(gathered, rows: m, into: transformed, kernel: kernel)
        activation.apply(UnsafeMutableBufferPointer(start: transformed, count: m * e))
        layerNorm.forward(transformed, rows: m, into: transformed)
        var first = 0
        while first < m {
            let rows = min(Workspace.headLogitRows, m - first)
            decoder.forward(transformed + first * e, rows: rows, into: workspace.headLogits, kernel: kernel)
            for r in 0..<rows {
                try body(first + r, UnsafeMutableBufferPointer(start: workspace.headLogits + r * v, count: v))
            }
            first += rows
        }
    }
}
