/// The BERT descendants BertBLAS runs, chosen by `config.json`'s `model_type`: what each one
/// changes in the config keys, tensor names, embeddings and heads. The layers themselves are
/// BERT's (post-LN attention + feed-forward) in every family.
///
/// | family | `model_type` | token types | positions | embeddings | pooler | sequence head |
/// |---|---|---|---|---|---|---|
/// | bert | `bert` (or none) | yes | 0… | H | when stored | pooler → `classifier` |
/// | distilbert | `distilbert` | no | 0…, or sinusoidal | H | no | first token → `pre_classifier` → ReLU → `classifier` |
/// | roberta | `roberta`, `xlm-roberta` | table, inputs ignored | `padding_idx + 1`… | H | when stored | first token → `classifier.dense` → tanh → `classifier.out_proj` |
/// | electra | `electra` | yes | 0… | E, projected to H | no | first token → `classifier.dense` → GELU → `classifier.out_proj` |
public enum ModelFamily: String, Sendable, CaseIterable {
    case bert, distilbert, roberta, electra

    /// The `model_type` values each family reads, in the order errors list them.
    static let modelTypes: [(String, ModelFamily)] = [
        ("bert", .bert), ("distilbert", .distilbert), ("electra", .electra), ("roberta", .roberta),
        ("xlm-roberta", .roberta),
    ]

    /// Every supported `model_type`, for messages.
    public static var supportedModelTypes: [String] { modelTypes.map(\.0) }

    /// The family of a `model_type`; a config without one is BERT (older BERT checkpoints omit it).
    ///
    /// - Throws: `BertError.config` naming the value and listing the supported ones.
    public init(modelType: String?) throws {
        guard let modelType else {
            self = .bert
            return
        }
        guard let family = Self.modelTypes.first(where: { $0.0 == modelType })?.1 else {
            throw BertError(.config, "model_type \"\(modelType)\" is not supported (supported: \(Self.supportedModelTypes.joined(separator: ", ")))")
        }
        self = family
    }

    /// The family's tensor names.
    public var tensorNames: TensorNames {
        switch self {
        case .bert: .bert
        case .distilbert: .distilbert
        case .roberta: .roberta
        case .electra: .electra
        }
    }

    /// What the sequence classifier reads and the activation after its first dense layer.
    ///
    /// Reference (v4.57.1): `BertForSequenceClassification` (pooler output → `classifier`),
    /// `DistilBertForSequenceClassification` (`hidden_state[:, 0]` → `pre_classifier` → ReLU),
    /// `RobertaClassificationHead` (`features[:, 0, :]` → dense → tanh → `out_proj`),
    /// `ElectraClassificationHead` (dense → `get_activation("gelu")` → `out_proj`).
    var sequenceClassification: (readsPooler: Bool, activation: Activation?) {
        switch self {
        case .bert: (true, nil)
        case .distilbert: (false, .relu)
        case .roberta: (false, .tanh)
        case .electra: (false, .gelu)
        }
    }

    /// The activation of the masked-LM transform: the config's for BERT (`BertPredictionHeadTransform`)
    /// and DistilBERT (`config.activation`), exact GELU for `RobertaLMHead` and
    /// `ElectraGeneratorPredictions` whatever the config says.
    func maskedLMActivation(_ config: BertConfig) -> Activation {
        switch self {
        case .bert, .distilbert: config.activation
        case .roberta, .electra: .gelu
        }
    }
}

/// The task heads `transformers` defines, for messages naming the checkpoint class a head needs.
public enum HeadTask: String, Sendable, CaseIterable {
    case sequenceClassification = "ForSequenceClassification"
    case tokenClassification = "ForTokenClassification"
    case questionAnswering = "ForQuestionAnswering"
    case maskedLM = "ForMaskedLM"
    case nextSentencePrediction = "ForNextSentencePrediction"
}

extension BertConfig {
    /// The transformers class of this checkpoint's family for a task, e.g.
    /// `DistilBertForQuestionAnswering` (`XLMRoberta…` for `model_type` `xlm-roberta`).
    public func className(_ task: HeadTask) -> String {
        let base: String
        switch (family, modelType) {
        case (.roberta, "xlm-roberta"): base = "XLMRoberta"
        case (.bert, _): base = "Bert"
        case (.distilbert, _): base = "DistilBert"
        case (.roberta, _): base = "Roberta"
        case (.electra, _): base = "Electra"
        }
        return base + task.rawValue
    }

    /// The family's tensor names.
    public var tensorNames: TensorNames { family.tensorNames }
}
