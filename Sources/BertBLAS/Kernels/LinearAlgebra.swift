import COpenBLAS

/// The dense linear algebra of training linear heads: a symmetric rank-k update and a
/// symmetric positive definite solve, on OpenBLAS/LAPACKE or a naive Swift twin behind the same
/// `Kernel` switch as `Gemm` (so `kernel: .naive` reaches trained heads too).
///
/// Matrices are row-major `Float`; only the upper triangle of a symmetric matrix is read or written.
public enum LinearAlgebra {
    /// The upper triangle of `C[n, n] = Aᵀ A`, with `A` `[k, n]` (row stride `lda`): `cblas_ssyrk`
    /// (Upper, Trans, alpha 1, beta 0). The strictly lower triangle of `C` is left as it was.
    public static func gramUpper(_ kernel: Kernel, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                 c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard n > 0 else { return }
        switch kernel {
        case .blas:
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(k), 1, a, blasint(lda),
                        0, c, blasint(ldc))
        case .naive:
            for i in 0..<n {
                for j in i..<n {
                    var sum: Float = 0
                    for r in 0..<k { sum += a[r * lda + i] * a[r * lda + j] }
                    c[i * ldc + j] = sum
                }
            }
        }
    }

    /// Solves `A X = B` in place for a symmetric positive definite `A` `[size, size]` (upper
    /// triangle used) and `B` `[size, rightHandSides]`: `LAPACKE_sposv`, or a naive Cholesky
    /// factorization and two triangular solves. On return `B` holds `X` and `A` its factor.
    ///
    /// - Returns: 0 on success; `i > 0` when the leading minor of order `i` is not positive
    ///   definite; `i < 0` when argument `-i` is invalid (LAPACK's `info`).
    public static func solveSymmetricPositiveDefinite(_ kernel: Kernel, size: Int, rightHandSides: Int,
                                                      a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>) -> Int {
        switch kernel {
        case .blas:
            return Int(LAPACKE_sposv(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), blasint(size), blasint(rightHandSides),
                                     a, blasint(size), b, blasint(rightHandSides)))
        case .naive:
            guard size >= 0 else { return -3 }
            guard rightHandSides >= 0 else { return -4 }
            // A = Uᵀ U, U upper triangular, written over A's upper triangle (accumulated in Double).
            for j in 0..<size {
                var diagonal = Double(a[j * size + j])
                for p in 0..<j { diagonal -= Double(a[p * size + j]) * Double(a[p * size + j]) }
                guard diagonal > 0, diagonal.isFinite else { return j + 1 }
                let pivot = diagonal.squareRoot()
                a[j * size + j] = Float(pivot)
                for i in (j + 1)..<max(j + 1, size) {
                    var sum = Double(a[j * size + i])
                    for p in 0..<j { sum -= Double(a[p * size + j]) * Double(a[p * size + i]) }
                    a[j * size + i] = Float(sum / pivot)
                }
            }
            let r = rightHandSides
            for column in 0..<r {
                // Uᵀ y = b, then U x = y.
                for i in 0..<size {
                    var sum = Double(b[i * r + column])
                    for p in 0..<i { sum -= Double(a[p * size + i]) * Double(b[p * r + column]) }
                    b[i * r + column] = Float(sum / Double(a[i * size + i]))
                }
                for i in stride(from: size - 1, through: 0, by: -1) {
                    var sum = Double(b[i * r + column])
                    for p in (i + 1)..<max(i + 1, size) { sum -= Double(a[i * size + p]) * Double(b[p * r + column]) }
                    b[i * r + column] = Float(sum / Double(a[i * size + i]))
                }
            }
            return 0
        }
    }
}
