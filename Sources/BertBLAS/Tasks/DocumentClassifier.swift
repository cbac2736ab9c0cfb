import Foundation

/// One document's classification.
public struct DocumentPrediction: Sendable, Equatable {
    /// The best label.
    public var label: String
    /// Its index in the classifier's labels.
    public var labelIndex: Int
    /// Its score (the averaged window probability).
    public var score: Float
    /// Every label's score, in label order (they sum to 1).
    public var scores: [Float]
    /// Windows the document was split into (1 unless long and in `.chunk` mode).
    public var windows: Int
}

/// Classifies documents with either a trained head folder (`bert train-head --out`) or a
/// HuggingFace `BertForSequenceClassification` checkpoint.
///
/// A document longer than the max length is cut into overlapping windows (`.chunk`, the default:
/// HF `tokenizers` overflow windows sharing `maxLength / 4` tokens), every window is scored, and
/// the window scores are averaged; `.truncate` scores the first window only.
/// - Trained head: each window is embedded with the recorded encoder (its pooling and
///   normalization) and scored by the linear head (softmax).
/// - HF checkpoint: each window goes through `SequenceClassifier` (pooler → classifier →
///   softmax, or sigmoid for multi-label checkpoints).
///
/// Holds a workspace: one instance belongs to one caller at a time.
public final class DocumentClassifier {
    enum Backend {
        case trainedHead(WindowEmbedder, LinearHead, HeadFolder.Config)
        case checkpoint(SequenceClassifier)
    }

    /// The label names, in index order.
    public let labels: [String]
    /// Tokens per window, special tokens included.
    public let maxLength: Int
    /// Tokens shared by consecutive windows.
    public let stride: Int
    /// Windows per forward pass.
    public let batchSize: Int
    let backend: Backend

    /// The head folder's config, or nil for an HF checkpoint.
    public var headConfig: HeadFolder.Config? {
        if case .trainedHead(_, _, let config) = backend { return config }
        return nil
    }

    /// Loads a head folder and its encoder, or an HF sequence-classification checkpoint.
    /// - Parameters:
    ///   - directory: a folder with `bertblas_head.json`, or a `BertForSequenceClassification` folder.
    ///   - batchSize: windows per forward pass (default 32).
    ///   - kernel: `.blas` (default) or the `.naive` reference for every matrix product.
    /// - Throws: `BertError` from `HeadFolder.load`, the encoder or `SequenceClassifier` (e.g.
    ///   `.missingTensor` naming `classifier.weight` for a checkpoint without a classifier);
    ///   `.shape` when a head's size differs from its encoder's.
    public init(directory: URL, batchSize: Int = 32, kernel: Kernel = .blas) throws {
        guard batchSize > 0 else { throw BertError(.invalidInput, "--batch-size must be positive, got \(batchSize)") }
        self.batchSize = batchSize
        if HeadFolder.isHeadFolder(directory) {
            let (config, head, encoder) = try HeadFolder.load(directory)
            let modes = try config.pooling.split(separator: "+").map { name in
                guard let mode = PoolingMode(rawValue: String(name)) else {
                    throw BertError(.config, "\(directory.appendingPathComponent(HeadFolder.configFile).path): pooling '\(config.pooling)' is not one of cls, max, mean, mean_sqrt_len (or several joined by +)")
                }
                return mode
            }
            let embedder = try WindowEmbedder(directory: encoder, pooling: modes.count == 1 ? modes[0] : nil,
                                              normalize: config.normalize, maxLength: config.maxLength, batchSize: batchSize,
                                              kernel: kernel)
            guard embedder.poolingName == config.pooling, embedder.maxLength == config.maxLength else {
                throw BertError(.config, "\(directory.path): the head was trained with pooling \(config.pooling), max length \(config.maxLength); the encoder \(encoder.path) gives \(embedder.poolingName), \(embedder.maxLength)")
            }
            guard embedder.dimension == head.inputSize else {
                throw BertError(.shape, "\(directory.path): the head expects \(head.inputSize) features, the encoder \(encoder.path) gives \(embedder.dimension)")
            }
            labels = config.labels
            maxLength = embedder.maxLength
            stride = embedder.stride
            backend = .trainedHead(embedder, head, config)
        } else {
            let classifier = try SequenceClassifier(directory: directory, kernel: kernel)
            labels = classifier.labels
            maxLength = classifier.maxLength
            stride = classifier.maxLength / 4
            backend = .checkpoint(classifier)
        }
    }

    /// Classifies texts (batched together; pass a few hundred at a time for streaming output).
    /// - Parameters:
    ///   - texts: the documents.
    ///   - mode: `.chunk` (default) averages the scores of all windows; `.truncate` uses the first.
    ///   - progress: called with (windows done, windows total) after each forward batch.
    /// - Returns: one prediction per text, in order.
    /// - Throws: `BertError` from the encoder.
    public func classify(_ texts: [String], mode: LongTextMode = .chunk,
                         progress: ((Int, Int) -> Void)? = nil) throws -> [DocumentPrediction] {
        if texts.isEmpty { return [] }
        switch backend {
        case .trainedHead(let embedder, let head, _):
            let windows = try embedder.embed(documents: texts, mode: mode, progress: progress)
            let probabilities = windows.averageByDocument(try head.probabilities(windows.features))
            return Self.predictions(probabilities, labels: labels, windowCounts: windows.windowCounts)
        case .checkpoint(let classifier):
            var encodings: [Encoding] = []
            var owner: [Int] = []
            var counts: [Int] = []
            let truncation = Truncation(maxLength: maxLength, stride: stride)
            for (d, text) in texts.enumerated() {
                let encoding = classifier.tokenizer.encode(text, truncation: truncation)
                let windows = mode == .truncate ? [encoding] : [encoding] + encoding.overflowing.map {
                    var w = $0
                    w.overflowing = []
                    return w
                }
                encodings += windows
                owner += [Int](repeating: d, count: windows.count)
                counts.append(windows.count)
            }
            // Longest first, so each forward batch holds windows of similar length.
            let order = encodings.indices.sorted { encodings[$0].count > encodings[$1].count || (encodings[$0].count == encodings[$1].count && $0 < $1) }
            var scores = [Float](repeating: 0, count: encodings.count * labels.count)
            var start = 0
            while start < order.count {
                let batch = Array(order[start..<min(start + batchSize, order.count)])
                let results = try classifier.classify(encodings: batch.map { encodings[$0] }, batchSize: batchSize)
                for (i, w) in batch.enumerated() {
                    for k in labels.indices { scores[w * labels.count + k] = results[i].scores[k] }
                }
                start += batch.count
                progress?(start, order.count)
            }
            let windows = DocumentWindows(features: FeatureMatrix(unchecked: encodings.count, labels.count, scores),
                                          document: owner, windowCounts: counts)
            return Self.predictions(windows.averageByDocument(windows.features), labels: labels, windowCounts: counts)
        }
    }

    /// Turns per-document score rows `[D, L]` into predictions (argmax; ties go to the lower index).
    public static func predictions(_ scores: FeatureMatrix, labels: [String], windowCounts: [Int]) -> [DocumentPrediction] {
        let l = scores.columns
        return (0..<scores.rows).map { d in
            let row = Array(scores.values[(d * l)..<((d + 1) * l)])
            var best = 0
            for k in 0..<l where row[k] > row[best] { best = k }
            return DocumentPrediction(label: labels[best], labelIndex: best, score: row[best], scores: row,
                                      windows: windowCounts[d])
        }
    }
}
