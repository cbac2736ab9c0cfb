import Foundation

/// How a `BatchingEngine` uses the cores: its own worker threads, or BertBLAS's compute threads
/// (`BLASRuntime.setThreads`, which split each forward pass; OpenBLAS itself stays on one thread)
/// inside one worker. Never both: threads nested around multithreaded products oversubscribe the
/// cores.
public enum ThreadPolicy: Sendable, Equatable {
    /// `count` engine workers, each running whole forward passes on one thread.
    case workers(Int)
    /// One engine worker whose forward passes use `count` compute threads.
    case blasThreads(Int)

    /// The default, chosen by measurement (docs/BENCHMARKS.md, "Batching engine"): one worker per
    /// core, each running its passes on one thread. It keeps its speed when another process is
    /// busy on a core, where threads splitting one pass wait on each other.
    public static var automatic: ThreadPolicy {
        .workers(max(1, ProcessInfo.processInfo.activeProcessorCount))
    }

    /// Engine worker threads.
    public var workerCount: Int {
        switch self {
        case .workers(let count): count
        case .blasThreads: 1
        }
    }

    /// Compute threads per forward pass (`BLASRuntime.setThreads`).
    public var blasThreadCount: Int {
        switch self {
        case .workers: 1
        case .blasThreads(let count): count
        }
    }
}

/// Settings of a `BatchingEngine`. The limits mirror text-embeddings-inference's router options.
public struct EngineOptions: Sendable {
    /// Most real tokens per forward pass (no padding is ever added). A single sequence longer
    /// than this still runs, alone. Default 16,384.
    public var maxBatchTokens = 16_384
    /// Most sequences per forward pass. Default 64.
    public var maxBatchRequests = 64
    /// Most requests admitted at once (queued, running or being finished); a request beyond it
    /// fails at once with `EngineError.overloaded`. Default 512.
    public var maxConcurrentRequests = 512
    /// Longest time a queued sequence waits for more work before a partial batch runs. The
    /// engine waits only when it expects more work: when requests were answered within the
    /// last window and their callers have not come back yet. Default 2 ms.
    public var batchWindow: Duration = .milliseconds(2)
    /// Worker threads vs OpenBLAS threads. Default `ThreadPolicy.automatic`.
    public var threads: ThreadPolicy = .automatic
    /// Called on a worker thread after each forward pass, for metrics; keep it quick.
    public var onBatch: (@Sendable (BatchReport) -> Void)?

    /// Options with the defaults above, overridden by any argument given.
    public init(maxBatchTokens: Int = 16_384, maxBatchRequests: Int = 64, maxConcurrentRequests: Int = 512,
                batchWindow: Duration = .milliseconds(2), threads: ThreadPolicy = .automatic,
                onBatch: (@Sendable (BatchReport) -> Void)? = nil) {
        self.maxBatchTokens = maxBatchTokens
        self.maxBatchRequests = maxBatchRequests
        self.maxConcurrentRequests = maxConcurrentRequests
        self.batchWindow = batchWindow
        self.threads = threads
        self.onBatch = onBatch
    }

    /// - Throws: `BertError.invalidInput` naming the first setting out of range.
    func validate() throws {
        let counts: [(String, Int)] = [("maxBatchTokens", maxBatchTokens), ("maxBatchRequests", maxBatchRequests),
                                       ("maxConcurrentRequests", maxConcurrentRequests),
                                       ("threads", threads.workerCount), ("threads", threads.blasThreadCount)]
        for (name, value) in counts where value < 1 {
            throw BertError(.invalidInput, "engine option \(name) must be at least 1, got \(value)")
        }
        guard batchWindow >= .zero else {
            throw BertError(.invalidInput, "engine option batchWindow must not be negative, got \(batchWindow)")
        }
    }
}

/// One forward pass, as `EngineOptions.onBatch` reports it.
public struct BatchReport: Sendable, Equatable {
    /// Sequences in the pass.
    public var sequences: Int
    /// Requests those sequences came from.
    public var requests: Int
    /// Real tokens in the pass.
    public var tokens: Int
    /// Sequences still waiting in the queue when the pass started.
    public var queued: Int
    /// Wall-clock seconds of the pass (encoder and the tasks' reads).
    public var seconds: Double
}

/// Counters of a `BatchingEngine` since it started.
public struct EngineStatistics: Sendable, Equatable {
    /// Forward passes run.
    public var batches = 0
    /// Sequences run.
    public var sequences = 0
    /// Real tokens run.
    public var tokens = 0
    /// Requests answered (with results or with their own error).
    public var completed = 0
    /// Requests refused with `EngineError.overloaded`.
    public var rejected = 0
    /// Requests whose caller's task was cancelled before they were answered.
    public var cancelled = 0
    /// Requests admitted and not yet answered.
    public var inFlight = 0
    /// Sequences waiting for a forward pass.
    public var queued = 0
    /// `shutdown()` was called: new requests are refused (a server's health check reports it).
    public var shuttingDown = false

    /// Mean sequences per forward pass (0 before the first).
    public var meanBatchSize: Double { batches == 0 ? 0 : Double(sequences) / Double(batches) }
}

/// Why a `BatchingEngine` refused a request. A cancelled caller gets `CancellationError`.
public enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `limit` requests are already admitted (`EngineOptions.maxConcurrentRequests`).
    case overloaded(limit: Int)
    /// `shutdown()` was called.
    case shutDown

    public var description: String {
        switch self {
        case .overloaded(let limit): "the engine is overloaded: \(limit) requests are already admitted (maxConcurrentRequests)"
        case .shutDown: "the engine is shut down"
        }
    }
}
