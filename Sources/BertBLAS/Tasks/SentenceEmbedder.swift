import Foundation

/// How token vectors become one sentence vector (sentence-transformers `Pooling`).
public enum PoolingMode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The [CLS] token's vector.
    case cls
    /// The element-wise maximum over the tokens.
    case max
    /// The mean over the tokens (all real tokens, [CLS] and [SEP] included).
    case mean
    /// The sum over the tokens divided by √(token count).
    case meanSqrtLen = "mean_sqrt_len"

    public var description: String { rawValue }
}

/// Sentence embeddings as sentence-transformers computes them: BERT, pooling, optional L2
/// normalization, with the settings of a sentence-transformers folder.
///
/// A task on a `LoadedModel`: input a text, output one vector of `dimension` floats (an empty
/// text embeds `[CLS] [SEP]`, as sentence-transformers; longer texts are truncated to
/// `maxLength`). Reference: sentence-transformers `models/Transformer.py`, `models/Pooling.py`,
/// `models/Normalize.py` (v5.x). Immutable and `Sendable`.
public final class SentenceEmbedder: EncoderTask {
    public typealias Input = String
    public let model: LoadedModel
    public var tokenizer: BertTokenizer { model.tokenizer }
    /// The pooling modes, concatenated in sentence-transformers' order (cls, max, mean,
    /// mean_sqrt_len) when several are on.
    public let pooling: [PoolingMode]
    /// Whether vectors are L2-normalized (a `Normalize` module in modules.json).
    public let normalize: Bool
    /// Texts are truncated to this many tokens, special tokens included (`max_seq_length`).
    public let maxLength: Int
    /// Lowercase texts before tokenizing (`do_lower_case` of sentence_bert_config.json).
    public let lowercase: Bool
    /// Settings that came from defaults because the folder lacks the sentence-transformers file,
    /// one sentence each (e.g. "no 1_Pooling/config.json: mean pooling"); empty for a complete
    /// sentence-transformers folder. A CLI prints them as a note.
    public let notes: [String]

    /// Length of one embedding: hidden size × number of pooling modes.
    public var dimension: Int { model.config.hiddenSize * pooling.count }

    /// An embedder on a loaded model, reading sentence-transformers' files of its folder when
    /// present.
    ///
    /// Defaults (when the files are absent): mean pooling, no normalization, and `max_seq_length`
    /// = min(tokenizer `model_max_length`, `max_position_embeddings`), as sentence-transformers
    /// does for a plain HF folder. Arguments override the folder's settings.
    /// - Parameters:
    ///   - model: the loaded folder (optionally with modules.json, 1_Pooling/config.json,
    ///     sentence_bert_config.json).
    ///   - pooling: overrides the pooling modes (one or several, concatenated).
    ///   - normalize: overrides normalization.
    ///   - maxLength: overrides `max_seq_length`; capped by `max_position_embeddings`.
    /// - Throws: `.invalidFile` naming a malformed sentence-transformers file; `.unsupported` for
    ///   a pooling mode BertBLAS lacks (weightedmean, lasttoken); `.invalidInput` for a
    ///   `maxLength` below 2 or an empty `pooling`.
    public init(model: LoadedModel, pooling: [PoolingMode]? = nil, normalize: Bool? = nil, maxLength: Int? = nil) throws {
        self.model = model
        let directory = model.directory
        var notes: [String] = []

        let modules = try Self.readModules(directory)
        let poolingPath = modules?.first { $0.type.hasSuffix("Pooling") }?.path ?? "1_Pooling"
        let poolingFile = directory.appendingPathComponent(poolingPath).appendingPathComponent("config.json")
        if let pooling {
            guard !pooling.isEmpty else { throw BertError(.invalidInput, "pooling names no mode") }
            self.pooling = PoolingMode.allCases.filter { pooling.contains($0) }
        } else if let object = try Self.readJSONObject(poolingFile) {
            self.pooling = try Self.poolingModes(object, file: poolingFile.path)
        } else {
            self.pooling = [.mean]
            notes.append("no \(poolingPath)/config.json: mean pooling")
        }

        if let normalize {
            self.normalize = normalize
        } else if let modules {
            self.normalize = modules.contains { $0.type.hasSuffix("Normalize") }
        } else {
            self.normalize = false
            notes.append("no modules.json: embeddings are not normalized")
        }

        let stFile = directory.appendingPathComponent("sentence_bert_config.json")
        let stConfig = try Self.readJSONObject(stFile)
        let positions = model.config.maxSequenceLength
        if let maxLength {
            guard maxLength >= 2 else {
                throw BertError(.invalidInput, "maxLength \(maxLength) leaves no room for [CLS] and [SEP]")
            }
            self.maxLength = min(maxLength, positions)
        } else if let raw = stConfig?["max_seq_length"], !(raw is NSNull) {
            // Below 2 there is no room for [CLS] and [SEP], and encode would silently not truncate.
            guard let number = raw as? NSNumber, !(raw is Bool), let stored = Int(exactly: number.doubleValue),
                  stored >= 2 else {
                throw BertError(.invalidFile, "\(stFile.path): max_seq_length must be an integer of at least 2, got \(raw)")
            }
            self.maxLength = min(stored, positions)
        } else {
            self.maxLength = model.maxLength
            notes.append("no max_seq_length in sentence_bert_config.json: max length \(self.maxLength)")
        }
        lowercase = stConfig?["do_lower_case"] as? Bool ?? false
        self.notes = notes
    }

    /// Loads a model folder, then builds the embedder (see `init(model:pooling:normalize:maxLength:)`).
    ///
    /// - Throws: `BertError` from loading the model or tokenizer, and the cases of the main init.
    public convenience init(directory: URL, kernel: Kernel = .blas, pooling: PoolingMode? = nil,
                            normalize: Bool? = nil, maxLength: Int? = nil) throws {
        try self.init(model: LoadedModel(directory: directory, kernel: kernel), pooling: pooling.map { [$0] },
                      normalize: normalize, maxLength: maxLength)
    }

    /// The text as the tokenizer sees it (lowercased when the folder says `do_lower_case`).
    func prepared(_ text: String) -> String { lowercase ? text.lowercased() : text }

    public func encode(_ text: String) throws -> [Encoding] {
        [tokenizer.encode(prepared(text), truncation: Truncation(maxLength: maxLength))]
    }

    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        pool(output, sequence: b)
    }

    public func finish(_ text: String, encodings: [Encoding], partials: [[Float]]) throws -> [Float] {
        partials[0]
    }

    /// Embeds texts, batching internally (see `results(_:batchSize:progress:)` for per-text errors).
    ///
    /// - Parameters:
    ///   - texts: the sentences.
    ///   - batchSize: sequences per forward pass (default 32).
    /// - Returns: one vector of `dimension` floats per text, in order.
    /// - Throws: `BertError.invalidInput` for a `batchSize` below 1.
    public func embed(_ texts: [String], batchSize: Int = 32) throws -> [[Float]] {
        try run(texts, batchSize: batchSize)
    }

    /// Pools one sequence of an encoder output (and normalizes when configured).
    public func pool(_ output: EncoderOutput, sequence b: Int) -> [Float] {
        let h = output.hiddenSize
        let tokens = output.hiddenStates(sequence: b)
        let count = output.lengths[b]
        var vector = [Float](repeating: 0, count: h * pooling.count)
        for (slot, mode) in pooling.enumerated() {
            let base = slot * h
            switch mode {
            case .cls:
                for j in 0..<h { vector[base + j] = tokens[j] }
            case .max:
                for j in 0..<h { vector[base + j] = tokens[j] }
                for t in 1..<max(count, 1) {
                    for j in 0..<h { vector[base + j] = Swift.max(vector[base + j], tokens[t * h + j]) }
                }
            case .mean, .meanSqrtLen:
                for t in 0..<count {
                    for j in 0..<h { vector[base + j] += tokens[t * h + j] }
                }
                let divisor = mode == .mean ? Float(count) : Float(count).squareRoot()
                for j in 0..<h { vector[base + j] /= divisor }
            }
        }
        if normalize {
            var norm: Float = 0
            for v in vector { norm += v * v }
            let scale = 1 / Swift.max(norm.squareRoot(), 1e-12)
            for j in vector.indices { vector[j] *= scale }
        }
        return vector
    }

    // MARK: - sentence-transformers files

    struct Module: Decodable { var path: String; var type: String }

    static func readModules(_ directory: URL) throws -> [Module]? {
        let url = directory.appendingPathComponent("modules.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return try JSONDecoder().decode([Module].self, from: Data(contentsOf: url))
        } catch {
            throw BertError(.invalidFile, "\(url.path): not a sentence-transformers modules list ([{\"path\", \"type\"}])")
        }
    }

    static func readJSONObject(_ url: URL) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw BertError(.invalidFile, "\(url.path): not a JSON object")
        }
        return object
    }

    static func poolingModes(_ object: [String: Any], file: String) throws -> [PoolingMode] {
        for unsupported in ["pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"]
        where object[unsupported] as? Bool == true {
            throw BertError(.unsupported, "\(file): \(unsupported) is not supported (cls, max, mean, mean_sqrt_len are)")
        }
        let keys: [(String, PoolingMode)] = [("pooling_mode_cls_token", .cls), ("pooling_mode_max_tokens", .max),
                                             ("pooling_mode_mean_tokens", .mean), ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLen)]
        let modes = keys.filter { object[$0.0] as? Bool == true }.map(\.1)
        if modes.isEmpty, let name = object["pooling_mode"] as? String {
            let aliases: [String: PoolingMode] = ["cls": .cls, "max": .max, "mean": .mean, "mean_sqrt_len_tokens": .meanSqrtLen]
            guard let mode = aliases[name] else {
                throw BertError(.unsupported, "\(file): pooling_mode \"\(name)\" is not supported (cls, max, mean, mean_sqrt_len_tokens are)")
            }
            return [mode]
        }
        guard !modes.isEmpty else {
            throw BertError(.invalidFile, "\(file): no pooling mode is enabled")
        }
        return modes
    }
}
