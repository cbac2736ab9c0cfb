import Foundation

/// How a document longer than the encoder's max length becomes input.
public enum LongTextMode: String, Sendable, CaseIterable, Codable {
    /// Keep the first window only (what sentence-transformers' `encode` does).
    case truncate
    /// Split into overlapping windows within the max length; a document's window scores are
    /// averaged. The default.
    case chunk
}

/// Sentence embeddings of token windows: the features a trained head classifies.
///
/// A `SentenceEmbedder` (the encoder with sentence-transformers' pooling, Normalize and
/// `max_seq_length`, so features equal `bert embed`'s) applied window by window: each document is
/// tokenized once; in `.chunk` mode its overflow windows (HF `tokenizers` truncation with
/// `stride`, each framed by `[CLS]`/`[SEP]`) are embedded separately. Windows of many documents
/// are sorted by length and run through `BertModel.forward` in batches.
///
/// Holds a `Workspace`, so one instance belongs to one caller at a time.
public final class WindowEmbedder {
    /// The encoder and its pooling settings.
    public let sentence: SentenceEmbedder
    /// Tokens per window, special tokens included (the embedder's `maxLength`).
    public var maxLength: Int { sentence.maxLength }
    /// Tokens shared by consecutive windows: `maxLength / 4`.
    public let stride: Int
    /// Windows per forward pass.
    public let batchSize: Int
    private let workspace: Workspace

    /// Loads an encoder folder.
    /// - Parameters:
    ///   - directory: a HuggingFace or sentence-transformers BERT folder.
    ///   - pooling: overrides the folder's pooling (default: sentence-transformers files, else mean).
    ///   - normalize: overrides normalization (default: a Normalize module in modules.json).
    ///   - maxLength: overrides `max_seq_length` (default: sentence_bert_config.json, else the model's).
    ///   - batchSize: windows per forward pass (default 32).
    ///   - kernel: `.blas` (default) or the `.naive` reference for every matrix product.
    /// - Throws: `BertError` from `SentenceEmbedder`; `.invalidInput` when the max length leaves
    ///   no room for a window or `batchSize` < 1.
    public init(directory: URL, pooling: PoolingMode? = nil, normalize: Bool? = nil, maxLength: Int? = nil,
                batchSize: Int = 32, kernel: Kernel = .blas) throws {
        guard batchSize > 0 else { throw BertError(.invalidInput, "--batch-size must be positive, got \(batchSize)") }
        let sentence = try SentenceEmbedder(directory: directory, kernel: kernel, pooling: pooling, normalize: normalize, maxLength: maxLength)
        let room = sentence.maxLength - sentence.tokenizer.numberOfSpecialTokens(pair: false)
        guard room >= 1 else {
            throw BertError(.invalidInput, "--max-length \(sentence.maxLength) leaves no room for text in \(directory.path)")
        }
        self.sentence = sentence
        self.stride = room > 1 ? min(sentence.maxLength / 4, room - 1) : 0
        self.batchSize = batchSize
        self.workspace = try sentence.model.makeWorkspace(maxBatch: batchSize, maxLength: sentence.maxLength)
    }

    /// The feature size: hidden size × pooling modes.
    public var dimension: Int { sentence.dimension }

    /// The pooling modes as stored in a head folder: `mean`, or several joined by `+`.
    public var poolingName: String { sentence.pooling.map(\.rawValue).joined(separator: "+") }

    /// The token windows of one text: one in `.truncate` mode, all overflow windows in `.chunk`.
    public func windows(_ text: String, mode: LongTextMode) -> [[Int32]] {
        let input = sentence.lowercase ? text.lowercased() : text
        let encoding = sentence.tokenizer.encode(input, truncation: Truncation(maxLength: maxLength, stride: stride))
        if mode == .truncate { return [encoding.ids] }
        return [encoding.ids] + encoding.overflowing.map(\.ids)
    }

    /// Embeds token windows, `[W, dimension]` in input order. Windows run longest first in
    /// batches of `batchSize`, so a batch holds windows of similar length.
    /// - Parameter progress: called after each batch with the number of windows done so far.
    /// - Throws: `BertError` from the forward pass (e.g. a window longer than the max length).
    public func embed(windows: [[Int32]], progress: ((Int) -> Void)? = nil) throws -> FeatureMatrix {
        let h = dimension
        var out = [Float](repeating: 0, count: windows.count * h)
        let order = windows.indices.sorted { windows[$0].count > windows[$1].count || (windows[$0].count == windows[$1].count && $0 < $1) }
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(start + batchSize, order.count)])
            let output = try sentence.model.forward(ids: batch.map { windows[$0] }, workspace: workspace)
            for (b, index) in batch.enumerated() {
                let vector = sentence.pool(output, sequence: b)
                out.replaceSubrange((index * h)..<((index + 1) * h), with: vector)
            }
            start += batch.count
            progress?(start)
        }
        return FeatureMatrix(unchecked: windows.count, h, out)
    }

    /// Embeds documents: every window of every document, plus which document each window is of.
    /// - Returns: features `[W, dimension]`, `document[w]` (index into `texts`) and the window
    ///   count of each document.
    public func embed(documents texts: [String], mode: LongTextMode,
                      progress: ((Int, Int) -> Void)? = nil) throws -> DocumentWindows {
        var windows: [[Int32]] = []
        var owner: [Int] = []
        var counts: [Int] = []
        for (d, text) in texts.enumerated() {
            let w = self.windows(text, mode: mode)
            windows += w
            owner += [Int](repeating: d, count: w.count)
            counts.append(w.count)
        }
        let total = windows.count
        let features = try embed(windows: windows, progress: progress.map { p in { p($0, total) } })
        return DocumentWindows(features: features, document: owner, windowCounts: counts)
    }
}

/// The windows of a batch of documents and their embeddings.
public struct DocumentWindows: Sendable {
    /// `[W, H]`, one row per window, documents in order.
    public var features: FeatureMatrix
    /// The document index of each window.
    public var document: [Int]
    /// How many windows each document has.
    public var windowCounts: [Int]

    /// Averages per-window rows (e.g. probabilities `[W, L]`) into per-document rows `[D, L]`.
    public func averageByDocument(_ rows: FeatureMatrix) -> FeatureMatrix {
        let l = rows.columns
        var out = [Float](repeating: 0, count: windowCounts.count * l)
        for (w, d) in document.enumerated() {
            for k in 0..<l { out[d * l + k] += rows.values[w * l + k] }
        }
        for (d, n) in windowCounts.enumerated() where n > 0 {
            for k in 0..<l { out[d * l + k] /= Float(n) }
        }
        return FeatureMatrix(unchecked: windowCounts.count, l, out)
    }
}
