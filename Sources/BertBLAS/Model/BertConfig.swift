import Foundation

/// One encoder description, decoded from a `config.json` per its `model_type` (see
/// `ModelFamily`): sizes, activation, positions, token types, embedding size and projection,
/// plus the task fields (labels, problem type).
///
/// BERT, RoBERTa and ELECTRA spell the sizes as `BertConfig` does; DistilBERT as `dim`,
/// `n_layers`, `n_heads`, `hidden_dim`, `activation`, `sinusoidal_pos_embds`. Required keys: the
/// vocabulary and the four sizes (`vocab_size`, `hidden_size`, `num_hidden_layers`,
/// `num_attention_heads`, `intermediate_size`, or DistilBERT's names). The others default as in
/// transformers: `hidden_act` "gelu", `layer_norm_eps` 1e-12 (fixed for DistilBERT),
/// `max_position_embeddings` 512, `type_vocab_size` 2 (none for DistilBERT),
/// `position_embedding_type` "absolute", `tie_word_embeddings` true, `pad_token_id` 1 for RoBERTa,
/// `embedding_size` 128 for ELECTRA (the hidden size elsewhere).
/// Reference (v4.57.1): transformers `configuration_bert.py`, `configuration_distilbert.py`,
/// `configuration_roberta.py`, `configuration_xlm_roberta.py`, `configuration_electra.py`.
public struct BertConfig: Sendable, Decodable, Equatable {
    /// The family `model_type` names (BERT when absent).
    public var family: ModelFamily
    public var vocabSize: Int
    /// H.
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// I.
    public var intermediateSize: Int
    /// The `hidden_act` (DistilBERT: `activation`) string; `activation` is its parsed form.
    public var hiddenAct: String
    public var layerNormEps: Float
    /// Rows of the position table (RoBERTa's include `padding_idx + 1` unused rows).
    public var maxPositionEmbeddings: Int
    /// Rows of the token-type table; 0 when the family has none (DistilBERT).
    public var typeVocabSize: Int
    public var positionEmbeddingType: String
    public var tieWordEmbeddings: Bool
    public var padTokenId: Int?
    public var modelType: String?
    /// E, the width of the embedding tables: ELECTRA's `embedding_size`, projected to H by
    /// `embeddings_project` when it differs; H for the other families.
    public var embeddingSize: Int
    /// DistilBERT's `sinusoidal_pos_embds`: the position table is the fixed sinusoid (HF stores
    /// it in the checkpoint; it is computed when absent).
    public var sinusoidalPositionEmbeddings: Bool
    /// RoBERTa's `padding_idx` (`pad_token_id`): positions count from `padding_idx + 1`, and a
    /// padding token takes position `padding_idx`. nil: positions are `0..<T`.
    public var positionPaddingIndex: Int?
    /// Whether the tokenizer's token type ids are model inputs. RoBERTa has a token-type table
    /// but its tokenizers do not return type ids (`model_input_names`), so every token is type 0.
    public var readsTokenTypeIds: Bool
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
    /// The first position id (RoBERTa: `padding_idx + 1`; 0 otherwise).
    public var positionOffset: Int { positionPaddingIndex.map { $0 + 1 } ?? 0 }
    /// The longest sequence the position table holds: `max_position_embeddings` minus the offset.
    public var maxSequenceLength: Int { maxPositionEmbeddings - positionOffset }
    /// Whether the embeddings add a token-type row.
    public var hasTokenTypes: Bool { typeVocabSize > 0 }
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
        case embeddingSize = "embedding_size"
        // DistilBERT's spellings.
        case dim, nLayers = "n_layers", nHeads = "n_heads", hiddenDim = "hidden_dim", distilActivation = "activation"
        case sinusoidalPosEmbds = "sinusoidal_pos_embds"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        do { family = try ModelFamily(modelType: modelType) } catch let error as BertError {
            throw DecodingError.dataCorruptedError(forKey: .modelType, in: c, debugDescription: error.message)
        }
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 512
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        switch family {
        case .distilbert:
            // Reference: `DistilBertConfig` and `modeling_distilbert.py` (every LayerNorm eps 1e-12,
            // no token-type embeddings).
            hiddenSize = try c.decode(Int.self, forKey: .dim)
            numHiddenLayers = try c.decode(Int.self, forKey: .nLayers)
            numAttentionHeads = try c.decode(Int.self, forKey: .nHeads)
            intermediateSize = try c.decode(Int.self, forKey: .hiddenDim)
            hiddenAct = try c.decodeIfPresent(String.self, forKey: .distilActivation) ?? "gelu"
            layerNormEps = 1e-12
            typeVocabSize = 0
            sinusoidalPositionEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .sinusoidalPosEmbds) ?? false
            embeddingSize = hiddenSize
            positionPaddingIndex = nil
            readsTokenTypeIds = false
        case .bert, .roberta, .electra:
            hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
            numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
            numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
            intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
            hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
            layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
            typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2
            sinusoidalPositionEmbeddings = false
            embeddingSize = family == .electra
                ? try c.decodeIfPresent(Int.self, forKey: .embeddingSize) ?? 128 : hiddenSize
            if family == .roberta {
                // `RobertaEmbeddings.padding_idx = config.pad_token_id` (RobertaConfig's default 1).
                let pad = padTokenId ?? 1
                padTokenId = pad
                positionPaddingIndex = pad
            } else {
                positionPaddingIndex = nil
            }
            readsTokenTypeIds = family != .roberta
        }
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
            // An unsupported model_type carries its whole message (value and the supported list).
            let what = key.isEmpty ? "not valid JSON" : key == CodingKeys.modelType.rawValue ? context.debugDescription
                : "key \"\(key)\": \(context.debugDescription)"
            throw BertError(.config, "\(file.path): \(what)")
        } catch {
            throw BertError(.config, "\(file.path): \(error)")
        }
        try config.validate(file: file.path)
        return config
    }

    /// Checks the values BertBLAS depends on, naming each key as the family spells it.
    public func validate(file: String = "config.json") throws {
        let distil = family == .distilbert
        var sizes = [("vocab_size", vocabSize), (distil ? "dim" : "hidden_size", hiddenSize),
                     (distil ? "n_layers" : "num_hidden_layers", numHiddenLayers),
                     (distil ? "n_heads" : "num_attention_heads", numAttentionHeads),
                     (distil ? "hidden_dim" : "intermediate_size", intermediateSize),
                     ("max_position_embeddings", maxPositionEmbeddings)]
        if family != .distilbert { sizes.append(("type_vocab_size", typeVocabSize)) }
        if family == .electra { sizes.append(("embedding_size", embeddingSize)) }
        for (key, value) in sizes where value <= 0 {
            throw BertError(.config, "\(file): \"\(key)\" must be positive, got \(value)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw BertError(.config, "\(file): \(distil ? "dim" : "hidden_size") \(hiddenSize) is not a multiple of \(distil ? "n_heads" : "num_attention_heads") \(numAttentionHeads)")
        }
        guard positionEmbeddingType == "absolute" else {
            throw BertError(.config, "\(file): position_embedding_type \"\(positionEmbeddingType)\" is not supported (only \"absolute\")")
        }
        if let pad = positionPaddingIndex, pad < 0 || pad + 1 >= maxPositionEmbeddings {
            throw BertError(.config, "\(file): pad_token_id \(pad) leaves no positions in max_position_embeddings \(maxPositionEmbeddings) (\(family.rawValue) positions start at pad_token_id + 1)")
        }
        do { _ = try Activation(hiddenAct: hiddenAct) } catch let error as BertError {
            throw BertError(.config, "\(file): \(error.message)")
        }
        guard layerNormEps > 0, layerNormEps.isFinite else {
            throw BertError(.config, "\(file): layer_norm_eps must be positive, got \(layerNormEps)")
        }
    }
}
