import Foundation
import Testing
@testable import BertBLAS

/// The next-sentence head (pooler + tanh + `cls.seq_relationship`) against PyTorch autograd:
/// alone on a tiny random BertForNextSentencePrediction (scripts/goldens_finetune.py, `nsp`), and
/// beside the masked-LM head on a tiny random BertForPreTraining (`pretraining`: MLM + NSP loss
/// summed); the losses, logits and every parameter's gradient, both kernels.
@Suite struct NextSentenceParityTests {
    struct NSPExpected: Decodable {
        var ids: [[Int32]]
        var type_ids: [[Int32]]
        var labels: [Int]
        var loss: Float
        var logits: [[Float]]
    }

    struct PreTrainingExpected: Decodable {
        var ids: [[Int32]]
        var type_ids: [[Int32]]
        var labels: [[Int32]]
        var next_sentence_labels: [Int]
        var loss: Float
        var mlm_loss: Float
        var nsp_loss: Float
        var masked_tokens: Int
        var masked_logits: [[Float]]
        var nsp_logits: [[Float]]
    }

    static func load<T: Decodable>(_ name: String, as: T.Type) throws -> (URL, T) {
        let folder = Paths.golden("finetune/\(name)")
        return (folder, try JSONDecoder().decode(T.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json"))))
    }

    static func maxDiff(_ ours: some Sequence<Float>, _ torch: [[Float]]) -> Float {
        let a = Array(ours), b = Array(torch.joined())
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test(arguments: Kernel.allCases)
    func nextSentenceGradientsMatchAutograd(kernel: Kernel) throws {
        let (folder, expected) = try Self.load("nsp", as: NSPExpected.self)
        let model = try TrainableNextSentencePredictor(directory: folder, kernel: kernel)
        #expect(Set(expected.labels) == [0, 1])
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        #expect(abs(loss.mean - expected.loss) <= 1e-5 * abs(expected.loss), "loss \(loss.mean), torch \(expected.loss)")
        let logits = try model.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws)
        let logitDiff = Self.maxDiff(logits, expected.logits)
        #expect(logitDiff <= 1e-5, "logits max abs diff \(logitDiff)")
        let correct = zip(expected.logits, expected.labels).filter { ($0[1] > $0[0] ? 1 : 0) == $1 }.count
        #expect(loss.correct == correct && loss.sequences == 4)
        // Embeddings 5, 2 layers × 16, pooler 2, seq_relationship 2.
        _ = try QuestionAnswererParityTests.worstGradient(model.parameters, folder: folder, count: 41, label: "nsp \(kernel)")
    }

    @Test(arguments: Kernel.allCases)
    func preTrainingGradientsMatchAutograd(kernel: Kernel) throws {
        let (folder, expected) = try Self.load("pretraining", as: PreTrainingExpected.self)
        let model = try TrainableMaskedLM(directory: folder, kernel: kernel, nextSentence: true)
        #expect(model.hasNextSentenceHead && model.tiedDecoder)
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels,
                                              nextSentenceLabels: expected.next_sentence_labels, workspace: ws)
        let nsp = try #require(loss.nextSentence)
        #expect(loss.maskedTokens == expected.masked_tokens)
        #expect(abs(loss.mean - expected.mlm_loss) <= 1e-5 * expected.mlm_loss, "MLM loss \(loss.mean), torch \(expected.mlm_loss)")
        #expect(abs(nsp.mean - expected.nsp_loss) <= 1e-5 * expected.nsp_loss, "NSP loss \(nsp.mean), torch \(expected.nsp_loss)")
        #expect(abs(loss.mean + nsp.mean - expected.loss) <= 1e-5 * expected.loss)
        let v = model.vocabularySize
        let masked = UnsafeBufferPointer(start: ws.head[TrainableMaskedLM.Slot.logits.rawValue], count: expected.masked_tokens * v)
        let nspLogits = UnsafeBufferPointer(start: ws.head[TrainableMaskedLM.Slot.allCases.count + TrainableNextSentenceHead.Slot.logits.rawValue],
                                            count: 8)
        #expect(Self.maxDiff(masked, expected.masked_logits) <= 1e-5)
        #expect(Self.maxDiff(nspLogits, expected.nsp_logits) <= 1e-5)
        // BertForMaskedLM's 42 (the word embeddings' including the tied decoder's), pooler 2, seq_relationship 2.
        _ = try QuestionAnswererParityTests.worstGradient(model.parameters, folder: folder, count: 46, label: "pretraining \(kernel)")

        // Without next-sentence labels the NSP head gets no gradient and the MLM loss is the same.
        model.parameters.zeroGradients()
        let mlmOnly = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        #expect(mlmOnly.nextSentence == nil && mlmOnly.mean == loss.mean)
        let head = try #require(model.parameters.entries.first { $0.name.hasPrefix("cls.seq_relationship.weight") })
        #expect(model.parameters.gradients(of: head).allSatisfy { $0 == 0 })
    }

    /// Labels other than 0/1, of the wrong count, or given to a model without the head are refused.
    @Test func badLabelsAreRejected() throws {
        let (folder, expected) = try Self.load("pretraining", as: PreTrainingExpected.self)
        let plain = try TrainableMaskedLM(directory: folder)
        #expect(!plain.hasNextSentenceHead)
        let ws = try plain.makeWorkspace(maxBatch: 4, maxLength: 16)
        #expect(throws: BertError.self) {
            try plain.lossAndGradients(ids: expected.ids, labels: expected.labels, nextSentenceLabels: [0, 1, 1, 0], workspace: ws)
        }
        let nsp = try TrainableNextSentencePredictor(directory: folder)
        let nws = try nsp.makeWorkspace(maxBatch: 4, maxLength: 16)
        #expect(throws: BertError.self) { try nsp.lossAndGradients(ids: expected.ids, labels: [0, 1, 2, 0], workspace: nws) }
        #expect(throws: BertError.self) { try nsp.lossAndGradients(ids: expected.ids, labels: [0, 1], workspace: nws) }
        // A masked-LM checkpoint without cls.seq_relationship names what is missing.
        do {
            _ = try TrainableNextSentencePredictor(directory: Paths.golden("finetune/mlm"))
            Issue.record("a BertForMaskedLM without an NSP head was accepted")
        } catch let error as BertError {
            #expect(error.message.contains("seq_relationship"), "\(error.message)")
        }
    }
}
