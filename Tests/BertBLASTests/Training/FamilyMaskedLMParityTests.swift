import Foundation
import Testing
@testable import BertBLAS

/// The families' masked-LM heads against PyTorch autograd (scripts/goldens_finetune_families.py,
/// section `mlm`): tiny random DistilBertForMaskedLM (activation "relu" from config),
/// RobertaForMaskedLM (a ReLU encoder under the GELU `lm_head`, a padding id inside a sequence)
/// and ElectraForMaskedLM (the generator head H 20 → E 13, decoder tied to the 13-wide word
/// embeddings), each on the BERT masked-LM golden's batch: the loss, the masked positions'
/// logits and every parameter's gradient (the word embeddings' including the tied decoder's),
/// both kernels.
@Suite struct FamilyMaskedLMParityTests {
    struct Expected: Decodable {
        var family: String
        var ids: [[Int32]]
        var type_ids: [[Int32]]
        var labels: [[Int32]]
        var loss: Float
        var masked_tokens: Int
        var masked_logits: [[Float]]
        var gradients: Int
        var frozen: [String]
    }

    static let cases = ["distilbert-mlm", "roberta-mlm", "electra-mlm"]

    static func load(_ name: String) throws -> (URL, Expected) {
        let folder = Paths.golden("finetune/families/\(name)")
        let data = try Data(contentsOf: folder.appendingPathComponent("expected.json"))
        return (folder, try JSONDecoder().decode(Expected.self, from: data))
    }

    @Test(arguments: cases, Kernel.allCases)
    func lossLogitsAndEveryGradientMatchAutograd(name: String, kernel: Kernel) throws {
        let (folder, expected) = try Self.load(name)
        let model = try TrainableMaskedLM(directory: folder, kernel: kernel)
        #expect(model.config.family.rawValue == expected.family)
        #expect(model.tiedDecoder)
        #expect(!model.hasNextSentenceHead)
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        #expect(loss.maskedTokens == expected.masked_tokens)
        #expect(abs(loss.mean - expected.loss) <= 1e-5 * abs(expected.loss), "\(name): loss \(loss.mean), torch \(expected.loss)")
        // All masked rows fit one chunk: the logits slice holds them, in batch order.
        let v = model.vocabularySize
        let logits = UnsafeBufferPointer(start: ws.head[TrainableMaskedLM.Slot.logits.rawValue], count: expected.masked_tokens * v)
        let torch = expected.masked_logits.flatMap { $0 }
        #expect(torch.count == logits.count)
        let logitDiff = zip(logits, torch).map { abs($0 - $1) }.max() ?? .infinity
        #expect(logitDiff <= 1e-5, "\(name): masked logits max abs diff \(logitDiff)")
        let worst = try FamilyGradientParityTests.checkGradients(model.parameters, folder: folder, count: expected.gradients,
                                                                 frozen: expected.frozen, label: "\(name) \(kernel)")
        print("FamilyMaskedLMParity \(name) \(kernel): \(expected.gradients) gradients, worst relative \(worst), logits \(logitDiff)")
    }

    /// The training forward's masked logits equal the inference head's (`MaskedLMHead`, what
    /// `bert fill-mask` runs) on each family, sequence by sequence.
    @Test(arguments: cases)
    func trainingLogitsEqualFillMasks(name: String) throws {
        let (folder, expected) = try Self.load(name)
        let model = try TrainableMaskedLM(directory: folder, kernel: .naive)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        _ = try model.loss(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        let v = model.vocabularySize
        let training = Array(UnsafeBufferPointer(start: ws.head[TrainableMaskedLM.Slot.logits.rawValue], count: expected.masked_tokens * v))
        let inference = try BertModel(directory: folder, kernel: .naive)
        let head = try MaskedLMHead(inference.weights, config: inference.config)
        let iws = try inference.makeWorkspace(maxBatch: 4, maxLength: 16)
        let out = try inference.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: iws)
        var logits: [Float] = []
        for (b, labels) in expected.labels.enumerated() {
            let positions = labels.indices.filter { labels[$0] != MLMMasker.ignoreLabel }
            try head.forEachLogits(out.hiddenStates(sequence: b), positions: positions, workspace: iws, kernel: .naive) { _, row in
                logits += row
            }
        }
        #expect(logits.count == training.count)
        let diff = zip(logits, training).map { abs($0 - $1) }.max() ?? .infinity
        #expect(diff <= 1e-5, "\(name): training and inference masked logits differ by \(diff)")
    }

    /// No family but BERT has a next-sentence head in transformers: asking for one names
    /// config.json, the model_type and the class that is trained instead.
    @Test(arguments: ["distilbert-mlm": "DistilBertForMaskedLM", "roberta-mlm": "RobertaForMaskedLM",
                      "electra-mlm": "ElectraForMaskedLM"])
    func nextSentenceIsRefusedForTheFamilies(name: String, className: String) throws {
        let (folder, expected) = try Self.load(name)
        let path = folder.appendingPathComponent("config.json").path
        #expect(throws: BertError(.unsupported, "\(path): model_type \(expected.family) has no next-sentence head (\(className) trains the masked LM only; next-sentence prediction is BERT's, BertForPreTraining)")) {
            try TrainableMaskedLM(directory: folder, nextSentence: true)
        }
    }
}
