import Foundation
import Testing
@testable import BertBLAS

/// `bert pretrain` end to end on the tiny BertForMaskedLM of heads/models/mlm (vocab 1,805,
/// hidden 32, 2 layers, with its tokenizer): on a small repetitive corpus the held-out MLM loss
/// falls, the folder it writes is a BertForMaskedLM that the training model and `bert
/// fill-mask` read back.
@Suite struct PretrainMLMCLITests {
    /// 120 short sentences from a few templates, seeded: learnable in a few steps.
    static func corpus() -> String {
        let subjects = ["the city", "the river", "the museum", "the capital", "paris", "london"]
        let verbs = ["is", "was", "has been"]
        let objects = ["very old", "very large", "full of people", "in the north", "near the sea"]
        var generator = SplitMix64(seed: 5)
        func pick(_ words: [String]) -> String { words[Int(generator.next() % UInt64(words.count))] }
        return (0..<120).map { _ in "\(pick(subjects)) \(pick(verbs)) \(pick(objects))." }.joined(separator: "\n") + "\n"
    }

    @Test func heldOutLossFallsAndTheFolderLoadsBack() throws {
        let dir = try FinetuneCLITests.temp("pretrain")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("corpus.txt")
        try Self.corpus().write(to: corpus, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let model = Paths.golden("heads/models/mlm")
        let run = try CLI.run("bert", ["pretrain", "--model", model.path, "--corpus", corpus.path, "--out", out.path,
                                       "--epochs", "3", "--learning-rate", "2e-3", "--batch-size", "8", "--max-length", "24",
                                       "--validation-split", "0.2", "--probability", "0.3", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        #expect(epochs.count == 3)
        let initial = try #require(summary["initial"] as? [String: Any])
        let before = try #require(initial["loss"] as? Double)
        let masked = try #require(initial["masked_tokens"] as? Int)
        #expect(masked > 0)
        let last = try #require(epochs.last?["validation"] as? [String: Any])
        let after = try #require(last["loss"] as? Double)
        // The same held-out predictions are scored every time.
        #expect(last["masked_tokens"] as? Int == masked)
        #expect(after < 0.8 * before, "held-out MLM loss \(before) → \(after)")
        let perplexity = try #require(last["perplexity"] as? Double)
        #expect(abs(perplexity - Foundation.exp(after)) <= 1e-9 * perplexity)

        // A BertForMaskedLM folder without the tied decoder; the trained weights, read back.
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(config["architectures"] as? [String] == ["BertForMaskedLM"])
        let weights = try WeightStore(url: out.appendingPathComponent("model.safetensors"))
        #expect(weights.contains(TensorName(["cls.predictions.bias"])))
        #expect(!weights.contains(TensorName(["cls.predictions.decoder.weight"])))
        let source = try TrainableMaskedLM(directory: model), trained = try TrainableMaskedLM(directory: out)
        #expect(trained.parameters.entries.map(\.name) == source.parameters.entries.map(\.name))
        #expect(Array(trained.parameters.values) != Array(source.parameters.values))
        // fill-mask (the inference head) reads it.
        let fill = try CLI.run("bert", ["fill-mask", "--model", out.path], stdin: "the city is [MASK] old.\n")
        #expect(fill.status == 0, "\(fill.stderr)")
    }

    /// A corpus that does not exist is refused before the model loads, naming the path once.
    @Test func aMissingCorpusIsNamedOnce() throws {
        let dir = try FinetuneCLITests.temp("pretrain-missing")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("no-such-corpus.txt").path
        let run = try CLI.run("bert", ["pretrain", "--model", Paths.golden("heads/models/mlm").path, "--corpus", corpus,
                                       "--out", dir.appendingPathComponent("out").path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("\(corpus): no such file"), "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: corpus).count == 2, "the path is named more than once: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
    }

    @Test func corpusIsCutIntoWrappedSequences() throws {
        let tokenizer = try BertTokenizer(directory: Paths.golden("heads/models/mlm"))
        let texts = ["the city is very old.", "london was near the sea."]
        let sequences = try MaskedLMPretrainer.sequences(texts, tokenizer: tokenizer, maxLength: 6)
        let stream = texts.flatMap { tokenizer.encode($0, addSpecialTokens: false).ids }
        let wrap = tokenizer.encode("").ids
        #expect(sequences.flatMap { Array($0.ids.dropFirst().dropLast()) } == stream)
        #expect(sequences.allSatisfy { $0.ids.count <= 6 && $0.ids.first == wrap[0] && $0.ids.last == wrap[1] })
        #expect(sequences.allSatisfy { $0.special == [1] + [Int32](repeating: 0, count: $0.ids.count - 2) + [1] })
        #expect(throws: BertError(.invalidInput, "maxLength must be at least 3, got 2")) {
            try MaskedLMPretrainer.sequences(texts, tokenizer: tokenizer, maxLength: 2)
        }
    }
}
