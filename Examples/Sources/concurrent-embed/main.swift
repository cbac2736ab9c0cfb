import BertBLAS
import Foundation

// concurrent-embed --model DIR [--concurrency N] [--threads workers:N|blas:N] [--window-ms MS] FILE
//
// Loads the model once, sends every line of FILE as its own request from N concurrent tasks
// (default 32) through one BatchingEngine, prints one JSON line per input in input order (the
// format of `bert embed`), and a summary on stderr: requests, seconds, batches, mean batch size.

struct Arguments {
    var model = ""
    var file = ""
    var concurrency = 32
    var threads: ThreadPolicy = .automatic
    var window: Duration = EngineOptions().batchWindow

    static let usage = "usage: concurrent-embed --model DIR [--concurrency N] [--threads workers:N|blas:N] [--window-ms MS] FILE"

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw Failure("\(flag) needs a value") }
            return next
        }
        func count(_ flag: String) throws -> Int {
            let text = try value(flag)
            guard let n = Int(text), n >= 1 else { throw Failure("\(flag) must be a whole number of at least 1, got '\(text)'") }
            return n
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--model": model = try value(argument)
            case "--concurrency": concurrency = try count(argument)
            case "--threads":
                let text = try value(argument)
                let parts = text.split(separator: ":")
                guard parts.count == 2, let n = Int(parts[1]), n >= 1, ["workers", "blas"].contains(parts[0]) else {
                    throw Failure("--threads takes workers:N or blas:N, got '\(text)'")
                }
                threads = parts[0] == "workers" ? .workers(n) : .blasThreads(n)
            case "--window-ms":
                let text = try value(argument)
                guard let ms = Double(text), ms >= 0 else { throw Failure("--window-ms must be a number of at least 0, got '\(text)'") }
                window = .microseconds(Int64(ms * 1000))
            case "-h", "--help":
                print(Self.usage)
                exit(0)
            default:
                guard !argument.hasPrefix("--"), file.isEmpty else { throw Failure("unexpected argument '\(argument)'") }
                file = argument
            }
        }
        guard !model.isEmpty, !file.isEmpty else { throw Failure("--model and FILE are required") }
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(status)
}

/// `{"embedding":[...]}`, each float in its shortest round-tripping form, as `bert embed` prints.
func embeddingLine(_ vector: [Float]) -> String {
    var line = "{\"embedding\":["
    line.reserveCapacity(vector.count * 12 + 16)
    for (i, value) in vector.enumerated() {
        if i > 0 { line += "," }
        line += value.isFinite ? "\(value)" : "null"
    }
    return line + "]}"
}

func errorLine(_ message: String, line: TextLine) throws -> String {
    let record: [String: Any] = ["error": message, "line": line.number, "source": line.source]
    let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self)
}

/// Runs `lines` through `engine` from `concurrency` tasks, each sending one line at a time.
func embedAll(_ lines: [TextLine], engine: BatchingEngine, task: SentenceEmbedder, concurrency: Int) async -> [Result<[Float], any Error>] {
    await withTaskGroup(of: [(Int, Result<[Float], any Error>)].self) { group in
        for client in 0..<min(concurrency, max(lines.count, 1)) {
            group.addTask {
                var mine: [(Int, Result<[Float], any Error>)] = []
                for i in stride(from: client, to: lines.count, by: concurrency) {
                    do { mine.append((i, .success(try await engine.run(task, lines[i].text)))) } catch { mine.append((i, .failure(error))) }
                }
                return mine
            }
        }
        var results = [Result<[Float], any Error>?](repeating: nil, count: lines.count)
        for await part in group { for (i, result) in part { results[i] = result } }
        return results.map { $0 ?? .failure(Failure("no result")) }
    }
}

BLASRuntime.selectFastCore()
let arguments: Arguments
do {
    arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)\n\(Arguments.usage)", status: 64)
}
do {
    let model = try LoadedModel(directory: URL(fileURLWithPath: arguments.model))
    let task = try SentenceEmbedder(model: model)   // the library's task, from the one loaded model
    let lines = try TextLines.read(path: arguments.file)
    let engine = try BatchingEngine(model: model, options: EngineOptions(batchWindow: arguments.window, threads: arguments.threads))
    let start = DispatchTime.now().uptimeNanoseconds
    let results = await embedAll(lines, engine: engine, task: task, concurrency: arguments.concurrency)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    await engine.shutdown()
    var output = ""
    var failures = 0
    for (line, result) in zip(lines, results) {
        switch result {
        case .success(let vector): output += embeddingLine(vector) + "\n"
        case .failure(let error):
            failures += 1
            output += try errorLine((error as? BertError)?.message ?? "\(error)", line: line) + "\n"
        }
    }
    FileHandle.standardOutput.write(Data(output.utf8))
    let stats = engine.statistics
    FileHandle.standardError.write(Data(String(
        format: "concurrent-embed: %d requests from %d clients in %.3f s (%.1f/s), %d batches, mean batch size %.2f, threads %@\n",
        lines.count, arguments.concurrency, seconds, Double(lines.count) / max(seconds, 1e-9), stats.batches,
        stats.meanBatchSize, "\(arguments.threads)").utf8))
    if failures > 0 { fail("\(failures) input(s) failed", status: 1) }
} catch {
    fail((error as? BertError)?.message ?? "\(error)", status: 1)
}
