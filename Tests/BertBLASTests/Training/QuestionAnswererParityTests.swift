import Foundation
import Testing
@testable import BertBLAS

/// The question-answering head's backward pass against PyTorch autograd on a tiny random
/// BertForQuestionAnswering (scripts/goldens_finetune.py, `qa`): one packed batch of 4
/// sequences with a start and end position each (one the null answer at [CLS]); the loss, every
/// token's start and end logits and every parameter's gradient, both kernels.
@Suite struct QuestionAnswererParityTests {
    struct Expected: Decodable {
        var ids: [[Int32]]
        var type_ids: [[Int32]]
        var start_positions: [Int]
        var end_positions: [Int]
        var loss: Float
        var start_logits: [[Float]]
        var end_logits: [[Float]]
    }

    static func load() throws -> (URL, Expected) {
        let folder = Paths.golden("finetune/qa")
        return (folder, try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json"))))
    }

    /// Checks every gradient and returns the worst relative difference. The attention key bias,
    /// and the parameters in `zero`, have a gradient that is exactly zero by mathematics, so
    /// theirs and autograd's are checked to be noise-sized instead.
    static func worstGradient(_ parameters: ParameterSet, folder: URL, count: Int, label: String,
                              zero: Set<String> = []) throws -> Float {
        let results = try GradientParityTests.compare(parameters, gradients: true,
                                                      against: folder.appendingPathComponent("gradients.safetensors"))
        #expect(results.count == count, "\(label): \(results.count) gradients")
        let largest = results.map(\.2).max() ?? 0
        var worst: Float = 0
        for (parameter, diff, scale) in results {
            if GradientParityTests.isKeyBias(parameter) || zero.contains(parameter) {
                #expect(scale <= 1e-6 * largest && diff <= 2e-6 * largest, "\(label) \(parameter): |torch| \(scale), diff \(diff)")
                continue
            }
            let relative = diff / scale
            worst = max(worst, relative)
            #expect(scale > 0 && relative <= 1e-4, "\(label) \(parameter): max abs diff \(diff), torch max \(scale) (relative \(relative))")
        }
        #expect(worst > 0, "\(label): gradients equal to the bit are suspicious for float sums in another order")
        return worst
    }

    @Test(arguments: Kernel.allCases)
    func everyGradientMatchesAutograd(kernel: Kernel) throws {
        let (folder, expected) = try Self.load()
        let model = try TrainableQuestionAnswerer(directory: folder, kernel: kernel)
        #expect(expected.start_positions.contains(0), "the null answer at [CLS] is covered")
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, startPositions: expected.start_positions,
                                              endPositions: expected.end_positions, workspace: ws)
        #expect(abs(loss - expected.loss) <= 1e-5 * abs(expected.loss), "loss \(loss), torch \(expected.loss)")
        let (start, end) = try model.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws)
        let startDiff = zip(Array(start), expected.start_logits.joined()).map { abs($0 - $1) }.max() ?? .infinity
        let endDiff = zip(Array(end), expected.end_logits.joined()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(start.count == expected.start_logits.joined().count && end.count == start.count)
        #expect(startDiff <= 1e-5 && endDiff <= 1e-5, "start logits max abs diff \(startDiff), end \(endDiff)")
        // (The second forward does not touch the gradients.) Embeddings 5, 2 layers × 16, qa_outputs 2.
        // Each sequence's start (end) gradients sum to zero (softmax − one-hot), so the
        // gradient of qa_outputs.bias, and of the last LayerNorm's bias (the rows' sum of
        // dLogits · W), is exactly zero: autograd's is rounding noise.
        _ = try Self.worstGradient(model.parameters, folder: folder, count: 39, label: "\(kernel)",
                                           zero: ["qa_outputs.bias", "bert.encoder.layer.1.output.LayerNorm.bias"])
    }

    /// Positions outside a sequence and counts that do not match the batch are refused, naming
    /// the sequence; an encoder without qa_outputs needs `newHead`.
    @Test func badPositionsAreRejected() throws {
        let (folder, expected) = try Self.load()
        let model = try TrainableQuestionAnswerer(directory: folder, kernel: .naive)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        var beyond = expected.end_positions
        beyond[3] = expected.ids[3].count
        do {
            _ = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, startPositions: expected.start_positions,
                                           endPositions: beyond, workspace: ws)
            Issue.record("an end position past the sequence was accepted")
        } catch let error as BertError {
            #expect(error.message.contains("sequence 3"), "\(error.message)")
        }
        #expect(throws: BertError.self) {
            try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, startPositions: [0],
                                       endPositions: [0], workspace: ws)
        }
        let encoderOnly = Paths.golden("finetune/mlm")
        #expect(throws: BertError.self) { try TrainableQuestionAnswerer(directory: encoderOnly) }
        let fresh = try TrainableQuestionAnswerer(directory: encoderOnly, newHead: true)
        #expect(fresh.parameters.entries.contains { $0.name == "qa_outputs.weight" })
    }
}
