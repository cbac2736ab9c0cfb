import ArgumentParser
import BertBLAS
import Foundation

/// `--model DIR`: shared by every command that loads a model folder.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A HuggingFace model folder (config.json, model.safetensors, tokenizer.json or vocab.txt). Required.",
        valueName: "dir"))
    var model: String

    var url: URL { URL(fileURLWithPath: model) }

    /// Fails fast, before any input is read, when `--model` is not a folder at all.
    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) else {
            throw ValidationError("--model \(model): no such folder")
        }
        guard isDirectory.boolValue else {
            throw ValidationError("--model \(model): is a file; give the model folder that holds config.json and the weights")
        }
    }
}

/// `[FILE...]`: input files read one item per line; none, or `-`, means standard input.
struct InputFiles: ParsableArguments {
    @Argument(help: ArgumentHelp("Input files, one item per line. None or '-' reads standard input.",
                                 valueName: "file"))
    var files: [String] = []

    var paths: [String] { files.isEmpty ? ["-"] : files }

    /// Calls `body` for every line of every input, in order. A file that cannot be read is
    /// reported (and counted as a failure) without stopping the others; a line with invalid UTF-8
    /// is repaired and warned about.
    func forEachLine(_ report: Report, _ body: (TextLine) throws -> Void) rethrows {
        for path in paths {
            let lines: [TextLine]
            do {
                lines = try TextLines.read(path: path)
            } catch {
                report.fail("\(error)")
                continue
            }
            for line in lines {
                if line.repairedUTF8 {
                    report.warn("\(line.source):\(line.number): invalid UTF-8 replaced with U+FFFD")
                }
                try body(line)
            }
        }
    }
}

/// Collects warnings and failures on stderr and turns them into the exit status at the end.
final class Report {
    private(set) var failures = 0

    func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    func fail(_ message: String) {
        failures += 1
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    /// Counts an input that failed for a reason already reported (e.g. the model did not load).
    func countFailure() {
        failures += 1
    }

    /// Reports an error that stops the command before any input is processed (e.g. the model
    /// did not load) and exits with status 1, without the "N input(s) failed" summary.
    func abort(_ message: String) throws -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        throw ExitCode.failure
    }

    /// Runs `body`; an error it throws (other than an option error or an exit code) is printed as
    /// `error: message` on stderr, as every command prints its errors, and exits with status 1.
    static func stoppingOnError(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as BertError {
            try Report().abort(error.message)
        }
    }

    /// Throws `ExitCode.failure` when anything failed; call it last.
    func finish() throws {
        if failures > 0 {
            FileHandle.standardError.write(Data("\(failures) input(s) failed\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// The CLI's one JSON writer: every record is an `Encodable` value (the library's results are
/// `Codable`), written as one line to stdout and flushed so results stream. Object keys are
/// sorted, so the same input always gives byte-identical output; floats print in their shortest
/// round-tripping form.
enum JSONLines {
    /// Only the CLI's main thread writes.
    nonisolated(unsafe) private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// One value as JSON text (no newline); a value JSON cannot hold (a NaN score) gives an error
    /// record instead, so a line is never lost.
    static func text<T: Encodable>(_ value: T) -> String {
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            let fallback = (try? encoder.encode(ErrorRecord(error: "not representable in JSON: \(error)"))) ?? Data("{}".utf8)
            return String(decoding: fallback, as: UTF8.self)
        }
    }

    /// Writes one value and a newline.
    static func write<T: Encodable>(_ value: T) {
        FileHandle.standardOutput.write(Data((text(value) + "\n").utf8))
    }

    /// Lines collected and written in large pieces, for commands that print many records at once.
    struct Buffer {
        private var text = ""

        mutating func append<T: Encodable>(_ value: T) {
            text += JSONLines.text(value)
            text += "\n"
            if text.utf8.count >= 1 << 16 { flush() }
        }

        mutating func flush() {
            guard !text.isEmpty else { return }
            FileHandle.standardOutput.write(Data(text.utf8))
            text = ""
        }
    }

    /// The record for an input that failed: `{"error": message}` plus where it came from.
    struct ErrorRecord: Encodable {
        var error: String
        var source: String?
        var line: Int?
    }

    static func error(_ message: String, line: TextLine? = nil) -> ErrorRecord {
        ErrorRecord(error: message, source: line?.source, line: line?.number)
    }
}

/// `--kernel naive|blas`: which implementation runs the matrix products.
struct KernelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Matrix products on OpenBLAS sgemm ('blas') or the plain-Swift reference ('naive', slow).",
        valueName: "naive|blas"))
    var kernel: Kernel = .blas
}

extension Kernel: ExpressibleByArgument {}
