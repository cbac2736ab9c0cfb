import Foundation

/// Runs any number of callers' `EncoderTask` requests through one loaded model, mixing their
/// sequences into dynamic batches: the heart of a server.
///
/// - Batches are packed under a token budget (`EngineOptions.maxBatchTokens` real tokens, no
///   padding) and a sequence cap (`maxBatchRequests`); a sequence longer than the budget runs
///   alone. A partial batch waits at most `batchWindow`, and only while more work is expected.
/// - At most `maxConcurrentRequests` requests are admitted at once; beyond that `run` throws
///   `EngineError.overloaded` instead of queueing without bound.
/// - A caller whose task is cancelled gets `CancellationError`; its queued sequences leave the
///   queue, and reads of sequences already running are dropped.
/// - Forward passes run on threads the engine owns (never on Swift's cooperative pool), each with
///   its own workspace sized once for the budget. Tokenizing (`encode`) and `finish` run in the
///   caller's task; `read` runs on the worker, while the workspace is valid.
/// - The thread policy (`EngineOptions.threads`) sets the compute thread count for the whole
///   process (`BLASRuntime.setThreads`): run one engine per process.
///
/// A result equals the same input run alone (`task.run`) within about 1e-6: the matrix products
/// may block differently for different batch sizes, so the last bits can depend on which
/// sequences share a batch (docs/SERVER.md).
public final class BatchingEngine: Sendable {
    /// The model every task run here must be built from.
    public let model: LoadedModel
    public let options: EngineOptions
    private let queue: BatchQueue

    /// Starts the worker threads, each with its workspace.
    ///
    /// - Parameters:
    ///   - model: the loaded model; tasks passed to `run` must be built from it.
    ///   - options: limits, batch window, thread policy and metrics callback.
    /// - Throws: `BertError.invalidInput` naming an option out of range, or when a workspace for
    ///   the token budget cannot be allocated.
    public init(model: LoadedModel, options: EngineOptions = .init()) throws {
        try options.validate()
        self.model = model
        self.options = options
        queue = BatchQueue(options: options)
        let encoder = model.encoder
        let positions = encoder.config.maxSequenceLength
        let workspaces = try (0..<options.threads.workerCount).map { _ in
            WorkspaceBox(try encoder.makeWorkspace(maxBatch: options.maxBatchRequests, maxLength: positions,
                                                   maxTokens: max(options.maxBatchTokens, positions)))
        }
        BLASRuntime.setThreads(options.threads.blasThreadCount)
        for (index, workspace) in workspaces.enumerated() {
            queue.workerStarted()
            let worker = Worker(queue: queue, encoder: encoder, workspace: workspace, onBatch: options.onBatch)
            let thread = Thread { worker.run() }
            thread.name = "BertBLAS engine \(index)"
            // OpenBLAS keeps buffers on the stack; give it the main thread's usual size.
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    deinit { queue.stop() }

    /// Runs `task` on one input.
    ///
    /// - Throws: the task's `BertError` for its input; `EngineError.overloaded` or `.shutDown`;
    ///   `CancellationError` when the calling task is cancelled before the answer.
    public func run<T: EncoderTask>(_ task: T, _ input: T.Input) async throws -> T.Output {
        let outputs = try await run(task, [input])
        guard let output = outputs.first else {
            throw BertError(.invalidInput, "the task gave no result for its input")
        }
        return output
    }

    /// Runs `task` on several inputs as one request (admitted, and answered, together); results
    /// keep the input order.
    ///
    /// - Throws: the first input's `BertError` (tokenizing, reading or finishing);
    ///   `EngineError.overloaded` when `maxConcurrentRequests` requests are admitted already;
    ///   `EngineError.shutDown` after `shutdown()`; `CancellationError` when the calling task is
    ///   cancelled before the answer.
    public func run<T: EncoderTask>(_ task: T, _ inputs: [T.Input]) async throws -> [T.Output] {
        try Task.checkCancellation()
        guard task.model === model else {
            throw BertError(.invalidInput, "the task was built from the model in \(task.model.directory.path), not from the engine's (\(model.directory.path))")
        }
        try queue.admit()
        var cancelled = false
        defer { queue.release(cancelled: cancelled) }
        let request: TaskRequest<T>
        var ranges: [Range<Int>] = []
        do {
            var encodings: [Encoding] = []
            var tokens: [Int] = []
            var inputOfSlot: [Int] = []
            for (i, input) in inputs.enumerated() {
                let first = encodings.count
                for encoding in try task.encode(input) {
                    let count = try model.encoder.checkFits(encoding, input: i)
                    encodings.append(encoding)
                    tokens.append(count)
                    inputOfSlot.append(i)
                }
                ranges.append(first..<encodings.count)
            }
            request = TaskRequest(task: task, inputs: inputs, encodings: encodings, inputOfSlot: inputOfSlot, tokens: tokens)
        } catch {
            queue.withdraw()
            throw error
        }
        if request.encodings.isEmpty {
            queue.withdraw()
        } else {
            do {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        queue.enqueue(request, continuation: continuation)
                    }
                } onCancel: {
                    queue.cancel(request)
                }
            } catch let error as CancellationError {
                cancelled = true
                throw error
            }
        }
        return try inputs.indices.map { i in
            try task.finish(inputs[i], encodings: Array(request.encodings[ranges[i]]), partials: request.partials(ranges[i]))
        }
    }

    /// Counters since the engine started: batches, sequences, tokens, requests, queue.
    public var statistics: EngineStatistics { queue.statistics }

    /// Refuses new requests (`EngineError.shutDown`), finishes every admitted one, and returns
    /// once the worker threads have exited. Calling it again waits the same way.
    public func shutdown() async {
        queue.stop()
        await withCheckedContinuation { queue.whenWorkersExit($0) }
    }
}

/// A workspace handed to the one worker thread that uses it.
///
/// `@unchecked Sendable`: made on the engine's initializing thread, then used only by its worker.
private struct WorkspaceBox: @unchecked Sendable {
    let workspace: Workspace
    init(_ workspace: Workspace) { self.workspace = workspace }
}

/// One worker thread's loop: take a batch, run the encoder, let each task read its sequences.
private struct Worker: Sendable {
    let queue: BatchQueue
    let encoder: BertModel
    let workspace: WorkspaceBox
    let onBatch: (@Sendable (BatchReport) -> Void)?

    func run() {
        defer { queue.workerExited() }
        let ws = workspace.workspace
        while let batch = queue.nextBatch() {
            let start = BatchQueue.now()
            let live = queue.live(batch)
            var failures: [Int: Error] = [:]
            let tokens = batch.reduce(0) { $0 + $1.tokens }
            do {
                let output = try encoder.forward(batch.map { $0.request.encodings[$0.slot] }, workspace: ws)
                for (b, item) in batch.enumerated() where live[b] {
                    do {
                        try item.request.read(output, sequence: b, slot: item.slot, workspace: ws)
                    } catch {
                        failures[b] = error
                    }
                }
            } catch {
                // One bad sequence fails the pass: run each alone so only its request fails.
                for (b, item) in batch.enumerated() where live[b] {
                    do {
                        let output = try encoder.forward([item.request.encodings[item.slot]], workspace: ws)
                        try item.request.read(output, sequence: 0, slot: item.slot, workspace: ws)
                    } catch {
                        failures[b] = error
                    }
                }
            }
            let seconds = Double(BatchQueue.now() - start) * 1e-9
            let report = queue.complete(batch, failures: failures, tokens: tokens, seconds: seconds)
            onBatch?(report)
        }
    }
}
