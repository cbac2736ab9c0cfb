import Foundation
import Testing

/// Task commands on edge-case inputs and settings, as a user would run them.
@Suite struct CLITaskInputTests {
    static let heads = Paths.headModels.path

    @Test func nerBlankLineGivesAnEmptyList() throws {
        // transformers 4.57.1: pipeline('token-classification')('') == [] and ('   ') == [].
        // Before: {"error":"text 1 is empty"} and a non-zero exit.
        let r = try CLI.run("bert", ["ner", "--model", Self.heads + "/ner-bio"], stdin: "John lives in Paris\n\n   \n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.count == 3)
        #expect(r.lines[1] == "[]" && r.lines[2] == "[]")
        #expect(r.lines[0].hasPrefix("[{"))
    }

    @Test func qaWindowSettingsBeyondTheModelAreOptionErrors() throws {
        // The qa checkpoint holds 128 positions. Before: one error record per context line.
        let long = try CLI.run("bert", ["qa", "--model", Self.heads + "/qa", "--question", "who?", "--max-seq-len", "1000"],
                               stdin: "a\nb\n")
        #expect(long.status == CLI.usageError)
        long.expectCleanFailure(mentions: "--max-seq-len 1000 exceeds the model's maximum length 128")
        let stride = try CLI.run("bert", ["qa", "--model", Self.heads + "/qa", "--question", "who?", "--doc-stride", "200"],
                                 stdin: "a\nb\n")
        #expect(stride.status == CLI.usageError)
        stride.expectCleanFailure(mentions: "--doc-stride 200 is larger than --max-seq-len 128")
        let blank = try CLI.run("bert", ["qa", "--model", Self.heads + "/qa", "--question", "  "], stdin: "a\n")
        blank.expectCleanFailure(mentions: "--question is empty")
    }

    @Test func embedSaysWhenMaxLengthIsCapped() throws {
        // all-MiniLM-L6-v2 has 512 positions; before, --max-length 100000 was capped silently.
        let r = try CLI.run("bert", ["embed", "--model", Paths.miniLM.path, "--max-length", "100000"], stdin: "hello\n")
        #expect(r.status == 0)
        #expect(r.lines.count == 1)
        #expect(r.stderr.contains("--max-length 100000 is more than the model's 512 positions: using 512"), "\(r.stderr)")
        let quiet = try CLI.run("bert", ["embed", "--model", Paths.miniLM.path, "--max-length", "64"], stdin: "hello\n")
        #expect(!quiet.stderr.contains("--max-length"))
    }
}

/// `fill-mask --targets` that lists nothing is an option error.
@Suite struct CLIFillMaskTargetsTests {
    @Test func emptyTargetsIsAnOptionError() throws {
        // Before: one {"error":"--targets names no token"} record per input line.
        let r = try CLI.run("bert", ["fill-mask", "--model", Paths.golden("heads/models/mlm").path, "--targets", " , "],
                            stdin: "a [MASK] b\nc [MASK]\n")
        #expect(r.status == CLI.usageError)
        r.expectCleanFailure(mentions: "--targets names no token")
        let fine = try CLI.run("bert", ["fill-mask", "--model", Paths.golden("heads/models/mlm").path, "--targets", "the,"],
                               stdin: "a [MASK] b\n")
        #expect(fine.status == 0)
        #expect(fine.lines.count == 1)
    }
}
