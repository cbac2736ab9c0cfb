import Foundation
import Testing

/// Task commands on edge-case inputs and settings, as a user would run them.
@Suite struct CLITaskInputTests {
    static let heads = Paths.golden("heads/models").path

    @Test func nerBlankLineGivesAnEmptyList() throws {
        // transformers 4.57.1: pipeline('token-classification')('') == [] and ('   ') == [].
        // Before: {"error":"text 1 is empty"} and a non-zero exit.
        let r = try CLI.run("bert", ["ner", "--model", Self.heads + "/ner-bio"], stdin: "John lives in Paris\n\n   \n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.count == 3)
        #expect(r.lines[1] == "[]" && r.lines[2] == "[]")
        #expect(r.lines[0].hasPrefix("[{"))
    }
}
