import Foundation
import Synchronization
import Testing
@testable import BertBLAS

/// The forward pass against transformers' BertModel on tiny random checkpoints
/// (scripts/goldens_encoder.py): last hidden state of the real tokens and pooler output.
@Suite struct EncoderGoldenTests {
    struct Expected: Decodable {
        var input_ids: [[Int32]]
        var token_type_ids: [[Int32]]
        var last_hidden_state: [[Float]]
        var pooler_output: [[Float]]
    }

    static let models = ["tiny-gelu-uncased", "tiny-gelu_new-cased", "tiny-relu-legacy", "tiny-gelu-f16", "tiny-gelu-bf16"]

    static func load(_ name: String) throws -> (URL, Expected) {
        let folder = Paths.golden("encoder/\(name)")
        let data = try Data(contentsOf: folder.appendingPathComponent("expected.json"))
        return (folder, try JSONDecoder().decode(Expected.self, from: data))
    }

    static func maxAbs(_ a: UnsafeBufferPointer<Float>, _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test(arguments: models, Kernel.allCases)
    func lastHiddenStateAndPoolerMatchTransformers(name: String, kernel: Kernel) throws {
        let (folder, expected) = try Self.load(name)
        let model = try BertModel(directory: folder, kernel: kernel)
        let ws = try model.makeWorkspace(maxBatch: expected.input_ids.count, maxLength: 32)
        let out = try model.forward(ids: expected.input_ids, typeIds: expected.token_type_ids, workspace: ws)
        #expect(out.batchSize == expected.input_ids.count)
        #expect(out.tokenCount == expected.input_ids.map(\.count).reduce(0, +))
        for b in 0..<out.batchSize {
            let hidden = Self.maxAbs(out.hiddenStates(sequence: b), expected.last_hidden_state[b])
            #expect(hidden <= 1e-4, "\(name) \(kernel) sequence \(b): hidden max abs \(hidden)")
            let pooled = Self.maxAbs(try out.pooled(sequence: b), expected.pooler_output[b])
            #expect(pooled <= 1e-4, "\(name) \(kernel) sequence \(b): pooler max abs \(pooled)")
        }
    }

    /// Q, K and V run as one product where the file stores their weights back to back (F32 as
    /// transformers writes it), as three where they were converted at load (F16, BF16): the
    /// golden test above covers both layouts.
    @Test func qkvIsOneProductWhereTheFileAllows() throws {
        for (name, fused) in [("tiny-gelu-uncased", true), ("tiny-relu-legacy", true), ("tiny-gelu-f16", false), ("tiny-gelu-bf16", false)] {
            let (folder, _) = try Self.load(name)
            let model = try BertModel(directory: folder)
            for (i, layer) in model.layers.enumerated() {
                #expect(layer.qkv.isFused == fused, "\(name) layer \(i)")
                let columns = [layer.qkv.queryColumn, layer.qkv.keyColumn, layer.qkv.valueColumn].sorted()
                let h = model.config.hiddenSize
                #expect(columns[1] - columns[0] >= h && columns[2] - columns[1] >= h && columns[2] + h <= Workspace.qkvWidth(hiddenSize: h))
            }
        }
    }

    /// Each sequence alone gives the same rows as in the batch: packing does not leak across sequences.
    @Test func singleSequencesEqualTheBatch() throws {
        let (folder, expected) = try Self.load("tiny-gelu-uncased")
        let model = try BertModel(directory: folder)
        let ws = try model.makeWorkspace(maxBatch: 1, maxLength: 32)
        for b in expected.input_ids.indices {
            let out = try model.forward(ids: [expected.input_ids[b]], typeIds: [expected.token_type_ids[b]], workspace: ws)
            let diff = Self.maxAbs(out.hiddenStates(sequence: 0), expected.last_hidden_state[b])
            #expect(diff <= 1e-4, "sequence \(b): \(diff)")
        }
    }

    @Test func naiveAndBLASAgree() throws {
        let (folder, expected) = try Self.load("tiny-gelu_new-cased")
        let blas = try BertModel(directory: folder, kernel: .blas)
        let naive = try BertModel(directory: folder, kernel: .naive)
        let wsA = try blas.makeWorkspace(maxBatch: 16, maxLength: 32)
        let wsB = try naive.makeWorkspace(maxBatch: 16, maxLength: 32)
        let a = try blas.forward(ids: expected.input_ids, typeIds: expected.token_type_ids, workspace: wsA)
        let b = try naive.forward(ids: expected.input_ids, typeIds: expected.token_type_ids, workspace: wsB)
        let diff = Self.maxAbs(a.lastHiddenState, Array(b.lastHiddenState))
        #expect(diff <= 1e-4)
    }

    /// One shared model, one workspace per thread: concurrent forward passes give the golden rows.
    @Test func sharedModelAcrossThreads() throws {
        let (folder, expected) = try Self.load("tiny-gelu-bf16")
        let model = try BertModel(directory: folder)
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 32)
                for round in 0..<5 {
                    let picked = (0..<3).map { (worker + round + $0 * 3) % expected.input_ids.count }
                    let out = try model.forward(ids: picked.map { expected.input_ids[$0] },
                                                typeIds: picked.map { expected.token_type_ids[$0] }, workspace: ws)
                    for (b, index) in picked.enumerated()
                    where Self.maxAbs(out.hiddenStates(sequence: b), expected.last_hidden_state[index]) > 1e-4 {
                        failures.withLock { $0 += 1 }
                    }
                }
            } catch {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }

    @Test func badInputsThrow() throws {
        let (folder, _) = try Self.load("tiny-gelu-uncased")
        let model = try BertModel(directory: folder)
        let ws = try model.makeWorkspace(maxBatch: 2, maxLength: 8)
        #expect(throws: BertError.self) { try model.forward(ids: [[2, 3], [2, 3], [2, 3]], workspace: ws) }
        #expect(throws: BertError.self) { try model.forward(ids: [Array(repeating: 5, count: 9)], workspace: ws) }
        #expect(throws: BertError.self) { try model.forward(ids: [[]], workspace: ws) }
        #expect(throws: BertError.self) { try model.forward(ids: [[2, 100_000]], workspace: ws) }
        #expect(throws: BertError.self) { try model.forward(ids: [[2, 3]], typeIds: [[0, 7]], workspace: ws) }
        #expect(throws: BertError.self) { try model.makeWorkspace(maxBatch: 1, maxLength: 65) }
    }
}
