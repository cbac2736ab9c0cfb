import Foundation

/// A classifier's output layer `[L, H]` with its label names: `classifier` of
/// `…ForTokenClassification` (over every token) and the last layer of
/// `…ForSequenceClassification` (`classifier`, or `classifier.out_proj`).
///
/// Reference: transformers v4.57.1 `BertForSequenceClassification`, `BertForTokenClassification`
/// and their DistilBERT / RoBERTa / ELECTRA twins (dropout is identity at inference).
struct ClassifierHead: Sendable {
    let linear: Linear
    /// Label names in id order (from `id2label`).
    let labels: [String]

    /// - Parameters:
    ///   - names: the output layer's tensors (from the family's `TensorNames.heads`).
    ///   - required: other tensors the head needs, named together in one error when any is missing.
    ///   - task: the head, for the message naming the checkpoint class.
    /// - Throws: `BertError.missingTensor` naming every absent tensor, `BertError.shape` /
    ///   `.config` when the size disagrees with the hidden size or `id2label`.
    init(_ weights: WeightStore, names: LinearNames, required: [TensorName] = [], config: BertConfig,
         task: HeadTask) throws {
        try HeadWeights.require(weights, required + [names.weight, names.bias], task: task, config: config)
        let weight = try weights.tensor(names.weight)
        guard weight.shape.count == 2, weight.shape[1] == config.hiddenSize else {
            throw BertError(.shape, "\(weights.url.path): tensor \(weight.name) has shape \(weight.shape), expected [labels, \(config.hiddenSize)]")
        }
        let count = weight.shape[0]
        linear = try Linear(weights, names, inFeatures: config.hiddenSize, outFeatures: count)
        labels = try HeadWeights.labels(config, count: count, file: weights.url.deletingLastPathComponent()
            .appendingPathComponent("config.json").path)
    }

    /// `logits[rows, L] = x[rows, H] Wᵀ + b` (the logits are the result, not scratch).
    func forward(_ x: UnsafeBufferPointer<Float>, rows: Int, kernel: Kernel) -> [Float] {
        linear.outputs(x, rows: rows, kernel: kernel)
    }
}

/// The sequence classifier of any family: what it reads (BERT: the pooler output; the others: the
/// first token's hidden state), an optional dense layer + activation (`pre_classifier` + ReLU,
/// `classifier.dense` + tanh or GELU), then the output layer.
///
/// Reference: transformers v4.57.1 `BertForSequenceClassification`,
/// `DistilBertForSequenceClassification`, `RobertaClassificationHead`, `ElectraClassificationHead`.
struct SequenceClassificationHead: Sendable {
    let readsPooler: Bool
    let pre: (linear: Linear, activation: Activation)?
    let output: ClassifierHead

    var labels: [String] { output.labels }

    /// - Throws: `BertError.missingTensor` naming every absent head tensor (and the pooler for
    ///   BERT) with the class the checkpoint should be, e.g. `DistilBertForSequenceClassification`.
    init(_ weights: WeightStore, config: BertConfig) throws {
        let names = config.tensorNames
        let (readsPooler, activation) = config.family.sequenceClassification
        var required: [TensorName] = []
        if readsPooler, let pooler = names.pooler { required += [pooler.weight, pooler.bias] }
        if let pre = names.heads.sequencePre { required += [pre.weight, pre.bias] }
        output = try ClassifierHead(weights, names: names.heads.sequenceOutput, required: required, config: config,
                                    task: .sequenceClassification)
        if let preNames = names.heads.sequencePre, let activation {
            let h = config.hiddenSize
            pre = (try Linear(weights, preNames, inFeatures: h, outFeatures: h), activation)
        } else {
            pre = nil
        }
        self.readsPooler = readsPooler
    }

    /// The logits `[L]` of sequence `b` of an encoder output; the dense layer's output goes to
    /// the workspace's head scratch.
    ///
    /// - Throws: `BertError.missingTensor` when the head reads the pooler and the encoder has none.
    func forward(_ encoded: EncoderOutput, sequence b: Int, workspace: Workspace, kernel: Kernel) throws -> [Float] {
        let h = encoded.hiddenSize
        let features = readsPooler ? try encoded.pooled(sequence: b)
            : UnsafeBufferPointer(rebasing: encoded.hiddenStates(sequence: b).prefix(h))
        guard let pre, let x = features.baseAddress else {
            return output.forward(features, rows: 1, kernel: kernel)
        }
        pre.linear.forward(x, rows: 1, into: workspace.headRows, kernel: kernel)
        let hidden = UnsafeMutableBufferPointer(start: workspace.headRows, count: h)
        pre.activation.apply(hidden)
        return output.forward(UnsafeBufferPointer(hidden), rows: 1, kernel: kernel)
    }
}
