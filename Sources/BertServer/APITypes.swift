import BertBLAS
import Foundation

// Request and response bodies, field for field as text-embeddings-inference's
// `router/src/http/types.rs` (huggingface/text-embeddings-inference@0d124dc). Property names are
// camelCase; the coders convert to and from TEI's snake_case (`JSONBody`). Unknown fields are
// ignored, as serde does by default.

// MARK: - Inputs

/// One input: a text, or token ids (TEI's `InputType`, untagged).
public enum InputItem: Codable, Sendable, Equatable {
    case text(String)
    case ids([UInt32])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let ids = try? container.decode([UInt32].self) {
            self = .ids(ids)
        } else {
            throw DecodingError.typeMismatch(InputItem.self, .init(
                codingPath: decoder.codingPath, debugDescription: "expected a string or an array of token ids"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .ids(let ids): try container.encode(ids)
        }
    }
}

/// `inputs` of /embed, /embed_all, /embed_sparse and `input` of /v1/embeddings: one input or a
/// batch (TEI's `Input`, untagged: a single input is tried first, so `[1, 2]` is one id list).
public enum Inputs: Codable, Sendable, Equatable {
    case single(InputItem)
    case batch([InputItem])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let item = try? container.decode(InputItem.self) {
            self = .single(item)
        } else if let items = try? container.decode([InputItem].self) {
            self = .batch(items)
        } else {
            throw DecodingError.typeMismatch(Inputs.self, .init(
                codingPath: decoder.codingPath,
                debugDescription: "expected a string, an array of token ids, or an array of those"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .single(let item): try container.encode(item)
        case .batch(let items): try container.encode(items)
        }
    }

    /// The inputs as a list, and whether the request sent a batch.
    var items: [InputItem] {
        switch self {
        case .single(let item): [item]
        case .batch(let items): items
        }
    }
}

/// TEI's `TruncationDirection`: `Right` (default) keeps the start of a text.
public enum TruncationDirection: String, Codable, Sendable {
    case left = "Left", right = "Right"

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        switch raw {
        case "Left", "left": self = .left
        case "Right", "right": self = .right
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "truncation_direction must be Left or Right"))
        }
    }
}

// MARK: - /embed, /embed_all, /embed_sparse

public struct EmbedRequest: Codable, Sendable {
    public var inputs: Inputs
    public var truncate: Bool?
    public var truncationDirection: TruncationDirection?
    public var promptName: String?
    /// Default true.
    public var normalize: Bool?
    /// Keep only the first `dimensions` values (Matryoshka), before normalizing.
    public var dimensions: Int?
}

public struct EmbedAllRequest: Codable, Sendable {
    public var inputs: Inputs
    public var truncate: Bool?
    public var truncationDirection: TruncationDirection?
    public var promptName: String?
}

public typealias EmbedSparseRequest = EmbedAllRequest

public struct SparseValue: Codable, Sendable, Equatable {
    public var index: Int
    public var value: Float
}

// MARK: - /predict, /rerank, /similarity

/// One text or a text pair.
public enum TextPair: Sendable, Equatable {
    case single(String)
    case pair(String, String)
}

/// TEI's `PredictInput`: `"a"`, `["a", "b"]` (one pair), or `[["a"], ["a", "b"], ...]` (a batch).
public enum PredictInput: Codable, Sendable, Equatable {
    case single(TextPair)
    case batch([TextPair])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .single(.single(text))
            return
        }
        if let strings = try? container.decode([String].self) {
            switch strings.count {
            case 1: self = .single(.single(strings[0]))
            case 2: self = .single(.pair(strings[0], strings[1]))
            default: throw Self.mismatch(decoder, "a pair has 2 strings, got \(strings.count)")
            }
            return
        }
        if let lists = try? container.decode([[String]].self) {
            self = .batch(try lists.map { list in
                switch list.count {
                case 1: return .single(list[0])
                case 2: return .pair(list[0], list[1])
                default: throw Self.mismatch(decoder, "each batch item is [text] or [text, text], got \(list.count) strings")
                }
            })
            return
        }
        throw Self.mismatch(decoder, "expected a string, a pair [string, string] or a batch [[string], [string, string], ...]")
    }

    static func mismatch(_ decoder: any Decoder, _ message: String) -> DecodingError {
        .typeMismatch(PredictInput.self, .init(codingPath: decoder.codingPath, debugDescription: message))
    }

    public func encode(to encoder: any Encoder) throws {
        func strings(_ s: TextPair) -> [String] {
            switch s {
            case .single(let a): [a]
            case .pair(let a, let b): [a, b]
            }
        }
        var container = encoder.singleValueContainer()
        switch self {
        case .single(.single(let text)): try container.encode(text)
        case .single(let pair): try container.encode(strings(pair))
        case .batch(let items): try container.encode(items.map(strings))
        }
    }
}

public struct PredictRequest: Codable, Sendable {
    public var inputs: PredictInput
    public var truncate: Bool?
    public var truncationDirection: TruncationDirection?
    /// Logits instead of softmax probabilities (default false).
    public var rawScores: Bool?
}

public struct Prediction: Codable, Sendable, Equatable {
    public var score: Float
    public var label: String
}

public struct RerankRequest: Codable, Sendable {
    public var query: String
    public var texts: [String]
    public var truncate: Bool?
    public var truncationDirection: TruncationDirection?
    public var rawScores: Bool?
    public var returnText: Bool?
}

public struct Rank: Codable, Sendable, Equatable {
    public var index: Int
    /// Present when the request set `return_text`.
    public var text: String?
    public var score: Float
}

public struct SimilarityInput: Codable, Sendable {
    public var sourceSentence: String
    public var sentences: [String]
}

public struct SimilarityParameters: Codable, Sendable {
    public var truncate: Bool?
    public var truncationDirection: TruncationDirection?
    public var promptName: String?
}

public struct SimilarityRequest: Codable, Sendable {
    public var inputs: SimilarityInput
    public var parameters: SimilarityParameters?
}

// MARK: - /ner, /qa, /fill-mask (BertBLAS only: TEI has no such routes)

/// `/ner`: the entities of each text, as `bert ner` prints them.
public struct NERRequest: Codable, Sendable {
    public var inputs: TextInputs
    /// `none` (default: one entry per token), `simple`, `first`, `average` or `max`.
    public var aggregationStrategy: AggregationStrategy?
    /// Labels (or entity groups) left out; default `["O"]`.
    public var ignoreLabels: [String]?
}

/// `/qa`: answers to one question from each context, as `bert qa` prints them.
public struct QARequest: Codable, Sendable {
    public var question: String
    public var context: TextInputs
    /// Answers per context (default 1).
    public var topK: Int?
    /// Longest answer in tokens (default 15).
    public var maxAnswerLen: Int?
    /// Tokens per window, question included (default: the model's length, at most 384).
    public var maxSeqLen: Int?
    /// Tokens of overlap between windows (default min(max_seq_len / 2, 128)).
    public var docStride: Int?
    /// Also consider the empty answer (default false).
    public var handleImpossibleAnswer: Bool?
}

/// `/fill-mask`: candidates for each mask token, as `bert fill-mask` prints them.
public struct FillMaskRequest: Codable, Sendable {
    public var inputs: TextInputs
    /// Candidates per mask (default 5).
    public var topK: Int?
    /// Only these tokens are scored (a word outside the vocabulary counts as its first token).
    public var targets: [String]?
}

/// One result per input: the result itself for a single input, a list for a batch (TEI's rule
/// for `/predict`).
public enum PerInput<Element: Encodable & Sendable>: Encodable, Sendable {
    case single(Element)
    case batch([Element])

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .single(let element): try container.encode(element)
        case .batch(let elements): try container.encode(elements)
        }
    }
}

/// A fill-mask result as `bert fill-mask` and transformers' pipeline give it: the candidates of
/// the one mask, or one list per mask when the text has several.
public enum MaskFills: Encodable, Sendable {
    case one([MaskFill])
    case several([[MaskFill]])

    init(_ fills: [[MaskFill]]) {
        self = fills.count == 1 ? .one(fills[0]) : .several(fills)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .one(let fills): try container.encode(fills)
        case .several(let fills): try container.encode(fills)
        }
    }
}

// MARK: - /v1/embeddings (OpenAI)

public enum EncodingFormat: String, Codable, Sendable {
    case float, base64
}

public struct OpenAIEmbeddingRequest: Codable, Sendable {
    public var input: Inputs
    public var model: String?
    public var user: String?
    public var encodingFormat: EncodingFormat?
    public var dimensions: Int?
}

/// A vector as floats, or as base64 of its little-endian float32 bytes.
public enum OpenAIEmbeddingValue: Codable, Sendable, Equatable {
    case float([Float])
    case base64(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) {
            self = .base64(string)
        } else {
            self = .float(try container.decode([Float].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .float(let vector): try container.encode(vector)
        case .base64(let string): try container.encode(string)
        }
    }
}

public struct OpenAIEmbedding: Codable, Sendable {
    public var object = "embedding"
    public var embedding: OpenAIEmbeddingValue
    public var index: Int
}

public struct OpenAIUsage: Codable, Sendable {
    public var promptTokens: Int
    public var totalTokens: Int
}

public struct OpenAIEmbeddingResponse: Codable, Sendable {
    public var object = "list"
    public var data: [OpenAIEmbedding]
    public var model: String
    public var usage: OpenAIUsage
}

// MARK: - /tokenize, /decode

/// One text or a batch of texts (TEI's `TokenizeInput`).
public enum TextInputs: Codable, Sendable, Equatable {
    case single(String)
    case batch([String])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .single(text)
        } else if let texts = try? container.decode([String].self) {
            self = .batch(texts)
        } else {
            throw DecodingError.typeMismatch(TextInputs.self, .init(
                codingPath: decoder.codingPath, debugDescription: "expected a string or an array of strings"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .single(let text): try container.encode(text)
        case .batch(let texts): try container.encode(texts)
        }
    }

    var items: [String] {
        switch self {
        case .single(let text): [text]
        case .batch(let texts): texts
        }
    }
}

public struct TokenizeRequest: Codable, Sendable {
    public var inputs: TextInputs
    /// Default true.
    public var addSpecialTokens: Bool?
    public var promptName: String?
}

/// One token: its id, its text (the slice of the input it covers; the token itself for special
/// tokens), and its span in the input in bytes of UTF-8 (`start`/`stop` null for special tokens).
public struct SimpleToken: Codable, Sendable, Equatable {
    public var id: UInt32
    public var text: String
    public var special: Bool
    public var start: Int?
    public var stop: Int?

    public func encode(to encoder: any Encoder) throws {
        // TEI writes null, not nothing, for a special token's span.
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(text, forKey: .text)
        try container.encode(special, forKey: .special)
        try container.encode(start, forKey: .start)
        try container.encode(stop, forKey: .stop)
    }
}

/// One id list or a batch of them (TEI's `InputIds`).
public enum IdInputs: Codable, Sendable, Equatable {
    case single([UInt32])
    case batch([[UInt32]])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let ids = try? container.decode([UInt32].self) {
            self = .single(ids)
        } else if let batch = try? container.decode([[UInt32]].self) {
            self = .batch(batch)
        } else {
            throw DecodingError.typeMismatch(IdInputs.self, .init(
                codingPath: decoder.codingPath, debugDescription: "expected an array of token ids or an array of those"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .single(let ids): try container.encode(ids)
        case .batch(let batch): try container.encode(batch)
        }
    }
}

public struct DecodeRequest: Codable, Sendable {
    public var ids: IdInputs
    /// Default true.
    public var skipSpecialTokens: Bool?
}

// MARK: - /info, /health

/// TEI's `ModelType`: what the loaded folder serves.
public enum ModelType: Codable, Sendable, Equatable {
    case embedding(pooling: String)
    case classifier(id2label: [String: String], label2id: [String: Int])
    case reranker(id2label: [String: String], label2id: [String: Int])

    enum Key: String, CodingKey { case embedding, classifier, reranker }
    enum Field: String, CodingKey { case pooling, id2label, label2id }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        if let embedding = try? container.nestedContainer(keyedBy: Field.self, forKey: .embedding) {
            self = .embedding(pooling: try embedding.decode(String.self, forKey: .pooling))
            return
        }
        let key: Key = container.contains(.classifier) ? .classifier : .reranker
        let labels = try container.nestedContainer(keyedBy: Field.self, forKey: key)
        let id2label = try labels.decode([String: String].self, forKey: .id2label)
        let label2id = try labels.decode([String: Int].self, forKey: .label2id)
        self = key == .classifier ? .classifier(id2label: id2label, label2id: label2id)
                                  : .reranker(id2label: id2label, label2id: label2id)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .embedding(let pooling):
            var nested = container.nestedContainer(keyedBy: Field.self, forKey: .embedding)
            try nested.encode(pooling, forKey: .pooling)
        case .classifier(let id2label, let label2id), .reranker(let id2label, let label2id):
            var nested = container.nestedContainer(keyedBy: Field.self, forKey: self.isReranker ? .reranker : .classifier)
            try nested.encode(id2label, forKey: .id2label)
            try nested.encode(label2id, forKey: .label2id)
        }
    }

    var isReranker: Bool { if case .reranker = self { true } else { false } }
}

/// TEI's `Info`, plus what BertBLAS adds: the routes this model answers, the BLAS core and threads.
public struct Info: Codable, Sendable {
    public var modelId: String
    public var modelSha: String?
    public var modelDtype: String
    public var servedModelName: String
    public var modelType: ModelType
    public var maxConcurrentRequests: Int
    public var maxInputLength: Int
    public var maxBatchTokens: Int
    public var maxBatchRequests: Int?
    public var maxClientBatchSize: Int
    public var autoTruncate: Bool
    public var tokenizationWorkers: Int
    public var version: String
    public var sha: String?
    public var dockerLabel: String?
    // BertBLAS only.
    public var routes: [String]
    public var blasCore: String
    public var blasThreads: Int
}
