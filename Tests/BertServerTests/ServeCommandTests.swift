import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `bert serve` as a user runs it: flags, the listening line, SIGTERM with a request in flight.
@Suite("bert serve process", .serialized)
struct ServeCommandTests {
    /// Starts `bert serve --port 0 ARGS` and waits for its "listening on" line.
    static func launch(_ arguments: [String]) throws -> (Process, Int, Pipe) {
        let process = Process()
        process.executableURL = ServerPaths.products.appendingPathComponent("bert")
        process.arguments = ["serve", "--model", ServerPaths.miniLM.path, "--port", "0"] + arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var seen = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                let port = Int(seen[range].split(separator: ":").last ?? "") ?? 0
                return (process, port, err)
            }
        }
        process.terminate()
        throw HTTPClientError.malformed("bert serve did not start: \(seen)")
    }

    @Test("SIGTERM: the request in flight is answered, then exit 0")
    func gracefulShutdown() throws {
        let (process, port, _) = try Self.launch([])
        // A request that takes a while: 32 long texts to tokenize.
        let text = Array(repeating: "graceful shutdown finishes this request first", count: 150).joined(separator: " ")
        let body = "{\"inputs\": [" + Array(repeating: "\"\(text)\"", count: 32).joined(separator: ",") + "]}"
        nonisolated(unsafe) var reply: HTTPReply?
        nonisolated(unsafe) var failure: (any Error)?
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do { reply = try HTTPClient.post(port, "/tokenize", json: body) } catch { failure = error }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.05)
        kill(process.processIdentifier, SIGTERM)
        done.wait()
        process.waitUntilExit()
        #expect(failure == nil, "\(String(describing: failure))")
        #expect(reply?.status == 200)
        #expect(process.terminationReason == Process.TerminationReason.exit)
        #expect(process.terminationStatus == 0)
        // And it no longer listens.
        #expect(throws: (any Error).self) { try HTTPClient.get(port, "/health") }
    }

    @Test("Bad flags exit 64 before loading anything")
    func badFlags() throws {
        for arguments in [["--port", "70000"], ["--max-client-batch-size", "0"], ["--api-key", ""]] {
            let process = Process()
            process.executableURL = ServerPaths.products.appendingPathComponent("bert")
            process.arguments = ["serve", "--model", ServerPaths.miniLM.path] + arguments
            let err = Pipe()
            process.standardError = err
            try process.run()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 64, "\(arguments): \(message)")
        }
    }
}
