import Foundation
import Testing
@testable import BertBLAS

/// The vectorized element-wise kernels against libm, and GEMM's BLAS path against the naive loops
/// for every transpose combination and leading dimension the forward pass uses.
@Suite struct KernelTests {
    static let grid: [Float] = stride(from: -12.0, through: 12.0, by: 0.0037).map { Float($0) }

    @Test func vectorExpMatchesLibm() {
        var worst: Float = 0
        for x in stride(from: Float(-87), through: 88, by: 0.013) {
            let got = VectorMath.exp(VectorMath.Vector(repeating: x))[3]
            worst = max(worst, abs(got - Foundation.exp(x)) / Foundation.exp(x))
        }
        #expect(worst <= 5e-7, "max relative error \(worst)")
        #expect(VectorMath.exp(VectorMath.Vector(repeating: -1000))[0] <= 1e-37)
    }

    @Test func vectorErfMatchesLibm() {
        var worst: Float = 0
        for x in Self.grid {
            worst = max(worst, abs(VectorMath.erf(VectorMath.Vector(repeating: x))[5] - Foundation.erf(x)))
        }
        #expect(worst <= 1e-6, "max abs error \(worst)")
    }

    @Test(arguments: Activation.allCases)
    func activationsMatchTheirScalarDefinitions(activation: Activation) {
        var values = Self.grid
        values.withUnsafeMutableBufferPointer { activation.apply($0) }  // count not a multiple of 8: tail too
        let worst = zip(values, Self.grid).map { abs($0 - activation.reference($1)) }.max() ?? 1
        #expect(worst <= 2e-6, "\(activation): max abs error \(worst)")
    }

    @Test func softmaxRowsSumToOneAndMatchLibm() {
        let width = 13, rows = 3
        var x = (0..<(rows * width)).map { Float(($0 * 37) % 23) * 0.7 - 5 }
        let input = x
        x.withUnsafeMutableBufferPointer { RowOps.softmax(rows: rows, width: width, $0.baseAddress!) }
        for r in 0..<rows {
            let row = input[(r * width)..<((r + 1) * width)]
            let peak = row.max()!
            let sum = row.map { Foundation.exp($0 - peak) }.reduce(0, +)
            for (j, v) in row.enumerated() {
                #expect(abs(x[r * width + j] - Foundation.exp(v - peak) / sum) <= 1e-6)
            }
        }
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func blasEqualsNaive(transA: Bool, transB: Bool) {
        let m = 7, n = 5, k = 9, lda = transA ? m + 2 : k + 3, ldb = transB ? k + 1 : n + 4, ldc = n + 2
        let a = (0..<(lda * (transA ? k : m))).map { Float(($0 * 13) % 17) / 17 - 0.5 }
        let b = (0..<(ldb * (transB ? n : k))).map { Float(($0 * 7) % 11) / 11 - 0.5 }
        func run(_ kernel: Kernel) -> [Float] {
            var c = [Float](repeating: 0.25, count: ldc * m)
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        Gemm.sgemm(kernel, transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5,
                                   a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: 2,
                                   c: pc.baseAddress!, ldc: ldc)
                    }
                }
            }
            return c
        }
        let c1 = run(.blas), c2 = run(.naive)
        // Compare against a direct definition too.
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k {
                    s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j])
                }
                let want = 0.5 * s + 2 * 0.25
                #expect(abs(c1[i * ldc + j] - want) <= 1e-5 && abs(c2[i * ldc + j] - want) <= 1e-5)
            }
        }
    }
}
