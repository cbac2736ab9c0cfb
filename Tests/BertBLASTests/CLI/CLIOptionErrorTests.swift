import Foundation
import Testing

/// Bad option values and bad `--model` paths fail up front, with a message naming the option,
/// before any input is read, and never with a crash.
@Suite struct CLIOptionErrorTests {
    static let miniLM = Paths.miniLM.path
    static let heads = Paths.headModels.path

    @Test(arguments: [
        ["embed", "--model", miniLM, "--batch-size", "-1"],
        ["fill-mask", "--model", heads + "/mlm", "--top-k", "-3"],
        ["qa", "--model", heads + "/qa", "--question", "q", "--top-k", "-1"],
        ["mlm-score", "--model", heads + "/mlm", "--batch-size", "-2"],
        ["classify", "--model", heads + "/cls-binary", "--top-k", "-1"],
        ["pretrain-data", "--model", miniLM, "--dupe-factor", "-1"],
    ])
    func negativeNumbersReachTheRangeCheck(_ arguments: [String]) throws {
        // Before: ArgumentParser took "-1" for an option and said "Missing value for '--top-k <k>'".
        let r = try CLI.run("bert", arguments, stdin: "x\n")
        #expect(r.status == CLI.usageError)
        r.expectCleanFailure(mentions: "\(arguments[arguments.count - 2]) must be at least 1")
        #expect(!r.stderr.contains("Missing value"))
    }
}
