import BertBLAS
@testable import BertServer
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A server on 127.0.0.1 and a free port, in this process, for one test.
final class TestServer: Sendable {
    let port: Int
    let service: BertService
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, service: BertService, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.service = service
        self.group = group
        self.task = task
    }

    /// Loads `model` once per process (models are shared between tests) and serves it.
    /// `headFolder`: a trained head over `model`, served on `/predict`.
    static func start(_ model: URL = ServerPaths.miniLM, headFolder: URL? = nil,
                      configure: (inout ServerOptions) -> Void = { _ in }) async throws -> TestServer {
        var options = ServerOptions()
        options.host = "127.0.0.1"
        options.port = 0
        configure(&options)
        var logger = Logger(label: "bert.serve.test")
        logger.logLevel = .critical
        let service = try BertService(model: try ModelCache.load(model), headFolder: headFolder, options: options,
                                      logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = BertHTTPServer.application(service, logger: logger) { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var port = 0
        for await bound in ports {
            port = bound
            break
        }
        guard port > 0 else {
            try await task.value
            throw BertError(.io, "the test server did not start")
        }
        return TestServer(port: port, service: service, group: group, task: task)
    }

    /// Sends `clients` copies of `body` to `route` at once. Returns every status, and what was
    /// wrong: a 200 whose reply `isRight` refuses, any status but 200 and 429 `Overloaded`, or no
    /// reply at all.
    func flood(_ route: String, body: String, clients: Int,
               isRight: @escaping @Sendable (HTTPReply) throws -> Bool) async -> (statuses: [Int], wrong: [String]) {
        let statuses = LockedArray<Int>()
        let wrong = LockedArray<String>()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    do {
                        let reply = try await self.post(route, body)
                        statuses.append(reply.status)
                        if reply.status == 200 {
                            if try !isRight(reply) { wrong.append("a 200 with a wrong answer") }
                        } else if reply.status != 429 || reply.errorType != "Overloaded" {
                            wrong.append("status \(reply.status): \(reply.text.prefix(200))")
                        }
                    } catch {
                        wrong.append("no reply: \(error)")
                    }
                }
            }
        }
        return (statuses.values, wrong.values)
    }

    /// Graceful shutdown: in-flight requests finish, then the server stops.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    func post(_ path: String, _ json: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        let port = self.port
        return try await Blocking.run { try HTTPClient.post(port, path, json: json, headers: headers) }
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        let port = self.port
        return try await Blocking.run { try HTTPClient.get(port, path, headers: headers) }
    }

    func request(_ method: String, _ path: String, body: RequestBody) async throws -> HTTPReply {
        let port = self.port
        return try await Blocking.run { try HTTPClient.request(port, method, path, body: body) }
    }
}

/// Models loaded once per test process.
enum ModelCache {
    nonisolated(unsafe) private static var loaded: [URL: LoadedModel] = [:]
    private static let lock = NSLock()

    static func load(_ directory: URL) throws -> LoadedModel {
        lock.lock()
        defer { lock.unlock() }
        if let model = loaded[directory] { return model }
        let model = try LoadedModel(directory: directory)
        loaded[directory] = model
        return model
    }
}

/// Blocking socket calls on their own thread: the server under test runs on Swift's cooperative
/// pool (2 threads here), which a blocked test must not occupy.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }
}
