import Foundation
import Testing
@testable import BertBLAS

/// The batching engine on the real MiniLM model. The worker is held at a `Gate` (in `onBatch`,
/// after its first pass) wherever a test needs a full queue, so nothing depends on timing.
@Suite("BatchingEngine", .serialized)
struct BatchingEngineTests {
    /// An engine whose first `onBatch` waits at `gate` (one worker unless told otherwise).
    static func gatedEngine(_ model: LoadedModel, gate: Gate, reports: Reports = Reports(),
                            options: EngineOptions = EngineOptions(threads: .workers(1))) throws -> BatchingEngine {
        var options = options
        let first = Reports()
        options.onBatch = { report in
            reports.append(report)
            first.append(report)
            if first.list.count == 1 { gate.wait() }
        }
        return try BatchingEngine(model: model, options: options)
    }

    @Test("mixed concurrent requests equal each input run alone within 1e-6 of its scale, and share batches")
    func mixedRequestsEqualAlone() async throws {
        let model = try EngineTesting.requireModel()
        let task = MeanPoolTask(model: model)
        let texts = EngineTesting.sentences
        let alone = try texts.map { try task.run([$0], batchSize: 1)[0] }
        let gate = Gate(), reports = Reports()
        let engine = try Self.gatedEngine(model, gate: gate, reports: reports,
                                          options: EngineOptions(maxBatchTokens: 300, maxBatchRequests: 7, threads: .workers(1)))
        // Requests of 1, 2 and 3 inputs, overlapping, in several tasks at once.
        let requests: [[Int]] = [[0], [1, 2], [3], [4, 5, 6], [7], [8, 9], [10], [11, 12, 13], [14], [15], [9, 0], [2]]
        let results = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
            group.addTask { (0, try await engine.run(task, requests[0].map { texts[$0] })) }
            try await EngineTesting.waitUntil("the first batch runs") { gate.hasWaiter }
            for r in requests.indices.dropFirst() {
                group.addTask { (r, try await engine.run(task, requests[r].map { texts[$0] })) }
            }
            try await EngineTesting.waitUntil("every request is queued") {
                engine.statistics.queued == requests.dropFirst().map(\.count).reduce(0, +)
            }
            gate.release()
            var results: [Int: [[Float]]] = [:]
            for try await (r, vectors) in group { results[r] = vectors }
            return results
        }
        var worst: Float = 0
        for (r, indices) in requests.enumerated() {
            let vectors = try #require(results[r])
            #expect(vectors.count == indices.count)
            for (vector, i) in zip(vectors, indices) {
                #expect(vector.count == model.config.hiddenSize)
                worst = max(worst, EngineTesting.scaledDiff(vector, alone[i]))
            }
        }
        #expect(worst <= 1e-6, "max diff to running alone, over the scale: \(worst)")
        let list = reports.list
        #expect(list.allSatisfy { $0.sequences <= 7 })
        #expect(list.allSatisfy { $0.tokens <= 300 || $0.sequences == 1 })
        #expect(list.contains { $0.requests > 1 }, "no batch mixed requests: \(list)")
        let stats = engine.statistics
        #expect(stats.sequences == requests.map(\.count).reduce(0, +))
        #expect(stats.completed == requests.count)
        #expect(stats.inFlight == 0 && stats.queued == 0)
        await engine.shutdown()
    }

    @Test("beyond maxConcurrentRequests a request fails at once with EngineError.overloaded")
    func overload() async throws {
        let model = try EngineTesting.requireModel()
        let task = MeanPoolTask(model: model)
        let gate = Gate()
        let engine = try Self.gatedEngine(model, gate: gate,
                                          options: EngineOptions(maxConcurrentRequests: 2, threads: .workers(1)))
        // The first request runs and holds the worker; its caller has its answer.
        let first = Task { try await engine.run(task, "first") }
        try await EngineTesting.waitUntil("the first batch runs") { gate.hasWaiter }
        _ = try await first.value
        let second = Task { try await engine.run(task, "second") }
        let third = Task { try await engine.run(task, "third") }
        try await EngineTesting.waitUntil("two requests are queued") { engine.statistics.queued == 2 }
        #expect(engine.statistics.inFlight == 2)
        await #expect(throws: EngineError.overloaded(limit: 2)) {
            try await engine.run(task, "fourth")
        }
        #expect(engine.statistics.rejected == 1)
        gate.release()
        let alone = try task.run("second")
        #expect(EngineTesting.scaledDiff(try await second.value, alone) <= 1e-6)
        _ = try await third.value
        // Admission is open again once the load is gone.
        _ = try await engine.run(task, "fifth")
        #expect(engine.statistics.completed == 4)
        await engine.shutdown()
    }

    @Test("a cancelled waiting request leaves the queue and never runs")
    func cancellation() async throws {
        let model = try EngineTesting.requireModel()
        let task = MeanPoolTask(model: model)
        let gate = Gate()
        let engine = try Self.gatedEngine(model, gate: gate)
        let first = Task { try await engine.run(task, "first") }
        try await EngineTesting.waitUntil("the first batch runs") { gate.hasWaiter }
        let waiting = Task { try await engine.run(task, ["waiting one", "waiting two", "waiting three"]) }
        let kept = Task { try await engine.run(task, "kept") }
        try await EngineTesting.waitUntil("four sequences are queued") { engine.statistics.queued == 4 }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        // Gone from the queue before the worker is free again.
        #expect(engine.statistics.queued == 1)
        #expect(engine.statistics.cancelled == 1)
        gate.release()
        _ = try await first.value
        _ = try await kept.value
        await engine.shutdown()
        let stats = engine.statistics
        #expect(stats.sequences == 2, "only 'first' and 'kept' ran: \(stats)")
        #expect(stats.completed == 2 && stats.inFlight == 0)
    }

    @Test("a caller cancelled while its input is tokenized gets CancellationError; nothing runs")
    func cancelledWhileEncoding() async throws {
        let model = try EngineTesting.requireModel()
        let engine = try BatchingEngine(model: model, options: EngineOptions(threads: .workers(1)))
        let gate = Gate()
        let task = MeanPoolTask(model: model, encodeGate: gate)
        let run = Task { try await engine.run(task, "never") }
        try await EngineTesting.waitUntil("the input is being tokenized") { gate.hasWaiter }
        run.cancel()
        gate.release()
        await #expect(throws: CancellationError.self) { try await run.value }
        await engine.shutdown()
        let stats = engine.statistics
        #expect(stats.sequences == 0 && stats.inFlight == 0 && stats.queued == 0 && stats.cancelled == 1)
    }

    @Test("shutdown refuses new requests and finishes every admitted one")
    func shutdownFinishesAdmittedWork() async throws {
        let model = try EngineTesting.requireModel()
        let task = MeanPoolTask(model: model)
        let gate = Gate()
        let engine = try Self.gatedEngine(model, gate: gate, options: EngineOptions(threads: .workers(2)))
        let first = Task { try await engine.run(task, "first") }
        try await EngineTesting.waitUntil("the first batch runs") { gate.hasWaiter }
        let texts = Array(EngineTesting.sentences.prefix(6))
        let admitted = texts.map { text in Task { try await engine.run(task, text) } }
        try await EngineTesting.waitUntil("the admitted requests are in") { engine.statistics.inFlight >= texts.count }
        let stopped = Task { await engine.shutdown() }
        try await EngineTesting.waitUntil("shutdown begins") { engine.statistics.shuttingDown }
        await #expect(throws: EngineError.shutDown) { try await engine.run(task, "late") }
        gate.release()
        await stopped.value
        _ = try await first.value
        for (text, request) in zip(texts, admitted) {
            let alone = try task.run(text)
            #expect(EngineTesting.scaledDiff(try await request.value, alone) <= 1e-6)
        }
        let stats = engine.statistics
        #expect(stats.completed == texts.count + 1 && stats.inFlight == 0 && stats.queued == 0)
    }

    @Test("an input longer than maxBatchTokens runs alone instead of waiting forever")
    func overBudgetInputRunsAlone() async throws {
        let model = try EngineTesting.requireModel()
        let task = MeanPoolTask(model: model)
        let reports = Reports()
        let engine = try BatchingEngine(model: model, options: EngineOptions(
            maxBatchTokens: 8, threads: .workers(1), onBatch: { reports.append($0) }))
        let long = EngineTesting.sentences[9]
        async let a = engine.run(task, long)
        async let b = engine.run(task, "Hi.")
        let (vector, short) = try await (a, b)
        #expect(EngineTesting.scaledDiff(vector, try task.run(long)) <= 1e-6)
        #expect(EngineTesting.scaledDiff(short, try task.run("Hi.")) <= 1e-6)
        let longTokens = model.tokenizer.encode(long, truncation: Truncation(maxLength: 128)).count
        #expect(reports.list.contains { $0.sequences == 1 && $0.tokens == longTokens })
        #expect(reports.list.allSatisfy { $0.tokens <= 8 || $0.sequences == 1 })
        await engine.shutdown()
    }

    @Test("one request's bad input fails that request only")
    func errorsStayWithTheirRequest() async throws {
        let model = try EngineTesting.requireModel()
        let task = MeanPoolTask(model: model, rejecting: "bad")
        let engine = try BatchingEngine(model: model, options: EngineOptions(threads: .workers(1)))
        let good = Task { try await engine.run(task, ["good", "also good"]) }
        let bad = Task { try await engine.run(task, ["fine", "bad"]) }
        #expect(try await good.value.count == 2)
        await #expect(throws: BertError(.invalidInput, "rejected input")) { try await bad.value }
        #expect(engine.statistics.inFlight == 0)
        // A task built from another loaded model is refused by name.
        let other = try LoadedModel(directory: Paths.miniLM)
        await #expect(throws: BertError.self) { try await engine.run(MeanPoolTask(model: other), "x") }
        await engine.shutdown()
    }

    @Test("options out of range are refused by name")
    func badOptions() throws {
        let model = try EngineTesting.requireModel()
        for (options, name) in [(EngineOptions(maxBatchTokens: 0), "maxBatchTokens"),
                                (EngineOptions(maxBatchRequests: 0), "maxBatchRequests"),
                                (EngineOptions(maxConcurrentRequests: -1), "maxConcurrentRequests"),
                                (EngineOptions(threads: .workers(0)), "threads"),
                                (EngineOptions(batchWindow: .milliseconds(-1)), "batchWindow")] {
            #expect {
                try BatchingEngine(model: model, options: options)
            } throws: { error in
                (error as? BertError)?.message.contains(name) == true && !"\(error)".contains("--")
            }
        }
    }
}
