import Foundation

/// `classifier` `[L, H]`: the output layer of `BertForSequenceClassification` (over the pooled
/// output) and `BertForTokenClassification` (over every token's hidden state).
///
/// Reference: transformers v4.57.1 `models/bert/modeling_bert.py` (`BertForSequenceClassification`,
/// `BertForTokenClassification`; dropout is identity at inference).
struct ClassifierHead: Sendable {
    let linear: Linear
    /// Label names in id order (from `id2label`).
    let labels: [String]

    /// - Throws: `BertError.missingTensor` naming `classifier.weight`/`.bias` when absent,
    ///   `BertError.shape` / `.config` when their size disagrees with the hidden size or `id2label`.
    init(_ weights: WeightStore, config: BertConfig, task: String) throws {
        try HeadWeights.require(weights, [TensorNames.classifier.weight, TensorNames.classifier.bias],
                                task: task, config: config)
        let weight = try weights.tensor(TensorNames.classifier.weight)
        guard weight.shape.count == 2, weight.shape[1] == config.hiddenSize else {
            throw BertError(.shape, "\(weights.url.path): tensor \(weight.name) has shape \(weight.shape), expected [labels, \(config.hiddenSize)]")
        }
        let count = weight.shape[0]
        linear = try Linear(weights, TensorNames.classifier, inFeatures: config.hiddenSize, outFeatures: count)
        labels = try HeadWeights.labels(config, count: count, file: weights.url.deletingLastPathComponent()
            .appendingPathComponent("config.json").path)
    }

    /// `logits[rows, L] = x[rows, H] Wᵀ + b`.
    func forward(_ x: UnsafePointer<Float>, rows: Int, kernel: Kernel) -> [Float] {
        var logits = [Float](repeating: 0, count: rows * linear.outFeatures)
        logits.withUnsafeMutableBufferPointer { out in
            if let base = out.baseAddress, rows > 0 { linear.forward(x, rows: rows, into: base, kernel: kernel) }
        }
        return logits
    }
}
