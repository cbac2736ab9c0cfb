import Foundation

/// A BERT `config.json`, as HuggingFace `BertConfig` writes it.
///
/// Required keys: `vocab_size`, `hidden_size`, `num_hidden_layers`, `num_attention_heads`,
/// `intermediate_size`. The others default as in transformers' `BertConfig`: `hidden_act`
/// "gelu", `layer_norm_eps` 1e-12, `max_position_embeddings` 512, `type_vocab_size` 2,
/// `position_embedding_type` "absolute", `tie_word_embeddings` true.
/// Reference: transformers `models/bert/configuration_bert.py` (v4.57.1).
public struct BertConfig: Sendable, Decodable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    /// The `hidden_act` string; `activation` is its parsed form.
    public var hiddenAct: String
    public var layerNormEps: Float
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var positionEmbeddingType: String
    public var tieWordEmbeddings: Bool
    public var padTokenId: Int?
    public var modelType: String?
    /// `architectures`, e.g. `["BertForSequenceClassification"]`.
    public var architectures: [String]?
    /// `problem_type`: `single_label_classification`, `multi_label_classification`, `regression`.
    public var problemType: String?
    /// `id2label`, keys parsed to Int (JSON stores them as strings).
    public var id2label: [Int: String]?
    /// `label2id`.
    public var label2id: [String: Int]?

    /// The parsed `hidden_act`.
    public var activation: Activation { (try? Activation(hiddenAct: hiddenAct)) ?? .gelu }
    /// Head dimension `D = H / A`.
    public var headSize: Int { hiddenSize / max(numAttentionHeads, 1) }
    /// Labels in index order when `id2label` is present.
    public var labels: [String]? {
        guard let id2label, !id2label.isEmpty else { return nil }
        return (0..<id2label.count).map { id2label[$0] ?? "LABEL_\($0)" }
    }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case positionEmbeddingType = "position_embedding_type", tieWordEmbeddings = "tie_word_embeddings"
        case padTokenId = "pad_token_id", modelType = "model_type", architectures
        case problemType = "problem_type", id2label, label2id
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 512
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
        problemType = try c.decodeIfPresent(String.self, forKey: .problemType)
        if let raw = try c.decodeIfPresent([String: String].self, forKey: .id2label) {
            var map: [Int: String] = [:]
            for (key, value) in raw {
                guard let id = Int(key) else {
                    throw DecodingError.dataCorruptedError(forKey: .id2label, in: c,
                                                           debugDescription: "id2label key \"\(key)\" is not an integer")
                }
                map[id] = value
            }
            id2label = map
        }
        label2id = try c.decodeIfPresent([String: Int].self, forKey: .label2id)
    }

    /// Reads and validates `config.json`.
    ///
    /// - Parameter url: the file (or the model folder holding it).
    /// - Throws: `BertError.io` if unreadable; `BertError.config` naming the file and the missing
    ///   or bad key, an unsupported `hidden_act` or `position_embedding_type`, or sizes that do
    ///   not fit together (hidden size not divisible by the heads).
    public static func load(_ url: URL) throws -> BertConfig {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? url.appendingPathComponent("config.json") : url
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw BertError(.io, "\(file.path): no such file (a model folder needs config.json and model.safetensors)")
        }
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw BertError(.io, "\(file.path): cannot read: \(error.localizedDescription)")
        }
        let config: BertConfig
        do {
            config = try JSONDecoder().decode(BertConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw BertError(.config, "\(file.path): missing required key \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw BertError(.config, "\(file.path): key \"\(key)\" has the wrong type (\(context.debugDescription))")
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw BertError(.config, "\(file.path): \(key.isEmpty ? "not valid JSON" : "key \"\(key)\": \(context.debugDescription)")")
        } catch {
            throw BertError(.config, "\(file.path): \(error)")
        }
        try config.validate(file: file.path)
        return config
    }

    /// Checks the values BertBLAS depends on.
    public func validate(file: String = "config.json") throws {
        for (key, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize),
                             ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                             ("intermediate_size", intermediateSize), ("max_position_embeddings", maxPositionEmbeddings),
                             ("type_vocab_size", typeVocabSize)] where value <= 0 {
            throw BertError(.config, "\(file): \"\(key)\" must be positive, got \(value)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw BertError(.config, "\(file): hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard positionEmbeddingType == "absolute" else {
            throw BertError(.config, "\(file): position_embedding_type \"\(positionEmbeddingType)\" is not supported (only \"absolute\")")
        }
        do { _ = try Activation(hiddenAct: hiddenAct) } catch let error as BertError {
            throw BertError(.config, "\(file): \(error.message)")
        }
        guard layerNormEps > 0, layerNormEps.isFinite else {
            throw BertError(.config, "\(file): layer_norm_eps must be positive, got \(layerNormEps)")
        }
    }
}
