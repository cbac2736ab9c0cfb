import Foundation

/// `cls.seq_relationship` `[2, H]` over the pooled output: index 0 IsNext, 1 NotNext
/// (`BertForNextSentencePrediction`, `BertForPreTraining`).
///
/// Reference: transformers v4.57.1 `models/bert/modeling_bert.py` (`BertOnlyNSPHead`).
struct NextSentenceHead: Sendable {
    let linear: Linear

    /// - Throws: `BertError.missingTensor` naming `cls.seq_relationship.weight`/`.bias` (or the
    ///   pooler) when absent; `BertError.unsupported` for a family without NSP (all but BERT).
    init(_ weights: WeightStore, config: BertConfig) throws {
        guard let names = config.tensorNames.heads.seqRelationship, let pooler = config.tensorNames.pooler else {
            throw BertError(.unsupported, "\(weights.url.path): \(config.family.rawValue) has no next-sentence head (only bert)")
        }
        try HeadWeights.require(weights, [names.weight, names.bias, pooler.weight, pooler.bias],
                                task: .nextSentencePrediction, config: config)
        linear = try Linear(weights, names, inFeatures: config.hiddenSize, outFeatures: 2)
    }

    /// `[rows, 2]` logits of `rows` pooled vectors.
    func forward(_ pooled: UnsafeBufferPointer<Float>, rows: Int, kernel: Kernel) -> [Float] {
        linear.outputs(pooled, rows: rows, kernel: kernel)
    }
}
