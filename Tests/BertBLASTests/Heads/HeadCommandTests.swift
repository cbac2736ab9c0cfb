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

    /// `--kernel naive` runs every matrix product in plain Swift; the pipeline's answer must not change.
    @Test(arguments: ["fill-mask", "nsp", "ner", "qa"])
    func naiveKernelAgreesWithBLAS(command: String) throws {
        let (model, input, extra): (String, String, [String]) = switch command {
        case "fill-mask": ("mlm", "Paris is the [MASK] of France.\n", [])
        case "nsp": ("nsp", "The cat sat down.\tIt purred.\n", [])
        case "ner": ("ner-bio", "John Smith lives in New York.\n", ["--aggregation", "simple"])
        default: ("qa", "John Smith, a student from London, walked there every day.\n", ["--question", "Who walked there?"])
        }
        func run(_ kernel: String) throws -> [Any] {
            let r = try CLI.run("bert", [command, "--model", Self.model(model), "--kernel", kernel] + extra, stdin: input)
            #expect(r.status == 0, "\(command) --kernel \(kernel): \(r.stderr)")
            return try r.jsonLines()
        }
        let blas = try run("blas"), naive = try run("naive")
        #expect(blas.count == 1 && naive.count == 1)
        // Same labels, tokens and spans; scores within 1e-4.
        #expect(Self.shape(blas) == Self.shape(naive))
        let diff = zip(Self.numbers(blas), Self.numbers(naive)).map { abs($0 - $1) }.max() ?? 0
        #expect(diff <= 1e-4, "\(command): max score difference \(diff)")
        #expect(!Self.numbers(blas).isEmpty)
    }

    /// Every non-numeric leaf of a JSON value, in order.
    static func shape(_ value: Any) -> [String] {
        switch value {
        case let a as [Any]: return a.flatMap(shape)
        case let d as [String: Any]: return d.keys.sorted().flatMap { [$0] + shape(d[$0] as Any) }
        case is NSNumber where !(value is Bool): return []
        default: return ["\(value)"]
        }
    }

    /// Every numeric leaf of a JSON value, in order (integers such as token ids included).
    static func numbers(_ value: Any) -> [Double] {
        switch value {
        case let a as [Any]: return a.flatMap(numbers)
        case let d as [String: Any]: return d.keys.sorted().flatMap { numbers(d[$0] as Any) }
        case let n as NSNumber: return [n.doubleValue]
        default: return []
        }
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
        // A blank --question is an option error, reported once before any input is read.
        #expect(empty.status == 64)
        #expect(empty.stdout.isEmpty)
        #expect(empty.stderr.contains("--question is empty"))
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
