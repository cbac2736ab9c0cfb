import BertBLAS
import Foundation

/// Sentence embeddings as an `EncoderTask`, with the folder's sentence-transformers settings
/// (`SentenceEmbedder` reads them; its `pool` pools and normalizes).
struct SentenceEmbedding: EncoderTask {
    let model: LoadedModel
    let settings: SentenceEmbedder

    init(model: LoadedModel) throws {
        self.model = model
        settings = try SentenceEmbedder(directory: model.directory)
    }

    func encode(_ input: String) throws -> [Encoding] {
        [model.tokenizer.encode(settings.lowercase ? input.lowercased() : input, truncation: Truncation(maxLength: settings.maxLength))]
    }

    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        settings.pool(output, sequence: b)
    }

    func finish(_ input: String, encodings: [Encoding], partials: [[Float]]) throws -> [Float] {
        partials[0]
    }
}
