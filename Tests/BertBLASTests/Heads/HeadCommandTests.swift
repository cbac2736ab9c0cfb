import Foundation
import Testing

/// The ner / qa / fill-mask / nsp commands as a user runs them: one JSON value per line, an
/// error record for a bad line, the other lines still processed, non-zero exit at the end.
@Suite struct HeadCommandTests {
    static func model(_ name: String) -> String { HeadGoldens.model(name).path }

    @Test func fillMaskReportsALineWithoutMask() throws {
        let r = try CLI.run("bert", ["fill-mask", "--model", Self.model("mlm"), "--top-k", "3"],
                            stdin: "Paris is the [MASK] of France.\nno mask here\nThe [MASK] of France is [MASK].\n")
        #expect(r.status != 0)
        let out = try r.jsonLines()
        #expect(out.count == 3)
        #expect((out[0] as? [[String: Any]])?.count == 3)
        #expect(((out[1] as? [String: Any])?["error"] as? String)?.contains("[MASK]") == true)
        #expect((out[2] as? [[[String: Any]]])?.count == 2)
        #expect(r.stderr.contains("-:2"))
        // The values equal the pipeline's.
        let golden = try HeadGoldens.json("fill_mask.json").objects("cases").first { $0.string("name") == "two_masks" }
        let want = (golden?["results"] as? [[[String: Any]]]) ?? []
        let got = (out[2] as? [[[String: Any]]]) ?? []
        #expect(got.map { $0.map { $0.int("token") } } == want.map { $0.map { $0.int("token") } })
    }

    @Test func qaReportsEmptyContextAndQuestion() throws {
        let r = try CLI.run("bert", ["qa", "--model", Self.model("qa"), "--question", "Who walked there?", "--top-k", "2"],
                            stdin: "John Smith, a student from London, walked there every day.\n\nMary walked.\n")
        #expect(r.status != 0)
        let out = try r.jsonLines()
        #expect(out.count == 3)
        #expect((out[0] as? [[String: Any]])?.count == 2)
        #expect(((out[1] as? [String: Any])?["error"] as? String)?.contains("context is empty") == true)
        #expect(out[2] is [[String: Any]])

        let empty = try CLI.run("bert", ["qa", "--model", Self.model("qa"), "--question", ""], stdin: "John walked.\n")
        #expect(empty.status != 0)
        #expect(((try empty.jsonLines().first as? [String: Any])?["error"] as? String)?.contains("question is empty") == true)
    }

    @Test func nspReportsALineWithoutTab() throws {
        let r = try CLI.run("bert", ["nsp", "--model", Self.model("nsp")],
                            stdin: "hello\tworld\nno tab here\nI was reading a book.\tThe book was long.\n")
        #expect(r.status != 0)
        let out = try r.jsonLines()
        #expect(out.count == 3)
        let first = (out[0] as? [String: Any]) ?? [:]
        let golden = try HeadGoldens.json("nsp.json").objects("cases").first { $0.string("a") == "hello" } ?? [:]
        #expect(abs(first.double("is_next") - golden.double("is_next")) < 1e-4)
        #expect(((out[1] as? [String: Any])?["error"] as? String)?.contains("tab") == true)
        #expect((out[2] as? [String: Any])?["not_next"] != nil)
    }

    @Test func nerMatchesThePipelineAndRejectsTheWrongCheckpoint() throws {
        let golden = try HeadGoldens.json("ner.json").object("models").object("ner-bio").objects("cases")
        let r = try CLI.run("bert", ["ner", "--model", Self.model("ner-bio"), "--aggregation", "average"],
                            stdin: golden.prefix(3).map { $0.string("text") }.joined(separator: "\n") + "\n")
        #expect(r.status == 0)
        let out = try r.jsonLines()
        #expect(out.count == 3)
        for (line, c) in zip(out, golden) {
            let want = (c.object("results")["average"] as? [[String: Any]]) ?? []
            let got = (line as? [[String: Any]]) ?? []
            #expect(got.map { $0.string("entity_group") } == want.map { $0.string("entity_group") })
            #expect(got.map { $0.int("start") } == want.map { $0.int("start") })
        }

        let wrong = try CLI.run("bert", ["ner", "--model", Self.model("qa")], stdin: "one\ntwo\n")
        #expect(wrong.status != 0)
        let records = try wrong.jsonLines()
        #expect(records.count == 2)
        for record in records {
            #expect(((record as? [String: Any])?["error"] as? String)?.contains("classifier.weight") == true)
        }
    }
}
