import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// BertBLAS's own compute threads: a small persistent pool that runs a parallel for-loop, the
/// only place the forward pass goes parallel.
///
/// OpenBLAS runs on one thread (`BLASRuntime.setThreads` sets that); every product that is
/// worth splitting is cut into row panels here, each panel one single-threaded `cblas_sgemm`.
/// So there is never a pool around a multithreaded sgemm, the split is ours (and so is the
/// fusion of each panel's epilogue: bias, GELU, residual, LayerNorm), and work is claimed
/// dynamically: a thread that the OS deschedules (another process busy on its core) holds up at
/// most the one task it is running, where OpenBLAS's static split stalls every product.
///
/// One loop runs at a time. A `parallelFor` called while another is running (a second forward
/// pass on another thread, or from inside a task) runs on its caller's thread alone, so nesting
/// is safe and never oversubscribes the cores.
///
/// Idle workers spin for about `spinMicroseconds` waiting for the next loop (the loops of one
/// forward pass follow each other closely), then sleep on a condition variable.
public final class ComputePool: @unchecked Sendable {
    // Synchronization: `job` is written by the thread that won `inUse`, before it publishes the
    // loop by incrementing `generation`; workers read it only after seeing that increment and
    // stop before incrementing `finished`. `mutex`/`condition` guard only the sleep/wake of workers
    // (`sleepers` counts workers that may be waiting on `condition`).

    /// The process-wide pool.
    public static let shared = ComputePool(capacity: ProcessInfo.processInfo.activeProcessorCount)

    /// Most threads a loop can use (the caller included): the number of cores.
    public let capacity: Int
    private let active: Atomic<Int>
    private let inUse = Atomic<Bool>(false)
    /// The published loop: a sequence number times 256 plus its number of participating workers,
    /// in one value so that a worker sees both together.
    private let generation = Atomic<Int>(0)
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let job: UnsafeMutablePointer<Job>
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private let startLock = NSLock()
    private var started = 0

    /// How long an idle worker polls for the next loop before it sleeps.
    static let spinMicroseconds: UInt64 = 200

    private struct Job {
        var body: ((Int, Int) -> Void)?
        var count = 0
    }

    init(capacity: Int) {
        self.capacity = min(max(1, capacity), 255)
        active = Atomic(self.capacity)
        job = UnsafeMutablePointer<Job>.allocate(capacity: 1)
        job.initialize(to: Job())
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// Threads a loop uses (the caller included), between 1 and `capacity`.
    public var threads: Int { active.load(ordering: .relaxed) }

    /// Sets the threads a loop uses; values are clamped to 1 … `capacity`.
    func setThreads(_ count: Int) {
        active.store(min(max(1, count), capacity), ordering: .relaxed)
    }

    /// Runs `body(0) … body(count - 1)`, each exactly once, on up to `threads` threads (the
    /// caller is one of them), and returns when all have run.
    ///
    /// Tasks are claimed one at a time in index order, so give it tasks of similar cost, a few
    /// per thread. With one task, one thread, or another loop already running, it runs them in
    /// order on the calling thread.
    public func parallelFor(_ count: Int, _ body: (_ task: Int) -> Void) {
        parallelFor(count) { task, _ in body(task) }
    }

    /// `parallelFor` that also tells each task its slot: 0 ..< `capacity`, distinct among the
    /// threads running the loop at once (0 on the calling thread), for per-thread scratch.
    public func parallelFor(_ count: Int, _ body: (_ task: Int, _ slot: Int) -> Void) {
        guard count > 0 else { return }
        let threads = min(self.threads, count)
        guard threads > 1, inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for i in 0..<count { body(i, 0) }
            return
        }
        defer { inUse.store(false, ordering: .releasing) }
        startWorkers(threads - 1)
        withoutActuallyEscaping(body) { escaping in
            job.pointee = Job(body: escaping, count: count)
            next.store(0, ordering: .relaxed)
            finished.store(0, ordering: .relaxed)
            let sequence = generation.load(ordering: .relaxed) >> 8
            generation.store((sequence &+ 1) << 8 | (threads - 1), ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&condition)
                pthread_mutex_unlock(&mutex)
            }
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                if i >= count { break }
                escaping(i, 0)
            }
            // Wait for the workers' last tasks; yield so that a worker sharing this core runs.
            var polls = 0
            while finished.load(ordering: .acquiring) < threads - 1 {
                polls += 1
                if polls > 64 { sched_yield() }
            }
            job.pointee.body = nil
        }
    }

    private func startWorkers(_ count: Int) {
        guard started < count else { return }
        startLock.lock()
        defer { startLock.unlock() }
        while started < count {
            let index = started
            var thread = pthread_t()
            // The worker starts from the loop count before this loop is published, so it cannot
            // miss it however late the thread starts running.
            let seen = generation.load(ordering: .acquiring)
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index, seen: seen)).toOpaque()
            let result = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let start = Unmanaged<WorkerStart>.fromOpaque(raw).takeRetainedValue()
                start.pool.work(index: start.index, seen: start.seen)
                return nil
            }, box)
            if result != 0 {
                Unmanaged<WorkerStart>.fromOpaque(box).release()
                // No thread: loops use the caller and the workers that did start.
                active.store(started + 1, ordering: .relaxed)
                return
            }
            pthread_detach(thread)
            started += 1
        }
    }

    private final class WorkerStart {
        let pool: ComputePool
        let index: Int
        let seen: Int
        init(pool: ComputePool, index: Int, seen: Int) { self.pool = pool; self.index = index; self.seen = seen }
    }

    /// A worker's life: wait for a new generation, run tasks if it takes part, report, repeat.
    /// A worker reads `job` only for a loop it takes part in: the caller waits for every
    /// participant, so `job` does not change meanwhile.
    private func work(index: Int, seen start: Int) {
        var seen = start
        while true {
            seen = waitForGeneration(after: seen)
            guard index < seen & 255 else { continue }
            runTasks(slot: index + 1)
            finished.add(1, ordering: .releasing)
        }
    }

    /// Claims and runs tasks until none is left. A separate function so that its reference to
    /// the body is released before the worker reports (the caller's `withoutActuallyEscaping`
    /// checks that nothing kept it).
    @inline(never)
    private func runTasks(slot: Int) {
        let count = job.pointee.count
        guard let body = job.pointee.body else { return }
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= count { break }
            body(i, slot)
        }
    }

    private func waitForGeneration(after seen: Int) -> Int {
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinMicroseconds * 1000
        var polls = 0
        while true {
            let now = generation.load(ordering: .acquiring)
            if now != seen { return now }
            polls += 1
            if polls & 255 == 0 && DispatchTime.now().uptimeNanoseconds > deadline { break }
        }
        pthread_mutex_lock(&mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        var now = generation.load(ordering: .sequentiallyConsistent)
        while now == seen {
            pthread_cond_wait(&condition, &mutex)
            now = generation.load(ordering: .sequentiallyConsistent)
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(&mutex)
        return now
    }
}
