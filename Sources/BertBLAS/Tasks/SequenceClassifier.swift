import Foundation

/// The result of classifying one text (or text pair).
public struct Classification: Sendable, Equatable, Codable {
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
        Ranking.descending(scores).map { (labels[$0], scores[$0]) }
    }
}

/// A sequence classifier: a HuggingFace `BertForSequenceClassification` checkpoint, or a head
/// trained by `bert train-head` on the model's sentence embeddings; classifies texts or text pairs
/// as transformers' text-classification pipeline does.
///
/// - Checkpoint: pooler → `classifier`, then softmax (single-label), sigmoid (`problem_type`
///   `multi_label_classification`, or a single label) or nothing (`regression`). Labels come from
///   `id2label`.
/// - Trained head: the head folder's pooling, normalization and max length over the encoder,
///   then its linear head and softmax (a regression head: its one output as it is).
///
/// Immutable and `Sendable`: share one instance across threads.
///
/// ```swift
/// let model = try LoadedModel(directory: URL(fileURLWithPath: "nlptown-sentiment"))
/// let classifier = try SequenceClassifier(model: model)
/// let result = try classifier.classify("Great food, slow service.")
/// print(result.label, result.score)   // "4 stars" 0.41
/// ```
public final class SequenceClassifier: EncoderTask {
    /// One text, or a text pair (`[CLS] text [SEP] pair [SEP]`).
    public struct Input: Sendable, Equatable {
        public var text: String
        public var pair: String?
        public init(_ text: String, pair: String? = nil) {
            self.text = text
            self.pair = pair
        }
    }

    enum Head: Sendable {
        /// The family's sequence head (BERT: `classifier` over the pooler output).
        case checkpoint(SequenceClassificationHead)
        /// A trained linear head over sentence embeddings, with its folder's config.
        case trained(SentenceEmbedder, LinearHead, HeadFolder.Config)
    }

    public let model: LoadedModel
    let head: Head
    /// Label names in index order.
    public let labels: [String]
    /// How logits become scores (from `problem_type` and the label count; softmax for a trained head).
    public let function: ClassificationFunction
    /// The longest input in tokens, special tokens included; longer inputs are truncated
    /// (longest first). A checkpoint's: the tokenizer's `model_max_length` capped by
    /// `max_position_embeddings`; a trained head's: its `max_length`.
    public let maxLength: Int
    /// The tokenizer of the model.
    public var tokenizer: BertTokenizer { model.tokenizer }
    /// The trained head's config, or nil for a checkpoint.
    public var headConfig: HeadFolder.Config? {
        if case .trained(_, _, let config) = head { return config }
        return nil
    }

    /// A classifier on a loaded `BertForSequenceClassification` checkpoint.
    ///
    /// - Parameters:
    ///   - model: the loaded checkpoint.
    ///   - function: overrides the score function; nil (default) picks it as the HF pipeline does.
    /// - Throws: `.missingTensor` naming `classifier.weight`/`.bias` or the pooler when the
    ///   checkpoint has no classification head (e.g. a BertModel or a masked-LM checkpoint);
    ///   `.config` when `id2label` disagrees with the classifier's size.
    public init(model: LoadedModel, function: ClassificationFunction? = nil) throws {
        let classifier = try SequenceClassificationHead(model.weights, config: model.config)
        self.model = model
        head = .checkpoint(classifier)
        labels = classifier.labels
        self.function = function ?? .default(problemType: model.config.problemType, labelCount: classifier.labels.count)
        maxLength = model.maxLength
    }

    /// A classifier from a trained head folder (`bert train-head --out`) over `model`, its encoder.
    ///
    /// - Throws: `BertError` from `HeadFolder.load` naming the folder's files; `.config` when the
    ///   folder's pooling or max length cannot be had from `model`; `.shape` when the head's size
    ///   differs from the embeddings'.
    /// - Parameter function: overrides the head's score function (softmax; none for regression).
    public init(model: LoadedModel, headFolder directory: URL, function: ClassificationFunction? = nil) throws {
        let (config, linear, _) = try HeadFolder.load(directory)
        let configPath = directory.appendingPathComponent(HeadFolder.configFile).path
        let modes = try config.pooling.split(separator: "+").map { name in
            guard let mode = PoolingMode(rawValue: String(name)) else {
                throw BertError(.config, "\(configPath): pooling '\(config.pooling)' is not one of cls, max, mean, mean_sqrt_len (or several joined by +)")
            }
            return mode
        }
        let sentence = try SentenceEmbedder(model: model, pooling: modes, normalize: config.normalize, maxLength: config.maxLength)
        let pooling = sentence.pooling.map(\.rawValue).joined(separator: "+")
        guard pooling == config.pooling, sentence.maxLength == config.maxLength else {
            throw BertError(.config, "\(directory.path): the head was trained with pooling \(config.pooling), max length \(config.maxLength); the encoder \(model.directory.path) gives \(pooling), \(sentence.maxLength)")
        }
        guard sentence.dimension == linear.inputSize else {
            throw BertError(.shape, "\(directory.path): the head expects \(linear.inputSize) features, the encoder \(model.directory.path) gives \(sentence.dimension)")
        }
        self.model = model
        head = .trained(sentence, linear, config)
        labels = config.labels
        self.function = function ?? (config.kind == .regression ? .none : .softmax)
        maxLength = sentence.maxLength
    }

    /// Loads a head folder and its encoder, or an HF sequence-classification checkpoint.
    ///
    /// - Parameters:
    ///   - directory: a folder with `bertblas_head.json`, or a `BertForSequenceClassification` folder.
    ///   - kernel: `.blas` (default) or `.naive` for every matrix product, the trained head's included.
    ///   - function: overrides the score function (e.g. `.none` for raw logits).
    /// - Throws: the cases of `init(model:function:)` and `init(model:headFolder:)`, and `BertError`
    ///   from loading.
    public convenience init(directory: URL, kernel: Kernel = .blas, function: ClassificationFunction? = nil) throws {
        if HeadFolder.isHeadFolder(directory) {
            let encoder = try HeadFolder.load(directory).encoder
            try self.init(model: LoadedModel(directory: encoder, kernel: kernel), headFolder: directory, function: function)
        } else {
            try self.init(model: LoadedModel(directory: directory, kernel: kernel), function: function)
        }
    }

    /// The text as the tokenizer sees it (a trained head's encoder may lowercase).
    func prepared(_ text: String) -> String {
        if case .trained(let sentence, _, _) = head { return sentence.prepared(text) }
        return text
    }

    /// - Throws: `BertError.invalidInput` when the text is empty or blank.
    public func encode(_ input: Input) throws -> [Encoding] {
        try TaskInput.requireText(input.text, "text")
        return [tokenizer.encode(prepared(input.text), pair: input.pair.map(prepared),
                                 truncation: Truncation(maxLength: maxLength, strategy: .longestFirst))]
    }

    /// A checkpoint's logits, or a trained head's sentence embedding.
    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        switch head {
        case .checkpoint(let classifier):
            return try classifier.forward(output, sequence: b, workspace: workspace, kernel: model.kernel)
        case .trained(let sentence, _, _):
            return sentence.pool(output, sequence: b)
        }
    }

    public func finish(_ input: Input, encodings: [Encoding], partials: [[Float]]) throws -> Classification {
        try classification(partials[0])
    }

    /// The classification of one sequence from what `read` kept of it.
    func classification(_ partial: [Float]) throws -> Classification {
        let logits: [Float]
        switch head {
        case .checkpoint:
            logits = partial
        case .trained(_, let linear, _):
            logits = try linear.logits(FeatureMatrix(rows: 1, columns: partial.count, values: partial), kernel: model.kernel).values
        }
        let scores = function.apply(logits)
        let best = TaskMath.argmax(scores) ?? 0
        return Classification(label: labels[best], score: scores[best], scores: scores, labels: labels, logits: logits)
    }

    /// Classifies one text, or a text pair (`[CLS] text [SEP] pair [SEP]`).
    ///
    /// - Throws: `BertError.invalidInput` when `text` is empty or blank.
    public func classify(_ text: String, pair: String? = nil) throws -> Classification {
        try run(Input(text, pair: pair))
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
            throw BertError(.invalidInput, "pairs has \(pairs.count) texts for \(texts.count) texts")
        }
        return try run(texts.indices.map { Input(texts[$0], pair: pairs?[$0]) }, batchSize: max(1, batchSize))
    }
}
