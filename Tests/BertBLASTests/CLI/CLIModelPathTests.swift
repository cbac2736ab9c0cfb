import Foundation
import Testing

/// A `--model` that is missing or a file fails before any input is read, naming --model.
@Suite struct CLIModelPathTests {
    static let miniLM = Paths.miniLM.path
    static let heads = Paths.headModels.path
    @Test(arguments: ["tokenize", "embed", "ner", "fill-mask", "nsp", "mask", "mlm-score", "classify"])
    func missingModelFolderFailsFast(_ command: String) throws {
        let missing = "/nonexistent-bertblas-model"
        let r = try CLI.run("bert", [command, "--model", missing], stdin: "a\tb\nc\td\n")
        r.expectCleanFailure(mentions: "--model \(missing): no such folder")
    }

    @Test(arguments: ["tokenize", "embed", "qa", "fill-mask", "train-head"])
    func aFileAsModelIsNamed(_ command: String) throws {
        let file = Self.miniLM + "/config.json"
        var arguments = [command, "--model", file]
        if command == "qa" { arguments += ["--question", "q"] }
        if command == "train-head" { arguments += ["--data", Paths.bbcNews.path, "--out", "/tmp/unused"] }
        let r = try CLI.run("bert", arguments, stdin: "a\n")
        r.expectCleanFailure(mentions: "--model \(file): is a file")
        // Before: "…/config.json/config.json: cannot read: … (NSCocoaErrorDomain error 256.)".
        #expect(!r.stderr.contains("NSCocoaErrorDomain"))
    }
}

/// A model folder that does not load stops the command with one clear error, and the failure
/// count at the end counts inputs, not the model.
@Suite struct CLIModelLoadFailureTests {
    static func folderWithoutWeights() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-noweights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(at: Paths.miniLM.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        return dir
    }

    @Test func embedDoesNotCallTheModelAFailedInput() throws {
        let dir = try Self.folderWithoutWeights()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run("bert", ["embed", "--model", dir.path], stdin: "a\nb\n")
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("model.safetensors"))
        // Before: "1 input(s) failed", though no input was read.
        #expect(!r.stderr.contains("input(s) failed"), "\(r.stderr)")
    }

    @Test func headCommandCountsEveryLineItCouldNotAnswer() throws {
        let dir = try Self.folderWithoutWeights()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run("bert", ["ner", "--model", dir.path], stdin: "a\nb\nc\n")
        #expect(r.status == 1)
        #expect(r.lines.count == 3)
        // Before: "1 input(s) failed" for three error records.
        #expect(r.stderr.contains("3 input(s) failed"), "\(r.stderr)")
        #expect(r.stderr.components(separatedBy: "model.safetensors").count == 2, "one message: \(r.stderr)")
    }
}

/// classify, eval and train-head print their errors as every command does: `error: message`.
@Suite struct CLIErrorPrefixTests {
    @Test func classifyEvalAndTrainHeadSayErrorInLowercase() throws {
        let runs = [
            try CLI.run("bert", ["classify", "--model", Paths.miniLM.path], stdin: "text\n"),
            try CLI.run("bert", ["eval", "--model", Paths.golden("heads/models/cls-binary").path, "--data", "/nonexistent-data"]),
            try CLI.run("bert", ["train-head", "--model", Paths.miniLM.path, "--data", "/nonexistent-data", "--out", "/tmp/unused"]),
        ]
        for r in runs {
            #expect(r.status == 1)
            // Before: ArgumentParser's "Error: …".
            #expect(r.stderr.hasPrefix("error: "), "\(r.stderr)")
            #expect(!r.stderr.contains("Error:"))
        }
        #expect(runs[0].stderr.contains("not a BertForSequenceClassification checkpoint"))
        #expect(runs[1].stderr.contains("/nonexistent-data"))
    }
}
