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
        let eps: Float = 1e-2
        for name in names {
            let entry = try #require(model.parameters.entry(named: name), "no parameter \(name)")
            let start = entry.parameter.offset
            // The three largest gradients of the tensor (the rest may be dropped or tiny).
            let top = (0..<entry.parameter.count).sorted { abs(gradients[start + $0]) > abs(gradients[start + $1]) }.prefix(3)
            for i in top {
                let saved = model.parameters.values[start + i]
                var losses: [Float] = []
                for sign: Float in [1, -1] {
                    model.parameters.values[start + i] = saved + sign * eps
                    model.dropoutStep = 0
                    losses.append(try Self.step(model, expected, ws).0)
                }
                model.parameters.values[start + i] = saved
                let numeric = (losses[0] - losses[1]) / (2 * eps)
                let analytic = gradients[start + i]
                #expect(abs(numeric - analytic) <= 0.02 * abs(analytic) + 2e-4,
                        "\(name)[\(i)] (\(kernel)): backward \(analytic), central difference \(numeric)")
            }
        }
    }
}
