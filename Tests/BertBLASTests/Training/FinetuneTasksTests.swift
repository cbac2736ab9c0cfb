import Foundation
import Testing
@testable import BertBLAS

/// `bert finetune --task multi-label` and `--task regression` end to end on tiny checkpoints:
/// the written folder's problem_type and labels, and `bert classify` / `bert eval` reading it
/// back with the training forward's outputs; the label readers and metrics they use.
@Suite struct FinetuneTasksTests {
    static let cities = ["paris", "london", "berlin", "tokyo", "city", "river", "museum", "capital"]
    static let verbs = ["play", "playing", "played", "run", "running", "walk", "walked", "read"]

    /// 64 texts of 4 words; `score` = cities − 2 (−2…2), `tags` = place / action / both.
    static func data() -> (regression: String, multiLabel: String, texts: [String]) {
        var generator = SplitMix64(seed: 5)
        var regression = "text\tscore\n", multiLabel = "text\ttags\n", texts: [String] = []
        for _ in 0..<64 {
            let words = (0..<4).map { _ in (cities + verbs)[Int(generator.next() % 16)] }
            let placeCount = words.filter { cities.contains($0) }.count
            let text = words.joined(separator: " ")
            var tags: [String] = []
            if placeCount > 0 { tags.append("place") }
            if placeCount < 4 { tags.append("action") }
            regression += "\(text)\t\(placeCount - 2)\n"
            multiLabel += "\(text)\t\(tags.joined(separator: " ; "))\n"
            texts.append(text)
        }
        return (regression, multiLabel, texts)
    }

    /// heads/models/cls-binary without its classifier: a BERT encoder with pooler and tokenizer,
    /// so fine-tuning adds a new head of any size (as for all-MiniLM-L6-v2).
    static func encoderFolder(in dir: URL) throws -> URL {
        let source = Paths.golden("heads/models/cls-binary"), folder = dir.appendingPathComponent("encoder")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        let tensors = try SafetensorsF32.read(source.appendingPathComponent("model.safetensors"))
        let kept = tensors.filter { !$0.key.hasPrefix("classifier.") }.sorted { $0.key < $1.key }.map { ($0.key, $0.value.shape, $0.value.values) }
        try SafetensorsF32.encode(kept, metadata: ["format": "pt"]).write(to: folder.appendingPathComponent("model.safetensors"))
        return folder
    }

    static func config(_ folder: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as? [String: Any])
    }

    /// The training forward's logits `[texts, L]` of a written folder.
    static func logits(_ folder: URL, _ texts: [String]) throws -> (values: [Float], labels: Int) {
        let trained = try TrainableSequenceClassifier(directory: folder)
        let tokenizer = try BertTokenizer(directory: folder)
        let ws = try trained.makeWorkspace(maxBatch: texts.count, maxLength: 16)
        return (Array(try trained.forward(ids: texts.map { tokenizer.encode($0).ids }, workspace: ws)), trained.labelCount)
    }

    @Test func regressionFolderClassifiesAndEvaluates() throws {
        let dir = try FinetuneCLITests.temp("ft-regression")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (regression, _, texts) = Self.data()
        let data = dir.appendingPathComponent("scores.tsv"), out = dir.appendingPathComponent("out")
        try regression.write(to: data, atomically: true, encoding: .utf8)
        let encoder = try Self.encoderFolder(in: dir)
        let run = try CLI.run("bert", ["finetune", "--model", encoder.path, "--data", data.path, "--label-column", "score", "--out", out.path,
                                       "--task", "regression", "--rating-scale", "-2:2", "--epochs", "30", "--learning-rate", "5e-3",
                                       "--batch-size", "8", "--max-length", "16", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        #expect(summary["problem_type"] as? String == "regression")
        #expect(summary["train_examples"] as? Int == 51 && summary["validation_examples"] as? Int == 13)
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        let best = try #require(summary["best_epoch"] as? Int)
        let r = try #require(epochs[best - 1]["validation_pearson"] as? Double)
        let rmse = try #require(epochs[best - 1]["validation_rmse"] as? Double)
        // 13 validation texts from a 32-wide random encoder: it learns (loss 1.15 → 0.16) and ranks them.
        let first = try #require(epochs.first?["train_loss"] as? Double), last = try #require(epochs.last?["train_loss"] as? Double)
        #expect(last < 0.3 * first, "train loss \(first) → \(last)")
        #expect(r > 0.5, "validation r \(r)")
        #expect(epochs.allSatisfy { $0["validation_star_accuracy"] is Double && $0["validation_accuracy"] == nil })
        // The kept epoch has the lowest RMSE.
        #expect(epochs.compactMap { $0["validation_rmse"] as? Double }.allSatisfy { $0 >= rmse })

        // The folder: problem_type regression and one output named after the label column.
        let config = try Self.config(out)
        #expect(config["problem_type"] as? String == "regression")
        #expect(config["id2label"] as? [String: String] == ["0": "score"])

        // bert classify: the score is the training forward's number (no sigmoid).
        let (logits, l) = try Self.logits(out, Array(texts.prefix(6)))
        #expect(l == 1)
        let classify = try CLI.run("bert", ["classify", "--model", out.path, "--lines", "-"],
                                   stdin: texts.prefix(6).joined(separator: "\n") + "\n")
        #expect(classify.status == 0, "\(classify.stderr)")
        let records = try classify.jsonLines().map { try #require($0 as? [String: Any]) }
        #expect(records.count == 6)
        for (b, record) in records.enumerated() {
            #expect(record["label"] as? String == "score")
            let score = try #require(record["score"] as? Double)
            #expect(abs(score - Double(logits[b])) < 1e-5, "text \(b): classify \(score), training forward \(logits[b])")
        }

        // bert eval on the validation part: the same figures as the kept epoch's.
        let eval = try CLI.run("bert", ["eval", "--model", out.path, "--data", data.path, "--label-column", "score",
                                        "--split", "validation", "--rating-scale", "-2:2", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try eval.jsonLines().first as? [String: Any])
        #expect(metrics["count"] as? Int == 13)
        #expect(abs((metrics["pearson"] as? Double ?? 0) - r) < 1e-4, "eval \(metrics), finetune r \(r)")
        #expect(abs((metrics["rmse"] as? Double ?? 0) - rmse) < 1e-4)
        #expect(abs((metrics["star_accuracy"] as? Double ?? -1) - (epochs[best - 1]["validation_star_accuracy"] as? Double ?? -2)) < 1e-9)
    }

    @Test func multiLabelFolderClassifiesAndEvaluates() throws {
        let dir = try FinetuneCLITests.temp("ft-multilabel")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, multiLabel, texts) = Self.data()
        let data = dir.appendingPathComponent("tags.tsv"), out = dir.appendingPathComponent("out")
        try multiLabel.write(to: data, atomically: true, encoding: .utf8)
        let encoder = try Self.encoderFolder(in: dir)
        let run = try CLI.run("bert", ["finetune", "--model", encoder.path, "--data", data.path, "--label-column", "tags", "--out", out.path,
                                       "--task", "multi-label", "--epochs", "6", "--learning-rate", "2e-3",
                                       "--batch-size", "8", "--max-length", "16", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        #expect(summary["labels"] as? [String] == ["action", "place"])
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        let best = try #require(summary["best_epoch"] as? Int)
        let micro = try #require(epochs[best - 1]["validation_micro_f1"] as? Double)
        #expect(micro >= 0.9, "validation micro-F1 \(micro)")
        #expect(epochs[best - 1]["validation_macro_f1"] is Double)

        let config = try Self.config(out)
        #expect(config["problem_type"] as? String == "multi_label_classification")
        #expect(config["id2label"] as? [String: String] == ["0": "action", "1": "place"])

        // bert classify: one sigmoid per label, and the labels at 0.5 or more.
        let sample = Array(texts.prefix(6))
        let (logits, l) = try Self.logits(out, sample)
        #expect(l == 2)
        let classify = try CLI.run("bert", ["classify", "--model", out.path, "--lines", "-"], stdin: sample.joined(separator: "\n") + "\n")
        #expect(classify.status == 0, "\(classify.stderr)")
        let raw = try CLI.run("bert", ["classify", "--model", out.path, "--lines", "--raw-scores", "-"], stdin: sample.joined(separator: "\n") + "\n")
        #expect(raw.status == 0, "\(raw.stderr)")
        let records = try classify.jsonLines().map { try #require($0 as? [String: Any]) }
        let rawRecords = try raw.jsonLines().map { try #require($0 as? [String: Any]) }
        for b in 0..<sample.count {
            let scores = try #require(records[b]["scores"] as? [String: Double])
            let rawScores = try #require(rawRecords[b]["scores"] as? [String: Double])
            var expected: [String] = []
            for (k, name) in ["action", "place"].enumerated() {
                let z = Double(logits[b * 2 + k])
                #expect(abs((scores[name] ?? -1) - 1 / (1 + Foundation.exp(-z))) < 1e-5, "text \(b) \(name)")
                #expect(abs((rawScores[name] ?? .nan) - z) < 1e-5, "text \(b) \(name) raw")
                if z >= 0 { expected.append(name) }
            }
            #expect(records[b]["labels"] as? [String] == expected, "text \(b): \(records[b])")
            #expect(rawRecords[b]["labels"] == nil)
        }

        let eval = try CLI.run("bert", ["eval", "--model", out.path, "--data", data.path, "--label-column", "tags",
                                        "--split", "validation", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try eval.jsonLines().first as? [String: Any])
        #expect(metrics["count"] as? Int == 13)
        #expect(abs((metrics["micro_f1"] as? Double ?? 0) - micro) < 1e-9, "eval \(metrics), finetune micro-F1 \(micro)")
    }

    @Test func badTaskOptionsAreRejected() throws {
        let model = Paths.golden("heads/models/cls-binary").path
        let cases: [([String], String)] = [
            (["finetune", "--task", "classification", "--rating-scale", "-4:4"], "--rating-scale"),
            (["finetune", "--task", "regression", "--rating-scale", "4:-4"], "--rating-scale"),
            (["finetune", "--task", "ordinal"], "--task"),
            (["finetune", "--task", "multi-label", "--label-separator", ""], "--label-separator"),
            (["train-head", "--task", "multi-label"], "--task"),
            (["train-head", "--task", "regression", "--solver", "newton"], "--solver"),
        ]
        for (arguments, flag) in cases {
            let run = try CLI.run("bert", arguments + ["--model", model, "--data", "/nonexistent.tsv", "--out", "/tmp/x"])
            #expect(run.status == 64, "\(arguments): \(run.status) \(run.stderr)")
            #expect(run.stderr.contains(flag), "\(arguments): \(run.stderr)")
        }
    }

    @Test func targetsAreReadAndRefusedWithTheirSource() throws {
        let examples = [("3.5", "a"), ("-2", "b"), ("1e-1", "c")].enumerated().map {
            LabeledExample(text: $1.1, label: $1.0, source: "f.tsv:\($0 + 2)")
        }
        let numbers = try LabeledTargets(LabeledDataset(examples: examples), problemType: .regression, targetName: "rating")
        #expect(numbers.outputs == ["rating"])
        #expect(numbers.values == .numbers([3.5, -2, 0.1]))
        #expect(numbers.trainingTargets([2, 0]) == .values([0.1, 3.5]))
        var bad = examples
        bad[1].label = "two"
        #expect { try LabeledTargets(LabeledDataset(examples: bad), problemType: .regression) } throws: {
            ($0 as? BertError)?.message.contains("f.tsv:3") == true && ($0 as? BertError)?.message.contains("'two'") == true
        }

        let sets = [("b ; a", "x"), ("c", "y"), ("-", "z"), ("a;a;", "w")].map { LabeledExample(text: $1, label: $0, source: "s") }
        let multi = try LabeledTargets(LabeledDataset(examples: sets), problemType: .multiLabelClassification)
        #expect(multi.outputs == ["a", "b", "c"])
        #expect(multi.values == .sets([[0, 1], [2], [], [0]]))
        #expect(multi.trainingTargets([0, 2, 1]) == .multiLabel([1, 1, 0, 0, 0, 0, 0, 0, 1]))
        #expect(throws: BertError.self) {
            try LabeledTargets(LabeledDataset(examples: [LabeledExample(text: "t", label: " ; ", source: "s")] + sets),
                               problemType: .multiLabelClassification)
        }
    }

    @Test func unstratifiedSplitIsSeededAndSized() throws {
        let examples = (0..<50).map { LabeledExample(text: "t\($0)", label: String(Double($0) / 7), source: "s") }
        let data = LabeledDataset(examples: examples)
        let (train, validation) = try data.split(validationFraction: 0.2, seed: 42, stratified: false)
        #expect(validation.count == 10 && train.count == 40)
        #expect(Set(train + validation) == Set(0..<50))
        #expect(try data.split(validationFraction: 0.2, seed: 42, stratified: false).validation == validation)
        #expect(try data.split(validationFraction: 0.2, seed: 43, stratified: false).validation != validation)
        // Stratified by 50 distinct labels, no label has a validation member: why numbers are not stratified.
        #expect(try data.split(validationFraction: 0.2, seed: 42).validation.isEmpty)
    }

    @Test func regressionMetricsAndStarClasses() throws {
        let scale = try RatingScale(minimum: -4, maximum: 4)
        #expect([-4, -2.41, -2.4, -0.8, 0, 0.79, 0.8, 2.4, 4, 9, -9].map(scale.bucket) == [0, 0, 1, 2, 2, 2, 3, 4, 4, 4, 0])
        // truth 1…5, prediction 2·truth: r = 1, errors 1…5.
        let truth: [Double] = [1, 2, 3, 4, 5]
        let m = try RegressionMetrics(truth: truth, predicted: truth.map { 2 * $0 }, scale: try RatingScale(minimum: 0, maximum: 10))
        #expect(abs(m.pearson - 1) < 1e-12)
        #expect(abs(m.rmse - (55.0 / 5).squareRoot()) < 1e-12)
        #expect(abs(m.mae - 3) < 1e-12)
        // classes of width 2: truth 0,1,1,2,2 vs predicted 1,2,3,4,5.
        #expect(m.starAccuracy == 0)
        let anti = try RegressionMetrics(truth: truth, predicted: [5, 4, 3, 2, 1])
        #expect(abs(anti.pearson + 1) < 1e-12 && anti.starAccuracy == nil)
        // r of [1,2,3,4] and [1,3,2,4]: cov 4 / sqrt(5·5) = 0.8.
        #expect(abs(try RegressionMetrics(truth: [1, 2, 3, 4], predicted: [1, 3, 2, 4]).pearson - 0.8) < 1e-12)
        #expect(throws: BertError.self) { try RatingScale(minimum: 1, maximum: 1) }
    }

    @Test func multiLabelMetricsFollowScikitLearn() throws {
        // truth  {0,1} {1} {} {2};  predicted {0} {1,2} {2} {2}
        // label 0: tp 1 fn 0 fp 0 → F1 1; label 1: tp 1 fn 1 → 2/3; label 2: tp 1 fp 2 → 0.5
        // micro: tp 3, fp 2, fn 1 → 6/9.
        let m = try MultiLabelMetrics(truth: [[0, 1], [1], [], [2]], predicted: [[0], [1, 2], [2], [2]], labels: ["a", "b", "c"])
        #expect(abs(m.microF1 - 6.0 / 9) < 1e-12)
        #expect(abs(m.macroF1 - (1 + 2.0 / 3 + 0.5) / 3) < 1e-12)
        #expect(m.subsetAccuracy == 0.25)
        #expect(m.perLabel.map(\.support) == [1, 2, 1])
        #expect(MultiLabelMetrics.predictedSets(scores: [0.5, 0.49, 0.9, 0.1], labels: 2) == [[0], [0]])
    }

    @Test func ridgeRegressionRecoversALinearTarget() throws {
        // y = 2·x0 − x1 + 0.5·x2 + 3 exactly; with a tiny λ ridge recovers it.
        var generator = SplitMix64(seed: 9)
        let n = 40, d = 3
        let x = (0..<(n * d)).map { _ in Float(generator.next() % 2000) / 1000 - 1 }
        let y = (0..<n).map { 2 * x[$0 * d] - x[$0 * d + 1] + 0.5 * x[$0 * d + 2] + 3 }
        for kernel in [Kernel.blas, .naive] {
            let head = try RidgeClassifier.fitRegression(FeatureMatrix(rows: n, columns: d, values: x), targets: y,
                                                         regularization: 1e-4, kernel: kernel)
            #expect(head.kind == .regression && head.labelCount == 1)
            for (got, want) in zip(head.weight + head.bias, [2, -1, 0.5, 3] as [Float]) {
                #expect(abs(got - want) < 1e-3, "\(kernel): \(head.weight) \(head.bias)")
            }
        }
        #expect(throws: BertError.self) {
            try RidgeClassifier.fitRegression(FeatureMatrix(rows: 2, columns: 1, values: [1, 2]), targets: [1])
        }
    }

    @Test func trainHeadRegressionWritesAHeadThatEvalAgreesWith() throws {
        let dir = try FinetuneCLITests.temp("head-regression")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (regression, _, texts) = Self.data()
        let data = dir.appendingPathComponent("scores.tsv"), out = dir.appendingPathComponent("head")
        try regression.write(to: data, atomically: true, encoding: .utf8)
        let model = Paths.golden("heads/models/cls-binary").path
        let run = try CLI.run("bert", ["train-head", "--model", model, "--data", data.path, "--label-column", "score",
                                       "--task", "regression", "--regularization", "0.1", "--rating-scale", "-2:2",
                                       "--out", out.path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        #expect(summary["solver"] as? String == "ridge" && summary["labels"] as? [String] == ["score"])
        let validation = try #require(summary["validation_regression"] as? [String: Any])
        let r = try #require(validation["pearson"] as? Double)
        #expect(r > 0.2, "\(validation)")
        let head = try HeadFolder.load(out)
        #expect(head.config.kind == .regression && head.config.labels == ["score"])

        let eval = try CLI.run("bert", ["eval", "--model", out.path, "--data", data.path, "--label-column", "score",
                                        "--split", "validation", "--rating-scale", "-2:2", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try eval.jsonLines().first as? [String: Any])
        #expect(abs((metrics["pearson"] as? Double ?? 0) - r) < 1e-5, "eval \(metrics) vs train-head \(validation)")
        #expect(abs((metrics["star_accuracy"] as? Double ?? -1) - (validation["star_accuracy"] as? Double ?? -2)) < 1e-9)

        // classify gives the number: the head's output on the embedding (not a softmax of one label, which is 1).
        let classify = try CLI.run("bert", ["classify", "--model", out.path, "--lines", "-"], stdin: texts.prefix(4).joined(separator: "\n") + "\n")
        #expect(classify.status == 0, "\(classify.stderr)")
        let scores = try classify.jsonLines().compactMap { ($0 as? [String: Any])?["score"] as? Double }
        #expect(scores.count == 4 && Set(scores).count == 4 && !scores.contains(1), "\(scores)")
    }
}
