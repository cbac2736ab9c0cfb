import Foundation
import Synchronization
import Testing
@testable import BertBLAS

/// BertBLAS's compute threads: every task runs exactly once, loops follow each other without a
/// lost wake-up, nested and concurrent loops finish, and split products equal the reference.
@Suite(.timeLimit(.minutes(2))) struct ComputePoolTests {
    @Test func everyTaskRunsOnceWithDistinctSlots() {
        let pool = ComputePool.shared
        let count = 1000
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        hits.initialize(repeating: 0)
        defer { hits.deallocate() }
        let badSlots = Atomic<Int>(0)
        pool.parallelFor(count) { task, slot in
            hits[task] += 1
            if slot < 0 || slot >= pool.capacity { badSlots.add(1, ordering: .relaxed) }
        }
        #expect(hits.allSatisfy { $0 == 1 })
        #expect(badSlots.load(ordering: .relaxed) == 0)
    }

    /// Many short loops in a row, with pauses that let idle workers fall asleep: a lost wake-up
    /// would hang here (the suite's time limit fails it).
    @Test func manyLoopsInARow() {
        let pool = ComputePool.shared
        let total = Atomic<Int>(0)
        for round in 0..<3000 {
            pool.parallelFor(1 + round % 7) { _ in total.add(1, ordering: .relaxed) }
            if round % 500 == 0 { usleep(2000) }
        }
        let expected = (0..<3000).reduce(0) { $0 + 1 + $1 % 7 }
        #expect(total.load(ordering: .relaxed) == expected)
    }

    @Test func nestedLoopsRunOnTheCallingThread() {
        let pool = ComputePool.shared
        let total = Atomic<Int>(0)
        pool.parallelFor(8) { _ in
            pool.parallelFor(10) { _ in total.add(1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 80)
    }

    @Test func concurrentCallersAllFinish() {
        let pool = ComputePool.shared
        let total = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<200 {
                pool.parallelFor(16) { _ in total.add(1, ordering: .relaxed) }
            }
        }
        #expect(total.load(ordering: .relaxed) == 4 * 200 * 16)
    }

    /// Products large enough to be split (in row panels, and in column panels for few rows) equal
    /// the naive reference.
    @Test(arguments: [(300, 200, 64), (5, 1000, 300), (130, 130, 130)])
    func splitProductsEqualNaive(m: Int, n: Int, k: Int) {
        var rng = SplitMix64(seed: UInt64(m * n + k))
        let a = (0..<(m * k)).map { _ in Float(rng.next() >> 40) / Float(1 << 24) - 0.5 }
        let b = (0..<(n * k)).map { _ in Float(rng.next() >> 40) / Float(1 << 24) - 0.5 }
        var blas = [Float](repeating: 0, count: m * n), naive = blas
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                blas.withUnsafeMutableBufferPointer { pc in
                    Gemm.sgemm(.blas, transB: true, m: m, n: n, k: k, a: pa.baseAddress!, lda: k,
                               b: pb.baseAddress!, ldb: k, c: pc.baseAddress!, ldc: n)
                }
                naive.withUnsafeMutableBufferPointer { pc in
                    Gemm.sgemm(.naive, transB: true, m: m, n: n, k: k, a: pa.baseAddress!, lda: k,
                               b: pb.baseAddress!, ldb: k, c: pc.baseAddress!, ldc: n)
                }
            }
        }
        let diff = zip(blas, naive).map { abs($0 - $1) }.max() ?? 0
        #expect(diff <= 1e-4, "\(m)×\(n)×\(k): max |diff| \(diff)")
    }
}
