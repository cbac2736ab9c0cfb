import Foundation

/// Next-sentence probabilities for a sentence pair.
public struct NextSentencePrediction: Sendable, Equatable {
    /// P(B follows A) (label 0, IsNext).
    public var isNext: Float
    /// P(B is a random sentence) (label 1, NotNext).
    public var notNext: Float
}

/// A `BertForNextSentencePrediction` or `BertForPreTraining` checkpoint: `cls.seq_relationship`
/// over the pooled output, softmaxed. Immutable and `Sendable`.
public final class NextSentencePredictor: Sendable {
    let backbone: TaskBackbone
    let head: NextSentenceHead

    /// The longest pair in tokens; longer pairs are truncated longest-first.
    public var maxLength: Int { backbone.maxLength }

    /// Loads a checkpoint with an NSP head.
    ///
    /// - Throws: `BertError` from loading; `.missingTensor` naming `cls.seq_relationship` (or
    ///   the pooler) when absent.
    public init(directory: URL, kernel: Kernel = .blas) throws {
        backbone = try TaskBackbone(directory: directory, kernel: kernel)
        head = try NextSentenceHead(backbone.model.weights, config: backbone.config)
    }

    /// Scores whether `b` follows `a`.
    ///
    /// - Throws: `BertError.invalidInput` when either text is empty or blank.
    public func predict(_ a: String, _ b: String) throws -> NextSentencePrediction {
        try predict([(a, b)])[0]
    }

    /// Scores several pairs, batched; results keep the input order.
    public func predict(_ pairs: [(String, String)], batchSize: Int = 32) throws -> [NextSentencePrediction] {
        let truncation = Truncation(maxLength: maxLength, strategy: .longestFirst)
        let encodings = try pairs.enumerated().map { i, pair in
            try TaskBackbone.requireText(pair.0, "pair \(i + 1): sentence A")
            try TaskBackbone.requireText(pair.1, "pair \(i + 1): sentence B")
            return backbone.tokenizer.encode(pair.0, pair: pair.1, truncation: truncation)
        }
        var results: [NextSentencePrediction] = []
        try backbone.forEachBatch(encodings, batchSize: batchSize) { _, output in
            guard let pooled = output.pooledOutput?.baseAddress else {
                throw BertError(.missingTensor, "\(backbone.directory.path): the checkpoint has no pooler")
            }
            let logits = head.forward(pooled, rows: output.batchSize, kernel: backbone.model.kernel)
            for b in 0..<output.batchSize {
                let p = TaskMath.softmax(logits[(2 * b)..<(2 * b + 2)])
                results.append(NextSentencePrediction(isNext: p[0], notNext: p[1]))
            }
        }
        return results
    }
}
