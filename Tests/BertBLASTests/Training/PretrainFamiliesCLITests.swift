import Foundation
import Testing
@testable import BertBLAS

/// `bert pretrain` on each family's tiny random masked-LM checkpoint (Tests/Goldens/families/models:
/// hidden 32, 2 layers, each with its own tokenizer — WordPiece, byte-level BPE, SentencePiece
/// Unigram), with whole-word masking: the held-out MLM loss falls, the folder it writes is the
/// family's `…ForMaskedLM` (tied decoder not stored), and `bert fill-mask` on it scores a mask
/// as the trained model's own forward does.
@Suite struct PretrainFamiliesCLITests {
    /// (checkpoint, class written, mask token, the head's bias tensor).
    static let cases: [(String, String, String, String)] = [
        ("distilbert-mlm", "DistilBertForMaskedLM", "[MASK]", "vocab_projector.bias"),
        ("roberta-mlm", "RobertaForMaskedLM", "<mask>", "lm_head.bias"),
        ("xlm-roberta-mlm", "XLMRobertaForMaskedLM", "<mask>", "lm_head.bias"),
        ("electra-mlm", "ElectraForMaskedLM", "[MASK]", "generator_lm_head.bias"),
    ]

    @Test(arguments: cases)
    func heldOutLossFallsAndFillMaskReadsTheFolder(_ c: (name: String, className: String, mask: String, bias: String)) throws {
        let dir = try FinetuneCLITests.temp("pretrain-\(c.name)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("corpus.txt")
        try PretrainMLMCLITests.corpus().write(to: corpus, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let model = Paths.golden("families/models/\(c.name)")
        let run = try CLI.run("bert", ["pretrain", "--model", model.path, "--corpus", corpus.path, "--out", out.path,
                                       "--epochs", "3", "--learning-rate", "5e-3", "--batch-size", "8", "--max-length", "24",
                                       "--validation-split", "0.2", "--probability", "0.3", "--whole-word", "--json"])
        #expect(run.status == 0, "\(c.name): \(run.stderr)")
        let summary = try #require(try run.jsonLines().first as? [String: Any])
        #expect(summary["next_sentence"] as? Bool == false)
        let initial = try #require(summary["initial"] as? [String: Any])
        let before = try #require(initial["loss"] as? Double)
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        #expect(epochs.count == 3)
        let last = try #require(epochs.last?["validation"] as? [String: Any])
        let after = try #require(last["loss"] as? Double)
        #expect(last["masked_tokens"] as? Int == initial["masked_tokens"] as? Int)
        #expect(after < 0.8 * before, "\(c.name): held-out MLM loss \(before) → \(after)")
        print("PretrainFamilies \(c.name): held-out MLM loss \(before) → \(after)")

        // The family's class, its names, no tied decoder; the trained weights read back.
        let config = try BertConfig.load(out.appendingPathComponent("config.json"))
        #expect(config.architectures == [c.className])
        let weights = try WeightStore(url: out.appendingPathComponent("model.safetensors"))
        #expect(weights.contains(TensorName([c.bias])))
        #expect(!weights.contains(config.tensorNames.heads.maskedLM.decoderWeight))
        let source = try TrainableMaskedLM(directory: model), trained = try TrainableMaskedLM(directory: out)
        #expect(trained.parameters.entries.map(\.name) == source.parameters.entries.map(\.name))
        #expect(Array(trained.parameters.values) != Array(source.parameters.values))

        // fill-mask (the inference head) on the folder: its scores are the softmax of the trained
        // model's logits at the mask.
        let text = "the city is \(c.mask) old."
        let fill = try CLI.run("bert", ["fill-mask", "--model", out.path, "--top-k", "3"], stdin: text + "\n")
        #expect(fill.status == 0, "\(c.name): \(fill.stderr)")
        let guesses = try #require(try fill.jsonLines().first as? [[String: Any]])
        #expect(guesses.count == 3)
        let tokenizer = try BertTokenizer(directory: out)
        let ids = tokenizer.encode(text).ids
        let mask = try #require(tokenizer.specialTokens.mask)
        let position = try #require(ids.firstIndex(of: mask))
        var labels = [Int32](repeating: MLMMasker.ignoreLabel, count: ids.count)
        labels[position] = 0
        let ws = try trained.makeWorkspace(maxBatch: 1, maxLength: ids.count)
        _ = try trained.loss(ids: [ids], labels: [labels], workspace: ws)
        let logits = Array(UnsafeBufferPointer(start: ws.head[TrainableMaskedLM.Slot.logits.rawValue], count: trained.vocabularySize))
        let top = logits.max() ?? 0
        let sum = logits.reduce(0.0) { $0 + Foundation.exp(Double($1 - top)) }
        for guess in guesses {
            let token = try #require(guess["token"] as? Int)
            let score = try #require(guess["score"] as? Double)
            let expected = Foundation.exp(Double(logits[token] - top)) / sum
            #expect(abs(score - expected) <= 1e-5, "\(c.name) token \(token): fill-mask \(score), trained forward \(expected)")
        }
    }

    /// Dropout is on by default at the config's encoder rates (reported), and `--no-dropout`
    /// turns it off: the first epoch's training loss differs, the held-out loss before training
    /// does not.
    @Test func dropoutIsOnByDefaultAndNoDropoutTurnsItOff() throws {
        let dir = try FinetuneCLITests.temp("pretrain-dropout")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("corpus.txt")
        try PretrainMLMCLITests.corpus().write(to: corpus, atomically: true, encoding: .utf8)
        let model = Paths.golden("families/models/electra-mlm")
        func run(_ extra: [String]) throws -> [String: Any] {
            let run = try CLI.run("bert", ["pretrain", "--model", model.path, "--corpus", corpus.path,
                                           "--out", dir.appendingPathComponent("out").path, "--learning-rate", "5e-3",
                                           "--batch-size", "8", "--max-length", "24", "--json"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            return try #require(try run.jsonLines().first as? [String: Any])
        }
        let on = try run([]), off = try run(["--no-dropout"])
        let rates = try #require(on["dropout"] as? [String: Double])
        // electra-mlm's config.json: hidden_dropout_prob 0.1, attention_probs_dropout_prob 0.1.
        #expect(Set(rates.keys) == ["hidden", "attention", "classifier"])
        #expect(abs((rates["hidden"] ?? 0) - 0.1) < 1e-6 && abs((rates["attention"] ?? 0) - 0.1) < 1e-6 && rates["classifier"] == 0,
                "\(rates)")
        #expect(off["dropout"] == nil)
        func first(_ s: [String: Any], _ key: String) -> Double? { (s["epochs"] as? [[String: Any]])?.first?[key] as? Double }
        func initial(_ s: [String: Any]) -> Double? { (s["initial"] as? [String: Any])?["loss"] as? Double }
        #expect(initial(on) != nil && initial(on) == initial(off))
        let lossOn = try #require(first(on, "train_loss")), lossOff = try #require(first(off, "train_loss"))
        #expect(abs(lossOn - lossOff) > 1e-4, "train loss with dropout \(lossOn), without \(lossOff)")
    }

    /// Next-sentence pairs are BERT's: asking for them on a family names config.json and says why.
    @Test func nextSentenceIsRefusedForAFamily() throws {
        let model = Paths.golden("families/models/roberta-mlm")
        var options = MaskedLMPretrainer.Options()
        options.nextSentence = true
        options.maxLength = 24
        let texts = PretrainMLMCLITests.corpus().split(separator: "\n").map(String.init)
        let path = model.appendingPathComponent("config.json").path
        #expect(throws: BertError(.unsupported, "\(path): nextSentence is true, but model_type roberta has no next-sentence head (transformers has next-sentence prediction for bert only); RobertaForMaskedLM trains the masked LM alone")) {
            try MaskedLMPretrainer.train(directory: model, texts: texts, options: options)
        }
    }
}
