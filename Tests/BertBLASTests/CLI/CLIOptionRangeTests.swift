import Foundation
import Testing

/// Out-of-range option values are option errors, checked before the model or data is read.
@Suite struct CLIOptionRangeTests {
    static let miniLM = Paths.miniLM.path
    static let heads = Paths.headModels.path
    @Test func tokenizeMaxLengthBelowTheSpecialTokensIsAnOptionError() throws {
        // Before: one error record per input line, each blaming the line.
        let single = try CLI.run("bert", ["tokenize", "--model", Self.miniLM, "--max-length", "1"], stdin: "a\nb\n")
        #expect(single.status == CLI.usageError)
        single.expectCleanFailure(mentions: "--max-length must be at least 2")
        let pair = try CLI.run("bert", ["tokenize", "--model", Self.miniLM, "--pair", "--max-length", "2"], stdin: "a\tb\n")
        #expect(pair.status == CLI.usageError)
        pair.expectCleanFailure(mentions: "--max-length must be at least 3")
        let fine = try CLI.run("bert", ["tokenize", "--model", Self.miniLM, "--max-length", "2"], stdin: "a\n")
        #expect(fine.status == 0)
        #expect(fine.lines.count == 1)
    }

    @Test func trainHeadAndEvalCheckTheirOptionsBeforeTheData() throws {
        // Before: train-head reported the data (or embedded everything) before looking at --batch-size.
        let train = try CLI.run("bert", ["train-head", "--model", Self.miniLM, "--data", "/nonexistent-data",
                                         "--out", "/tmp/unused", "--batch-size", "0"])
        #expect(train.status == CLI.usageError)
        train.expectCleanFailure(mentions: "--batch-size must be at least 1")
        let split = try CLI.run("bert", ["train-head", "--model", Self.miniLM, "--data", "/nonexistent-data",
                                         "--out", "/tmp/unused", "--validation-split", "1.5"])
        split.expectCleanFailure(mentions: "--validation-split must be in [0, 1)")
        let eval = try CLI.run("bert", ["eval", "--model", Self.heads + "/cls-binary", "--data", "/nonexistent-data",
                                        "--validation-split", "-0.5"])
        #expect(eval.status == CLI.usageError)
        eval.expectCleanFailure(mentions: "--validation-split must be in [0, 1)")
    }
}

/// `tokenize --truncation only_second` without `--pair` cannot apply to any line.
@Suite struct CLITokenizeTruncationTests {
    @Test func onlySecondWithoutPairIsAnOptionError() throws {
        // Before: one {"error":"--truncation only_second needs a text pair"} record per line.
        let r = try CLI.run("bert", ["tokenize", "--model", Paths.miniLM.path, "--truncation", "only_second",
                                     "--max-length", "3"], stdin: "hello there\nagain\n")
        #expect(r.status == CLI.usageError)
        r.expectCleanFailure(mentions: "--truncation only_second needs --pair")
        let pair = try CLI.run("bert", ["tokenize", "--model", Paths.miniLM.path, "--truncation", "only_second",
                                        "--max-length", "5", "--pair"], stdin: "hello\tthere again\n")
        #expect(pair.status == 0)
        #expect(pair.lines.count == 1)
    }
}
