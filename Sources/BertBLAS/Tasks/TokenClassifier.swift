import Foundation

/// A HuggingFace `BertForTokenClassification` checkpoint (NER and other taggers), decoding
/// entities as transformers' token-classification pipeline does.
///
/// Per-token `classifier` logits, softmax, then one of the ``AggregationStrategy`` groupings;
/// entity `start`/`end` are code-point offsets into the input text. Immutable and `Sendable`.
public final class TokenClassifier: Sendable {
    let backbone: TaskBackbone
    let head: ClassifierHead

    /// Tag names in `id2label` order (e.g. `O`, `B-PER`, `I-PER`, ...).
    public var labels: [String] { head.labels }
    /// The longest input in tokens; longer texts are truncated (as the HF pipeline does).
    public var maxLength: Int { backbone.maxLength }

    /// Loads a `BertForTokenClassification` folder.
    ///
    /// - Parameters:
    ///   - directory: the model folder.
    ///   - kernel: `.blas` (default) or `.naive`.
    /// - Throws: `BertError` from loading; `.missingTensor` naming `classifier.weight`/`.bias` when
    ///   the checkpoint has no token-classification head.
    public init(directory: URL, kernel: Kernel = .blas) throws {
        backbone = try TaskBackbone(directory: directory, kernel: kernel)
        head = try ClassifierHead(backbone.model.weights, names: backbone.config.tensorNames.heads.tokenClassifier,
                                  config: backbone.config, task: .tokenClassification)
    }

    /// Finds the entities of one text.
    ///
    /// - Parameters:
    ///   - text: the text.
    ///   - aggregation: how tokens merge into entities (default `.none`, one entry per token).
    ///   - ignoreLabels: labels (or entity groups) left out (default `["O"]`).
    /// - Returns: the entities in text order; empty when every token is ignored.
    /// - Throws: `BertError.invalidInput` when `text` is empty or blank.
    public func entities(in text: String, aggregation: AggregationStrategy = .none,
                         ignoreLabels: Set<String> = ["O"]) throws -> [Entity] {
        try entities(in: [text], aggregation: aggregation, ignoreLabels: ignoreLabels)[0]
    }

    /// Finds the entities of several texts, batched; results keep the input order.
    public func entities(in texts: [String], aggregation: AggregationStrategy = .none,
                         ignoreLabels: Set<String> = ["O"], batchSize: Int = 32) throws -> [[Entity]] {
        let truncation = Truncation(maxLength: maxLength)
        let encodings = try texts.enumerated().map { i, text in
            try TaskBackbone.requireText(text, "text \(i + 1)")
            return backbone.tokenizer.encode(text, truncation: truncation)
        }
        let decoder = EntityDecoder(labels: labels, unknownId: Int(backbone.tokenizer.specialTokens.unk))
        var results: [[Entity]] = []
        try backbone.forEachBatch(encodings, batchSize: batchSize) { first, output in
            for b in 0..<output.batchSize {
                let encoding = encodings[first + b]
                let states = output.hiddenStates(sequence: b)
                guard let base = states.baseAddress else {
                    results.append([])
                    continue
                }
                let logits = head.forward(base, rows: encoding.count, kernel: backbone.model.kernel)
                let rows = TokenRows(ids: encoding.ids.map(Int.init), tokens: encoding.tokens,
                                     offsets: encoding.offsets.map { ($0.start, $0.end) },
                                     special: encoding.specialTokensMask.map { $0 != 0 })
                results.append(decoder.decode(logits: logits, rows: rows, text: texts[first + b],
                                              strategy: aggregation, ignoreLabels: ignoreLabels))
            }
        }
        return results
    }
}
