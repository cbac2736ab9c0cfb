import Foundation
import Testing
@testable import BertBLAS

/// The backward pass against PyTorch autograd on tiny random BertForSequenceClassification
/// checkpoints (scripts/goldens_finetune.py): the loss, the logits and every parameter's
/// gradient for one packed batch, for each loss; then three AdamW steps against
/// torch.optim.AdamW with HF Trainer's grouping, schedule and clipping.
@Suite struct GradientParityTests {
    struct AdamWSettings: Decodable {
        var learning_rate: Float
        var weight_decay: Float
        var betas: [Float]
        var eps: Float
        var warmup_steps: Int
        var total_steps: Int
        var steps: Int
        var max_grad_norm: Float
        var no_decay: [String]
        var trace: [Step]
        struct Step: Decodable { var loss: Float; var grad_norm: Float; var learning_rate: Float }
    }

    struct Expected: Decodable {
        var problem_type: String
        var ids: [[Int32]]
        var type_ids: [[Int32]]
        var labels: Labels
        var loss: Float
        var logits: [[Float]]
        var adamw: AdamWSettings?

        /// Class indices, a row of targets per sequence, or one value per sequence.
        enum Labels: Decodable {
            case classes([Int]), rows([[Float]]), values([Float])
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let rows = try? c.decode([[Float]].self) { self = .rows(rows) }
                else if let ints = try? c.decode([Int].self) { self = .classes(ints) }
                else { self = .values(try c.decode([Float].self)) }
            }
        }

        var targets: TrainingTargets {
            switch (problem_type, labels) {
            case ("single_label_classification", .classes(let c)): return .classes(c)
            case (_, .rows(let r)): return .multiLabel(r.flatMap { $0 })
            case (_, .values(let v)): return .values(v)
            case (_, .classes(let c)): return .values(c.map(Float.init))
            }
        }
    }

    static let cases = ["cls-single", "cls-multilabel", "regression"]

    static func load(_ name: String) throws -> (URL, Expected) {
        let folder = Paths.golden("finetune/\(name)")
        let data = try Data(contentsOf: folder.appendingPathComponent("expected.json"))
        return (folder, try JSONDecoder().decode(Expected.self, from: data))
    }

    /// The attention key bias's gradient is analytically zero (softmax is invariant to adding
    /// q·b_k to every score of a row); autograd's is float rounding noise (~1e-8), so it is
    /// checked against zero, not against the noise.
    static func isKeyBias(_ name: String) -> Bool { name.hasSuffix("attention.self.key.bias") }

    /// For each parameter: max |ours − torch| over the tensor, and torch's max |value|.
    static func compare(_ parameters: ParameterSet, gradients: Bool, against file: URL) throws -> [(String, Float, Float)] {
        let golden = try WeightStore(url: file)
        #expect(Set(golden.entries.keys) == Set(parameters.entries.map(\.name)), "parameter names differ from torch's")
        return try parameters.entries.map { entry in
            let expected = try golden.tensor(TensorName([entry.name]), shape: entry.shape)
            let ours = gradients ? parameters.gradients(of: entry) : parameters.values(of: entry)
            var diff: Float = 0, scale: Float = 0
            for i in 0..<ours.count {
                diff = max(diff, abs(ours[i] - expected.pointer[i]))
                scale = max(scale, abs(expected.pointer[i]))
            }
            return (entry.name, diff, scale)
        }
    }

    @Test(arguments: cases, Kernel.allCases)
    func everyGradientMatchesAutograd(name: String, kernel: Kernel) throws {
        let (folder, expected) = try Self.load(name)
        let model = try TrainableSequenceClassifier(directory: folder, kernel: kernel)
        let ws = try model.makeWorkspace(maxBatch: expected.ids.count, maxLength: 16)
        model.parameters.zeroGradients()
        let loss = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, targets: expected.targets, workspace: ws)
        #expect(abs(loss - expected.loss) <= 1e-5 * abs(expected.loss), "\(name): loss \(loss), torch \(expected.loss)")
        let logits = Array(model.logits(ws))
        let logitDiff = zip(logits, expected.logits.flatMap { $0 }).map { abs($0 - $1) }.max() ?? .infinity
        #expect(logitDiff <= 1e-5, "\(name): logits max abs diff \(logitDiff)")

        let results = try Self.compare(model.parameters, gradients: true, against: folder.appendingPathComponent("gradients.safetensors"))
        #expect(results.count == 41)
        let largest = results.map(\.2).max() ?? 0
        var worst: (String, Float) = ("", 0)
        for (parameter, diff, scale) in results {
            if Self.isKeyBias(parameter) {
                // Both ours and torch's are rounding noise around 0.
                #expect(scale <= 1e-6 * largest && diff <= 2e-6 * largest, "\(name) \(parameter): |torch| \(scale), diff \(diff)")
                continue
            }
            let relative = diff / scale
            if relative > worst.1 { worst = (parameter, relative) }
            #expect(scale > 0 && relative <= 1e-4, "\(name) \(kernel) \(parameter): max abs diff \(diff), torch max \(scale) (relative \(relative))")
        }
        #expect(worst.1 > 0, "gradients equal to the bit are suspicious for float sums in another order")
    }

    /// The training forward (Training/) and the inference forward (BertModel) on the same
    /// checkpoint give the same encoder output and pooler output.
    @Test(arguments: Kernel.allCases)
    func trainingForwardEqualsInference(kernel: Kernel) throws {
        let (folder, expected) = try Self.load("cls-single")
        let model = try TrainableSequenceClassifier(directory: folder, kernel: kernel)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        _ = try model.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: ws)
        let inference = try BertModel(directory: folder, kernel: kernel)
        let iws = try inference.makeWorkspace(maxBatch: 4, maxLength: 16)
        let out = try inference.forward(ids: expected.ids, typeIds: expected.type_ids, workspace: iws)
        let hidden = model.lastHiddenState(ws)
        #expect(hidden.count == out.lastHiddenState.count)
        let hiddenDiff = zip(hidden, out.lastHiddenState).map { abs($0 - $1) }.max() ?? .infinity
        #expect(hiddenDiff <= 1e-5, "last hidden state max abs diff \(hiddenDiff)")
        let pooled = model.pooledOutput(ws)
        let pooledDiff = zip(pooled, out.pooledOutput ?? UnsafeBufferPointer(start: nil, count: 0)).map { abs($0 - $1) }.max() ?? .infinity
        #expect(pooledDiff <= 1e-5, "pooled max abs diff \(pooledDiff)")
    }

    /// Packing does not mix sequences: the batch's gradient (mean loss) is the mean of each
    /// sequence's gradient computed alone.
    @Test func batchGradientIsTheMeanOfSingleSequences() throws {
        let (folder, expected) = try Self.load("cls-single")
        guard case .classes(let labels) = expected.targets else { Issue.record("labels"); return }
        let model = try TrainableSequenceClassifier(directory: folder)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        model.parameters.zeroGradients()
        _ = try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, targets: expected.targets, workspace: ws)
        let batch = Array(model.parameters.gradients)
        model.parameters.zeroGradients()
        for b in expected.ids.indices {
            _ = try model.lossAndGradients(ids: [expected.ids[b]], typeIds: [expected.type_ids[b]], targets: .classes([labels[b]]), workspace: ws)
        }
        let scale = batch.map(abs).max() ?? 0
        let diff = zip(batch, model.parameters.gradients).map { abs($0 - $1 / Float(expected.ids.count)) }.max() ?? .infinity
        #expect(scale > 0 && diff <= 1e-5 * scale, "max abs diff \(diff), scale \(scale)")
    }

    @Test func adamWThreeStepsMatchTorch() throws {
        let (folder, expected) = try Self.load("cls-single")
        guard let settings = expected.adamw else { Issue.record("no adamw settings in the golden"); return }
        let model = try TrainableSequenceClassifier(directory: folder)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        try Self.expectAdamWStepsMatchTorch(model.parameters, initial: TrainableSequenceClassifier(directory: folder).parameters,
                                            settings: settings, golden: folder, name: "cls-single") {
            try model.lossAndGradients(ids: expected.ids, typeIds: expected.type_ids, targets: expected.targets, workspace: ws)
        }
    }

    /// `settings.steps` AdamW steps over `parameters` with HF Trainer's grouping, schedule and
    /// clipping, each step's loss (`lossAndGradients`, after zeroing), gradient norm and learning
    /// rate against torch's trace; then every parameter against the golden's `adamw.safetensors`
    /// within 1e-5, and that the steps moved the parameters away from `initial`. A key bias's
    /// gradient is rounding noise in both (see `FamilyGradientParityTests.isKeyBias`): Adam turns
    /// noise into a step of about ±lr with an arbitrary sign, so it may differ by 2·Σ lr.
    /// Returns the worst difference outside the key biases and its parameter.
    @discardableResult
    static func expectAdamWStepsMatchTorch(_ parameters: ParameterSet, initial: ParameterSet, settings: AdamWSettings,
                                           golden folder: URL, name: String,
                                           lossAndGradients: () throws -> Float) throws -> (diff: Float, parameter: String) {
        #expect(Set(parameters.entries.filter { !$0.decays }.map(\.name)) == Set(settings.no_decay),
                "\(name): the parameters without weight decay differ from HF Trainer's")
        let optimizer = AdamW(for: parameters, beta1: settings.betas[0], beta2: settings.betas[1],
                              epsilon: settings.eps, weightDecay: settings.weight_decay)
        let schedule = LinearSchedule(peak: settings.learning_rate, warmupSteps: settings.warmup_steps, totalSteps: settings.total_steps)
        var learningRates: [Float] = []
        for step in 0..<settings.steps {
            parameters.zeroGradients()
            let loss = try lossAndGradients()
            let norm = AdamW.clipGradients(parameters, maxNorm: settings.max_grad_norm)
            let lr = schedule.learningRate(step: step)
            learningRates.append(lr)
            try optimizer.update(parameters, learningRate: lr)
            let torch = settings.trace[step]
            #expect(abs(loss - torch.loss) <= 1e-5 * torch.loss, "\(name) step \(step): loss \(loss), torch \(torch.loss)")
            #expect(abs(norm - torch.grad_norm) <= 1e-5 * torch.grad_norm, "\(name) step \(step): gradient norm \(norm), torch \(torch.grad_norm)")
            #expect(abs(lr - torch.learning_rate) <= 1e-9, "\(name) step \(step): learning rate \(lr), torch \(torch.learning_rate)")
        }
        let noiseBound = 2 * learningRates.reduce(0, +)
        var worst: (diff: Float, parameter: String) = (0, "")
        for (parameter, diff, _) in try compare(parameters, gradients: false, against: folder.appendingPathComponent("adamw.safetensors")) {
            let noise = FamilyGradientParityTests.isKeyBias(parameter)
            if !noise, diff > worst.diff { worst = (diff, parameter) }
            #expect(diff <= (noise ? noiseBound : 1e-5), "\(name) \(parameter): max abs diff \(diff) after \(settings.steps) steps")
        }
        // The steps moved the parameters: the comparison is not against the initial values.
        let moved = zip(initial.values, parameters.values).map { abs($0 - $1) }.max() ?? 0
        #expect(moved > 1e-3, "\(name): parameters moved by at most \(moved)")
        return worst
    }

    @Test func targetsThatDoNotFitAreErrorsNamingThem() throws {
        let (folder, expected) = try Self.load("cls-single")
        let model = try TrainableSequenceClassifier(directory: folder)
        let ws = try model.makeWorkspace(maxBatch: 4, maxLength: 16)
        #expect(throws: BertError(.invalidInput, "label 3 is outside the classifier's 3 labels")) {
            try model.lossAndGradients(ids: expected.ids, targets: .classes([0, 1, 2, 3]), workspace: ws)
        }
        #expect(throws: BertError(.invalidInput, "2 labels for 4 sequences")) {
            try model.lossAndGradients(ids: expected.ids, targets: .classes([0, 1]), workspace: ws)
        }
        #expect(throws: BertError(.invalidInput, "sequence 1 has 20 tokens, more than the training workspace's 16")) {
            try model.forward(ids: [[2, 3], [Int32](repeating: 7, count: 20)], workspace: ws)
        }
    }
}
