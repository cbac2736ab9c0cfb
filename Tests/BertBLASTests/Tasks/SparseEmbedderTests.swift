import BertBLAS
import Foundation
import Testing

/// SPLADE vectors of the real SPLADE-tiny checkpoint against transformers (max over tokens of
/// log(1 + ReLU(MLM logits)), Tests/Goldens/server/splade_sparse.json by scripts/goldens_server.py).
@Suite struct SparseEmbedderTests {
    struct Case: Decodable {
        var text: String
        var tokens: Int
        var indices: [Int]
        var values: [Float]
    }
    struct Golden: Decodable { var cases: [Case] }

    static func golden() throws -> [Case] {
        let data = try Data(contentsOf: Paths.golden("server/splade_sparse.json"))
        return try JSONDecoder().decode(Golden.self, from: data).cases
    }

    /// Max abs difference of two sparse vectors over every entry; entries either side leaves out
    /// count as 0 (an entry at the ReLU floor may be just above 0 on one side only).
    static func maxDiff(_ got: SparseEmbedding, indices: [Int], values: [Float]) -> Float {
        var want = [Int: Float]()
        for (i, v) in zip(indices, values) { want[i] = v }
        var diff: Float = 0
        for (i, v) in zip(got.indices, got.values) { diff = max(diff, abs(v - (want.removeValue(forKey: i) ?? 0))) }
        for v in want.values { diff = max(diff, abs(v)) }
        return diff
    }

    @Test func equalsTransformers() throws {
        guard FileManager.default.fileExists(atPath: Paths.spladeMLM.appendingPathComponent("model.safetensors").path) else {
            Issue.record("SPLADE model missing at \(Paths.spladeMLM.path): run `make models`")
            return
        }
        let cases = try Self.golden()
        #expect(cases.count == 7)
        for kernel in [Kernel.blas, .naive] {
            let embedder = try SparseEmbedder(directory: Paths.spladeMLM, kernel: kernel)
            let batched = try embedder.embed(cases.map(\.text), batchSize: 4)
            for (c, got) in zip(cases, batched) {
                #expect(got.dimension == 30522)
                #expect(try embedder.encode(c.text)[0].count == c.tokens, "\(c.text)")
                #expect(got.indices == got.indices.sorted() && got.values.allSatisfy { $0 > 0 })
                // Entries go up to 2.5; float32 sums in another order than PyTorch's differ far below 1e-4.
                let diff = Self.maxDiff(got, indices: c.indices, values: c.values)
                #expect(diff < 1e-4, "\(kernel) \(c.text): max abs diff \(diff)")
                // Every entry of weight above 1e-3 on either side is on both.
                let strong = Set(zip(c.indices, c.values).filter { $0.1 > 1e-3 }.map(\.0))
                let gotStrong = Set(zip(got.indices, got.values).filter { $0.1 > 1e-3 }.map(\.0))
                #expect(strong.isSubset(of: Set(got.indices)) && gotStrong.isSubset(of: Set(c.indices)), "\(c.text)")
            }
            // Alone or in a batch: the same vector within float noise.
            let alone = try embedder.run(cases[2].text)
            #expect(Self.maxDiff(alone, indices: batched[2].indices, values: batched[2].values) < 1e-5)
        }
    }

    @Test func refusesCheckpointWithoutMaskedLMHead() throws {
        #expect(throws: BertError.self) { try SparseEmbedder(directory: Paths.headModels.appendingPathComponent("cls-binary")) }
    }
}
