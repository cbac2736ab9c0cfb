import Foundation

/// The result of classifying one text (or text pair).
public struct Classification: Sendable, Equatable {
    /// The best label (first of equal scores).
    public var label: String
    /// The best label's score.
    public var score: Float
    /// Every label's score, in the checkpoint's `id2label` order (`labels`).
    public var scores: [Float]
    /// The label names, in `id2label` order.
    public var labels: [String]
    /// The raw classifier outputs, in `id2label` order.
    public var logits: [Float]

    /// Labels and scores, best first (ties keep `id2label` order), as HF's `top_k=None`.
    public var ranked: [(label: String, score: Float)] {
        scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
            .map { (labels[$0], scores[$0]) }
    }
}

/// A HuggingFace `BertForSequenceClassification` checkpoint, ready to classify texts or text pairs
/// as transformers' text-classification pipeline does.
///
/// Pooler → `classifier`, then softmax (single-label), sigmoid (`problem_type`
/// `multi_label_classification`, or a single label) or nothing (`regression`). Labels come from
/// `id2label`. Immutable and `Sendable`: share one instance across threads.
///
/// ```swift
/// let classifier = try SequenceClassifier(directory: URL(fileURLWithPath: "nlptown-sentiment"))
/// let result = try classifier.classify("Great food, slow service.")
/// print(result.label, result.score)   // "4 stars" 0.41
/// ```
public final class SequenceClassifier: Sendable {
    let backbone: TaskBackbone
    let head: SequenceClassificationHead

    /// Label names in `id2label` order.
    public var labels: [String] { head.labels }
    /// How logits become scores (from `problem_type` and the label count).
    public let function: ClassificationFunction
    /// The tokenizer of the checkpoint (for callers that make their own windows).
    public var tokenizer: BertTokenizer { backbone.tokenizer }
    /// The encoder.
    public var model: BertModel { backbone.model }
    /// The longest input in tokens, special tokens included: the tokenizer's `model_max_length`
    /// capped by `max_position_embeddings`. Longer inputs are truncated (longest first).
    public var maxLength: Int { backbone.maxLength }

    /// Loads a `BertForSequenceClassification` folder (config.json, model.safetensors, tokenizer).
    ///
    /// - Parameters:
    ///   - directory: the model folder.
    ///   - kernel: `.blas` (default) or `.naive` for every matrix product.
    ///   - function: overrides the score function; nil (default) picks it as the HF pipeline does.
    /// - Throws: `BertError` from loading the encoder or tokenizer; `.missingTensor` naming
    ///   `classifier.weight`/`.bias` or the pooler when the checkpoint has no classification head
    ///   (e.g. a BertModel or a masked-LM checkpoint); `.config` when `id2label` disagrees with the
    ///   classifier's size.
    public init(directory: URL, kernel: Kernel = .blas, function: ClassificationFunction? = nil) throws {
        backbone = try TaskBackbone(directory: directory, kernel: kernel)
        head = try SequenceClassificationHead(backbone.model.weights, config: backbone.config)
        self.function = function ?? .default(problemType: backbone.config.problemType, labelCount: head.labels.count)
    }

    /// Classifies one text, or a text pair (`[CLS] text [SEP] pair [SEP]`).
    ///
    /// - Throws: `BertError.invalidInput` when `text` is empty or blank.
    public func classify(_ text: String, pair: String? = nil) throws -> Classification {
        try classify([text], pairs: pair.map { [$0] })[0]
    }

    /// Classifies texts (or pairs) in batches; results keep the input order.
    ///
    /// - Parameters:
    ///   - texts: the texts.
    ///   - pairs: nil, or one second text per text (nil entries mean no pair).
    ///   - batchSize: sequences per forward pass (default 32).
    /// - Throws: `BertError.invalidInput` for an empty text or a `pairs` count that differs.
    public func classify(_ texts: [String], pairs: [String?]? = nil, batchSize: Int = 32) throws -> [Classification] {
        if let pairs, pairs.count != texts.count {
            throw BertError(.invalidInput, "\(pairs.count) pair texts for \(texts.count) texts")
        }
        let truncation = Truncation(maxLength: maxLength, strategy: .longestFirst)
        let encodings = try texts.enumerated().map { i, text in
            try TaskBackbone.requireText(text, "text \(i + 1)")
            return tokenizer.encode(text, pair: pairs?[i], truncation: truncation)
        }
        return try classify(encodings: encodings, batchSize: batchSize)
    }

    /// Classifies already tokenized inputs (e.g. overlapping windows of a long document cut with
    /// `tokenizer.encode(_:truncation:)` and its `overflowing` windows).
    ///
    /// - Throws: `BertError.invalidInput` when an encoding is empty or longer than the model takes.
    public func classify(encodings: [Encoding], batchSize: Int = 32) throws -> [Classification] {
        var results: [Classification] = []
        results.reserveCapacity(encodings.count)
        let width = labels.count
        try backbone.forEachBatch(encodings, batchSize: batchSize) { _, output in
            let logits = try head.forward(output, kernel: backbone.model.kernel)
            for b in 0..<output.batchSize {
                let row = Array(logits[(b * width)..<((b + 1) * width)])
                let scores = function.apply(row)
                let best = TaskMath.argmax(scores) ?? 0
                results.append(Classification(label: labels[best], score: scores[best], scores: scores,
                                              labels: labels, logits: row))
            }
        }
        return results
    }
}
