import Foundation
import Testing

/// A `--model` that is missing or a file fails before any input is read, naming --model.
@Suite struct CLIModelPathTests {
    static let miniLM = CLIOptionErrorTests.miniLM
    static let heads = CLIOptionErrorTests.heads
    static let usageError = CLIOptionErrorTests.usageError
    static func expectCleanFailure(_ r: CLIResult, mentions text: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        CLIOptionErrorTests.expectCleanFailure(r, mentions: text, sourceLocation: sourceLocation)
    }

    @Test(arguments: ["tokenize", "embed", "ner", "fill-mask", "nsp", "mask", "mlm-score", "classify"])
    func missingModelFolderFailsFast(_ command: String) throws {
        let missing = "/nonexistent-bertblas-model"
        let r = try CLI.run("bert", [command, "--model", missing], stdin: "a\tb\nc\td\n")
        Self.expectCleanFailure(r, mentions: "--model \(missing): no such folder")
    }

    @Test(arguments: ["tokenize", "embed", "qa", "fill-mask", "train-head"])
    func aFileAsModelIsNamed(_ command: String) throws {
        let file = Self.miniLM + "/config.json"
        var arguments = [command, "--model", file]
        if command == "qa" { arguments += ["--question", "q"] }
        if command == "train-head" { arguments += ["--data", Paths.bbcNews.path, "--out", "/tmp/unused"] }
        let r = try CLI.run("bert", arguments, stdin: "a\n")
        Self.expectCleanFailure(r, mentions: "--model \(file): is a file")
        // Before: "…/config.json/config.json: cannot read: … (NSCocoaErrorDomain error 256.)".
        #expect(!r.stderr.contains("NSCocoaErrorDomain"))
    }
}
