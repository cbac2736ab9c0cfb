import Foundation
import Testing
@testable import BertBLAS

/// `bert finetune` on a tiny random checkpoint of each family without a sequence head
/// (families/models, with its own tokenizer: WordPiece, byte-level BPE, Unigram): it trains a new
/// head, writes a `<Family>ForSequenceClassification` folder, and `bert classify` loads it and
/// gives the training model's scores. (`bert pretrain` on the families: PretrainFamiliesCLITests.)
@Suite struct FinetuneFamiliesCLITests {
    static let models = [("distilbert-base", "DistilBertForSequenceClassification"),
                         ("roberta-mlm", "RobertaForSequenceClassification"),
                         ("xlm-roberta-mlm", "XLMRobertaForSequenceClassification"),
                         ("electra-base", "ElectraForSequenceClassification")]

    @Test(arguments: models)
    func finetuneWritesAFolderClassifyLoads(model name: String, architecture: String) throws {
        let dir = try FinetuneCLITests.temp("finetune-\(name)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.tsv")
        try FinetuneCLITests.data().write(to: data, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let model = Paths.golden("families/models/\(name)")
        let run = try CLI.run("bert", ["finetune", "--model", model.path, "--data", data.path, "--out", out.path,
                                       "--epochs", "3", "--learning-rate", "1e-3", "--batch-size", "8", "--max-length", "16",
                                       "--validation-split", "0.25", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        #expect(epochs.count == 3)
        let first = try #require(epochs.first?["train_loss"] as? Double), last = try #require(epochs.last?["train_loss"] as? Double)
        #expect(last < first, "\(name): train loss \(first) → \(last)")

        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(config["architectures"] as? [String] == [architecture])
        #expect(config["id2label"] as? [String: String] == ["0": "NEGATIVE", "1": "POSITIVE"])
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("tokenizer.json").path))

        // The written weights are the trained ones: the training forward on the folder and bert
        // classify agree.
        let trained = try TrainableSequenceClassifier(directory: out)
        let tokenizer = try BertTokenizer(directory: out)
        let texts = ["tokyo paris museum", "running walked play"]
        let encodings = texts.map { tokenizer.encode($0) }
        let ws = try trained.makeWorkspace(maxBatch: 2, maxLength: 16)
        let logits = try trained.forward(ids: encodings.map(\.ids), typeIds: encodings.map(\.typeIds), workspace: ws)
        let classify = try CLI.run("bert", ["classify", "--model", out.path, "--lines", "-"], stdin: texts.joined(separator: "\n") + "\n")
        #expect(classify.status == 0, "\(classify.stderr)")
        let records = try classify.jsonLines().map { try #require($0 as? [String: Any]) }
        #expect(records.count == 2)
        for (b, record) in records.enumerated() {
            let scores = try #require(record["scores"] as? [String: Double])
            let positive = 1 / (1 + Foundation.exp(Double(logits[2 * b]) - Double(logits[2 * b + 1])))
            #expect(abs((scores["POSITIVE"] ?? -1) - positive) < 1e-5, "\(name) text \(b): classify \(scores), training forward \(positive)")
        }
    }
}
