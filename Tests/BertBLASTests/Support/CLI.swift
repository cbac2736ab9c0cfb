import Foundation
import Testing

/// Runs a built executable (`bert` or `bench`) the way a user would, and captures what it prints.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String

    /// Non-empty stdout lines.
    var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    /// Each stdout line parsed as JSON.
    func jsonLines() throws -> [Any] {
        try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8), options: [.fragmentsAllowed]) }
    }
}

enum CLI {
    /// Runs `Paths.products/<executable> arguments`, feeding `stdin` if given, with `environment`
    /// added to and `unsetting` removed from this process's environment.
    static func run(_ executable: String = "bert", _ arguments: [String], stdin: String? = nil,
                    environment: [String: String] = [:], unsetting: [String] = []) throws -> CLIResult {
        try run(at: Paths.products.appendingPathComponent(executable), arguments, stdin: stdin,
                environment: environment, unsetting: unsetting)
    }

    /// Runs the executable at `url` (e.g. one built by the Examples package) as `run` does.
    static func run(at url: URL, _ arguments: [String], stdin: String? = nil,
                    environment: [String: String] = [:], unsetting: [String] = []) throws -> CLIResult {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in unsetting { env[key] = nil }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }
}

extension CLI {
    /// Exit status of ArgumentParser's validation errors (bad options).
    static let usageError: Int32 = 64
}

extension CLIResult {
    /// A failure a user can act on: non-zero exit, nothing on stdout, `text` on stderr, no trap.
    func expectCleanFailure(mentions text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status != 0, sourceLocation: sourceLocation)
        #expect(stdout.isEmpty, "stdout: \(stdout)", sourceLocation: sourceLocation)
        #expect(stderr.contains(text), "stderr: \(stderr)", sourceLocation: sourceLocation)
        #expect(!stderr.contains("Fatal error"), sourceLocation: sourceLocation)
    }
}
