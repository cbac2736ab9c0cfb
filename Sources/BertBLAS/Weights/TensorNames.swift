/// A tensor the model looks up, with every HF spelling it may be stored under, tried in order.
public struct TensorName: Sendable, Hashable, CustomStringConvertible {
    /// The names tried, first match wins.
    public let candidates: [String]

    public init(_ candidates: [String]) { self.candidates = candidates }

    /// The canonical (first) spelling.
    public var description: String { candidates.first ?? "" }
}

/// The names of a `Linear` layer's tensors: weight `[out, in]` and bias `[out]`.
public struct LinearNames: Sendable, Hashable {
    public let weight: TensorName
    public let bias: TensorName
}

/// The names of a LayerNorm's tensors, with the legacy `gamma`/`beta` spellings.
public struct LayerNormNames: Sendable, Hashable {
    public let weight: TensorName
    public let bias: TensorName
}

/// Every HuggingFace tensor name BertBLAS knows; the only file that spells them.
///
/// Encoder tensors are tried `bert.`-prefixed (task checkpoints such as
/// `BertForSequenceClassification`) then unprefixed (`BertModel`, sentence-transformers).
/// LayerNorm tensors are also tried under the legacy TF names `gamma`/`beta`.
/// Reference: transformers `models/bert/modeling_bert.py` (v4.57.1) module names, and
/// `modeling_utils._fix_state_dict_key_on_load` for gamma/beta.
public enum TensorNames {
    /// Buffers stored in some checkpoints that the model never reads (e.g. the I64
    /// `embeddings.position_ids` of all-MiniLM-L6-v2).
    public static let ignoredBuffers: Set<String> = [
        "embeddings.position_ids", "bert.embeddings.position_ids",
    ]

    /// `bert.X` then `X`.
    static func encoder(_ name: String) -> TensorName { TensorName(["bert." + name, name]) }

    static func linear(encoder prefix: String) -> LinearNames {
        LinearNames(weight: encoder(prefix + ".weight"), bias: encoder(prefix + ".bias"))
    }

    static func layerNorm(encoder prefix: String) -> LayerNormNames {
        LayerNormNames(
            weight: TensorName(["bert.\(prefix).weight", "\(prefix).weight", "bert.\(prefix).gamma", "\(prefix).gamma"]),
            bias: TensorName(["bert.\(prefix).bias", "\(prefix).bias", "bert.\(prefix).beta", "\(prefix).beta"]))
    }

    static func head(_ prefix: String) -> LinearNames {
        LinearNames(weight: TensorName([prefix + ".weight"]), bias: TensorName([prefix + ".bias"]))
    }

    // MARK: - Embeddings

    /// `embeddings.*`: word `[V, H]`, position `[P, H]`, token type `[types, H]`, LayerNorm `[H]`.
    public enum Embeddings {
        public static let word = encoder("embeddings.word_embeddings.weight")
        public static let position = encoder("embeddings.position_embeddings.weight")
        public static let tokenType = encoder("embeddings.token_type_embeddings.weight")
        public static let layerNorm = TensorNames.layerNorm(encoder: "embeddings.LayerNorm")
    }

    // MARK: - Encoder layers

    /// The tensors of encoder layer `index` (`encoder.layer.{index}.*`).
    public struct Layer: Sendable, Hashable {
        public let index: Int
        public let query: LinearNames
        public let key: LinearNames
        public let value: LinearNames
        /// `attention.output.dense` `[H, H]`.
        public let attentionOutput: LinearNames
        /// `attention.output.LayerNorm`.
        public let attentionLayerNorm: LayerNormNames
        /// `intermediate.dense` `[I, H]`.
        public let intermediate: LinearNames
        /// `output.dense` `[H, I]`.
        public let output: LinearNames
        /// `output.LayerNorm`.
        public let outputLayerNorm: LayerNormNames

        public init(index: Int) {
            let p = "encoder.layer.\(index)"
            self.index = index
            query = TensorNames.linear(encoder: p + ".attention.self.query")
            key = TensorNames.linear(encoder: p + ".attention.self.key")
            value = TensorNames.linear(encoder: p + ".attention.self.value")
            attentionOutput = TensorNames.linear(encoder: p + ".attention.output.dense")
            attentionLayerNorm = TensorNames.layerNorm(encoder: p + ".attention.output.LayerNorm")
            intermediate = TensorNames.linear(encoder: p + ".intermediate.dense")
            output = TensorNames.linear(encoder: p + ".output.dense")
            outputLayerNorm = TensorNames.layerNorm(encoder: p + ".output.LayerNorm")
        }
    }

    /// The names of encoder layer `index`.
    public static func layer(_ index: Int) -> Layer { Layer(index: index) }

    /// `pooler.dense` `[H, H]` (followed by tanh over [CLS]).
    public static let pooler = linear(encoder: "pooler.dense")

    // MARK: - Heads (never `bert.`-prefixed)

    /// `BertForSequenceClassification` / `BertForTokenClassification`: `classifier` `[L, H]`.
    public static let classifier = head("classifier")
    /// `BertForQuestionAnswering`: `qa_outputs` `[2, H]` (start, end).
    public static let qaOutputs = head("qa_outputs")
    /// `BertForNextSentencePrediction` / `BertForPreTraining`: `cls.seq_relationship` `[2, H]`
    /// (index 0 IsNext, 1 NotNext).
    public static let seqRelationship = head("cls.seq_relationship")

    /// `BertForMaskedLM` / `BertForPreTraining`: `cls.predictions.*`.
    public enum MaskedLM {
        /// `cls.predictions.transform.dense` `[H, H]`.
        public static let transformDense = head("cls.predictions.transform.dense")
        /// `cls.predictions.transform.LayerNorm` (also `gamma`/`beta`).
        public static let transformLayerNorm = LayerNormNames(
            weight: TensorName(["cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.gamma"]),
            bias: TensorName(["cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.LayerNorm.beta"]))
        /// `cls.predictions.decoder.weight` `[V, H]`; absent when tied to `Embeddings.word`.
        public static let decoderWeight = TensorName(["cls.predictions.decoder.weight"])
        /// The output bias `[V]`: `cls.predictions.bias` (or its alias `cls.predictions.decoder.bias`).
        public static let bias = TensorName(["cls.predictions.bias", "cls.predictions.decoder.bias"])
    }
}
