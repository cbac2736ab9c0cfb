import Foundation

/// `cls.seq_relationship` `[2, H]` over the pooled output: index 0 IsNext, 1 NotNext
/// (`BertForNextSentencePrediction`, `BertForPreTraining`).
///
/// Reference: transformers v4.57.1 `models/bert/modeling_bert.py` (`BertOnlyNSPHead`).
struct NextSentenceHead: Sendable {
    let linear: Linear

    /// - Throws: `BertError.missingTensor` naming `cls.seq_relationship.weight`/`.bias` (or the
    ///   pooler) when absent.
    init(_ weights: WeightStore, config: BertConfig) throws {
        try HeadWeights.require(weights, [TensorNames.seqRelationship.weight, TensorNames.seqRelationship.bias,
                                          TensorNames.pooler.weight, TensorNames.pooler.bias],
                                task: "BertForNextSentencePrediction", config: config)
        linear = try Linear(weights, TensorNames.seqRelationship, inFeatures: config.hiddenSize, outFeatures: 2)
    }

    /// `[rows, 2]` logits of `rows` pooled vectors.
    func forward(_ pooled: UnsafePointer<Float>, rows: Int, kernel: Kernel) -> [Float] {
        var logits = [Float](repeating: 0, count: rows * 2)
        logits.withUnsafeMutableBufferPointer { out in
            if let base = out.baseAddress, rows > 0 { linear.forward(pooled, rows: rows, into: base, kernel: kernel) }
        }
        return logits
    }
}
