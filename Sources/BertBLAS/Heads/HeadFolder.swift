import Foundation

/// The trained-head folder that `bert train-head --out DIR` writes and every `--model` accepts:
///
///     DIR/head.safetensors    classifier.weight F32 [L, H], classifier.bias F32 [L]
///     DIR/bertblas_head.json  HeadFolder.Config: labels, pooling, normalization, max length,
///                             the encoder folder (relative to DIR) and the training report
public enum HeadFolder {
    /// The JSON file that marks a folder as a trained head.
    public static let configFile = "bertblas_head.json"
    /// The weights file.
    public static let weightsFile = "head.safetensors"
    /// The format tag written in the config.
    public static let formatTag = "bertblas-classifier-head"
    /// Tensor names in `head.safetensors` (HF's `BertForSequenceClassification` classifier names).
    public static let weightName = "classifier.weight"
    /// See `weightName`.
    public static let biasName = "classifier.bias"

    /// What the head needs besides its weights, and how it was trained.
    public struct Config: Codable, Sendable, Equatable {
        /// Always `HeadFolder.formatTag`.
        public var format: String
        /// Format version, 1.
        public var version: Int
        /// `logistic`, `ridge` or `regression` (one output, the number itself).
        public var kind: LinearHead.Kind
        /// Label names in index order (row order of the weights); a regression head's target name.
        public var labels: [String]
        /// The encoder folder, relative to the head folder.
        public var encoder: String
        /// The encoder folder as an absolute path when the head was written (used when the
        /// relative path no longer resolves, e.g. after copying the head elsewhere).
        public var encoderAbsolute: String?
        /// Pooling of the token vectors into one vector: `mean`, `cls`, `max`, `mean_sqrt_len`,
        /// or several joined by `+` (concatenated, sentence-transformers' order).
        public var pooling: String
        /// Whether the pooled vector is L2-normalized.
        public var normalize: Bool
        /// Maximum tokens per window, including `[CLS]` and `[SEP]`.
        public var maxLength: Int
        /// H, the feature size (hidden size × pooling modes).
        public var hiddenSize: Int
        /// How the training went (nil when the head did not come from `train-head`).
        public var training: TrainingRecord?

        /// Creates a config (format and version are filled in).
        public init(kind: LinearHead.Kind, labels: [String], encoder: String, encoderAbsolute: String?,
                    pooling: String, normalize: Bool, maxLength: Int, hiddenSize: Int, training: TrainingRecord?) {
            self.format = HeadFolder.formatTag
            self.version = 1
            self.kind = kind
            self.labels = labels
            self.encoder = encoder
            self.encoderAbsolute = encoderAbsolute
            self.pooling = pooling
            self.normalize = normalize
            self.maxLength = maxLength
            self.hiddenSize = hiddenSize
            self.training = training
        }

        enum CodingKeys: String, CodingKey {
            case format, version, kind, labels, encoder, pooling, normalize, training
            case encoderAbsolute = "encoder_absolute"
            case maxLength = "max_length"
            case hiddenSize = "hidden_size"
        }
    }

    /// The training report stored with a head.
    public struct TrainingRecord: Codable, Sendable, Equatable {
        /// The data path as given.
        public var data: String
        /// `newton` (logistic regression) or `ridge`.
        public var solver: String
        /// λ (scikit-learn C = 1/λ for logistic regression, alpha = λ for ridge).
        public var regularization: Double
        /// The validation fraction and seed of the split.
        public var validationSplit: Double
        /// See `validationSplit`.
        public var seed: UInt64
        /// `truncate` or `chunk`: how long documents became features.
        public var longText: String
        /// Labels excluded from the data.
        public var excludedLabels: [String]
        /// Example counts.
        public var trainExamples: Int
        /// See `trainExamples`.
        public var validationExamples: Int
        /// Accuracies (validation nil when the split is 0; both nil for regression).
        public var trainAccuracy: Double?
        /// See `trainAccuracy`.
        public var validationAccuracy: Double?
        /// Validation macro-F1, or nil.
        public var validationMacroF1: Double?
        /// Regression: Pearson r of the training and validation documents (nil otherwise).
        public var trainPearson: Double?
        /// See `trainPearson`.
        public var validationPearson: Double?
        /// Regression: validation RMSE.
        public var validationRMSE: Double?
        /// Regression with a rating scale: validation star-class accuracy.
        public var validationStarAccuracy: Double?
        /// Newton iterations (0 for ridge) and convergence.
        public var iterations: Int
        /// See `iterations`.
        public var converged: Bool
        /// Wall-clock seconds spent embedding and solving.
        public var embedSeconds: Double
        /// See `embedSeconds`.
        public var solveSeconds: Double

        /// Creates a record.
        public init(data: String, solver: String, regularization: Double, validationSplit: Double, seed: UInt64,
                    longText: String, excludedLabels: [String], trainExamples: Int, validationExamples: Int,
                    trainAccuracy: Double?, validationAccuracy: Double?, validationMacroF1: Double?,
                    iterations: Int, converged: Bool, embedSeconds: Double, solveSeconds: Double,
                    trainPearson: Double? = nil, validationPearson: Double? = nil, validationRMSE: Double? = nil,
                    validationStarAccuracy: Double? = nil) {
            self.data = data
            self.solver = solver
            self.regularization = regularization
            self.validationSplit = validationSplit
            self.seed = seed
            self.longText = longText
            self.excludedLabels = excludedLabels
            self.trainExamples = trainExamples
            self.validationExamples = validationExamples
            self.trainAccuracy = trainAccuracy
            self.validationAccuracy = validationAccuracy
            self.validationMacroF1 = validationMacroF1
            self.iterations = iterations
            self.converged = converged
            self.embedSeconds = embedSeconds
            self.solveSeconds = solveSeconds
            self.trainPearson = trainPearson
            self.validationPearson = validationPearson
            self.validationRMSE = validationRMSE
            self.validationStarAccuracy = validationStarAccuracy
        }

        enum CodingKeys: String, CodingKey {
            case data, solver, regularization, seed, iterations, converged
            case validationSplit = "validation_split"
            case longText = "long_text"
            case excludedLabels = "excluded_labels"
            case trainExamples = "train_examples"
            case validationExamples = "validation_examples"
            case trainAccuracy = "train_accuracy"
            case validationAccuracy = "validation_accuracy"
            case validationMacroF1 = "validation_macro_f1"
            case embedSeconds = "embed_seconds"
            case solveSeconds = "solve_seconds"
            case trainPearson = "train_pearson", validationPearson = "validation_pearson"
            case validationRMSE = "validation_rmse", validationStarAccuracy = "validation_star_accuracy"
        }
    }

    /// True when `directory` holds a trained head (its config file exists).
    public static func isHeadFolder(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(configFile).path)
    }

    /// Reads a head folder's config and weights.
    /// - Returns: the config, the head, and the resolved encoder folder.
    /// - Throws: `BertError.io` / `.invalidFile` naming the file, `.shape` when the weights
    ///   disagree with the labels or hidden size, `.config` when the encoder folder is missing.
    public static func load(_ directory: URL) throws -> (config: Config, head: LinearHead, encoder: URL) {
        let configURL = directory.appendingPathComponent(configFile)
        let config: Config
        do {
            config = try JSONDecoder().decode(Config.self, from: Data(contentsOf: configURL))
        } catch let error as DecodingError {
            throw BertError(.invalidFile, "\(configURL.path): \(describe(error))")
        } catch {
            throw BertError(.io, "\(configURL.path): \(error.localizedDescription)")
        }
        guard config.format == formatTag else {
            throw BertError(.invalidFile, "\(configURL.path): format is '\(config.format)', expected '\(formatTag)'")
        }
        if config.kind == .regression {
            guard config.labels.count == 1 else {
                throw BertError(.invalidFile, "\(configURL.path): a regression head has one label (its target's name), has \(config.labels.count)")
            }
        } else {
            guard config.labels.count >= 2 else {
                throw BertError(.invalidFile, "\(configURL.path): labels must name at least 2 classes, has \(config.labels.count)")
            }
        }
        guard config.maxLength >= 2 else {
            throw BertError(.invalidFile, "\(configURL.path): max_length must be at least 2 ([CLS] and [SEP]), got \(config.maxLength)")
        }
        guard config.hiddenSize > 0 else {
            throw BertError(.invalidFile, "\(configURL.path): hidden_size must be positive, got \(config.hiddenSize)")
        }
        let weightsURL = directory.appendingPathComponent(weightsFile)
        let tensors = try SafetensorsF32.read(weightsURL)
        guard let weight = tensors[weightName], let bias = tensors[biasName] else {
            throw BertError(.missingTensor, "\(weightsURL.path): needs '\(weightName)' and '\(biasName)', has \(tensors.keys.sorted().joined(separator: ", "))")
        }
        let l = config.labels.count, h = config.hiddenSize
        guard weight.shape == [l, h], bias.shape == [l] else {
            throw BertError(.shape, "\(weightsURL.path): \(weightName) is \(weight.shape) and \(biasName) \(bias.shape), expected [\(l), \(h)] and [\(l)] for \(l) labels, hidden \(h)")
        }
        let head = try LinearHead(weight: weight.values, bias: bias.values, labelCount: l, inputSize: h, kind: config.kind)
        let relative = directory.appendingPathComponent(config.encoder).standardizedFileURL
        var encoder = relative
        if !FileManager.default.fileExists(atPath: relative.appendingPathComponent("config.json").path),
           let absolute = config.encoderAbsolute,
           FileManager.default.fileExists(atPath: URL(fileURLWithPath: absolute).appendingPathComponent("config.json").path) {
            encoder = URL(fileURLWithPath: absolute)
        }
        guard FileManager.default.fileExists(atPath: encoder.appendingPathComponent("config.json").path) else {
            throw BertError(.config, "\(configURL.path): the encoder folder '\(config.encoder)' (\(relative.path)) has no config.json")
        }
        return (config, head, encoder)
    }

    /// Writes a head folder (creating the directory).
    /// - Parameters:
    ///   - directory: the output folder.
    ///   - head: the weights.
    ///   - config: the config; its `encoder` should be relative to `directory` (see `relativePath`).
    /// - Throws: `BertError.shape` when the head and config disagree, `BertError.io` on write failure.
    public static func write(_ directory: URL, head: LinearHead, config: Config) throws {
        guard head.labelCount == config.labels.count, head.inputSize == config.hiddenSize else {
            throw BertError(.shape, "head folder: the head is [\(head.labelCount), \(head.inputSize)], the config has \(config.labels.count) labels and hidden \(config.hiddenSize)")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let data = SafetensorsF32.encode([
                (weightName, [head.labelCount, head.inputSize], head.weight),
                (biasName, [head.labelCount], head.bias),
            ], metadata: ["format": "pt", "writer": "BertBLAS train-head"])
            try data.write(to: directory.appendingPathComponent(weightsFile), options: .atomic)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(config).write(to: directory.appendingPathComponent(configFile), options: .atomic)
        } catch let error as BertError {
            throw error
        } catch {
            throw BertError(.io, "\(directory.path): cannot write the head: \(error.localizedDescription)")
        }
    }

    /// The path of `target` relative to `base` (both made absolute and standardized),
    /// e.g. `../models/all-MiniLM-L6-v2`.
    public static func relativePath(from base: URL, to target: URL) -> String {
        let from = base.standardizedFileURL.resolvingSymlinksInPath().pathComponents
        let to = target.standardizedFileURL.resolvingSymlinksInPath().pathComponents
        var common = 0
        while common < min(from.count, to.count) && from[common] == to[common] { common += 1 }
        let parts = Array(repeating: "..", count: from.count - common) + to[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            return "wrong value at '\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
        case .dataCorrupted(let c): return "not valid JSON: \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
