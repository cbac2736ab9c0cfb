import Foundation
import Testing
@testable import BertBLAS

/// The token-classification head's backward pass against PyTorch autograd on a tiny random
/// BertForTokenClassification (scripts/goldens_finetune.py, `token-cls`): one packed batch of
/// 4 sequences with a label per token and -100 on [CLS], [SEP] and three other tokens; the loss,
/// every token's logits and every parameter's gradient, both kernels.
@Suite struct TokenClassifierParityTests {
    struct Expected: Decodable {
        var ids: [[Int32]]
        var type_ids: [[Int32]]
        var labels: [[Int]]
        var loss: Float
        var logits: [[[Float]]]
    }

    static func load() throws -> (URL, Expected) {
        let folder = Paths.golden("finetune/token-cls")
        return (folder, try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json"))))
    }

    @Test(arguments: Kernel.allCases)
    func everyGradientMatchesAutograd(kernel: Kernel) throws {
        let (folder, expected) = try Self.load()
        let model = try TrainableTokenClassifier(directory: folder, kernel: kernel)
        #expect(model.labelCount == 5)
        #expect(expected.labels.joined().contains(TrainableTokenClassifier.ignoredLabel))
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        #expect(abs(loss - expected.loss) <= 1e-5 * abs(expected.loss), "loss \(loss), torch \(expected.loss)")
        let n = expected.ids.reduce(0) { $0 + $1.count }
        let logits = Array(try model.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws))
        #expect(logits.count == n * 5)
        let torch = expected.logits.flatMap { $0 }.flatMap { $0 }
        let logitDiff = zip(logits, torch).map { abs($0 - $1) }.max() ?? .infinity
        #expect(logitDiff <= 1e-5, "logits max abs diff \(logitDiff)")

        // (The second forward above does not touch the gradients.)
        let results = try GradientParityTests.compare(model.parameters, gradients: true,
                                                      against: folder.appendingPathComponent("gradients.safetensors"))
        #expect(results.count == 39, "embeddings, 2 layers and the classifier: no pooler")
        let largest = results.map(\.2).max() ?? 0
        var worst: Float = 0
        for (parameter, diff, scale) in results {
            if GradientParityTests.isKeyBias(parameter) {
                #expect(scale <= 1e-6 * largest && diff <= 2e-6 * largest, "\(parameter): |torch| \(scale), diff \(diff)")
                continue
            }
            let relative = diff / scale
            worst = max(worst, relative)
            #expect(scale > 0 && relative <= 1e-4, "\(kernel) \(parameter): max abs diff \(diff), torch max \(scale) (relative \(relative))")
        }
        #expect(worst > 0, "gradients equal to the bit are suspicious for float sums in another order")
    }

    /// A batch with no labelled token has loss 0 and zero gradients; labels out of range or of
    /// the wrong count are refused.
    @Test func ignoredTokensDoNotCount() throws {
        let (folder, expected) = try Self.load()
        let model = try TrainableTokenClassifier(directory: folder, kernel: .naive)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        let gradients = Array(model.parameters.gradients)
        #expect(gradients.contains { $0 != 0 })
        model.parameters.zeroGradients()
        let none = expected.labels.map { $0.map { _ in TrainableTokenClassifier.ignoredLabel } }
        #expect(try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: none, workspace: ws) == 0)
        #expect(model.parameters.gradients.allSatisfy { $0 == 0 })
        #expect(loss > 0)
        #expect(throws: BertError.self) {
            try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels.map { $0.map { _ in 5 } }, workspace: ws)
        }
        #expect(throws: BertError.self) {
            try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels.map { Array($0.dropLast()) }, workspace: ws)
        }
    }

    /// Train-mode dropout (`BertForTokenClassification`: the encoder's, and the classifier's
    /// input): with the masks of one step held fixed, the backward matches central differences of
    /// the loss for tensors upstream of every site; the loss differs from the one without
    /// dropout, and `forward` (evaluation) never drops.
    @Test(arguments: Kernel.allCases)
    func dropoutBackwardMatchesCentralDifferences(kernel: Kernel) throws {
        let (folder, expected) = try Self.load()
        let model = try TrainableTokenClassifier(directory: folder, kernel: kernel)
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        let plain = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        let evaluation = Array(try model.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws))
        model.dropout = try Dropout(hidden: 0.2, attention: 0.2, classifier: 0.2, seed: 11)
        func step() throws -> Float {
            model.parameters.zeroGradients()
            model.dropoutStep = 0
            return try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, labels: expected.labels, workspace: ws)
        }
        let loss = try step()
        let gradients = Array(model.parameters.gradients)
        #expect(loss != plain, "dropout must change the training loss")
        #expect(Array(try model.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws)) == evaluation)
        let names = ["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight",
                     "bert.encoder.layer.1.output.dense.weight", "classifier.weight"]
        try DropoutTests.expectCentralDifferences(model.parameters, gradients: gradients, tensors: names, eps: 1e-2,
                                                  label: "\(kernel)", step: step)
    }
}
