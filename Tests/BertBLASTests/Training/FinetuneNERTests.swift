import Foundation
import Testing
@testable import BertBLAS

/// `bert finetune --task ner` end to end on a tiny encoder: the CoNLL reader, label alignment on
/// first sub-tokens, entity metrics, and a BertForTokenClassification folder that `bert ner` loads.
@Suite struct FinetuneNERTests {
    /// 80 sentences of 5 words, seeded: place words tagged B-place, verbs B-action, "the" O.
    static func data() -> String {
        var generator = SplitMix64(seed: 11)
        var out = "-DOCSTART-\tO\n\n"
        for _ in 0..<80 {
            for _ in 0..<5 {
                switch generator.next() % 3 {
                case 0: out += "\(FinetuneTasksTests.cities[Int(generator.next() % 8)])\tB-place\n"
                case 1: out += "\(FinetuneTasksTests.verbs[Int(generator.next() % 8)])\tB-action\n"
                default: out += "the\tO\n"
                }
            }
            out += "\t\n"
        }
        return out
    }

    @Test func readerAlignsLabelsOnFirstSubTokens() throws {
        let dir = try FinetuneCLITests.temp("tagged")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("ner.txt")
        try "-DOCSTART- -X- O O\n\nplaying\tO\nParis\tB-place\n\t\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nlonely\n".write(to: file, atomically: true, encoding: .utf8)
        let data = try TaggedDataset.load(path: file.path)
        #expect(data.sentences.map(\.words) == [["playing", "Paris"], ["EU", "rejects"]])
        #expect(data.sentences.map(\.tags) == [["O", "B-place"], ["B-ORG", "O"]])
        #expect(data.labels == ["B-ORG", "B-place", "O"])
        #expect(data.warnings.count == 1 && data.warnings[0].contains(":8"), "\(data.warnings)")
        let tokenizer = try BertTokenizer(directory: Paths.golden("heads/models/cls-binary"))
        let pieces = tokenizer.encode("playing", addSpecialTokens: false).ids
        let encoded = data.encode(0, tokenizer: tokenizer, maxLength: 16)
        let ignored = TrainableTokenClassifier.ignoredLabel
        #expect(encoded.ids.first == tokenizer.specialTokens.cls && encoded.ids.last == tokenizer.specialTokens.sep)
        #expect(encoded.wordStarts == [1, 1 + pieces.count])
        #expect(encoded.labels == [ignored, 2] + [Int](repeating: ignored, count: pieces.count - 1)
                + [1] + [Int](repeating: ignored, count: encoded.ids.count - 2 - pieces.count))
        // Cut at a word boundary: the second word does not fit.
        let cut = data.encode(0, tokenizer: tokenizer, maxLength: pieces.count + 2)
        #expect(cut.wordStarts == [1] && cut.ids.count == pieces.count + 2)
        #expect(EntityMetrics.chunks(["O", "I-x", "I-x", "B-x", "B-y", "I-x"]).map { [$0.start, $0.end] } == [[1, 2], [3, 3], [4, 4], [5, 5]])
        let m = try EntityMetrics(truth: [["B-a", "I-a", "O", "B-b"]], predicted: [["B-a", "I-a", "B-b", "O"]])
        #expect(m.precision == 0.5 && m.recall == 0.5 && m.f1 == 0.5 && m.wordAccuracy == 0.5)
    }

    @Test func learnsWritesATokenClassifierThatNerLoads() throws {
        let dir = try FinetuneCLITests.temp("ft-ner")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("ner.txt"), out = dir.appendingPathComponent("out")
        try Self.data().write(to: data, atomically: true, encoding: .utf8)
        let encoder = try FinetuneTasksTests.encoderFolder(in: dir)
        let run = try CLI.run("bert", ["finetune", "--model", encoder.path, "--data", data.path, "--task", "ner", "--out", out.path,
                                       "--epochs", "20", "--learning-rate", "5e-3", "--batch-size", "8", "--max-length", "24", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        #expect(summary["labels"] as? [String] == ["B-action", "B-place", "O"])
        #expect(summary["train_examples"] as? Int == 64 && summary["validation_examples"] as? Int == 16)
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        let best = try #require(summary["best_epoch"] as? Int)
        let f1 = try #require(epochs[best - 1]["validation_entity_f1"] as? Double)
        #expect(f1 >= 0.9, "validation entity F1 \(f1)")
        let first = try #require(epochs.first?["train_loss"] as? Double), last = try #require(epochs.last?["train_loss"] as? Double)
        #expect(last < 0.2 * first, "train loss \(first) → \(last)")

        let config = try FinetuneTasksTests.config(out)
        #expect(config["architectures"] as? [String] == ["BertForTokenClassification"])
        #expect(config["problem_type"] == nil)
        #expect(config["id2label"] as? [String: String] == ["0": "B-action", "1": "B-place", "2": "O"])

        // bert ner loads the folder, and its logits are the training forward's.
        let text = "play the paris london walk"
        let trained = try TrainableTokenClassifier(directory: out)
        let tokenizer = try BertTokenizer(directory: out)
        let ws = try trained.makeWorkspace(maxBatch: 1, maxLength: 24)
        let logits = Array(try trained.forward(ids: [tokenizer.encode(text).ids], workspace: ws))
        let tagger = try TokenClassifier(directory: out)
        let entities = try tagger.entities(in: text, aggregation: .none)
        #expect(entities.count >= 2, "\(entities)")
        for entity in entities {
            let index = try #require(entity.index)
            let row = Array(logits[(index * 3)..<(index * 3 + 3)])
            let best = TaskMath.argmax(row) ?? -1
            #expect(entity.label == ["B-action", "B-place", "O"][best], "\(entity) vs logits \(row)")
        }
        let ner = try CLI.run("bert", ["ner", "--model", out.path], stdin: text + "\n")
        #expect(ner.status == 0, "\(ner.stderr)")

        // bert eval on the folder and the same split gives the kept epoch's validation figures.
        let eval = try CLI.run("bert", ["eval", "--model", out.path, "--data", data.path, "--split", "validation",
                                        "--max-length", "24", "--batch-size", "8", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try eval.jsonLines().first as? [String: Any])
        #expect(metrics["sentences"] as? Int == 16)
        #expect(metrics["entity_f1"] as? Double == f1, "eval \(metrics), finetune entity F1 \(f1)")
        #expect(metrics["word_accuracy"] as? Double == epochs[best - 1]["validation_word_accuracy"] as? Double)
        // All sentences: no tag outside the model's; a tag the model lacks is refused by name.
        let all = try CLI.run("bert", ["eval", "--model", out.path, "--data", data.path, "--max-length", "24"])
        #expect(all.status == 0 && all.stdout.contains("80 sentences") && all.stdout.contains("entity"), "\(all.stdout) \(all.stderr)")
        let other = dir.appendingPathComponent("other.txt")
        try "paris\tB-city\nplay\tB-action\n".write(to: other, atomically: true, encoding: .utf8)
        let refused = try CLI.run("bert", ["eval", "--model", out.path, "--data", other.path])
        #expect(refused.status != 0 && refused.stderr.contains("B-city"), "\(refused.stderr)")
    }
}
