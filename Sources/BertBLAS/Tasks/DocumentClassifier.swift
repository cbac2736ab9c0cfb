import Foundation

/// One document's classification.
public struct DocumentPrediction: Sendable, Equatable, Codable {
    /// The best label.
    public var label: String
    /// Its index in the classifier's labels.
    public var labelIndex: Int
    /// Its score (the averaged window probability; a regression model's number).
    public var score: Float
    /// Every label's score, in label order (softmax: they sum to 1; sigmoid: each in [0, 1]).
    public var scores: [Float]
    /// Windows the document was split into (1 unless long and in `.chunk` mode).
    public var windows: Int

    /// Label indices, best score first (ties keep label order).
    public var ranked: [Int] { Ranking.descending(scores) }

    enum CodingKeys: String, CodingKey {
        case label, score, scores, windows
        case labelIndex = "label_index"
    }
}

/// Classifies documents of any length with a `SequenceClassifier` (a trained head folder or a
/// HuggingFace `BertForSequenceClassification` checkpoint).
///
/// A document longer than the max length is cut into overlapping windows (`.chunk`, the default:
/// HF `tokenizers` overflow windows sharing `maxLength / 4` tokens), every window is scored, and
/// the window scores are averaged; `.truncate` scores the first window only. Immutable and
/// `Sendable`; workspaces are borrowed from the model's pool per call.
public final class DocumentClassifier: EncoderTask {
    public typealias Input = WindowEmbedder.Input

    /// The classifier that scores each window.
    public let classifier: SequenceClassifier
    public var model: LoadedModel { classifier.model }
    /// The label names, in index order.
    public var labels: [String] { classifier.labels }
    /// Tokens per window, special tokens included.
    public var maxLength: Int { classifier.maxLength }
    /// Tokens shared by consecutive windows.
    public let stride: Int
    /// Windows per forward pass in `classify`.
    public let batchSize: Int
    /// The head folder's config, or nil for an HF checkpoint.
    public var headConfig: HeadFolder.Config? { classifier.headConfig }

    /// Documents classified by `classifier`, window by window.
    /// - Throws: `BertError.invalidInput` for a `batchSize` below 1.
    public init(classifier: SequenceClassifier, batchSize: Int = 32) throws {
        guard batchSize > 0 else { throw BertError(.invalidInput, "batchSize must be positive, got \(batchSize)") }
        self.classifier = classifier
        self.batchSize = batchSize
        stride = LongTextMode.stride(maxLength: classifier.maxLength,
                                     specialTokens: classifier.tokenizer.numberOfSpecialTokens(pair: false))
    }

    /// Loads a head folder and its encoder, or an HF sequence-classification checkpoint.
    /// - Parameters:
    ///   - directory: a folder with `bertblas_head.json`, or a `BertForSequenceClassification` folder.
    ///   - batchSize: windows per forward pass (default 32).
    ///   - kernel: `.blas` (default) or the `.naive` reference for every matrix product.
    ///   - function: overrides the score function (e.g. `.none`: window logits averaged).
    /// - Throws: `BertError` from `SequenceClassifier.init(directory:kernel:function:)`.
    public convenience init(directory: URL, batchSize: Int = 32, kernel: Kernel = .blas,
                            function: ClassificationFunction? = nil) throws {
        guard batchSize > 0 else { throw BertError(.invalidInput, "batchSize must be positive, got \(batchSize)") }
        try self.init(classifier: SequenceClassifier(directory: directory, kernel: kernel, function: function), batchSize: batchSize)
    }

    public func encode(_ input: Input) throws -> [Encoding] {
        input.mode.windows(classifier.prepared(input.text), tokenizer: classifier.tokenizer, maxLength: maxLength,
                           stride: stride)
    }

    /// One window's scores.
    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        try classifier.classification(classifier.read(output, sequence: b, encoding: encoding, workspace: workspace)).scores
    }

    /// The window scores averaged.
    public func finish(_ input: Input, encodings: [Encoding], partials: [[Float]]) throws -> DocumentPrediction {
        let l = labels.count
        var sum = [Float](repeating: 0, count: l)
        for scores in partials { for k in 0..<l { sum[k] += scores[k] } }
        let rows = FeatureMatrix(unchecked: 1, l, sum.map { $0 / Float(max(partials.count, 1)) })
        return Self.predictions(rows, labels: labels, windowCounts: [partials.count])[0]
    }

    /// Classifies texts; one result per text, in order (a failing text does not stop the others).
    /// - Parameters:
    ///   - texts: the documents.
    ///   - mode: `.chunk` (default) averages the scores of all windows; `.truncate` uses the first.
    ///   - progress: called with (windows done, windows total) after each forward pass.
    /// - Throws: only for the whole call (a workspace that cannot be allocated).
    public func results(_ texts: [String], mode: LongTextMode = .chunk,
                        progress: ((Int, Int) -> Void)? = nil) throws -> [Result<DocumentPrediction, any Error>] {
        try results(texts.map { Input($0, mode: mode) }, batchSize: batchSize, progress: progress)
    }

    /// Classifies texts; one prediction per text, in order.
    /// - Throws: the first failing text's `BertError`.
    public func classify(_ texts: [String], mode: LongTextMode = .chunk,
                         progress: ((Int, Int) -> Void)? = nil) throws -> [DocumentPrediction] {
        try results(texts, mode: mode, progress: progress).map { try $0.get() }
    }

    /// Turns per-document score rows `[D, L]` into predictions (argmax; ties go to the lower index).
    public static func predictions(_ scores: FeatureMatrix, labels: [String], windowCounts: [Int]) -> [DocumentPrediction] {
        let l = scores.columns
        return (0..<scores.rows).map { d in
            let row = Array(scores.values[(d * l)..<((d + 1) * l)])
            let best = TaskMath.argmax(row) ?? 0
            return DocumentPrediction(label: labels[best], labelIndex: best, score: row[best], scores: row,
                                      windows: windowCounts[d])
        }
    }
}
