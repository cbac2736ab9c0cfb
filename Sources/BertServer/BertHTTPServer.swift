import BertBLAS
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Runs a `BertService` as an HTTP/1.1 server until SIGTERM or SIGINT, then stops accepting
/// connections, finishes the requests in flight, and returns.
public enum BertHTTPServer {
    /// Reported by `/info` and the OpenAPI document.
    public static let version = "0.1.0"

    /// The Hummingbird application serving `service` on its host and port.
    ///
    /// - Parameter onRunning: called with the bound port once the server listens (useful with port 0).
    public static func application(
        _ service: BertService, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        service.addRoutes(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(service.options.host, port: service.options.port),
                                 serverName: "bert-serve"),
            services: [EngineService(service: service)],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves until SIGTERM/SIGINT (graceful: in-flight requests finish), then returns.
    public static func run(_ service: BertService, logger: Logger,
                           onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = application(service, logger: logger, onRunning: onRunning)
        let group = ServiceGroup(configuration: .init(
            services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Shuts the batching engine down after the HTTP server (services stop in reverse order, so the
/// server stops accepting and finishes its requests first). Pass it in `services:` when you mount
/// `BertService`'s routes in your own `Application`.
public struct EngineService: Service {
    let service: BertService

    public init(service: BertService) {
        self.service = service
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await service.shutdown()
    }
}
