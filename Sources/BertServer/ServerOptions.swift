import BertBLAS
import Foundation

/// The server's limits and switches. Defaults are text-embeddings-inference's (TEI's router
/// arguments), except the address: `127.0.0.1:8080`, so a server started by hand is not exposed.
public struct ServerOptions: Sendable {
    /// Address to bind (default `127.0.0.1`; `0.0.0.0` for every interface).
    public var host = "127.0.0.1"
    /// TCP port (default 8080; 0 picks a free port, reported by `onRunning`).
    public var port = 8080
    /// Real tokens per forward pass (default 16,384, TEI's `--max-batch-tokens`).
    public var maxBatchTokens = EngineOptions().maxBatchTokens
    /// Sequences per forward pass (default 64). 1 turns dynamic batching off: each sequence runs
    /// alone, the baseline that the load test compares against.
    public var maxBatchRequests = EngineOptions().maxBatchRequests
    /// Requests admitted at once (default 512, TEI's `--max-concurrent-requests`); beyond, 429.
    public var maxConcurrentRequests = EngineOptions().maxConcurrentRequests
    /// Inputs per request (default 32, TEI's `--max-client-batch-size`); beyond, 413.
    public var maxClientBatchSize = 32
    /// Request body bytes (default 2,000,000, TEI's `--payload-limit`); beyond, 413.
    public var payloadLimit = 2_000_000
    /// When set, every route but `/health`, `/metrics`, `/info` and `/openapi.json` needs
    /// `Authorization: Bearer <apiKey>`; otherwise 401.
    public var apiKey: String?
    /// Truncate inputs longer than the model takes instead of answering 422 (TEI's `--auto-truncate`).
    public var autoTruncate = false
    /// The model name reported by `/info` and `/v1/embeddings` (default: the folder's name).
    public var servedModelName: String?

    public init() {}
}
