import Foundation

/// A SPLADE vector: the vocabulary entries with a non-zero weight, in index order.
public struct SparseEmbedding: Sendable, Equatable, Codable {
    /// Vocabulary ids with a non-zero weight, ascending.
    public var indices: [Int]
    /// Their weights (each > 0), in `indices` order.
    public var values: [Float]
    /// The dense size: the vocabulary's.
    public var dimension: Int

    /// The vector with every entry, zeros included.
    public var dense: [Float] {
        var out = [Float](repeating: 0, count: dimension)
        for (i, v) in zip(indices, values) { out[i] = v }
        return out
    }
}

/// SPLADE sparse embeddings from a masked-LM checkpoint (`BertForMaskedLM` and the other
/// families' MLM heads): for each vocabulary entry, the maximum over the text's tokens
/// (`[CLS]` and `[SEP]` included) of log(1 + ReLU(MLM logit)).
///
/// Reference: text-embeddings-inference `backends/candle/src/models/bert.rs` (`Pool::Splade`,
/// huggingface/text-embeddings-inference@0d124dc) and sentence-transformers 5.x `SpladePooling`
/// with `pooling_strategy="max"`. Since log1p is increasing, the maximum is taken over the raw
/// logits and log1p applied once per entry: the same value, V logarithms instead of T·V.
/// Immutable and `Sendable`.
public final class SparseEmbedder: EncoderTask {
    public let model: LoadedModel
    let head: MaskedLMHead
    /// The longest input in tokens, special tokens included; longer texts are truncated.
    public var maxLength: Int { model.maxLength }
    /// The dense size of a vector (the vocabulary's).
    public var dimension: Int { head.vocabularySize }

    /// A sparse embedder on a loaded masked-LM folder.
    ///
    /// - Throws: `.missingTensor` naming the absent masked-LM head tensors.
    public init(model: LoadedModel) throws {
        self.model = model
        head = try MaskedLMHead(model.weights, config: model.config)
    }

    /// Loads a folder, then builds the task (see `init(model:)`).
    public convenience init(directory: URL, kernel: Kernel = .blas) throws {
        try self.init(model: LoadedModel(directory: directory, kernel: kernel))
    }

    /// The text's tokens, truncated to `maxLength` (an empty text is `[CLS] [SEP]`).
    public func encode(_ text: String) throws -> [Encoding] {
        [model.tokenizer.encode(text, truncation: Truncation(maxLength: maxLength))]
    }

    /// The sparse vector of sequence `b`: every token's MLM logits, in the workspace's head scratch.
    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> SparseEmbedding {
        // ReLU's floor: entries no token lifts above 0 stay 0 and are left out.
        var best = [Float](repeating: 0, count: head.vocabularySize)
        try best.withUnsafeMutableBufferPointer { best in
            try head.forEachLogits(output.hiddenStates(sequence: b), positions: Array(0..<output.lengths[b]),
                                   workspace: workspace, kernel: model.kernel) { _, logits in
                for v in 0..<logits.count where logits[v] > best[v] { best[v] = logits[v] }
            }
        }
        var indices: [Int] = [], values: [Float] = []
        for (v, logit) in best.enumerated() where logit > 0 {
            indices.append(v)
            values.append(log1p(logit))
        }
        return SparseEmbedding(indices: indices, values: values, dimension: best.count)
    }

    public func finish(_ input: String, encodings: [Encoding], partials: [SparseEmbedding]) throws -> SparseEmbedding {
        guard let vector = partials.first else { throw BertError(.invalidInput, "no encoder output for the text") }
        return vector
    }

    /// The sparse vectors of `texts`, batched; results keep the input order.
    public func embed(_ texts: [String], batchSize: Int = 32) throws -> [SparseEmbedding] {
        try run(texts, batchSize: max(1, batchSize))
    }
}
