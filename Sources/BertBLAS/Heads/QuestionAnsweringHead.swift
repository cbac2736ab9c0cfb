import Foundation

/// `qa_outputs` `[2, H]`: start and end logits per token (`…ForQuestionAnswering` of every family).
///
/// Reference: transformers v4.57.1 `models/bert/modeling_bert.py` (`BertForQuestionAnswering`:
/// `logits.split(1, dim=-1)` → start, end).
struct QuestionAnsweringHead: Sendable {
    let linear: Linear

    /// - Throws: `BertError.missingTensor` naming `qa_outputs.weight`/`.bias` when absent.
    init(_ weights: WeightStore, config: BertConfig) throws {
        let names = config.tensorNames.heads.qaOutputs
        try HeadWeights.require(weights, [names.weight, names.bias], task: .questionAnswering, config: config)
        linear = try Linear(weights, names, inFeatures: config.hiddenSize, outFeatures: 2)
    }

    /// Start and end logits of `rows` hidden states `[rows, H]`.
    func forward(_ x: UnsafeBufferPointer<Float>, rows: Int, kernel: Kernel) -> (start: [Float], end: [Float]) {
        let pairs = linear.outputs(x, rows: rows, kernel: kernel)
        return ((0..<rows).map { pairs[2 * $0] }, (0..<rows).map { pairs[2 * $0 + 1] })
    }
}
