import Foundation

/// Checks that a checkpoint holds a task head before any of it is loaded, so that a checkpoint of
/// the wrong kind fails with one message naming every missing tensor.
enum HeadWeights {
    /// - Parameters:
    ///   - weights: the checkpoint.
    ///   - names: every tensor the head needs.
    ///   - task: the head; the message names its class in the config's family (e.g.
    ///     `DistilBertForQuestionAnswering`).
    ///   - config: for the architecture the checkpoint declares, named in the message.
    /// - Throws: `BertError.missingTensor`: "<file>: not a <task> checkpoint (config.json says
    ///   <architectures>): missing tensors a, b (tried: …)".
    static func require(_ weights: WeightStore, _ names: [TensorName], task: HeadTask, config: BertConfig) throws {
        let missing = names.filter { !weights.contains($0) }
        guard !missing.isEmpty else { return }
        let declared = config.architectures.map { " (config.json says \($0.joined(separator: ", ")))" } ?? ""
        let list = missing.map { name in
            name.candidates.count > 1 ? "\(name) (tried: \(name.candidates.joined(separator: ", ")))" : "\(name)"
        }
        throw BertError(.missingTensor,
                        "\(weights.url.path): not a \(config.className(task)) checkpoint\(declared): missing tensor\(missing.count > 1 ? "s" : "") \(list.joined(separator: ", "))")
    }

    /// The label names of a classifier with `count` outputs: config `id2label` in index order, or
    /// HF's defaults `LABEL_0`, `LABEL_1`, ... when absent.
    ///
    /// - Throws: `BertError.config` when `id2label` is present but does not name exactly
    ///   `count` labels `0..<count`.
    static func labels(_ config: BertConfig, count: Int, file: String) throws -> [String] {
        guard let id2label = config.id2label, !id2label.isEmpty else {
            return (0..<count).map { "LABEL_\($0)" }
        }
        guard id2label.count == count, (0..<count).allSatisfy({ id2label[$0] != nil }) else {
            throw BertError(.config, "\(file): id2label has \(id2label.count) labels (ids \(id2label.keys.sorted())), but the classifier has \(count) outputs")
        }
        return (0..<count).compactMap { id2label[$0] }
    }
}

extension Linear {
    /// `x[rows, in] Wᵀ + b` as a new array, for a head whose outputs are its result (a few
    /// logits per row); zeros when `x` holds fewer than `rows` rows.
    func outputs(_ x: UnsafeBufferPointer<Float>, rows: Int, kernel: Kernel) -> [Float] {
        let count = max(0, rows) * outFeatures
        guard rows > 0, let input = x.baseAddress, x.count >= rows * inFeatures else {
            return [Float](repeating: 0, count: count)
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let out = buffer.baseAddress else { initialized = 0; return }
            forward(input, rows: rows, into: out, kernel: kernel)
            initialized = count
        }
    }
}
