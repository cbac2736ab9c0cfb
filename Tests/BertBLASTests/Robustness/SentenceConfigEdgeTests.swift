import Foundation
import Testing
@testable import BertBLAS

/// sentence-transformers side files with hostile values.
@Suite struct SentenceConfigEdgeTests {
    static let tiny = Paths.golden("encoder/tiny-gelu-uncased")

    static func embedder(sentenceBertConfig: String) throws -> Result<SentenceEmbedder, BertError> {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-st-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: tiny, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(sentenceBertConfig.utf8).write(to: dir.appendingPathComponent("sentence_bert_config.json"))
        do { return .success(try SentenceEmbedder(directory: dir)) } catch let e as BertError { return .failure(e) }
    }

    /// Before: max_seq_length 0 or -5 was taken as the max length and silently disabled truncation
    /// (encode ignores a max length below the special tokens); now it is an error naming the file.
    @Test func badMaxSeqLengthThrowsNamingTheFile() throws {
        for value in ["0", "1", "-5", "\"128\"", "1.5"] {
            guard case .failure(let e) = try Self.embedder(sentenceBertConfig: #"{"max_seq_length": \#(value)}"#) else {
                Issue.record("max_seq_length \(value) accepted"); continue
            }
            #expect(e.message.contains("sentence_bert_config.json") && e.message.contains("max_seq_length"), "\(e.message)")
        }
        // Valid, huge (capped by max_position_embeddings 64) and null (absent) all load.
        for value in ["16", "1000000000", "null"] {
            guard case .success(let embedder) = try Self.embedder(sentenceBertConfig: #"{"max_seq_length": \#(value)}"#) else {
                Issue.record("max_seq_length \(value) rejected"); continue
            }
            #expect(embedder.maxLength == (value == "16" ? 16 : 64))
            #expect(try embedder.embed([String(repeating: "word ", count: 100)]).count == 1)
        }
    }
}
