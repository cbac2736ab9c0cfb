import CoreMetrics
import Foundation
import Prometheus

/// The server's metrics, through swift-metrics into its own Prometheus registry (so two servers
/// in one process, as in the tests, keep separate counts; nothing is bootstrapped globally).
///
/// Names (Prometheus text at `GET /metrics`):
/// - `bert_requests_total{route, status}`: answered requests, by route and HTTP status;
/// - `bert_request_duration_seconds{route}`: histogram of request durations;
/// - `bert_requests_in_flight`: requests admitted and not yet answered;
/// - `bert_queue_size`: sequences waiting in the batching engine after the last batch started;
/// - `bert_batch_size`: histogram of sequences per forward pass;
/// - `bert_batch_tokens`: histogram of real tokens per forward pass;
/// - `bert_inference_duration_seconds`: histogram of forward-pass durations.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let inFlight: CoreMetrics.Gauge
    let queueSize: CoreMetrics.Gauge
    let batchSize: Recorder
    let batchTokens: Recorder
    let inferenceDuration: CoreMetrics.Timer

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets = [
            "bert_batch_size": [1, 2, 4, 8, 16, 32, 64, 128, 256],
            "bert_batch_tokens": [16, 64, 256, 1024, 4096, 16384, 65536],
        ]
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        self.factory = factory
        inFlight = Gauge(label: "bert_requests_in_flight", factory: factory)
        queueSize = Gauge(label: "bert_queue_size", factory: factory)
        batchSize = Recorder(label: "bert_batch_size", aggregate: true, factory: factory)
        batchTokens = Recorder(label: "bert_batch_tokens", aggregate: true, factory: factory)
        inferenceDuration = Timer(label: "bert_inference_duration_seconds", factory: factory)
    }

    /// Counts one answered request and its duration.
    func request(route: String, status: Int, seconds: Double) {
        Counter(label: "bert_requests_total", dimensions: [("route", route), ("status", String(status))],
                factory: factory).increment()
        Timer(label: "bert_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    /// Records one forward pass of the batching engine.
    func batch(sequences: Int, tokens: Int, queued: Int, seconds: Double) {
        batchSize.record(sequences)
        batchTokens.record(tokens)
        queueSize.record(queued)
        inferenceDuration.recordNanoseconds(Int64(seconds * 1e9))
    }

    /// The Prometheus text exposition.
    public func render() -> String {
        registry.emitToString()
    }
}

/// Counts requests in flight and refuses one past the limit, as TEI's semaphore does.
///
/// `@unchecked Sendable`: `lock` protects `count`, and nothing else.
final class Admission: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var count = 0

    init(limit: Int) { self.limit = limit }

    /// Takes a slot, or returns false when `limit` are taken.
    func enter() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard count < limit else { return false }
        count += 1
        return true
    }

    func leave() {
        lock.lock()
        count -= 1
        lock.unlock()
    }

    var current: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
