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
    /// added to and `unsetting` removed from this process's environment. A run longer than
    /// `timeLimit` is terminated and recorded as a test issue (a hung child fails its test instead
    /// of stalling the suite).
    static func run(_ executable: String = "bert", _ arguments: [String], stdin: String? = nil,
                    environment: [String: String] = [:], unsetting: [String] = [],
                    timeLimit: Duration = .seconds(300),
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
        try run(at: Paths.products.appendingPathComponent(executable), arguments, stdin: stdin,
                environment: environment, unsetting: unsetting, timeLimit: timeLimit,
                sourceLocation: sourceLocation)
    }

    /// Runs the executable at `url` (e.g. one built by the Examples package) as `run` does.
    static func run(at url: URL, _ arguments: [String], stdin: String? = nil,
                    environment: [String: String] = [:], unsetting: [String] = [],
                    timeLimit: Duration = .seconds(300),
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
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
        let timedOut = TimeLimitFlag()
        let seconds = Double(timeLimit.components.seconds) + Double(timeLimit.components.attoseconds) * 1e-18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            if process.isRunning {
                timedOut.set()
                process.terminate()
            }
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        if timedOut.value {
            Issue.record("\(url.lastPathComponent) \(arguments.joined(separator: " ")) ran over its time limit of \(timeLimit) and was terminated",
                         sourceLocation: sourceLocation)
        }
        return CLIResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Set once by the timer that terminates a child over its time limit.
final class TimeLimitFlag: @unchecked Sendable {
    // `lock` protects `flag`.
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
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
