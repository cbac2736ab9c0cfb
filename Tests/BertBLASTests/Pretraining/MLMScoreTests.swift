import Foundation
import Testing
@testable import BertBLAS

/// `bert mlm-score` and `PretrainingScorer` against HF BertForPreTraining / BertForMaskedLM
/// losses (scripts/goldens_pretrain.py).
@Suite struct MLMScoreTests {
    struct ExampleGolden: Decodable {
        var masked_tokens: Int
        var mlm_loss_sum: Double
        var mlm_correct: Int
        var nsp_loss: Double?
        var nsp_correct: Bool?
        var is_next_probability: Double?
    }
    struct TotalGolden: Decodable {
        var mlm_loss: Double
        var nsp_loss: Double?
        var masked_tokens: Int
        var mlm_correct: Int
        var nsp_correct: Int?
        var examples: Int
    }
    struct Golden: Decodable {
        var examples: [ExampleGolden]
        var total: TotalGolden
    }

    static let tinyModel = Paths.golden("pretrain/models/tiny-pretraining")

    static func golden(_ name: String) throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Paths.golden("pretrain/\(name).json")))
    }

    static func records(_ name: String) throws -> [ScoringExample] {
        let text = try String(contentsOf: Paths.golden("pretrain/\(name).jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let ids = try #require(object["input_ids"] as? [Int]), labels = try #require(object["labels"] as? [Int])
            let n = (object["attention_mask"] as? [Int])?.filter { $0 == 1 }.count ?? ids.count
            return ScoringExample(inputIds: ids.prefix(n).map { Int32($0) },
                                  tokenTypeIds: (object["token_type_ids"] as? [Int])?.prefix(n).map { Int32($0) },
                                  labels: labels.prefix(n).map { Int32($0) },
                                  nextSentenceLabel: (object["next_sentence_label"] as? Int).map { Int32($0) })
        }
    }

    @Test func perExampleScoresMatchHFBertForPreTraining() throws {
        let golden = try Self.golden("score_tiny")
        let scorer = try PretrainingScorer(directory: Self.tinyModel)
        #expect(scorer.hasNextSentenceHead)
        let scores = try scorer.score(try Self.records("score_tiny"), batchSize: 5)
        #expect(scores.count == golden.examples.count)
        var summary = ScoreSummary()
        for (score, expected) in zip(scores, golden.examples) {
            summary.add(score)
            #expect(score.maskedTokens == expected.masked_tokens)
            #expect(abs(score.mlmLossSum - expected.mlm_loss_sum) <= 1e-4 * max(1, expected.mlm_loss_sum))
            #expect(score.mlmCorrect == expected.mlm_correct)
            #expect(abs((score.nspLoss ?? .nan) - (expected.nsp_loss ?? .nan)) <= 1e-4)
            #expect(score.nspCorrect == expected.nsp_correct)
            #expect(abs((score.isNextProbability ?? .nan) - (expected.is_next_probability ?? .nan)) <= 1e-5)
        }
        #expect(abs((summary.mlmLoss ?? .nan) - golden.total.mlm_loss) <= 1e-4 * golden.total.mlm_loss)
        #expect(abs((summary.nspLoss ?? .nan) - (golden.total.nsp_loss ?? .nan)) <= 1e-4)
        #expect(summary.nspCorrect == golden.total.nsp_correct)
    }

    @Test func cliSummaryMatchesHFOnTinyAndSplade() throws {
        for (name, model) in [("score_tiny", Self.tinyModel.path), ("score_splade", Paths.spladeMLM.path)] {
            let golden = try Self.golden(name)
            let result = try CLI.run("bert", ["mlm-score", "--model", model, Paths.golden("pretrain/\(name).jsonl").path])
            #expect(result.status == 0, "\(result.stderr)")
            let summary = try #require(try result.jsonLines().last as? [String: Any])
            #expect(summary["examples"] as? Int == golden.total.examples)
            #expect(summary["masked_tokens"] as? Int == golden.total.masked_tokens)
            let loss = try #require(summary["mlm_loss"] as? Double)
            #expect(abs(loss - golden.total.mlm_loss) <= 1e-4 * golden.total.mlm_loss, "\(name): \(loss)")
            let accuracy = try #require(summary["mlm_accuracy"] as? Double)
            #expect(abs(accuracy * Double(golden.total.masked_tokens) - Double(golden.total.mlm_correct)) < 0.5)
            if let nspCorrect = golden.total.nsp_correct {
                let nsp = try #require(summary["nsp_accuracy"] as? Double)
                #expect(abs(nsp * Double(golden.total.examples) - Double(nspCorrect)) < 0.5)
            } else {
                #expect(summary["nsp_accuracy"] == nil)
            }
        }
    }

    @Test func pretrainDataOutputScoresEndToEnd() throws {
        // The loop: corpus → bert pretrain-data → bert mlm-score, with the tiny checkpoint's tokenizer.
        let lines = try PretrainCorpora.bbcLines(perCategory: 2)
        let corpus = FileManager.default.temporaryDirectory
            .appendingPathComponent("bertblas-mlmscore-\(ProcessInfo.processInfo.processIdentifier).txt")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: corpus)
        defer { try? FileManager.default.removeItem(at: corpus) }
        let data = try CLI.run("bert", ["pretrain-data", "--model", Self.tinyModel.path, "--dupe-factor", "1",
                                        "--max-seq-length", "64", "--pad", corpus.path])
        #expect(data.status == 0, "\(data.stderr)")
        let examples = data.lines.count
        #expect(examples > 20)
        let scored = try CLI.run("bert", ["mlm-score", "--model", Self.tinyModel.path], stdin: data.stdout)
        #expect(scored.status == 0, "\(scored.stderr)")
        let summary = try #require(try scored.jsonLines().last as? [String: Any])
        #expect(summary["examples"] as? Int == examples)
        #expect(summary["nsp_examples"] as? Int == examples)
        #expect((summary["mlm_loss"] as? Double).map { $0 > 0 && $0.isFinite } == true)
    }

    @Test func badRecordsGetErrorRecordsInPlace() throws {
        let good = "{\"input_ids\":[2,917,3],\"labels\":[-100,917,-100]}"
        let input = [good, "not json", "{\"input_ids\":[2,3]}", "{\"input_ids\":[2,999999,3],\"labels\":[-100,-100,-100]}",
                     "{\"input_ids\":[2,5,3],\"labels\":[-100,5,-100],\"next_sentence_label\":2}", good].joined(separator: "\n")
        let result = try CLI.run("bert", ["mlm-score", "--model", Self.tinyModel.path, "--per-example"], stdin: input + "\n")
        #expect(result.status != 0)
        let records = try result.jsonLines().compactMap { $0 as? [String: Any] }
        #expect(records.count == 7) // 6 in place + the summary
        #expect(records[0]["masked_tokens"] as? Int == 1)
        for i in 1 ... 4 { #expect(records[i]["error"] != nil, "record \(i)") }
        #expect(records[5]["masked_tokens"] as? Int == 1)
        #expect(records[6]["examples"] as? Int == 2)
        let noHead = try CLI.run("bert", ["mlm-score", "--model", Paths.miniLM.path], stdin: good + "\n")
        #expect(noHead.status != 0)
        #expect(noHead.stderr.contains("cls.predictions"))
    }
}
