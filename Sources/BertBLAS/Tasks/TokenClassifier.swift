import Foundation

/// A HuggingFace `BertForTokenClassification` checkpoint (NER and other taggers), decoding
/// entities as transformers' token-classification pipeline does.
///
/// Per-token `classifier` logits, softmax, then one of the ``AggregationStrategy`` groupings;
/// entity `start`/`end` are code-point offsets into the input text. Immutable and `Sendable`.
public final class TokenClassifier: EncoderTask {
    /// One text and how its tokens become entities.
    public struct Input: Sendable {
        public var text: String
        /// How tokens merge into entities (default `.none`, one entry per token).
        public var aggregation: AggregationStrategy
        /// Labels (or entity groups) left out (default `["O"]`).
        public var ignoreLabels: Set<String>
        public init(_ text: String, aggregation: AggregationStrategy = .none, ignoreLabels: Set<String> = ["O"]) {
            self.text = text
            self.aggregation = aggregation
            self.ignoreLabels = ignoreLabels
        }
    }

    public let model: LoadedModel
    let head: ClassifierHead

    /// Tag names in `id2label` order (e.g. `O`, `B-PER`, `I-PER`, ...).
    public var labels: [String] { head.labels }
    /// The longest input in tokens; longer texts are truncated (as the HF pipeline does).
    public var maxLength: Int { model.maxLength }

    /// A token-classification task on a loaded folder.
    ///
    /// - Throws: `.missingTensor` naming `classifier.weight`/`.bias` when the checkpoint has no
    ///   token-classification head.
    public init(model: LoadedModel) throws {
        self.model = model
        head = try ClassifierHead(model.weights, names: model.config.tensorNames.heads.tokenClassifier,
                                  config: model.config, task: .tokenClassification)
    }

    /// Loads a folder, then builds the task (see `init(model:)`).
    public convenience init(directory: URL, kernel: Kernel = .blas) throws {
        try self.init(model: LoadedModel(directory: directory, kernel: kernel))
    }

    /// - Throws: `BertError.invalidInput` when the text is empty or blank.
    public func encode(_ input: Input) throws -> [Encoding] {
        try TaskInput.requireText(input.text, "text")
        return [model.tokenizer.encode(input.text, truncation: Truncation(maxLength: maxLength))]
    }

    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        head.forward(output.hiddenStates(sequence: b), rows: encoding.count, kernel: model.kernel)
    }

    public func finish(_ input: Input, encodings: [Encoding], partials: [[Float]]) throws -> [Entity] {
        let encoding = encodings[0]
        let rows = TokenRows(ids: encoding.ids.map(Int.init), tokens: encoding.tokens,
                             offsets: encoding.offsets.map { ($0.start, $0.end) },
                             special: encoding.specialTokensMask.map { $0 != 0 })
        return EntityDecoder(labels: labels, tokenizer: model.tokenizer)
            .decode(logits: partials[0], rows: rows, text: input.text, strategy: input.aggregation,
                    ignoreLabels: input.ignoreLabels)
    }

    /// Finds the entities of one text, in text order (empty when every token is ignored).
    ///
    /// - Throws: `BertError.invalidInput` when `text` is empty or blank.
    public func entities(in text: String, aggregation: AggregationStrategy = .none,
                         ignoreLabels: Set<String> = ["O"]) throws -> [Entity] {
        try run(Input(text, aggregation: aggregation, ignoreLabels: ignoreLabels))
    }

    /// Finds the entities of several texts, batched; results keep the input order.
    public func entities(in texts: [String], aggregation: AggregationStrategy = .none,
                         ignoreLabels: Set<String> = ["O"], batchSize: Int = 32) throws -> [[Entity]] {
        try run(texts.map { Input($0, aggregation: aggregation, ignoreLabels: ignoreLabels) }, batchSize: max(1, batchSize))
    }
}
