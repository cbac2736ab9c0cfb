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

    /// A trained question answerer written by `FineTunedFolder.write(_:questionAnswerer:source:)`
    /// is a `<Family>ForQuestionAnswering` folder: the inference head (`bert qa`'s) gives the
    /// training forward's logits, training reloads the same parameters, and a source config's
    /// labels are dropped (transformers would size `qa_outputs` by them).
    @Test(arguments: ["qa", "families/distilbert-qa", "families/roberta-qa", "families/electra-qa"])
    func writtenFolderLoadsBack(name: String) throws {
        let golden = Paths.golden("finetune/\(name)")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: golden.appendingPathComponent("expected.json")))
        // The source: the golden with a 3-label classifier's id2label in its config.
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("ftheads-qa-source-\(UUID().uuidString)")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ftheads-qa-\(UUID().uuidString)")
        defer { for dir in [source, out] { try? FileManager.default.removeItem(at: dir) } }
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: golden.appendingPathComponent("model.safetensors"), to: source.appendingPathComponent("model.safetensors"))
        var sourceConfig = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: golden.appendingPathComponent("config.json"))) as? [String: Any])
        sourceConfig["id2label"] = ["0": "a", "1": "b", "2": "c"]
        sourceConfig["label2id"] = ["a": 0, "b": 1, "c": 2]
        try JSONSerialization.data(withJSONObject: sourceConfig).write(to: source.appendingPathComponent("config.json"))

        let model = try TrainableQuestionAnswerer(directory: source)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        let optimizer = AdamW(for: model.parameters, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01)
        model.parameters.zeroGradients()
        _ = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, startPositions: expected.start_positions,
                                       endPositions: expected.end_positions, workspace: ws)
        try optimizer.update(model.parameters, learningRate: 1e-2)
        let (start, end) = try model.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws)
        let trained = zip(Array(start), Array(end)).flatMap { [$0, $1] }
        let before = zip(expected.start_logits.joined(), expected.end_logits.joined()).flatMap { [$0, $1] }
        #expect(zip(trained, before).map { abs($0 - $1) }.max() ?? 0 > 1e-3, "\(name): the step moved the logits")

        try FineTunedFolder.write(out, questionAnswerer: model, source: source)
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(written["architectures"] as? [String] == [model.config.className(.questionAnswering)])
        #expect(written["id2label"] == nil && written["label2id"] == nil, "\(name): the source's labels were kept")

        let inference = try BertModel(directory: out)
        let head = try QuestionAnsweringHead(inference.weights, config: inference.config)
        let iws = try inference.makeWorkspace(maxBatch: 4, maxLength: 16)
        let encoded = try inference.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: iws)
        let logits = expected.ids.indices.flatMap { b in
            let (s, e) = head.forward(encoded.hiddenStates(sequence: b), rows: expected.ids[b].count, kernel: .blas)
            return zip(s, e).flatMap { [$0, $1] }
        }
        let diff = zip(logits, trained).map { abs($0 - $1) }.max() ?? .infinity
        #expect(logits.count == trained.count && diff <= 1e-5, "\(name): inference logits of the written folder differ by \(diff)")

        let reloaded = try TrainableQuestionAnswerer(directory: out)
        #expect(reloaded.parameters.entries.map(\.name) == model.parameters.entries.map(\.name))
        #expect(Array(reloaded.parameters.values) == Array(model.parameters.values))

        // For scripts/roundtrip_transformers.py --qa: the folder and the training forward's logits.
        if let keep = ProcessInfo.processInfo.environment["BERTBLAS_QA_ROUNDTRIP_DIR"], !keep.isEmpty {
            let dir = URL(fileURLWithPath: keep).appendingPathComponent(name.replacingOccurrences(of: "/", with: "-"))
            try FineTunedFolder.write(dir, questionAnswerer: model, source: source)
            let record: [String: Any] = ["ids": expected.ids.map { $0.map(Int.init) }, "type_ids": expected.type_ids.map { $0.map(Int.init) },
                                         "start_logits": Array(start).map(Double.init), "end_logits": Array(end).map(Double.init)]
            try JSONSerialization.data(withJSONObject: record).write(to: dir.appendingPathComponent("bertblas_logits.json"))
        }
    }

    /// The written folder is a whole `bert qa` model: with its tokenizer files copied, the task
    /// loads it and answers as the source checkpoint does (written untrained).
    @Test func writtenFolderAnswersAsTheSource() throws {
        let source = Paths.headModels.appendingPathComponent("qa")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ftheads-qa-task-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        try FineTunedFolder.write(out, questionAnswerer: try TrainableQuestionAnswerer(directory: source), source: source)
        let question = "Where is the museum?", context = "The museum is by the river in Paris, near the old town."
        let answers = try QuestionAnswerer(directory: out).answer(question: question, context: context)
        let reference = try QuestionAnswerer(directory: source).answer(question: question, context: context)
        #expect(!answers.isEmpty && answers.map(\.answer) == reference.map(\.answer))
        #expect(zip(answers, reference).allSatisfy { abs($0.score - $1.score) <= 1e-5 })
    }
}
