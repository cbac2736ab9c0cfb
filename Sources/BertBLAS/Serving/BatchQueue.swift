import Foundation

/// The engine's shared state: admission, the queue of sequences, batch forming, and the hand-off
/// of results. Callers (async tasks) and worker threads meet here.
///
/// `@unchecked Sendable`: every stored `var` (and the guarded fields of the queued requests) is
/// read and written only while holding `condition`.
final class BatchQueue: @unchecked Sendable {
    /// One queued sequence.
    struct Item {
        let request: EngineRequest
        /// Its index among the request's sequences.
        let slot: Int
        let tokens: Int
        /// When it was queued (`DispatchTime` nanoseconds).
        let arrival: UInt64
    }

    let maxBatchTokens: Int
    let maxBatchRequests: Int
    let maxConcurrentRequests: Int
    let window: UInt64

    private let condition = NSCondition()
    /// Queued sequences, oldest first, from `head` on (the prefix is spent and compacted away).
    private var items: [Item] = []
    private var head = 0
    /// Requests admitted and still tokenizing: the workers must not stop before they arrive.
    private var arriving = 0
    private var stopping = false
    /// Requests answered within the last window whose callers have not sent a new one since:
    /// a caller that just got an answer usually sends its next request right away.
    private var owed = 0
    private var lastAnswer: UInt64 = 0
    /// Workers waiting in `nextBatch` (a short queue is shared among them) and alive.
    private var idleWorkers = 0
    private var liveWorkers = 0
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    private var counters = EngineStatistics()

    init(options: EngineOptions) {
        maxBatchTokens = options.maxBatchTokens
        maxBatchRequests = options.maxBatchRequests
        maxConcurrentRequests = options.maxConcurrentRequests
        window = UInt64(max(0, Self.seconds(options.batchWindow)) * 1e9)
    }

    static func seconds(_ duration: Duration) -> Double {
        let (s, attoseconds) = duration.components
        return Double(s) + Double(attoseconds) * 1e-18
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    // MARK: - Callers

    /// Admits one request, or refuses it.
    ///
    /// - Throws: `EngineError.shutDown` after `stop()`, `EngineError.overloaded` when
    ///   `maxConcurrentRequests` are admitted already.
    func admit() throws {
        try locked {
            guard !stopping else { throw EngineError.shutDown }
            guard counters.inFlight < maxConcurrentRequests else {
                counters.rejected += 1
                throw EngineError.overloaded(limit: maxConcurrentRequests)
            }
            counters.inFlight += 1
            arriving += 1
        }
    }

    /// An admitted request that will not be enqueued (its input failed to tokenize, or it has no
    /// sequences).
    func withdraw() {
        locked {
            arriving -= 1
            condition.broadcast()
        }
    }

    /// An admitted request is answered: it no longer counts against `maxConcurrentRequests`.
    func release(cancelled: Bool) {
        locked {
            counters.inFlight -= 1
            if cancelled { counters.cancelled += 1 } else { counters.completed += 1 }
        }
    }

    /// Queues an admitted request's sequences; `continuation` is resumed once every sequence is
    /// read, or with the request's error or `CancellationError`.
    func enqueue(_ request: EngineRequest, continuation: CheckedContinuation<Void, Error>) {
        condition.lock()
        arriving -= 1
        if request.cancelled {
            request.resolved = true
            condition.broadcast()
            condition.unlock()
            continuation.resume(throwing: CancellationError())
            return
        }
        request.continuation = continuation
        let now = Self.now()
        for slot in request.encodings.indices {
            items.append(Item(request: request, slot: slot, tokens: request.tokens[slot], arrival: now))
        }
        owed = max(0, owed - 1)
        condition.broadcast()
        condition.unlock()
    }

    /// The caller's task was cancelled: drops the request's queued sequences and resumes it with
    /// `CancellationError` (unless it is answered already).
    func cancel(_ request: EngineRequest) {
        condition.lock()
        request.cancelled = true
        let continuation = resolve(request)
        condition.unlock()
        continuation?.resume(throwing: CancellationError())
    }

    /// Marks `request` resolved, drops its queued sequences and hands back its continuation to
    /// resume (nil when it was resolved already or not enqueued yet). Call with the lock held.
    private func resolve(_ request: EngineRequest) -> CheckedContinuation<Void, Error>? {
        guard !request.resolved, let continuation = request.continuation else { return nil }
        request.resolved = true
        request.continuation = nil
        if request.remaining > 0 {
            compact()
            items.removeAll { $0.request === request }
        }
        return continuation
    }

    private func compact() {
        guard head > 0 else { return }
        items.removeFirst(head)
        head = 0
    }

    // MARK: - Workers

    func workerStarted() { locked { liveWorkers += 1 } }

    /// Blocks until a batch is ready and takes it off the queue; nil when the engine stops and no
    /// admitted work is left.
    ///
    /// Sequences are taken first in, first out, until the next one would pass `maxBatchTokens`
    /// or `maxBatchRequests` (the first one is always taken, so an over-long sequence runs
    /// alone). A batch that could still grow waits for at most the window after its oldest
    /// sequence arrived, and only while callers answered in the last window may come back. When
    /// the whole queue fits in one batch and other workers are idle, it is shared among them.
    func nextBatch() -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        idleWorkers += 1
        defer { idleWorkers -= 1 }
        while true {
            if head == items.count {
                if stopping && arriving == 0 { return nil }
                condition.wait()
                continue
            }
            var count = 0, tokens = 0, full = false
            for item in items[head...] {
                if count == maxBatchRequests || (count > 0 && tokens + item.tokens > maxBatchTokens) {
                    full = true
                    break
                }
                count += 1
                tokens += item.tokens
            }
            let now = Self.now()
            if owed > 0 && now &- lastAnswer > window { owed = 0 }
            if !full && !stopping && owed > 0 {
                let deadline = items[head].arrival &+ window
                if now < deadline {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) * 1e-9))
                    continue
                }
            }
            if !full && idleWorkers > 1 {
                count = (count + idleWorkers - 1) / idleWorkers
            }
            let batch = Array(items[head..<(head + count)])
            head += count
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else {
                if head > 1024 && head * 2 > items.count { compact() }
                condition.broadcast()  // the rest is for the other workers
            }
            return batch
        }
    }

    /// Which requests of `batch` still want their sequences read (not cancelled or failed).
    func live(_ batch: [Item]) -> [Bool] {
        locked { batch.map { !$0.request.resolved } }
    }

    /// Hands back a batch's outcome: `failures` maps positions in `batch` to the error of their
    /// read. Resumes every request it completes or fails (outside the lock).
    func complete(_ batch: [Item], failures: [Int: Error], tokens: Int, seconds: Double) -> BatchReport {
        var resumes: [(CheckedContinuation<Void, Error>, Error?)] = []
        condition.lock()
        var requests = 0
        var previous: EngineRequest?
        for (b, item) in batch.enumerated() {
            if item.request !== previous { requests += 1 }
            previous = item.request
            if let error = failures[b] {
                if let continuation = resolve(item.request) { resumes.append((continuation, error)) }
                continue
            }
            guard !item.request.resolved else { continue }
            item.request.remaining -= 1
            if item.request.remaining == 0, let continuation = resolve(item.request) {
                resumes.append((continuation, nil))
            }
        }
        counters.batches += 1
        counters.sequences += batch.count
        counters.tokens += tokens
        let answered = resumes.count
        if answered > 0 {
            owed += answered
            lastAnswer = Self.now()
        }
        let report = BatchReport(sequences: batch.count, requests: requests, tokens: tokens,
                                 queued: items.count - head, seconds: seconds)
        condition.unlock()
        for (continuation, error) in resumes {
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
        return report
    }

    func workerExited() {
        condition.lock()
        liveWorkers -= 1
        var waiters: [CheckedContinuation<Void, Never>] = []
        if liveWorkers == 0 { swap(&waiters, &exitWaiters) }
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }

    // MARK: - Shutdown and statistics

    /// Refuses new requests; workers finish the admitted ones, then exit.
    func stop() {
        locked {
            stopping = true
            condition.broadcast()
        }
    }

    /// Resumes `waiter` once every worker has exited.
    func whenWorkersExit(_ waiter: CheckedContinuation<Void, Never>) {
        condition.lock()
        if liveWorkers == 0 {
            condition.unlock()
            waiter.resume()
            return
        }
        exitWaiters.append(waiter)
        condition.unlock()
    }

    var statistics: EngineStatistics {
        locked {
            var result = counters
            result.queued = items.count - head
            result.shuttingDown = stopping
            return result
        }
    }
}
