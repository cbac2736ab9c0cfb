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
/// Each document is tokenized once; in `.chunk` mode its overflow windows (HF `tokenizers`
/// truncation with `stride`, each window framed by `[CLS]`/`[SEP]`) are embedded separately.
/// Windows of many documents are sorted by length and run through `BertModel.forward` in
/// batches, then pooled (mean over the window's tokens, `[CLS]`, or max) and optionally
/// L2-normalized, as sentence-transformers' Pooling and Normalize modules do.
///
/// Holds a `Workspace`, so one instance belongs to one caller at a time.
public final class WindowEmbedder {
    /// How token vectors become one vector.
    public enum Pooling: String, Sendable, CaseIterable, Codable {
        /// Mean over the window's tokens (special tokens included, as sentence-transformers).
        case mean
        /// The `[CLS]` token's vector.
        case cls
        /// Element-wise max over the window's tokens.
        case max
    }

    /// Pooling, normalization and window size.
    public struct Settings: Sendable, Equatable {
        /// Default: from `1_Pooling/config.json`, else mean.
        public var pooling: Pooling
        /// Default: true when `modules.json` lists a Normalize module.
        public var normalize: Bool
        /// Tokens per window including `[CLS]`/`[SEP]`. Default: `max_seq_length` of
        /// `sentence_bert_config.json`, else min(tokenizer max length, max positions, 512).
        public var maxLength: Int
        /// Tokens shared by consecutive windows. Default `maxLength / 4`.
        public var stride: Int

        /// Creates settings.
        public init(pooling: Pooling, normalize: Bool, maxLength: Int, stride: Int? = nil) {
            self.pooling = pooling
            self.normalize = normalize
            self.maxLength = maxLength
            self.stride = stride ?? maxLength / 4
        }

        /// Reads the sentence-transformers files of `directory`, falling back to mean pooling,
        /// no normalization and the model's max length.
        public static func defaults(directory: URL, config: BertConfig, tokenizer: BertTokenizer) -> Settings {
            func json(_ name: String) -> Any? {
                (try? Data(contentsOf: directory.appendingPathComponent(name)))
                    .flatMap { try? JSONSerialization.jsonObject(with: $0) }
            }
            var pooling = Pooling.mean
            var normalize = false
            var poolingPath = "1_Pooling"
            if let modules = json("modules.json") as? [[String: Any]] {
                for module in modules {
                    let type = module["type"] as? String ?? ""
                    if type.hasSuffix("Normalize") { normalize = true }
                    if type.hasSuffix("Pooling"), let path = module["path"] as? String, !path.isEmpty { poolingPath = path }
                }
            }
            if let p = json(poolingPath + "/config.json") as? [String: Any] {
                if p["pooling_mode_cls_token"] as? Bool == true { pooling = .cls }
                else if p["pooling_mode_max_tokens"] as? Bool == true { pooling = .max }
                else { pooling = .mean }
            }
            var maxLength = min(tokenizer.modelMaxLength > 0 ? tokenizer.modelMaxLength : 512,
                                config.maxPositionEmbeddings, 512)
            if let st = json("sentence_bert_config.json") as? [String: Any], let m = st["max_seq_length"] as? Int, m > 0 {
                maxLength = min(m, config.maxPositionEmbeddings)
            }
            return Settings(pooling: pooling, normalize: normalize, maxLength: maxLength)
        }
    }

    /// The encoder.
    public let model: BertModel
    /// Its tokenizer.
    public let tokenizer: BertTokenizer
    /// Pooling, normalization and window size in use.
    public let settings: Settings
    /// Windows per forward pass.
    public let batchSize: Int
    private let workspace: Workspace

    /// Loads an encoder folder.
    /// - Parameters:
    ///   - directory: a HuggingFace or sentence-transformers BERT folder.
    ///   - settings: overrides; nil reads `Settings.defaults`.
    ///   - batchSize: windows per forward pass (default 32).
    /// - Throws: `BertError` from loading the model or tokenizer; `.invalidInput` when the max
    ///   length is below 3 or above the model's positions, or the stride leaves no room.
    public init(directory: URL, settings: Settings? = nil, batchSize: Int = 32) throws {
        let model = try BertModel(directory: directory)
        let tokenizer = try BertTokenizer(directory: directory)
        let settings = settings ?? Settings.defaults(directory: directory, config: model.config, tokenizer: tokenizer)
        guard settings.maxLength >= 3, settings.maxLength <= model.config.maxPositionEmbeddings else {
            throw BertError(.invalidInput, "--max-length \(settings.maxLength) must be in 3...\(model.config.maxPositionEmbeddings) for \(directory.path)")
        }
        let room = settings.maxLength - tokenizer.numberOfSpecialTokens(pair: false)
        guard settings.stride >= 0, settings.stride < room else {
            throw BertError(.invalidInput, "window stride \(settings.stride) must be in 0..<\(room) for max length \(settings.maxLength)")
        }
        guard batchSize > 0 else { throw BertError(.invalidInput, "--batch-size must be positive, got \(batchSize)") }
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.batchSize = batchSize
        self.workspace = try model.makeWorkspace(maxBatch: batchSize, maxLength: settings.maxLength)
    }

    /// H, the embedding size.
    public var hiddenSize: Int { model.config.hiddenSize }

    /// The token windows of one text: one in `.truncate` mode, all overflow windows in `.chunk`.
    public func windows(_ text: String, mode: LongTextMode) -> [[Int32]] {
        let encoding = tokenizer.encode(text, truncation: Truncation(maxLength: settings.maxLength, stride: settings.stride))
        if mode == .truncate { return [encoding.ids] }
        return [encoding.ids] + encoding.overflowing.map(\.ids)
    }

    /// Embeds token windows, `[W, H]` in input order. Windows are run longest first in batches of
    /// `batchSize`, so a batch holds windows of similar length.
    /// - Parameter progress: called after each batch with the number of windows done so far.
    /// - Throws: `BertError` from the forward pass (e.g. a window longer than the max length).
    public func embed(windows: [[Int32]], progress: ((Int) -> Void)? = nil) throws -> FeatureMatrix {
        let h = hiddenSize
        var out = [Float](repeating: 0, count: windows.count * h)
        let order = windows.indices.sorted { windows[$0].count > windows[$1].count || (windows[$0].count == windows[$1].count && $0 < $1) }
        var done = 0
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(start + batchSize, order.count)])
            let output = try model.forward(ids: batch.map { windows[$0] }, workspace: workspace)
            for (b, index) in batch.enumerated() {
                let states = output.hiddenStates(sequence: b)
                out.withUnsafeMutableBufferPointer { o in
                    pool(states, length: output.lengths[b], into: UnsafeMutableBufferPointer(rebasing: o[(index * h)..<((index + 1) * h)]))
                }
            }
            start += batch.count
            done += batch.count
            progress?(done)
        }
        return FeatureMatrix(unchecked: windows.count, h, out)
    }

    /// Embeds documents: every window of every document, plus which document each window is of.
    /// - Returns: features `[W, H]`, `document[w]` (index into `texts`) and the window count of
    ///   each document.
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

    private func pool(_ states: UnsafeBufferPointer<Float>, length: Int, into out: UnsafeMutableBufferPointer<Float>) {
        let h = out.count
        switch settings.pooling {
        case .cls:
            for j in 0..<h { out[j] = states[j] }
        case .mean:
            for j in 0..<h { out[j] = 0 }
            for t in 0..<length { for j in 0..<h { out[j] += states[t * h + j] } }
            let inv = 1 / Float(max(length, 1))
            for j in 0..<h { out[j] *= inv }
        case .max:
            for j in 0..<h { out[j] = -.infinity }
            for t in 0..<length { for j in 0..<h { out[j] = Swift.max(out[j], states[t * h + j]) } }
        }
        if settings.normalize {
            var s: Float = 0
            for j in 0..<h { s += out[j] * out[j] }
            // sentence-transformers' Normalize: x / max(‖x‖, 1e-12)
            let inv = 1 / Swift.max(s.squareRoot(), 1e-12)
            for j in 0..<h { out[j] *= inv }
        }
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
