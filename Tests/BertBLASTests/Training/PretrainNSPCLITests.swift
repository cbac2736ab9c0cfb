import Foundation
import Testing
@testable import BertBLAS

/// `bert pretrain` with next-sentence pairs, end to end on the tiny random BertForPreTraining of
/// finetune/pretraining-model (scripts/goldens_finetune.py; vocab 1,805, hidden 32, 2 layers):
/// on a small corpus of documents the held-out MLM loss falls, the held-out pairs are the same
/// at every evaluation, and the folder it writes is a BertForPreTraining that `bert nsp` and
/// `bert fill-mask` read back; `--mlm-only` leaves the head out.
@Suite struct PretrainNSPCLITests {
    /// 30 documents of 6 short sentences, one subject per document, a blank line between them.
    static func corpus() -> String {
        let subjects = ["the city", "the river", "the museum", "the capital", "paris", "london"]
        let verbs = ["is", "was", "has been"]
        let objects = ["very old", "very large", "full of people", "in the north", "near the sea"]
        var generator = SplitMix64(seed: 7)
        func pick(_ words: [String]) -> String { words[Int(generator.next() % UInt64(words.count))] }
        return (0..<30).map { d in
            (0..<6).map { _ in "\(subjects[d % subjects.count]) \(pick(verbs)) \(pick(objects))." }.joined(separator: "\n")
        }.joined(separator: "\n\n") + "\n"
    }

    static let model = Paths.golden("finetune/pretraining-model")

    static func arguments(corpus: URL, out: URL, epochs: Int) -> [String] {
        ["pretrain", "--model", model.path, "--corpus", corpus.path, "--out", out.path, "--epochs", "\(epochs)",
         "--learning-rate", "2e-3", "--batch-size", "8", "--max-length", "32", "--validation-split", "0.2",
         "--probability", "0.3", "--json"]
    }

    @Test func heldOutLossFallsAndTheBertForPreTrainingFolderLoadsBack() throws {
        let dir = try FinetuneCLITests.temp("pretrain-nsp")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("corpus.txt")
        try Self.corpus().write(to: corpus, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let run = try CLI.run("bert", Self.arguments(corpus: corpus, out: out, epochs: 6))
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        #expect(summary["next_sentence"] as? Bool == true)
        #expect(summary["train_documents"] as? Int == 24 && summary["validation_documents"] as? Int == 6)
        let initial = try #require(summary["initial"] as? [String: Any])
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        #expect(epochs.count == 6)
        let before = try #require(initial["loss"] as? Double)
        let pairs = try #require(initial["pairs"] as? Int)
        #expect(pairs > 0 && summary["validation_sequences"] as? Int == pairs)
        #expect(initial["next_sentence_loss"] is Double && initial["next_sentence_accuracy"] is Double)
        let last = try #require(epochs.last?["validation"] as? [String: Any])
        let after = try #require(last["loss"] as? Double)
        // The same held-out pairs and masks every time.
        #expect(last["pairs"] as? Int == pairs && last["masked_tokens"] as? Int == initial["masked_tokens"] as? Int)
        #expect(after < 0.8 * before, "held-out MLM loss \(before) → \(after)")
        #expect(epochs.allSatisfy { $0["train_next_sentence_loss"] is Double })

        // A BertForPreTraining folder: the NSP head trained and kept, the tied decoder not stored.
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(config["architectures"] as? [String] == ["BertForPreTraining"])
        let weights = try WeightStore(url: out.appendingPathComponent("model.safetensors"))
        #expect(!weights.contains(TensorName(["cls.predictions.decoder.weight"])))
        let source = try TrainableMaskedLM(directory: Self.model, nextSentence: true)
        let trained = try TrainableMaskedLM(directory: out, nextSentence: true)
        #expect(trained.parameters.entries.map(\.name) == source.parameters.entries.map(\.name))
        let head = try #require(source.parameters.entries.first { $0.name == "cls.seq_relationship.weight" })
        #expect(Array(trained.parameters.values(of: head)) != Array(source.parameters.values(of: head)))

        // bert nsp reads it: its probabilities are the softmax of the training forward's logits.
        let (a, b) = ("paris was very old.", "paris is near the sea.")
        let nsp = try CLI.run("bert", ["nsp", "--model", out.path], stdin: "\(a)\t\(b)\n")
        #expect(nsp.status == 0, "\(nsp.stderr)")
        let record = try #require(try nsp.jsonLines().first as? [String: Any])
        let isNext = try #require(record["is_next"] as? Double)
        let tokenizer = try BertTokenizer(directory: out)
        let encoding = tokenizer.encode(a, pair: b)
        let predictor = try TrainableNextSentencePredictor(directory: out)
        let ws = try predictor.makeWorkspace(maxBatch: 1, maxLength: 32)
        let logits = Array(try predictor.forward(ids: [encoding.ids], typeIds: [encoding.typeIds], workspace: ws))
        let expected = 1 / (1 + Foundation.exp(Double(logits[1] - logits[0])))
        #expect(abs(isNext - expected) <= 1e-5, "bert nsp \(isNext), training forward \(expected)")
        let fill = try CLI.run("bert", ["fill-mask", "--model", out.path], stdin: "paris is [MASK] old.\n")
        #expect(fill.status == 0, "\(fill.stderr)")
    }

    /// `--mlm-only` trains the masked LM alone on the same checkpoint: grouped sequences, no
    /// next-sentence figures, a BertForMaskedLM folder without the pooler and NSP head.
    @Test func mlmOnlyLeavesTheNextSentenceHeadOut() throws {
        let dir = try FinetuneCLITests.temp("pretrain-mlm-only")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("corpus.txt")
        try Self.corpus().write(to: corpus, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let run = try CLI.run("bert", Self.arguments(corpus: corpus, out: out, epochs: 1) + ["--mlm-only"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        #expect(summary["next_sentence"] as? Bool == false && summary["train_documents"] == nil)
        let initial = try #require(summary["initial"] as? [String: Any])
        #expect(initial["next_sentence_loss"] == nil)
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(config["architectures"] as? [String] == ["BertForMaskedLM"])
        let weights = try WeightStore(url: out.appendingPathComponent("model.safetensors"))
        #expect(!weights.contains(TensorName(["cls.seq_relationship.weight"])))
    }

    /// A corpus of one document cannot make NotNext pairs; the error says how to separate them.
    @Test func oneDocumentIsRefused() throws {
        var options = MaskedLMPretrainer.Options()
        options.maxLength = 32
        options.validationSplit = 0
        let texts = Self.corpus().split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        do {
            _ = try MaskedLMPretrainer.train(directory: Self.model, texts: texts, options: options)
            Issue.record("one document was accepted for next-sentence pairs")
        } catch let error as BertError {
            #expect(error.message.contains("at least two training documents"), "\(error.message)")
        }
        options.nextSentence = true
        #expect(throws: BertError.self) {
            try MaskedLMPretrainer.train(directory: Paths.golden("heads/models/mlm"), texts: texts, options: options)
        }
    }
}
