import Foundation

/// The tokenizer and encoder of one model folder: what every task pipeline starts from.
struct TaskBackbone: Sendable {
    let directory: URL
    let tokenizer: BertTokenizer
    let model: BertModel

    /// Loads `config.json`, `model.safetensors` and the tokenizer files of `directory`.
    init(directory: URL, kernel: Kernel) throws {
        self.directory = directory
        model = try BertModel(directory: directory, kernel: kernel)
        tokenizer = try BertTokenizer(directory: directory)
    }

    var config: BertConfig { model.config }

    /// The longest sequence the model takes: the tokenizer's `model_max_length`, capped by
    /// `max_position_embeddings`.
    var maxLength: Int { min(tokenizer.modelMaxLength, model.config.maxSequenceLength) }

    /// Runs the encoder over `encodings` in batches of at most `batchSize`, calling `body` with
    /// each batch's output and the index of its first encoding.
    ///
    /// - Throws: `BertError.invalidInput` when an encoding is empty or longer than the model takes.
    func forEachBatch(_ encodings: [Encoding], batchSize: Int = 32,
                      _ body: (_ first: Int, _ output: EncoderOutput) throws -> Void) throws {
        guard !encodings.isEmpty else { return }
        let longest = encodings.map(\.count).max() ?? 1
        guard longest <= model.config.maxSequenceLength else {
            throw BertError(.invalidInput, "an input has \(longest) tokens, more than the model's \(model.config.maxSequenceLength) positions")
        }
        let batch = max(1, min(batchSize, encodings.count))
        let workspace = try model.makeWorkspace(maxBatch: batch, maxLength: max(longest, 1))
        var first = 0
        while first < encodings.count {
            let slice = encodings[first..<min(first + batch, encodings.count)]
            let output = try model.forward(ids: slice.map(\.ids), typeIds: slice.map(\.typeIds), workspace: workspace)
            try body(first, output)
            first += batch
        }
    }

    /// Requires a non-empty, non-blank text.
    static func requireText(_ text: String, _ what: String) throws {
        guard text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw BertError(.invalidInput, "\(what) is empty")
        }
    }
}
