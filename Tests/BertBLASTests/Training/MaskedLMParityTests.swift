import Foundation
import Testing
@testable import BertBLAS

/// The masked-LM head's backward against PyTorch autograd on a tiny random BertForMaskedLM
/// (scripts/goldens_finetune.py, `mlm`): one masked batch's loss, the masked positions'
/// logits and every parameter's gradient, the word embeddings' including the tied decoder's.
@Suite struct MaskedLMParityTests {
    struct Expected: Decodable {
        var ids: [[Int32]]
        var type_ids: [[Int32]]
        var labels: [[Int32]]
        var loss: Float
        var masked_tokens: Int
        var masked_logits: [[Float]]
    }

    static func load() throws -> (URL, Expected) {
        let folder = Paths.golden("finetune/mlm")
        let data = try Data(contentsOf: folder.appendingPathComponent("expected.json"))
        return (folder, try JSONDecoder().decode(Expected.self, from: data))
    }

    /// Worst relative gradient difference, after checking each parameter (the key bias as noise).
    static func worstGradient(_ model: TrainableMaskedLM, folder: URL, label: String) throws -> Float {
        let results = try GradientParityTests.compare(model.parameters, gradients: true,
                                                      against: folder.appendingPathComponent("gradients.safetensors"))
        // 2 layers × 16 + embeddings 5 + transform 4 + decoder bias 1 (no pooler in BertForMaskedLM).
        #expect(results.count == 42)
        let largest = results.map(\.2).max() ?? 0
        var worst: Float = 0
        for (parameter, diff, scale) in results {
            if GradientParityTests.isKeyBias(parameter) {
                #expect(scale <= 1e-6 * largest && diff <= 2e-6 * largest, "\(label) \(parameter): |torch| \(scale), diff \(diff)")
                continue
            }
            let relative = diff / scale
            worst = max(worst, relative)
            #expect(scale > 0 && relative <= 1e-4, "\(label) \(parameter): max abs diff \(diff), torch max \(scale) (relative \(relative))")
        }
        return worst
    }

    /// One masked batch through `model` with gradients (zeroed first): the masked-token count,
    /// the loss within 1e-5 relative and the masked positions' logits within 1e-5 of torch's.
    /// Returns the logits' max abs diff.
    @discardableResult
    static func expectLossAndLogitsMatchTorch(_ model: TrainableMaskedLM, ids: [[Int32]], typeIds: [[Int32]], labels: [[Int32]],
                                              loss torchLoss: Float, maskedTokens: Int, maskedLogits: [[Float]],
                                              label: String) throws -> Float {
        let ws = try model.makeWorkspace(maxBatch: ids.count, maxLength: 16)
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: ids, typeIds: typeIds, labels: labels, workspace: ws)
        #expect(loss.maskedTokens == maskedTokens, "\(label): masked tokens")
        #expect(abs(loss.mean - torchLoss) <= 1e-5 * abs(torchLoss), "\(label): loss \(loss.mean), torch \(torchLoss)")
        // All masked rows fit one chunk: the logits slice holds them, in batch order.
        let logits = UnsafeBufferPointer(start: ws.head[TrainableMaskedLM.Slot.logits.rawValue], count: maskedTokens * model.vocabularySize)
        let torch = maskedLogits.flatMap { $0 }
        #expect(torch.count == logits.count, "\(label): masked logits")
        let logitDiff = zip(logits, torch).map { abs($0 - $1) }.max() ?? .infinity
        #expect(logitDiff <= 1e-5, "\(label): masked logits max abs diff \(logitDiff)")
        return logitDiff
    }

    @Test(arguments: Kernel.allCases)
    func lossLogitsAndEveryGradientMatchAutograd(kernel: Kernel) throws {
        let (folder, expected) = try Self.load()
        let model = try TrainableMaskedLM(directory: folder, kernel: kernel)
        #expect(model.tiedDecoder)
        try Self.expectLossAndLogitsMatchTorch(model, ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels,
                                               loss: expected.loss, maskedTokens: expected.masked_tokens,
                                               maskedLogits: expected.masked_logits, label: "\(kernel)")
        let worst = try Self.worstGradient(model, folder: folder, label: "\(kernel)")
        #expect(worst > 0, "gradients equal to the bit are suspicious for float sums in another order")
    }

    /// Decoding the masked rows a few at a time (chunks of 3 for 7 masked rows) gives the same
    /// loss and gradients as one chunk, and the forward-only loss equals the training one.
    @Test func chunkedDecoderAndEvaluationAgree() throws {
        let (folder, expected) = try Self.load()
        let chunked = try TrainableMaskedLM(directory: folder, logitRows: 3)
        let ws = try chunked.makeWorkspace(maxBatch: 4, maxLength: 16)
        let evaluated = try chunked.loss(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        #expect(chunked.parameters.gradients.allSatisfy { $0 == 0 }, "evaluation must not touch the gradients")
        chunked.parameters.zeroGradients()
        let trained = try chunked.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        #expect(evaluated == trained)
        #expect(abs(trained.mean - expected.loss) <= 1e-5 * abs(expected.loss), "loss \(trained.mean), torch \(expected.loss)")
        _ = try Self.worstGradient(chunked, folder: folder, label: "chunks of 3")
    }

    @Test func badBatchesAreRejected() throws {
        let (folder, expected) = try Self.load()
        let model = try TrainableMaskedLM(directory: folder)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        #expect(throws: BertError(.invalidInput, "3 label sequences for 4 id sequences")) {
            try model.loss(ids: expected.ids, labels: Array(expected.labels.prefix(3)), workspace: ws)
        }
        var labels = expected.labels
        labels[1][2] = 50
        #expect(throws: BertError(.invalidInput, "sequence 1, position 2: label 50 is outside the vocabulary of 50")) {
            try model.loss(ids: expected.ids, labels: labels, workspace: ws)
        }
        labels[1] = [-100]
        #expect(throws: BertError(.invalidInput, "sequence 1 has 1 labels for 5 ids")) {
            try model.loss(ids: expected.ids, labels: labels, workspace: ws)
        }
        // A workspace made for the classifier's head is not this head's.
        let classifier = try TrainableSequenceClassifier(directory: Paths.golden("finetune/cls-single"))
        let other = try classifier.makeWorkspace(maxBatch: 4, maxLength: 16)
        #expect(throws: BertError(.invalidInput, "the training workspace was made for another model")) {
            try model.loss(ids: expected.ids, labels: expected.labels, workspace: other)
        }
        #expect(throws: BertError(.invalidInput, "logitRows must be positive, got 0")) {
            try TrainableMaskedLM(directory: folder, logitRows: 0)
        }
    }
}
