import Foundation
import Testing
@testable import BertBLAS

/// The decoding steps alone, on the logits and encodings the HF reference produced
/// (no tokenizer or encoder involved).
@Suite struct DecodingTests {
    @Test func entityDecodingMatchesPipeline() throws {
        let golden = try HeadGoldens.json("ner.json")
        var checked = 0
        for (name, modelAny) in golden.object("models") {
            guard let model = modelAny as? [String: Any] else { continue }
            let labels = (model["labels"] as? [String]) ?? []
            let decoder = EntityDecoder(labels: labels, unknownId: 1)
            for c in model.objects("cases") {
                let rows = TokenRows(ids: c.ints("input_ids"), tokens: (c["tokens"] as? [String]) ?? [],
                                     offsets: c.spans("offsets"),
                                     special: c.ints("special_tokens_mask").map { $0 != 0 })
                let logits = ((c["logits"] as? [[NSNumber]]) ?? []).flatMap { $0.map(\.floatValue) }
                let results = c.object("results")
                for (key, ignore) in [("none", ["O"]), ("simple", ["O"]), ("first", ["O"]), ("average", ["O"]),
                                      ("max", ["O"]), ("simple_keep_all", [])] {
                    let strategy = AggregationStrategy(rawValue: key == "simple_keep_all" ? "simple" : key) ?? .none
                    let got = decoder.decode(logits: logits, rows: rows, text: c.string("text"), strategy: strategy,
                                             ignoreLabels: Set(ignore))
                    let want = (results[key] as? [[String: Any]]) ?? []
                    #expect(got.count == want.count, "\(name) \(key) \(c.string("text"))")
                    for (g, w) in zip(got, want) {
                        let label = strategy == .none ? w.string("entity") : w.string("entity_group")
                        #expect(g.label == label && g.word == w.string("word") && g.start == w.int("start")
                                && g.end == w.int("end"), "\(name) \(key): \(g) vs \(w)")
                        #expect(abs(Double(g.score) - w.double("score")) < 1e-4, "\(name) \(key): \(g) vs \(w)")
                        if strategy == .none { #expect(g.index == w.int("index")) }
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 200)
    }

    @Test func answerDecodingMatchesPipeline() throws {
        let golden = try HeadGoldens.json("qa.json")
        #expect(golden.objects("cases").count == 10)
        var compared = 0
        for c in golden.objects("cases") {
            let params = c.object("params")
            let options = QuestionAnsweringOptions(
                maxAnswerLen: (params["max_answer_len"] as? Int) ?? 15, topK: (params["top_k"] as? Int) ?? 1,
                handleImpossibleAnswer: (params["handle_impossible_answer"] as? Bool) ?? false)
            let windows = c.objects("window_details").map { w in
                AnswerWindow(ids: w.ints("input_ids"), sequenceIds: w.optionalInts("sequence_ids"),
                             wordIds: w.optionalInts("word_ids"), offsets: w.spans("offsets"),
                             startLogits: w.floats("start_logits"), endLogits: w.floats("end_logits"))
            }
            #expect(windows.count == c.int("windows"))
            let got = AnswerDecoder(clsId: 2, options: options).decode(windows: windows, context: c.string("context"))
            let want = c.objects("answers")
            #expect(got.count == want.count, "\(c.string("name"))")
            for (g, w) in zip(got, want) {
                #expect(g.answer == w.string("answer") && g.start == w.int("start") && g.end == w.int("end"),
                        "\(c.string("name")): \(g) vs \(w)")
                #expect(abs(g.score - w.double("score")) < 1e-4, "\(c.string("name")): \(g) vs \(w)")
                compared += 1
            }
        }
        #expect(compared >= 10)
    }

    @Test func classificationFunctionsMatchPipeline() throws {
        let golden = try HeadGoldens.json("classify.json")
        #expect(golden.object("models").count == 4)
        var compared = 0
        for (name, modelAny) in golden.object("models") {
            guard let model = modelAny as? [String: Any] else { continue }
            let labels = (model["labels"] as? [String]) ?? []
            let function = ClassificationFunction.default(problemType: model["problem_type"] as? String,
                                                          labelCount: labels.count)
            #expect(function == (name == "cls-multilabel" ? .sigmoid : .softmax))
            for c in model.objects("cases") {
                let scores = function.apply(c.floats("logits"))
                for r in c.objects("results") {
                    guard let i = labels.firstIndex(of: r.string("label")) else {
                        Issue.record("\(name): unknown label \(r.string("label"))")
                        continue
                    }
                    #expect(abs(Double(scores[i]) - r.double("score")) < 1e-5)
                    compared += 1
                }
            }
        }
        #expect(compared >= 4 * 15 * 2)
    }

    /// Entity words are joined by the tokenizer's decoder (WordPiece's here, as BERT's tokenizer.json).
    @Test func wordPieceJoinFollowsTheDecoder() {
        let decoder = TokenDecoder.wordPiece(prefix: "##", cleanup: true)
        #expect(decoder.decode(["##ing"]) == "##ing")
        #expect(decoder.decode(["hello", "##ing", ",", "world", "'", "s", "do", "n't", "[UNK]", "."])
                == "helloing, world ' s don't [UNK].")
    }
}
