import Foundation

/// How a document longer than the encoder's max length becomes input.
public enum LongTextMode: String, Sendable, CaseIterable, Codable {
    /// Keep the first window only (what sentence-transformers' `encode` does).
    case truncate
    /// Split into overlapping windows within the max length; a document's window scores are
    /// averaged. The default.
    case chunk

    /// Tokens shared by consecutive windows of `maxLength` tokens: a quarter of the window,
    /// less than the room `specialTokens` leave in it.
    static func stride(maxLength: Int, specialTokens: Int) -> Int {
        let room = maxLength - specialTokens
        return room > 1 ? min(maxLength / 4, room - 1) : 0
    }

    /// The windows of one text: the first only in `.truncate` mode; in `.chunk` mode every HF
    /// `tokenizers` overflow window (truncation with `stride`), each framed by the special tokens.
    func windows(_ text: String, tokenizer: BertTokenizer, maxLength: Int, stride: Int) -> [Encoding] {
        var first = tokenizer.encode(text, truncation: Truncation(maxLength: maxLength, stride: stride))
        let overflowing = first.overflowing
        first.overflowing = []
        return self == .truncate ? [first] : [first] + overflowing.map {
            var window = $0
            window.overflowing = []
            return window
        }
    }
}

/// Sentence embeddings of token windows: the features a trained head classifies.
///
/// A `SentenceEmbedder` (the encoder with sentence-transformers' pooling, Normalize and
/// `max_seq_length`, so features equal `bert embed`'s) applied window by window: each document is
/// tokenized once; in `.chunk` mode its overflow windows are embedded separately. Input a text
/// and its mode, output one vector per window. Immutable and `Sendable`.
public final class WindowEmbedder: EncoderTask {
    /// One document and how it becomes windows.
    public struct Input: Sendable {
        public var text: String
        public var mode: LongTextMode
        public init(_ text: String, mode: LongTextMode = .chunk) {
            self.text = text
            self.mode = mode
        }
    }

    /// The encoder and its pooling settings.
    public let sentence: SentenceEmbedder
    public var model: LoadedModel { sentence.model }
    /// Tokens per window, special tokens included (the embedder's `maxLength`).
    public var maxLength: Int { sentence.maxLength }
    /// Tokens shared by consecutive windows: `maxLength / 4` (less when the window is tiny).
    public let stride: Int
    /// Windows per forward pass.
    public let batchSize: Int

    /// Windows embedded by `sentence`.
    /// - Throws: `BertError.invalidInput` when the max length leaves no room for text, or
    ///   `batchSize` < 1.
    public init(sentence: SentenceEmbedder, batchSize: Int = 32) throws {
        guard batchSize > 0 else { throw BertError(.invalidInput, "batchSize must be positive, got \(batchSize)") }
        let specials = sentence.tokenizer.numberOfSpecialTokens(pair: false)
        guard sentence.maxLength - specials >= 1 else {
            throw BertError(.invalidInput, "maxLength \(sentence.maxLength) leaves no room for text in \(sentence.model.directory.path)")
        }
        self.sentence = sentence
        stride = LongTextMode.stride(maxLength: sentence.maxLength, specialTokens: specials)
        self.batchSize = batchSize
    }

    /// Loads an encoder folder.
    /// - Parameters:
    ///   - directory: a HuggingFace or sentence-transformers BERT folder.
    ///   - pooling: overrides the folder's pooling (default: sentence-transformers files, else mean).
    ///   - normalize: overrides normalization (default: a Normalize module in modules.json).
    ///   - maxLength: overrides `max_seq_length` (default: sentence_bert_config.json, else the model's).
    ///   - batchSize: windows per forward pass (default 32).
    ///   - kernel: `.blas` (default) or the `.naive` reference for every matrix product.
    /// - Throws: `BertError` from loading and `SentenceEmbedder`, and the cases of `init(sentence:batchSize:)`.
    public convenience init(directory: URL, pooling: PoolingMode? = nil, normalize: Bool? = nil, maxLength: Int? = nil,
                            batchSize: Int = 32, kernel: Kernel = .blas) throws {
        guard batchSize > 0 else { throw BertError(.invalidInput, "batchSize must be positive, got \(batchSize)") }
        try self.init(sentence: SentenceEmbedder(directory: directory, kernel: kernel, pooling: pooling,
                                                 normalize: normalize, maxLength: maxLength),
                      batchSize: batchSize)
    }

    /// The feature size: hidden size × pooling modes.
    public var dimension: Int { sentence.dimension }

    /// The pooling modes as stored in a head folder: `mean`, or several joined by `+`.
    public var poolingName: String { sentence.pooling.map(\.rawValue).joined(separator: "+") }

    public func encode(_ input: Input) throws -> [Encoding] {
        input.mode.windows(sentence.prepared(input.text), tokenizer: sentence.tokenizer, maxLength: maxLength, stride: stride)
    }

    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        sentence.pool(output, sequence: b)
    }

    public func finish(_ input: Input, encodings: [Encoding], partials: [[Float]]) throws -> [[Float]] {
        partials
    }

    /// Embeds documents: every window of every document, plus which document each window is of.
    /// - Parameter progress: called after each forward pass with (windows done, windows total).
    /// - Returns: features `[W, dimension]`, `document[w]` (index into `texts`) and the window
    ///   count of each document.
    public func embed(documents texts: [String], mode: LongTextMode,
                      progress: ((Int, Int) -> Void)? = nil) throws -> DocumentWindows {
        let windows = try results(texts.map { Input($0, mode: mode) }, batchSize: batchSize, progress: progress)
            .map { try $0.get() }
        var values: [Float] = []
        values.reserveCapacity(windows.reduce(0) { $0 + $1.count } * dimension)
        var owner: [Int] = []
        for (d, vectors) in windows.enumerated() {
            for vector in vectors { values += vector }
            owner += [Int](repeating: d, count: vectors.count)
        }
        return DocumentWindows(features: FeatureMatrix(unchecked: owner.count, dimension, values), document: owner,
                               windowCounts: windows.map(\.count))
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
