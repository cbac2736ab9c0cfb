import Foundation

/// L2-regularized logistic regression on frozen features, solved by Newton's method (IRLS)
/// where each step is one LAPACK Cholesky solve (`LAPACKE_sposv`) of the full Hessian.
///
/// The objective is scikit-learn's `LogisticRegression` objective with `C = 1 / λ`:
///
///     Σᵢ −log pᵢ[yᵢ]  +  (λ / 2) · ‖W‖²        (the bias is not penalized)
///
/// - Two labels: the binary model (one weight vector, `p = sigmoid(w·x + b)`), as scikit-learn
///   fits it. The head stores row 0 = 0 and row 1 = w, so the softmax of its logits is the same.
/// - More labels: the multinomial model with one weight row per label (scikit-learn's symmetric
///   parametrization). The loss does not change when a constant is added to every bias, so the
///   solver adds `(1/2)(Σₖ bₖ)²`, which picks the centered biases and keeps the Hessian positive
///   definite without changing any probability.
///
/// For H features and L labels there are (H+1)·L unknowns (385·5 = 1,925 for MiniLM on five
/// topics): one Hessian costs L²·N·(H+1)² flops in `cblas_ssyrk`/`cblas_sgemm` and one `sposv`.
/// The result is deterministic for a given input and BLAS thread count.
public enum LogisticRegression {
    /// Solver settings.
    public struct Options: Sendable, Equatable {
        /// λ, the L2 penalty on the weights (not the bias); scikit-learn's `C` is `1 / λ`.
        /// Default 1 (scikit-learn's default `C = 1`). Must be > 0.
        public var regularization: Float
        /// Newton iterations at most. Default 50 (Newton usually converges in 6–12).
        public var maxIterations: Int
        /// Stop when the largest gradient entry, divided by the number of examples, is below
        /// this, or when the Newton decrement shows the objective is optimal to Float precision.
        /// Default 1e-6 (scikit-learn's lbfgs stops at 1e-4 on the same scale).
        public var tolerance: Double
        /// OpenBLAS/LAPACK (default) or the naive reference for the Hessian products and solves.
        public var kernel: Kernel

        /// Creates options; every argument has the default documented on its property.
        public init(regularization: Float = 1, maxIterations: Int = 50, tolerance: Double = 1e-6, kernel: Kernel = .blas) {
            self.regularization = regularization
            self.maxIterations = maxIterations
            self.tolerance = tolerance
            self.kernel = kernel
        }
    }

    /// What the solver did.
    public struct Report: Sendable, Equatable {
        /// Newton steps taken.
        public var iterations: Int
        /// True when the gradient criterion was met (false: stopped at `maxIterations` or stalled).
        public var converged: Bool
        /// The final objective value (see the type's documentation).
        public var objective: Double
        /// The final largest gradient entry divided by the number of examples.
        public var gradient: Double
    }

    /// Fits the model.
    /// - Parameters:
    ///   - x: features `[N, H]`, one row per example.
    ///   - labels: N label indices in `0..<labelCount`.
    ///   - labelCount: L ≥ 2. A label with no example is allowed (it gets a very low score).
    ///   - weights: optional per-example weights > 0 (scikit-learn's `sample_weight`): the loss
    ///     becomes Σᵢ wᵢ·(−log pᵢ[yᵢ]). The windows of one long document get 1/windows each.
    ///   - options: solver settings.
    /// - Returns: the head (`[L, H]` weights and `[L]` bias) and the solver report.
    /// - Throws: `BertError.shape` for mismatched sizes, `BertError.invalidInput` for an empty
    ///   data set, a label out of range, a non-finite feature or λ ≤ 0, and `BertError.unsupported`
    ///   when LAPACK cannot factor the Hessian.
    public static func fit(_ x: FeatureMatrix, labels: [Int], labelCount: Int, weights: [Float]? = nil,
                           options: Options = Options()) throws -> (head: LinearHead, report: Report) {
        try validate(x, labels: labels, labelCount: labelCount, weights: weights)
        guard options.regularization > 0, options.regularization.isFinite else {
            throw BertError(.invalidInput, "regularization must be a positive number, got \(options.regularization)")
        }
        var problem = Problem(x: x, labels: labels, labelCount: labelCount, lambda: options.regularization,
                              weights: weights ?? [Float](repeating: 1, count: x.rows), kernel: options.kernel)
        let report = try problem.solve(maxIterations: options.maxIterations, tolerance: options.tolerance)
        return (try problem.head(), report)
    }

    static func validate(_ x: FeatureMatrix, labels: [Int], labelCount: Int, weights: [Float]? = nil) throws {
        if let weights {
            guard weights.count == x.rows else {
                throw BertError(.shape, "training: \(weights.count) weights for \(x.rows) feature rows")
            }
            if let bad = weights.firstIndex(where: { !($0 > 0) || !$0.isFinite }) {
                throw BertError(.invalidInput, "training: example \(bad) has weight \(weights[bad]); weights must be positive")
            }
        }
        guard labelCount >= 2 else {
            throw BertError(.invalidInput, "training needs at least 2 labels, got \(labelCount)")
        }
        guard x.rows > 0, x.columns > 0 else {
            throw BertError(.invalidInput, "training needs at least one example with features, got [\(x.rows), \(x.columns)]")
        }
        guard labels.count == x.rows else {
            throw BertError(.shape, "training: \(labels.count) labels for \(x.rows) feature rows")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= labelCount }) {
            throw BertError(.invalidInput, "training: example \(bad) has label index \(labels[bad]), outside 0..<\(labelCount)")
        }
        if let bad = x.values.firstIndex(where: { !$0.isFinite }) {
            throw BertError(.invalidInput, "training: example \(bad / x.columns) has a non-finite feature at column \(bad % x.columns)")
        }
    }
}

/// The Newton problem: augmented features X̃ = [X, 1] `[N, D]` with D = H + 1, and parameters
/// θ `[F, D]` for the F free classes (F = 1 for the binary model with class 0 as the reference,
/// F = L otherwise).
private struct Problem {
    let n: Int, d: Int, dim: Int, labelCount: Int, free: Int
    let hasReference: Bool
    let lambda: Float
    let coupling: Float = 1
    var xt: [Float]          // [N, D]
    let labels: [Int]
    let weights: [Float]     // [N]
    var theta: [Float]       // [F, D]
    let kernel: Kernel

    init(x: FeatureMatrix, labels: [Int], labelCount: Int, lambda: Float, weights: [Float], kernel: Kernel) {
        self.weights = weights
        self.kernel = kernel
        n = x.rows
        d = x.columns
        dim = d + 1
        self.labelCount = labelCount
        hasReference = labelCount == 2
        free = hasReference ? 1 : labelCount
        self.lambda = lambda
        self.labels = labels
        var xt = [Float](repeating: 1, count: n * (d + 1))
        for i in 0..<n {
            for j in 0..<d { xt[i * (d + 1) + j] = x.values[i * d + j] }
        }
        self.xt = xt
        theta = [Float](repeating: 0, count: free * (d + 1))
    }

    /// The free class index of a label, or nil for the reference class.
    func freeIndex(_ label: Int) -> Int? {
        hasReference ? (label == 0 ? nil : label - 1) : label
    }

    /// Objective at `theta`, filling `p` `[N, F]` with the free classes' probabilities.
    /// Logits, loss and gradient are accumulated in Double: their accuracy sets how close to the
    /// optimum Newton can get; the Hessian (only a direction) stays in Float on BLAS.
    func objective(_ theta: [Float], probabilities p: inout [Float]) -> Double {
        let n = self.n, dim = self.dim, free = self.free
        var z = [Double](repeating: 0, count: free)
        var loss = 0.0
        xt.withUnsafeBufferPointer { xp in
            theta.withUnsafeBufferPointer { tp in
                for i in 0..<n {
                    let row = xp.baseAddress.map { $0 + i * dim }
                    for k in 0..<free { z[k] = dot(row, tp.baseAddress.map { $0 + k * dim }, dim) }
                    var m = hasReference ? 0 : -Double.infinity
                    for k in 0..<free { m = max(m, z[k]) }
                    var s = hasReference ? exp(-m) : 0
                    for k in 0..<free { s += exp(z[k] - m) }
                    let lse = m + log(s)
                    let zy = freeIndex(labels[i]).map { z[$0] } ?? 0
                    loss += Double(weights[i]) * (lse - zy)
                    for k in 0..<free { p[i * free + k] = Float(exp(z[k] - lse)) }
                }
            }
        }
        var penalty = 0.0
        var biasSum = 0.0
        for k in 0..<free {
            for j in 0..<d { let w = Double(theta[k * dim + j]); penalty += w * w }
            biasSum += Double(theta[k * dim + d])
        }
        var total = loss + 0.5 * Double(lambda) * penalty
        if !hasReference { total += 0.5 * Double(coupling) * biasSum * biasSum }
        return total
    }

    mutating func solve(maxIterations: Int, tolerance: Double) throws -> LogisticRegression.Report {
        let size = free * dim
        var p = [Float](repeating: 0, count: n * free)
        var f = objective(theta, probabilities: &p)
        var gradient = [Float](repeating: 0, count: size)
        var hessian = [Float](repeating: 0, count: size * size)
        var scaled = [Float](repeating: 0, count: n * dim)
        var trialP = p
        var iterations = 0
        var converged = false
        var gmax = Double.infinity
        while true {
            computeGradient(p, into: &gradient)
            gmax = Double(gradient.reduce(0) { max($0, abs($1)) }) / Double(n)
            if gmax <= tolerance { converged = true; break }
            if iterations >= maxIterations { break }
            computeHessian(p, into: &hessian, scratch: &scaled)
            var step = gradient
            try solveSPD(&hessian, &step, size: size, kernel: kernel)
            var decrement = 0.0
            for i in 0..<size { decrement += Double(gradient[i]) * Double(step[i]) }
            // decrement/2 estimates f − f*; below Float's resolution of f there is nothing left.
            if decrement / 2 <= 1e-12 * max(1, abs(f)) { converged = true; break }
            // Backtracking (Armijo) line search on the Newton direction.
            var t: Float = 1
            var accepted = false
            var trial = theta
            for _ in 0..<30 {
                for i in 0..<size { trial[i] = theta[i] - t * step[i] }
                let ft = objective(trial, probabilities: &trialP)
                if ft <= f - 1e-4 * Double(t) * decrement {
                    theta = trial
                    p = trialP
                    f = ft
                    accepted = true
                    break
                }
                t *= 0.5
            }
            iterations += 1
            // No decrease possible in Float: the optimum is reached to working precision.
            if !accepted { converged = gmax <= 100 * tolerance; break }
        }
        return LogisticRegression.Report(iterations: iterations, converged: converged, objective: f, gradient: gmax)
    }

    /// g = (P − Y)ᵀ X̃ + λ·[W, 0] (+ coupling on the biases)  `[F, D]`, accumulated in Double.
    func computeGradient(_ p: [Float], into g: inout [Float]) {
        let dim = self.dim, free = self.free
        var acc = [Double](repeating: 0, count: free * dim)
        xt.withUnsafeBufferPointer { xp in
            for i in 0..<n {
                let y = freeIndex(labels[i])
                for k in 0..<free {
                    let r = Double(weights[i]) * (Double(p[i * free + k]) - (y == k ? 1 : 0))
                    let base = i * dim, out = k * dim
                    for j in 0..<dim { acc[out + j] += r * Double(xp[base + j]) }
                }
            }
        }
        var biasSum = 0.0
        for k in 0..<free { biasSum += Double(theta[k * dim + d]) }
        for k in 0..<free {
            for j in 0..<d { acc[k * dim + j] += Double(lambda) * Double(theta[k * dim + j]) }
            if !hasReference { acc[k * dim + d] += Double(coupling) * biasSum }
        }
        for i in 0..<(free * dim) { g[i] = Float(acc[i]) }
    }

    /// The upper triangle of H = Σᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ + λ·I(weights) (+ coupling)
    /// `[F·D, F·D]`: diagonal blocks by `ssyrk` on √(p(1−p))-scaled rows, the others by `sgemm`.
    func computeHessian(_ p: [Float], into h: inout [Float], scratch: inout [Float]) {
        let size = free * dim
        let n = self.n, dim = self.dim, free = self.free
        for k in 0..<free {
            for l in k..<free {
                for i in 0..<n {
                    let pk = p[i * free + k]
                    let w = weights[i]
                    let s = k == l ? (w * pk * (1 - pk)).squareRoot() : -w * pk * p[i * free + l]
                    let base = i * dim
                    for j in 0..<dim { scratch[base + j] = s * xt[base + j] }
                }
                let offset = k * dim * size + l * dim
                scratch.withUnsafeBufferPointer { sp in
                    xt.withUnsafeBufferPointer { xp in
                        h.withUnsafeMutableBufferPointer { hp in
                            guard let s = sp.baseAddress, let x = xp.baseAddress, let c = hp.baseAddress.map({ $0 + offset }) else { return }
                            if k == l {
                                LinearAlgebra.gramUpper(kernel, n: dim, k: n, a: s, lda: dim, c: c, ldc: size)
                            } else {
                                Gemm.sgemm(kernel, transA: true, m: dim, n: dim, k: n, a: x, lda: dim, b: s, ldb: dim,
                                           c: c, ldc: size)
                            }
                        }
                    }
                }
            }
        }
        for k in 0..<free {
            for j in 0..<d { h[(k * dim + j) * size + k * dim + j] += lambda }
            if !hasReference {
                for l in k..<free { h[(k * dim + d) * size + l * dim + d] += coupling }
            }
        }
    }

    func head() throws -> LinearHead {
        var weight = [Float](repeating: 0, count: labelCount * d)
        var bias = [Float](repeating: 0, count: labelCount)
        for label in 0..<labelCount {
            guard let k = freeIndex(label) else { continue }
            for j in 0..<d { weight[label * d + j] = theta[k * dim + j] }
            bias[label] = theta[k * dim + d]
        }
        return try LinearHead(weight: weight, bias: bias, labelCount: labelCount, inputSize: d, kind: .logistic)
    }
}

/// Σⱼ a[j]·b[j] over `count` Float values, in Double.
@inline(__always)
private func dot(_ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, _ count: Int) -> Double {
    guard let a, let b else { return 0 }
    var s = 0.0
    for j in 0..<count { s += Double(a[j]) * Double(b[j]) }
    return s
}

/// Solves A·x = b in place for symmetric positive definite A (upper triangle used, row-major)
/// with `LinearAlgebra.solveSymmetricPositiveDefinite` (`LAPACKE_sposv`). When A is not numerically positive definite (saturated probabilities
/// in Float), retries with a growing diagonal shift, the Levenberg–Marquardt safeguard.
func solveSPD(_ a: inout [Float], _ b: inout [Float], size: Int, rightHandSides: Int = 1, kernel: Kernel) throws {
    let original = a
    var relative: Float = 0
    var maxDiagonal: Float = 0
    for i in 0..<size { maxDiagonal = max(maxDiagonal, abs(a[i * size + i])) }
    let rhs = b
    for attempt in 0..<8 {
        let info = a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeMutableBufferPointer { bp in
                guard let am = ap.baseAddress, let bm = bp.baseAddress else { return -1 }
                return LinearAlgebra.solveSymmetricPositiveDefinite(kernel, size: size, rightHandSides: rightHandSides, a: am, b: bm)
            }
        }
        if info == 0 { return }
        if info < 0 {
            throw BertError(.unsupported, "symmetric solve: argument \(-info) is invalid (size \(size))")
        }
        // Not positive definite: shift the diagonal and retry from the original matrix.
        relative = attempt == 0 ? 1e-6 : relative * 100
        a = original
        b = rhs
        for i in 0..<size { a[i * size + i] += relative * max(1, maxDiagonal) }
    }
    throw BertError(.unsupported, "symmetric solve: the \(size)×\(size) system is not positive definite even with a diagonal shift")
}
