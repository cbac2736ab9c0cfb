import Foundation
import Testing
@testable import BertBLAS

/// `bert finetune` end to end on a tiny checkpoint (heads/models/cls-binary, with its tokenizer):
/// it learns a word-separable task, writes a HuggingFace folder, and `bert classify` loads it
/// and gives the training model's logits.
@Suite struct FinetuneCLITests {
    static func temp(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// 48 texts: POSITIVE ones from city words, NEGATIVE ones from verb words, seeded.
    static func data() -> String {
        let cities = ["paris", "london", "berlin", "tokyo", "city", "river", "museum", "capital"]
        let verbs = ["play", "playing", "played", "run", "running", "walk", "walked", "read"]
        var generator = SplitMix64(seed: 3)
        var lines: [String] = []
        for i in 0..<48 {
            let words = i % 2 == 0 ? cities : verbs
            let text = (0..<4).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ")
            lines.append("\(i % 2 == 0 ? "POSITIVE" : "NEGATIVE")\t\(text)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func learnsWritesAFolderAndClassifyLoadsIt() throws {
        let dir = try Self.temp("finetune")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.tsv")
        try Self.data().write(to: data, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let model = Paths.golden("heads/models/cls-binary")
        let run = try CLI.run("bert", ["finetune", "--model", model.path, "--data", data.path, "--out", out.path,
                                       "--epochs", "12", "--learning-rate", "3e-3", "--batch-size", "8", "--max-length", "16",
                                       "--validation-split", "0.25", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        // Dropout is on by default, at the checkpoint's rates (config.json: 0.1, classifier null → hidden).
        let dropout = try #require(summary["dropout"] as? [String: Double])
        #expect(["hidden", "attention", "classifier"].allSatisfy { abs((dropout[$0] ?? 0) - 0.1) < 1e-6 }, "\(dropout)")
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        #expect(epochs.count == 12)
        #expect(summary["train_examples"] as? Int == 36 && summary["validation_examples"] as? Int == 12)
        let first = try #require(epochs.first?["train_loss"] as? Double), last = try #require(epochs.last?["train_loss"] as? Double)
        #expect(last < 0.5 * first, "train loss \(first) → \(last)")
        let best = try #require(summary["best_epoch"] as? Int)
        let accuracy = try #require(epochs[best - 1]["validation_accuracy"] as? Double)
        #expect(accuracy >= 0.9, "validation accuracy \(accuracy)")
        #expect((epochs.first?["tokens_per_second"] as? Double ?? 0) > 0)

        // An HF folder: config with the labels, every parameter, the tokenizer.
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(config["id2label"] as? [String: String] == ["0": "NEGATIVE", "1": "POSITIVE"])
        #expect(config["architectures"] as? [String] == ["BertForSequenceClassification"])
        for file in ["model.safetensors", "tokenizer.json", "vocab.txt"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file)")
        }
        // The written weights are the trained ones: the training forward on the folder and
        // bert classify agree.
        let trained = try TrainableSequenceClassifier(directory: out)
        let tokenizer = try BertTokenizer(directory: out)
        let texts = ["tokyo paris museum", "running walked play"]
        let ws = try trained.makeWorkspace(maxBatch: 2, maxLength: 16)
        let logits = try trained.forward(ids: texts.map { tokenizer.encode($0).ids }, workspace: ws)
        let classify = try CLI.run("bert", ["classify", "--model", out.path, "--lines", "-"], stdin: texts.joined(separator: "\n") + "\n")
        #expect(classify.status == 0, "\(classify.stderr)")
        let records = try classify.jsonLines().map { try #require($0 as? [String: Any]) }
        #expect(records.map { $0["label"] as? String } == ["POSITIVE", "NEGATIVE"])
        for (b, record) in records.enumerated() {
            let scores = try #require(record["scores"] as? [String: Double])
            let z = [Double(logits[2 * b]), Double(logits[2 * b + 1])]
            let positive = 1 / (1 + Foundation.exp(z[0] - z[1]))
            #expect(abs((scores["POSITIVE"] ?? -1) - positive) < 1e-5, "text \(b): classify \(scores), training forward \(positive)")
        }
    }

    /// `--no-dropout` trains without it: no dropout in the summary, and another first-epoch loss
    /// than the default run's on the same data and seed.
    @Test func noDropoutTurnsItOff() throws {
        let dir = try Self.temp("finetune-no-dropout")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.tsv")
        try Self.data().write(to: data, atomically: true, encoding: .utf8)
        func firstLoss(_ extra: [String]) throws -> (Double, [String: Any]) {
            let run = try CLI.run("bert", ["finetune", "--model", Paths.golden("heads/models/cls-binary").path, "--data", data.path,
                                           "--out", dir.appendingPathComponent("out").path, "--epochs", "1", "--batch-size", "8",
                                           "--max-length", "16", "--json"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try #require(try run.jsonLines().first as? [String: Any])
            let epochs = try #require(summary["epochs"] as? [[String: Any]])
            return (try #require(epochs.first?["train_loss"] as? Double), summary)
        }
        let (on, withDropout) = try firstLoss([])
        let (off, without) = try firstLoss(["--no-dropout"])
        #expect(withDropout["dropout"] != nil && without["dropout"] == nil)
        #expect(on != off, "train loss \(on) with dropout, \(off) without")
    }

    @Test func badOptionsAreRejectedBeforeTraining() throws {
        let model = Paths.golden("heads/models/cls-binary").path
        for (flag, value) in [("--epochs", "0"), ("--batch-size", "0"), ("--learning-rate", "-1"), ("--validation-split", "1")] {
            let run = try CLI.run("bert", ["finetune", "--model", model, "--data", "/nonexistent.tsv", "--out", "/tmp/x", flag, value])
            #expect(run.status == 64, "\(flag) \(value): \(run.status) \(run.stderr)")
            #expect(run.stderr.contains(flag), "\(run.stderr)")
        }
    }
}
