import COpenBLAS

/// Which implementation runs the matrix products.
public enum Kernel: String, Sendable, CaseIterable, CustomStringConvertible {
    /// OpenBLAS `cblas_sgemm` (the default).
    case blas
    /// Plain Swift loops: the algorithmic reference BLAS is checked against.
    case naive

    public var description: String { rawValue }
}

/// Single-precision GEMM on row-major matrices: `C = alpha * op(A) * op(B) + beta * C`,
/// where `op(A)` is `[m, k]` and `op(B)` is `[k, n]`.
///
/// This file is the only place that calls `cblas_sgemm`. A BERT Linear over `m` tokens with a
/// weight `[out, in]` as stored is one call with `transB: true`.
public enum Gemm {
    /// Multiplies with the chosen kernel.
    ///
    /// BLAS products large enough to share are cut into row panels (or column panels when `m`
    /// is small) run on `ComputePool.shared`, each one single-threaded `cblas_sgemm`; OpenBLAS
    /// itself runs on one thread (see `BLASRuntime`).
    /// - Parameters:
    ///   - kernel: `.blas` or `.naive`.
    ///   - transA: use `A` transposed (`A` stored `[k, m]`).
    ///   - transB: use `B` transposed (`B` stored `[n, k]`).
    ///   - m, n, k: the product's dimensions; all zero-or-positive.
    ///   - alpha: scales the product.
    ///   - a, lda: `A` and its row stride (in elements).
    ///   - b, ldb: `B` and its row stride.
    ///   - beta: scales the existing `C` (0 ignores `C`'s contents, even NaN).
    ///   - c, ldc: `C` `[m, n]` and its row stride.
    ///   - parallel: false runs it on the calling thread (inside a task of the pool, or when the
    ///     caller splits the work itself).
    public static func sgemm(_ kernel: Kernel, transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true) {
        guard m > 0, n > 0 else { return }
        let pool = ComputePool.shared
        let threads = pool.threads
        // Below about 2 MFLOP a product takes tens of microseconds: not worth waking a thread.
        guard parallel, threads > 1, m * n * k >= 1 << 20 else {
            single(kernel, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                   a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        if m >= 16 * threads {
            // Row panels: a multiple of 8 rows, about 4 per thread, at most 256 rows.
            let rows = min(256, max(16, (m + 4 * threads - 1) / (4 * threads) + 7) & ~7)
            pool.parallelFor((m + rows - 1) / rows) { p in
                let r0 = p * rows, count = min(rows, m - r0)
                single(kernel, transA: transA, transB: transB, m: count, n: n, k: k, alpha: alpha,
                       a: a + (transA ? r0 : r0 * lda), lda: lda, b: b, ldb: ldb, beta: beta,
                       c: c + r0 * ldc, ldc: ldc)
            }
        } else {
            // Few rows (a handful of tokens, a pooler, an MLM decoder): column panels of B.
            let columns = max(64, (n + 4 * threads - 1) / (4 * threads) + 15) & ~15
            pool.parallelFor((n + columns - 1) / columns) { p in
                let j0 = p * columns, count = min(columns, n - j0)
                single(kernel, transA: transA, transB: transB, m: m, n: count, k: k, alpha: alpha,
                       a: a, lda: lda, b: b + (transB ? j0 * ldb : j0), ldb: ldb, beta: beta,
                       c: c + j0, ldc: ldc)
            }
        }
    }

    /// One product on the calling thread.
    @inline(__always)
    static func single(_ kernel: Kernel, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        switch kernel {
        case .blas:
            BLASRuntime.singleThreaded()
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                        beta, c, blasint(ldc))
        case .naive:
            naive(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// The reference: one dot product per output element, in plain loops.
    static func naive(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        // Element strides of row i of op(A) and column j of op(B) along k.
        let aRow = transA ? 1 : lda, aStep = transA ? lda : 1
        let bCol = transB ? ldb : 1, bStep = transB ? 1 : ldb
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                var pa = a + i * aRow
                var pb = b + j * bCol
                for _ in 0..<k {
                    sum += pa.pointee * pb.pointee
                    pa += aStep
                    pb += bStep
                }
                let out = c + i * ldc + j
                out.pointee = beta == 0 ? alpha * sum : alpha * sum + beta * out.pointee
            }
        }
    }
}
