import Foundation
import Testing
@testable import BertBLAS

/// Sentence embeddings against sentence-transformers (all-MiniLM-L6-v2 goldens) and pooling
/// against transformers' hidden states (tiny checkpoints).
@Suite struct SentenceEmbedderTests {
    struct GoldenText: Decodable { var text: String; var tokens: Int }

    /// The MiniLM goldens: texts and sentence-transformers `encode` vectors [count, 384].
    static func miniLMGoldens() throws -> (texts: [GoldenText], vectors: [[Float]]) {
        let lines = try String(contentsOf: Paths.golden("encoder/minilm_texts.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode(GoldenText.self, from: Data($0.utf8)) }
        let raw = try Data(contentsOf: Paths.golden("encoder/minilm_embeddings.f32"))
        let floats = raw.withUnsafeBytes { bytes in
            (0..<(raw.count / 4)).map { Float(bitPattern: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) }
        }
        let dim = floats.count / lines.count
        return (lines, (0..<lines.count).map { Array(floats[($0 * dim)..<(($0 + 1) * dim)]) })
    }

    static func compare(_ a: [Float], _ b: [Float]) -> (cosine: Double, maxAbs: Float) {
        guard a.count == b.count, !a.isEmpty else { return (0, .infinity) }
        var dot = 0.0, na = 0.0, nb = 0.0
        var maxAbs: Float = 0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y)
            maxAbs = max(maxAbs, abs(x - y))
        }
        return (dot / (na.squareRoot() * nb.squareRoot()), maxAbs)
    }

    static var haveMiniLM: Bool {
        FileManager.default.fileExists(atPath: Paths.miniLM.appendingPathComponent("model.safetensors").path)
    }

    /// Measured on all 301 golden texts (bert embed, OpenBLAS, 2 threads): max abs 2.2e-7,
    /// 1 − cosine 8e-13. The limits keep a 10× margin on max abs; an approximate GELU (tanh)
    /// moves vectors by about 1e-4 and fails them.
    static let maxAbsLimit: Float = 2e-6
    static let cosineLimit = 1 - 1e-9

    @Test func libraryMatchesSentenceTransformers() throws {
        try #require(Self.haveMiniLM, "needs .cache/models/all-MiniLM-L6-v2 (make models)")
        let (texts, vectors) = try Self.miniLMGoldens()
        let embedder = try SentenceEmbedder(directory: Paths.miniLM)
        #expect(embedder.pooling == [.mean])
        #expect(embedder.normalize)
        #expect(embedder.maxLength == 256)
        #expect(embedder.notes.isEmpty)
        // Every 6th text: short snippets and long (truncated) articles, in mixed batches.
        let picked = Array(stride(from: 0, to: texts.count, by: 6))
        #expect(picked.contains { texts[$0].tokens > 256 })
        let got = try embedder.embed(picked.map { texts[$0].text }, batchSize: 16)
        for (i, index) in picked.enumerated() {
            let (cosine, maxAbs) = Self.compare(got[i], vectors[index])
            #expect(cosine >= Self.cosineLimit && maxAbs <= Self.maxAbsLimit, "text \(index): cosine \(cosine), max abs \(maxAbs)")
        }
    }

    /// `bert embed` on all golden texts (256 review snippets, 45 BBC articles, most over 256 tokens).
    @Test func cliMatchesSentenceTransformers() throws {
        try #require(Self.haveMiniLM, "needs .cache/models/all-MiniLM-L6-v2 (make models)")
        let (texts, vectors) = try Self.miniLMGoldens()
        #expect(texts.count >= 300)
        #expect(texts.filter { $0.tokens > 256 }.count >= 30)
        let result = try CLI.run("bert", ["embed", "--model", Paths.miniLM.path],
                                 stdin: texts.map(\.text).joined(separator: "\n") + "\n")
        #expect(result.status == 0, "\(result.stderr)")
        let records = try result.jsonLines()
        try #require(records.count == texts.count)
        var worst = (cosine: 1.0, maxAbs: Float(0))
        for (i, record) in records.enumerated() {
            let numbers = try #require((record as? [String: Any])?["embedding"] as? [NSNumber])
            let (cosine, maxAbs) = Self.compare(numbers.map(\.floatValue), vectors[i])
            worst = (min(worst.cosine, cosine), max(worst.maxAbs, maxAbs))
            #expect(cosine >= Self.cosineLimit && maxAbs <= Self.maxAbsLimit, "line \(i + 1): cosine \(cosine), max abs \(maxAbs)")
        }
        #expect(result.stderr.isEmpty || !result.stderr.contains("note:"), "a complete sentence-transformers folder needs no note")
    }

    // MARK: - Pooling on the tiny checkpoints (expected values from transformers' hidden states)

    struct Expected: Decodable {
        var texts: [String]
        var input_ids: [[Int32]]
        var last_hidden_state: [[Float]]
    }

    static func tiny() throws -> (URL, Expected) {
        let folder = Paths.golden("encoder/tiny-gelu-uncased")
        let data = try Data(contentsOf: folder.appendingPathComponent("expected.json"))
        return (folder, try JSONDecoder().decode(Expected.self, from: data))
    }

    /// The single-sentence goldens (the last ones are pairs).
    static let singles = 0..<8

    @Test(arguments: [PoolingMode.mean, .cls, .max, .meanSqrtLen])
    func poolingEqualsTheReferenceHiddenStates(mode: PoolingMode) throws {
        let (folder, expected) = try Self.tiny()
        let embedder = try SentenceEmbedder(directory: folder, pooling: mode)
        let texts = Self.singles.map { expected.texts[$0] }
        let vectors = try embedder.embed(texts, batchSize: 3)
        for i in Self.singles {
            #expect(embedder.tokenizer.encode(texts[i]).ids == expected.input_ids[i])
            let h = 32, rows = expected.last_hidden_state[i], t = rows.count / h
            var want = [Float](repeating: 0, count: h)
            for j in 0..<h {
                let column = (0..<t).map { rows[$0 * h + j] }
                switch mode {
                case .cls: want[j] = column[0]
                case .max: want[j] = column.max() ?? 0
                case .mean: want[j] = column.reduce(0, +) / Float(t)
                case .meanSqrtLen: want[j] = column.reduce(0, +) / Float(t).squareRoot()
                }
            }
            let diff = zip(vectors[i], want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(vectors[i].count == h && diff <= 1e-4, "\(mode) text \(i): \(diff)")
        }
    }

    @Test func plainFolderDefaultsToMeanWithoutNormalizationAndSaysSo() throws {
        let (folder, expected) = try Self.tiny()
        let embedder = try SentenceEmbedder(directory: folder)
        #expect(embedder.pooling == [.mean])
        #expect(!embedder.normalize)
        #expect(embedder.maxLength == 64)  // model_max_length 64 = max_position_embeddings
        #expect(embedder.notes.count == 3)
        let normalized = try SentenceEmbedder(directory: folder, normalize: true)
        let v = try normalized.embed([expected.texts[0]])[0]
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) <= 1e-5)

        let result = try CLI.run("bert", ["embed", "--model", folder.path], stdin: "The film was good.\n\n")
        #expect(result.status == 0)
        #expect(result.stderr.contains("note:") && result.stderr.contains("mean pooling"))
        let records = try result.jsonLines()
        #expect(records.count == 2)  // the empty line embeds [CLS] [SEP], as sentence-transformers
    }

    @Test func truncatesToMaxLength() throws {
        let (folder, _) = try Self.tiny()
        let embedder = try SentenceEmbedder(directory: folder, maxLength: 5)
        let long = String(repeating: "the film ", count: 100)
        let a = try embedder.embed([long])[0]
        let b = try embedder.embed(["the film the"])[0]  // [CLS] the film the [SEP]
        #expect(zip(a, b).map { abs($0 - $1) }.max() ?? 1 <= 1e-6)
        #expect(throws: BertError.self) { try SentenceEmbedder(directory: folder, maxLength: 1) }
    }

    @Test func badSentenceTransformersFilesThrow() throws {
        let (folder, _) = try Self.tiny()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-st-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: folder, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        let pooling = dir.appendingPathComponent("1_Pooling/config.json")
        try Data(#"{"pooling_mode_lasttoken": true}"#.utf8).write(to: pooling)
        #expect(throws: BertError.self) { try SentenceEmbedder(directory: dir) }
        try Data("{oops".utf8).write(to: pooling)
        #expect(throws: BertError.self) { try SentenceEmbedder(directory: dir) }
        try Data(#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#.utf8).write(to: pooling)
        let both = try SentenceEmbedder(directory: dir)
        #expect(both.pooling == [.cls, .mean] && both.dimension == 64)
    }
}
