import Foundation
import Testing
@testable import BertBLAS

/// The same `bert` commands on every family's checkpoints, against the transformers goldens of
/// scripts/goldens_families.py; FinBERT-style end to end through `bert classify` and `bert eval`;
/// `bert train-head` on a family encoder.
@Suite(.serialized) struct FamilyCLITests {
    static func temp(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-family-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func run(_ arguments: [String], stdin: String) throws -> [Any] {
        let r = try CLI.run("bert", arguments, stdin: stdin)
        #expect(r.status == 0, "bert \(arguments.joined(separator: " ")): \(r.stderr)")
        return try r.jsonLines()
    }

    /// `bert classify` (single texts) equals the text-classification pipeline.
    @Test(arguments: ["distilbert-cls", "electra-cls", "roberta-cls", "xlm-roberta-cls", "distilbert-sinusoidal-cls", "finbert-cls"])
    func classify(name: String) throws {
        let cases = try FamilyGoldens.pipelines(name).filter { $0["pair"] == nil }
        let out = try Self.run(["classify", "--model", FamilyGoldens.model(name).path, "--lines", "--long-text", "truncate", "-"],
                               stdin: cases.map { $0.string("text") }.joined(separator: "\n") + "\n")
        #expect(out.count == cases.count)
        for (line, c) in zip(out, cases) {
            let record = (line as? [String: Any]) ?? [:]
            let want = c.objects("results")
            #expect(record["label"] as? String == want.first?.string("label"), "\(name): \(c.string("text"))")
            let scores = (record["scores"] as? [String: Double]) ?? [:]
            for w in want {
                #expect(abs((scores[w.string("label")] ?? -1) - w.double("score")) < 1e-4, "\(name): \(w)")
            }
        }
    }

    /// FinBERT-style: a BERT checkpoint with its own cased vocab.txt and positive/negative/neutral,
    /// classified and evaluated end to end (labels matched by name).
    @Test func finbertEndToEnd() throws {
        let model = FamilyGoldens.model("finbert-cls").path
        let cases = try FamilyGoldens.pipelines("finbert-cls").filter { $0["pair"] == nil }
        let labels = try #require(try FamilyGoldens.checkpoint("finbert-cls").labels)
        #expect(labels == ["positive", "negative", "neutral"])
        let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: model))
        // Cased: "Shares" and "shares" are different tokens of its own vocabulary.
        #expect(tokenizer.vocabulary.id("Shares") != nil && tokenizer.vocabulary.id("Shares") != tokenizer.vocabulary.id("shares"))
        let dir = try Self.temp("finbert")
        let data = dir.appendingPathComponent("news.tsv")
        let rows = cases.map { "\($0.objects("results").first?.string("label") ?? "")\t\($0.string("text"))" }
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: data)
        let eval = try CLI.run("bert", ["eval", "--model", model, "--data", data.path, "--long-text", "truncate", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try eval.jsonLines().first as? [String: Any])
        #expect(metrics["accuracy"] as? Double == 1)
        #expect(metrics["count"] as? Int == cases.count)
    }

    @Test(arguments: ["distilbert-ner", "electra-ner", "roberta-ner", "xlm-roberta-ner"])
    func ner(name: String) throws {
        let cases = try FamilyGoldens.pipelines(name)
        let out = try Self.run(["ner", "--model", FamilyGoldens.model(name).path, "--aggregation", "simple"],
                               stdin: cases.map { $0.string("text") }.joined(separator: "\n") + "\n")
        #expect(out.count == cases.count)
        var compared = 0
        for (line, c) in zip(out, cases) {
            let got = (line as? [[String: Any]]) ?? []
            let want = (c.object("results")["simple"] as? [[String: Any]]) ?? []
            #expect(got.map { $0.string("entity_group") } == want.map { $0.string("entity_group") }, "\(name)")
            #expect(got.map { $0.string("word") } == want.map { $0.string("word") }, "\(name)")
            #expect(got.map { $0.int("start") } == want.map { $0.int("start") } && got.map { $0.int("end") } == want.map { $0.int("end") })
            for (g, w) in zip(got, want) { #expect(abs(g.double("score") - w.double("score")) < 1e-4) }
            compared += want.count
        }
        #expect(compared > 0)
    }

    @Test(arguments: ["distilbert-qa", "electra-qa", "roberta-qa", "xlm-roberta-qa"])
    func qa(name: String) throws {
        let c = try #require(try FamilyGoldens.pipelines(name).first { $0.string("name") == "default" })
        let out = try Self.run(["qa", "--model", FamilyGoldens.model(name).path, "--question", c.string("question")],
                               stdin: c.string("context") + "\n")
        let got = (out.first as? [[String: Any]]) ?? []
        let want = c.objects("answers")
        #expect(got.map { $0.string("answer") } == want.map { $0.string("answer") }, "\(name)")
        #expect(got.map { $0.int("start") } == want.map { $0.int("start") })
        for (g, w) in zip(got, want) { #expect(abs(g.double("score") - w.double("score")) < 1e-4) }
    }

    @Test(arguments: ["distilbert-mlm", "electra-mlm", "roberta-mlm", "xlm-roberta-mlm"])
    func fillMask(name: String) throws {
        let c = try #require(try FamilyGoldens.pipelines(name).first { $0.string("name") == "one_mask" })
        let out = try Self.run(["fill-mask", "--model", FamilyGoldens.model(name).path], stdin: c.string("text") + "\n")
        let got = (out.first as? [[String: Any]]) ?? []
        let want = (c["results"] as? [[[String: Any]]])?.first ?? []
        #expect(got.map { $0.int("token") } == want.map { $0.int("token") }, "\(name)")
        #expect(got.map { $0.string("sequence") } == want.map { $0.string("sequence") })
        for (g, w) in zip(got, want) { #expect(abs(g.double("score") - w.double("score")) < 1e-4) }
    }

    /// `bert embed` (mean pooling, no sentence-transformers files) equals the mean of
    /// transformers' last hidden state over each text's tokens.
    @Test(arguments: ["distilbert-cls", "electra-cls", "roberta-cls", "xlm-roberta-cls", "finbert-cls"])
    func embed(name: String) throws {
        let hidden = try #require(try FamilyGoldens.checkpoint(name).hidden)
        let texts = hidden.texts
        let out = try Self.run(["embed", "--model", FamilyGoldens.model(name).path], stdin: texts.joined(separator: "\n") + "\n")
        #expect(out.count == texts.count)
        let h = 32
        for (i, line) in out.enumerated() {
            let got = ((line as? [String: Any])?["embedding"] as? [Double])?.map(Float.init) ?? []
            let rows = hidden.last_hidden_state[i]
            let t = rows.count / h
            let mean = (0..<h).map { j in (0..<t).map { rows[$0 * h + j] }.reduce(0, +) / Float(t) }
            #expect(FamilyGoldens.maxAbs(got, mean) <= 1e-4, "\(name) text \(i)")
        }
    }

    /// `bert train-head` on a family's encoder, then `bert classify` with the head folder.
    @Test(arguments: ["distilbert-cls", "electra-cls", "roberta-cls", "xlm-roberta-cls", "finbert-cls"])
    func trainHead(name: String) throws {
        let dir = try Self.temp("train-\(name)")
        let data = dir.appendingPathComponent("train.tsv")
        let texts = ["good growth and a record profit", "shares rose and sales were great", "profit rose in the quarter",
                     "the market fell and shares fell", "a bad loss and sales fell", "investors worried as the price fell"]
        let labels = ["up", "up", "up", "down", "down", "down"]
        try Data((zip(labels, texts).map { "\($0)\t\($1)" }.joined(separator: "\n") + "\n").utf8).write(to: data)
        let head = dir.appendingPathComponent("head").path
        let train = try CLI.run("bert", ["train-head", "--model", FamilyGoldens.model(name).path, "--data", data.path,
                                         "--out", head, "--validation-split", "0", "--json"])
        #expect(train.status == 0, "\(name): \(train.stderr)")
        let report = try #require(try train.jsonLines().first as? [String: Any])
        #expect(report["labels"] as? [String] == ["down", "up"])
        #expect(report["train_examples"] as? Int == 6)
        let classify = try CLI.run("bert", ["classify", "--model", head, "--lines", "-"], stdin: texts.joined(separator: "\n") + "\n")
        #expect(classify.status == 0, "\(classify.stderr)")
        let records = try classify.jsonLines().compactMap { $0 as? [String: Any] }
        #expect(records.count == texts.count)
        // Six separable examples, λ small: the head reproduces its training labels.
        #expect(records.map { $0["label"] as? String ?? "" } == labels, "\(name)")
    }
}
