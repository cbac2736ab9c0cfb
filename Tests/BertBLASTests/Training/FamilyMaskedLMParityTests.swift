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
        var adamw: GradientParityTests.AdamWSettings
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
        let logitDiff = try MaskedLMParityTests.expectLossAndLogitsMatchTorch(
            model, ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, loss: expected.loss,
            maskedTokens: expected.masked_tokens, maskedLogits: expected.masked_logits, label: "\(name) \(kernel)")
        let worst = try FamilyGradientParityTests.checkGradients(model.parameters, folder: folder, count: expected.gradients,
                                                                 frozen: expected.frozen, label: "\(name) \(kernel)")
        print("FamilyMaskedLMParity \(name) \(kernel): \(expected.gradients) gradients, worst relative \(worst), logits \(logitDiff)")
    }

    /// Three AdamW steps on the masked batch equal torch.optim.AdamW with HF Trainer's decay
    /// groups (the family's LayerNorm modules and biases without decay), schedule and clipping,
    /// the tied word embeddings updated once with the decoder's gradient in theirs: every
    /// parameter within 1e-5, as for BERT (GradientParityTests.adamWThreeStepsMatchTorch).
    @Test(arguments: cases)
    func adamWThreeStepsMatchTorch(name: String) throws {
        let (folder, expected) = try Self.load(name)
        let model = try TrainableMaskedLM(directory: folder)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        let worst = try GradientParityTests.expectAdamWStepsMatchTorch(
            model.parameters, initial: TrainableMaskedLM(directory: folder).parameters, settings: expected.adamw,
            golden: folder, name: name) {
            try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws).mean
        }
        print("FamilyMaskedLMParity \(name) AdamW: \(expected.adamw.steps) steps, worst parameter max abs diff \(worst.diff) (\(worst.parameter))")
    }

    /// Train mode's dropout (encoder only, as transformers' masked-LM classes): the backward
    /// through the masks matches central differences of the loss with the masks held fixed
    /// (`dropoutStep` reset before each evaluation), on the tensors each path reaches; the
    /// loss differs from the dropout-free one, and `loss` (evaluation) does not drop.
    @Test(arguments: [("roberta-mlm", ["roberta.embeddings.word_embeddings.weight", "roberta.encoder.layer.0.attention.self.query.weight",
                                       "lm_head.dense.weight"]),
                      ("electra-mlm", ["electra.embeddings.word_embeddings.weight", "electra.embeddings.LayerNorm.weight",
                                       "electra.embeddings_project.weight", "generator_predictions.dense.weight"]),
                      ("distilbert-mlm", ["distilbert.embeddings.position_embeddings.weight",
                                          "distilbert.transformer.layer.1.ffn.lin1.weight", "vocab_transform.weight"])])
    func dropoutBackwardMatchesCentralDifferences(_ test: (name: String, tensors: [String])) throws {
        let (folder, expected) = try Self.load(test.name)
        let model = try TrainableMaskedLM(directory: folder)
        model.dropout = try Dropout(hidden: 0.2, attention: 0.2, classifier: 0, seed: 11)
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        func step() throws -> Float {
            model.dropoutStep = 0
            model.parameters.zeroGradients()
            return try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws).mean
        }
        let dropped = try step()
        let gradients = Array(model.parameters.gradients)
        let eps: Float = 3e-3
        for name in test.tensors {
            let entry = try #require(model.parameters.entry(named: name), "no parameter \(name)")
            let start = entry.parameter.offset
            let top = (0..<entry.parameter.count).sorted { abs(gradients[start + $0]) > abs(gradients[start + $1]) }.prefix(3)
            for i in top {
                let saved = model.parameters.values[start + i]
                model.parameters.values[start + i] = saved + eps
                let plus = try step()
                model.parameters.values[start + i] = saved - eps
                let minus = try step()
                model.parameters.values[start + i] = saved
                let numeric = (plus - minus) / (2 * eps), analytic = gradients[start + i]
                #expect(abs(numeric - analytic) <= 0.02 * abs(analytic) + 2e-4,
                        "\(test.name) \(name)[\(i)]: backward \(analytic), central difference \(numeric)")
            }
        }
        #expect(abs(dropped - expected.loss) > 1e-4, "\(test.name): loss with dropout \(dropped) equals torch's without")
        let evaluated = try model.loss(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        #expect(abs(evaluated.mean - expected.loss) <= 1e-5 * abs(expected.loss), "\(test.name): evaluation dropped")
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
