import Foundation
import Testing
@testable import BertBLAS

/// Seeded dropout in train mode (`TrainableSequenceClassifier.dropout`): the masks' values and
/// rate, their independence from how the work is split, reproducibility from the seed, and the
/// backward through every mask against central differences of the loss with the same masks.
@Suite struct DropoutTests {
    static let folder = Paths.golden("finetune/cls-single")

    static func batch() throws -> GradientParityTests.Expected {
        try GradientParityTests.load("cls-single").1
    }

    @Test func masksAreZeroOrScaledAtTheRateAndIndependentOfTheSplit() {
        let count = 200_000, p: Float = 0.1
        let whole = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let pieces = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { whole.deallocate(); pieces.deallocate() }
        Dropout.fill(whole, count: count, first: 0, probability: p, key: 12345)
        // The same mask drawn in uneven pieces, as the compute threads would.
        var start = 0
        for size in [1, 7, 1000, 33_333, 65_536] + Array(repeating: 50_000, count: 3) where start < count {
            let n = min(size, count - start)
            Dropout.fill(pieces + start, count: n, first: start, probability: p, key: 12345)
            start += n
        }
        var zeros = 0, same = true, valid = true
        for i in 0..<count {
            if whole[i] == 0 { zeros += 1 } else if whole[i] != 1 / (1 - p) { valid = false }
            if whole[i] != pieces[i] { same = false }
        }
        #expect(valid, "a kept unit is not scaled by 1/(1 − p)")
        #expect(same, "the mask depends on how it is split")
        let rate = Double(zeros) / Double(count)
        #expect(abs(rate - 0.1) < 0.005, "dropped fraction \(rate), expected 0.1")
        // Another key draws another mask.
        Dropout.fill(pieces, count: count, first: 0, probability: p, key: 54321)
        #expect((0..<count).contains { whole[$0] != pieces[$0] })
    }

    @Test func theCheckpointsProbabilitiesAreRead() throws {
        let d = try Dropout(directory: Self.folder, seed: 3)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.folder.appendingPathComponent("config.json"))) as? [String: Any]
        let hidden = (config?["hidden_dropout_prob"] as? NSNumber)?.floatValue ?? 0.1
        #expect(d.hidden == hidden && d.classifier == hidden)
        #expect(throws: BertError.self) { try Dropout(hidden: 1, attention: 0, classifier: 0, seed: 0) }
    }

    /// The probability of the head's input follows the task's transformers class: DistilBERT's
    /// sequence head `seq_classif_dropout`, token head `dropout`, QA head `qa_dropout`; the other
    /// families' sequence and token heads `classifier_dropout`, their QA head none.
    @Test func theHeadsProbabilityFollowsTheTask() throws {
        func dropout(_ config: String, _ task: HeadTask) throws -> Dropout {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-dropout-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
            return try Dropout(directory: dir, seed: 1, task: task)
        }
        // Four different values, so each key is told apart.
        let distil = #"{"model_type": "distilbert", "dropout": 0.15, "attention_dropout": 0.05, "seq_classif_dropout": 0.25, "qa_dropout": 0.35}"#
        for (task, expected) in [(HeadTask.sequenceClassification, Float(0.25)), (.tokenClassification, 0.15), (.questionAnswering, 0.35),
                                 (.maskedLM, 0), (.nextSentencePrediction, 0)] {
            let d = try dropout(distil, task)
            #expect(d.hidden == 0.15 && d.attention == 0.05 && d.classifier == expected, "distilbert \(task): \(d)")
        }
        // DistilBertConfig's defaults.
        for (task, expected) in [(HeadTask.sequenceClassification, Float(0.2)), (.tokenClassification, 0.1), (.questionAnswering, 0.1)] {
            #expect(try dropout(#"{"model_type": "distilbert"}"#, task).classifier == expected, "distilbert defaults \(task)")
        }
        let bert = #"{"model_type": "bert", "hidden_dropout_prob": 0.15, "attention_probs_dropout_prob": 0.05, "classifier_dropout": 0.3}"#
        for (task, expected) in [(HeadTask.sequenceClassification, Float(0.3)), (.tokenClassification, 0.3), (.questionAnswering, 0)] {
            let d = try dropout(bert, task)
            #expect(d.hidden == 0.15 && d.attention == 0.05 && d.classifier == expected, "bert \(task): \(d)")
        }
        #expect(try dropout(#"{"model_type": "roberta", "hidden_dropout_prob": 0.15, "classifier_dropout": null}"#, .tokenClassification)
            .classifier == 0.15)
    }

    /// DistilBERT's question-answering head with dropout (the encoder's and `qa_dropout` on
    /// `qa_outputs`' input): with one step's masks held fixed, the backward matches central
    /// differences for `qa_outputs` (after the head's mask) and tensors below every mask.
    @Test(arguments: Kernel.allCases)
    func questionAnsweringBackwardThroughTheMasks(kernel: Kernel) throws {
        let folder = Paths.golden("finetune/families/distilbert-qa")
        let expected = try JSONDecoder().decode(FamilyGradientParityTests.QuestionAnswering.self,
                                                from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        let model = try TrainableQuestionAnswerer(directory: folder, kernel: kernel)
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        func step() throws -> Float {
            model.dropoutStep = 0
            model.parameters.zeroGradients()
            return try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, startPositions: expected.start_positions,
                                              endPositions: expected.end_positions, workspace: ws)
        }
        // Only the head's input dropped: its mask alone separates the loss from the plain one.
        model.dropout = try Dropout(hidden: 0, attention: 0, classifier: 0.3, seed: 5)
        #expect(abs(try step() - expected.loss) > 1e-4, "qa_outputs' input was not dropped")
        model.dropout = try Dropout(hidden: 0.2, attention: 0.2, classifier: 0.3, seed: 11)
        _ = try step()
        let gradients = Array(model.parameters.gradients)
        try Self.expectCentralDifferences(model.parameters, gradients: gradients, tensors: [
            "qa_outputs.weight", "distilbert.transformer.layer.1.output_layer_norm.weight",
            "distilbert.transformer.layer.0.attention.q_lin.weight", "distilbert.embeddings.word_embeddings.weight",
        ], eps: 3e-3, label: "distilbert-qa (\(kernel))", step: step)
    }

    /// With one step's masks held fixed (`step` restarts the dropout steps, zeroes the gradients
    /// and returns the loss), the backward's `gradients` of each tensor's three largest elements
    /// (the rest may be dropped or tiny) against central differences of the loss with step `eps`.
    static func expectCentralDifferences(_ parameters: ParameterSet, gradients: [Float], tensors: [String], eps: Float,
                                         label: String, step: () throws -> Float) throws {
        for name in tensors {
            let entry = try #require(parameters.entry(named: name), "no parameter \(name)")
            let start = entry.parameter.offset
            let top = (0..<entry.parameter.count).sorted { abs(gradients[start + $0]) > abs(gradients[start + $1]) }.prefix(3)
            for i in top {
                let saved = parameters.values[start + i]
                parameters.values[start + i] = saved + eps
                let plus = try step()
                parameters.values[start + i] = saved - eps
                let minus = try step()
                parameters.values[start + i] = saved
                let numeric = (plus - minus) / (2 * eps), analytic = gradients[start + i]
                #expect(abs(numeric - analytic) <= 0.02 * abs(analytic) + 2e-4,
                        "\(label) \(name)[\(i)]: backward \(analytic), central difference \(numeric)")
            }
        }
    }

    /// Loss and a copy of every gradient of one step.
    static func step(_ model: TrainableSequenceClassifier, _ expected: GradientParityTests.Expected,
                     _ ws: TrainingWorkspace) throws -> (Float, [Float]) {
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, targets: expected.targets, workspace: ws)
        return (loss, Array(model.parameters.gradients))
    }

    @Test func sameSeedSameStepsOtherSeedOtherMasksEvaluationUntouched() throws {
        let expected = try Self.batch()
        func run(_ dropout: Dropout) throws -> [(Float, [Float])] {
            let model = try TrainableSequenceClassifier(directory: Self.folder)
            model.dropout = dropout
            let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
            return try (0..<2).map { _ in try Self.step(model, expected, ws) }
        }
        let d = try Dropout(hidden: 0.1, attention: 0.1, classifier: 0.1, seed: 7)
        let a = try run(d), b = try run(d)
        #expect(a[0].0 == b[0].0 && a[0].1 == b[0].1 && a[1].0 == b[1].0 && a[1].1 == b[1].1, "two runs with one seed differ")
        #expect(a[0].0 != a[1].0, "the second step reused the first step's masks")
        var other = d
        other.seed = 8
        #expect(try run(other)[0].0 != a[0].0)
        let off = try run(.off)
        #expect(off[0].0 == Float(expected.loss) || abs(off[0].0 - expected.loss) <= 1e-5 * abs(expected.loss))
        #expect(off[0].0 != a[0].0)
        // forward (evaluation) never drops: the logits equal those of a model without dropout.
        let model = try TrainableSequenceClassifier(directory: Self.folder)
        model.dropout = d
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        _ = try Self.step(model, expected, ws)
        let logits = Array(try model.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws))
        let plain = try TrainableSequenceClassifier(directory: Self.folder)
        let ws2 = try plain.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        #expect(logits == Array(try plain.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws2)))
    }

    /// With the masks of one step held fixed, the loss is a smooth function of the parameters:
    /// the backward's gradient must match central differences, for tensors upstream of every
    /// dropout site (word embeddings: all of them; layer 0's query: the attention
    /// probabilities; the feed-forward output; the classifier: the classifier's input).
    @Test(arguments: Kernel.allCases)
    func backwardThroughTheMasksMatchesCentralDifferences(kernel: Kernel) throws {
        let expected = try Self.batch()
        let model = try TrainableSequenceClassifier(directory: Self.folder, kernel: kernel)
        model.dropout = try Dropout(hidden: 0.2, attention: 0.2, classifier: 0.2, seed: 11)
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        let (_, gradients) = try Self.step(model, expected, ws)
        let names = ["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight",
                     "bert.encoder.layer.1.output.dense.weight", "bert.encoder.layer.0.attention.output.dense.weight",
                     "classifier.weight"]
        try Self.expectCentralDifferences(model.parameters, gradients: gradients, tensors: names, eps: 1e-2, label: "\(kernel)") {
            model.dropoutStep = 0
            return try Self.step(model, expected, ws).0
        }
    }
}
