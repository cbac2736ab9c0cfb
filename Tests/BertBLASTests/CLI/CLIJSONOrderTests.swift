import Foundation
import Testing

/// JSON records have a fixed key order (sorted), so the same input gives byte-identical output.
@Suite struct CLIJSONOrderTests {
    static let heads = Paths.headModels.path

    @Test func recordsAndErrorRecordsHaveSortedKeys() throws {
        let runs = try (0..<3).map { _ in
            try CLI.run("bert", ["nsp", "--model", Self.heads + "/nsp"], stdin: "no tab here\nA sentence.\tAnother one.\n")
        }
        for r in runs {
            #expect(r.status != 0)
            #expect(r.lines.count == 2)
            // Before: dictionary order, different from run to run.
            #expect(r.lines.first == #"{"error":"expected 'A<TAB>B', found no tab","line":1,"source":"-"}"#)
            #expect(r.lines.last?.hasPrefix(#"{"is_next":"#) == true)
        }
        #expect(runs[0].stdout == runs[1].stdout && runs[1].stdout == runs[2].stdout)
    }

    @Test func nerEntitiesHaveSortedKeys() throws {
        let runs = try (0..<3).map { _ in
            try CLI.run("bert", ["ner", "--model", Self.heads + "/ner-bio"], stdin: "John lives in Paris\n")
        }
        for r in runs {
            #expect(r.status == 0)
            #expect(r.lines.first?.hasPrefix(#"[{"end":"#) == true, "\(r.stdout)")
        }
        #expect(runs[0].stdout == runs[1].stdout && runs[1].stdout == runs[2].stdout)
    }
}

/// Error records say what went wrong in "error" and where in "source" and "line", in every command.
@Suite struct CLIErrorRecordTests {
    @Test func tokenizeErrorRecordDoesNotRepeatTheLocation() throws {
        // Before: {"error":"-:2: --pair needs 'A<TAB>B', found no tab",...}, unlike the other commands.
        let r = try CLI.run("bert", ["tokenize", "--model", Paths.miniLM.path, "--pair"], stdin: "a\tb\nno tab\n")
        #expect(r.status != 0)
        #expect(r.lines.count == 2)
        #expect(r.lines.last == #"{"error":"--pair needs 'A<TAB>B', found no tab","line":2,"source":"-"}"#)
        #expect(r.stderr.contains("error: -:2: --pair needs"))
    }
}
