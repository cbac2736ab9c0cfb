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

/// Every HuggingFace tensor name BertBLAS knows, one value per model family; the only file that
/// spells them.
///
/// Encoder tensors are tried under the family's task prefix (`bert.`, `distilbert.`, `roberta.`,
/// `electra.`: the `…For…` task checkpoints) then unprefixed (the bare `…Model`, as
/// sentence-transformers saves it). LayerNorm tensors are also tried under the legacy TF names
/// `gamma`/`beta`. Head tensors are never prefixed.
/// Reference (v4.57.1): module names of transformers `models/bert/modeling_bert.py`,
/// `models/distilbert/modeling_distilbert.py`, `models/roberta/modeling_roberta.py`,
/// `models/electra/modeling_electra.py` (`base_model_prefix`), and
/// `modeling_utils._fix_state_dict_key_on_load` for gamma/beta.
public struct TensorNames: Sendable, Hashable {
    /// The prefix of task checkpoints (`bert.`); encoder names are tried with it, then without.
    public let prefix: String
    /// `embeddings.*`.
    public let embeddings: EmbeddingNames
    /// The pooler (`pooler.dense`, then tanh over the first token); nil when the family has none.
    public let pooler: LinearNames?
    /// The task heads.
    public let heads: HeadNames
    private let layers: LayerSpelling

    /// Buffers stored in some checkpoints that the model never reads (e.g. the I64
    /// `embeddings.position_ids` of all-MiniLM-L6-v2).
    public static let ignoredBuffers: Set<String> = [
        "embeddings.position_ids", "bert.embeddings.position_ids", "distilbert.embeddings.position_ids",
        "roberta.embeddings.position_ids", "electra.embeddings.position_ids",
    ]

    /// The tensors of encoder layer `index`.
    public func layer(_ index: Int) -> Layer {
        let p = "\(layers.stack).\(index)."
        return Layer(index: index,
                     query: linear(p + layers.query), key: linear(p + layers.key), value: linear(p + layers.value),
                     attentionOutput: linear(p + layers.attentionOutput),
                     attentionLayerNorm: layerNorm(p + layers.attentionLayerNorm),
                     intermediate: linear(p + layers.intermediate), output: linear(p + layers.output),
                     outputLayerNorm: layerNorm(p + layers.outputLayerNorm))
    }

    // MARK: - Families

    /// BERT (`BertModel`, `BertFor…`), and every checkpoint with BERT's layout.
    public static let bert = TensorNames(
        prefix: "bert.", layers: .bert, tokenTypes: true, projection: nil, pooler: "pooler.dense",
        heads: HeadNames(
            sequencePre: nil, sequenceOutput: head("classifier"), tokenClassifier: head("classifier"),
            qaOutputs: head("qa_outputs"),
            maskedLM: MaskedLMNames(transform: "cls.predictions.transform.dense",
                                    layerNorm: "cls.predictions.transform.LayerNorm",
                                    decoder: "cls.predictions.decoder",
                                    bias: ["cls.predictions.bias", "cls.predictions.decoder.bias"]),
            seqRelationship: head("cls.seq_relationship")))

    /// DistilBERT: no token types, no pooler, `transformer.layer.N` with its own module names;
    /// sequence classification is `pre_classifier` → ReLU → `classifier` over the first token.
    public static let distilbert = TensorNames(
        prefix: "distilbert.", layers: .distilbert, tokenTypes: false, projection: nil, pooler: nil,
        heads: HeadNames(
            sequencePre: head("pre_classifier"), sequenceOutput: head("classifier"), tokenClassifier: head("classifier"),
            qaOutputs: head("qa_outputs"),
            maskedLM: MaskedLMNames(transform: "vocab_transform", layerNorm: "vocab_layer_norm",
                                    decoder: "vocab_projector", bias: ["vocab_projector.bias"]),
            seqRelationship: nil))

    /// RoBERTa (and XLM-RoBERTa, whose prefix is also `roberta.`): BERT's encoder names;
    /// sequence classification is `classifier.dense` → tanh → `classifier.out_proj`; `lm_head`.
    public static let roberta = TensorNames(
        prefix: "roberta.", layers: .bert, tokenTypes: true, projection: nil, pooler: "pooler.dense",
        heads: HeadNames(
            sequencePre: head("classifier.dense"), sequenceOutput: head("classifier.out_proj"),
            tokenClassifier: head("classifier"), qaOutputs: head("qa_outputs"),
            maskedLM: MaskedLMNames(transform: "lm_head.dense", layerNorm: "lm_head.layer_norm",
                                    decoder: "lm_head.decoder", bias: ["lm_head.bias", "lm_head.decoder.bias"]),
            seqRelationship: nil))

    /// ELECTRA: BERT's encoder names plus `embeddings_project` (embedding size → hidden size),
    /// no pooler; sequence classification is `classifier.dense` → GELU → `classifier.out_proj`;
    /// the generator's MLM head is `generator_predictions` + `generator_lm_head`.
    public static let electra = TensorNames(
        prefix: "electra.", layers: .bert, tokenTypes: true, projection: "embeddings_project", pooler: nil,
        heads: HeadNames(
            sequencePre: head("classifier.dense"), sequenceOutput: head("classifier.out_proj"),
            tokenClassifier: head("classifier"), qaOutputs: head("qa_outputs"),
            maskedLM: MaskedLMNames(transform: "generator_predictions.dense", layerNorm: "generator_predictions.LayerNorm",
                                    decoder: "generator_lm_head", bias: ["generator_lm_head.bias"]),
            seqRelationship: nil))

    private init(prefix: String, layers: LayerSpelling, tokenTypes: Bool, projection: String?, pooler: String?,
                 heads: HeadNames) {
        self.prefix = prefix
        self.layers = layers
        self.heads = heads
        func encoder(_ name: String) -> TensorName { TensorName([prefix + name, name]) }
        let norm = TensorNames.layerNorm(prefixes: [prefix, ""], "embeddings.LayerNorm")
        embeddings = EmbeddingNames(
            word: encoder("embeddings.word_embeddings.weight"),
            position: encoder("embeddings.position_embeddings.weight"),
            tokenType: tokenTypes ? encoder("embeddings.token_type_embeddings.weight") : nil,
            layerNorm: norm,
            projection: projection.map { LinearNames(weight: encoder($0 + ".weight"), bias: encoder($0 + ".bias")) })
        self.pooler = pooler.map { LinearNames(weight: encoder($0 + ".weight"), bias: encoder($0 + ".bias")) }
    }

    private func linear(_ name: String) -> LinearNames {
        LinearNames(weight: TensorName([prefix + name + ".weight", name + ".weight"]),
                    bias: TensorName([prefix + name + ".bias", name + ".bias"]))
    }

    private func layerNorm(_ name: String) -> LayerNormNames { Self.layerNorm(prefixes: [prefix, ""], name) }

    static func layerNorm(prefixes: [String], _ name: String) -> LayerNormNames {
        LayerNormNames(weight: TensorName(prefixes.map { "\($0)\(name).weight" } + prefixes.map { "\($0)\(name).gamma" }),
                       bias: TensorName(prefixes.map { "\($0)\(name).bias" } + prefixes.map { "\($0)\(name).beta" }))
    }

    static func head(_ name: String) -> LinearNames {
        LinearNames(weight: TensorName([name + ".weight"]), bias: TensorName([name + ".bias"]))
    }

    // MARK: - Parts

    /// `embeddings.*`: word `[V, E]`, position `[P, E]`, token type `[types, E]`, LayerNorm `[E]`,
    /// and ELECTRA's projection `[H, E]`.
    public struct EmbeddingNames: Sendable, Hashable {
        public let word: TensorName
        public let position: TensorName
        /// nil when the family has no token types (DistilBERT).
        public let tokenType: TensorName?
        public let layerNorm: LayerNormNames
        /// `embeddings_project` (ELECTRA), present when the embedding size differs from the hidden size.
        public let projection: LinearNames?
    }

    /// The tensors of one encoder layer.
    public struct Layer: Sendable, Hashable {
        public let index: Int
        public let query: LinearNames
        public let key: LinearNames
        public let value: LinearNames
        /// The attention output projection `[H, H]`.
        public let attentionOutput: LinearNames
        /// The LayerNorm after attention.
        public let attentionLayerNorm: LayerNormNames
        /// The feed-forward input layer `[I, H]`.
        public let intermediate: LinearNames
        /// The feed-forward output layer `[H, I]`.
        public let output: LinearNames
        /// The LayerNorm after the feed-forward block.
        public let outputLayerNorm: LayerNormNames
    }

    /// The task heads of a family (never prefixed).
    public struct HeadNames: Sendable, Hashable {
        /// The dense layer between the first token and the sequence classifier (`pre_classifier`,
        /// `classifier.dense`); nil for BERT, whose classifier reads the pooler output.
        public let sequencePre: LinearNames?
        /// The sequence classifier's output layer `[L, H]`.
        public let sequenceOutput: LinearNames
        /// The token classifier `[L, H]` (`classifier`).
        public let tokenClassifier: LinearNames
        /// `qa_outputs` `[2, H]` (start, end).
        public let qaOutputs: LinearNames
        /// The masked-LM head.
        public let maskedLM: MaskedLMNames
        /// `cls.seq_relationship` `[2, H]` (index 0 IsNext, 1 NotNext); BERT only.
        public let seqRelationship: LinearNames?
    }

    /// A masked-LM head: transform (dense + activation + LayerNorm), then the decoder `[V, E]`
    /// (absent when tied to the word embeddings) and its bias `[V]`.
    public struct MaskedLMNames: Sendable, Hashable {
        public let transformDense: LinearNames
        public let transformLayerNorm: LayerNormNames
        public let decoderWeight: TensorName
        public let bias: TensorName

        init(transform: String, layerNorm: String, decoder: String, bias: [String]) {
            transformDense = TensorNames.head(transform)
            transformLayerNorm = TensorNames.layerNorm(prefixes: [""], layerNorm)
            decoderWeight = TensorName([decoder + ".weight"])
            self.bias = TensorName(bias)
        }
    }

    /// How a family spells the modules of its layers.
    private struct LayerSpelling: Sendable, Hashable {
        let stack: String
        let query, key, value, attentionOutput, attentionLayerNorm, intermediate, output, outputLayerNorm: String

        static let bert = LayerSpelling(
            stack: "encoder.layer", query: "attention.self.query", key: "attention.self.key",
            value: "attention.self.value", attentionOutput: "attention.output.dense",
            attentionLayerNorm: "attention.output.LayerNorm", intermediate: "intermediate.dense",
            output: "output.dense", outputLayerNorm: "output.LayerNorm")
        static let distilbert = LayerSpelling(
            stack: "transformer.layer", query: "attention.q_lin", key: "attention.k_lin", value: "attention.v_lin",
            attentionOutput: "attention.out_lin", attentionLayerNorm: "sa_layer_norm", intermediate: "ffn.lin1",
            output: "ffn.lin2", outputLayerNorm: "output_layer_norm")
    }
}
