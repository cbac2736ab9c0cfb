import Foundation

/// The closed-form ridge classifier (scikit-learn's `RidgeClassifier`) and ridge regression
/// (`Ridge`): one LAPACK solve.
///
/// Targets are ±1 (one column per label; for two labels a single column, +1 for label 1),
/// features and targets are centered so the bias is not penalized, and
/// `(XcᵀXc + λI)·W = XcᵀYc` is solved with `LAPACKE_sposv` (λ is scikit-learn's `alpha`).
/// The head's logits are the decision values `x·W + b`; the predicted label is their argmax.
public enum RidgeClassifier {
    /// Fits the model.
    /// - Parameters:
    ///   - x: features `[N, H]`.
    ///   - labels: N label indices in `0..<labelCount`.
    ///   - labelCount: L ≥ 2.
    ///   - weights: optional per-example weights > 0 (scikit-learn's `sample_weight`).
    ///   - regularization: λ > 0 (scikit-learn's `alpha`, default 1).
    ///   - kernel: OpenBLAS/LAPACK (default) or the naive reference.
    /// - Returns: a head of kind `.ridge`.
    /// - Throws: as `LogisticRegression.fit`.
    public static func fit(_ x: FeatureMatrix, labels: [Int], labelCount: Int, weights: [Float]? = nil,
                           regularization: Float = 1, kernel: Kernel = .blas) throws -> LinearHead {
        try LogisticRegression.validate(x, labels: labels, labelCount: labelCount, weights: weights)
        let n = x.rows, d = x.columns
        let targets = labelCount == 2 ? 1 : labelCount
        var y = [Float](repeating: -1, count: n * targets)
        for i in 0..<n {
            if targets == 1 { if labels[i] == 1 { y[i] = 1 } } else { y[i * targets + labels[i]] = 1 }
        }
        let (b, intercepts) = try solve(x, y: y, targets: targets, weights: weights, regularization: regularization, kernel: kernel)
        var weight = [Float](repeating: 0, count: labelCount * d)
        var bias = [Float](repeating: 0, count: labelCount)
        for t in 0..<targets {
            let label = targets == 1 ? 1 : t
            for j in 0..<d { weight[label * d + j] = b[j * targets + t] }
            bias[label] = intercepts[t]
        }
        return try LinearHead(weight: weight, bias: bias, labelCount: labelCount, inputSize: d, kind: .ridge)
    }

    /// Ridge regression on continuous targets (scikit-learn's `Ridge` with `fit_intercept`): the
    /// same centered closed form, one output.
    /// - Parameters:
    ///   - x: features `[N, H]`.
    ///   - targets: N finite values.
    ///   - weights: optional per-example weights > 0.
    ///   - regularization: λ > 0 (`alpha`).
    /// - Returns: a head of kind `.regression` with one output, `x·w + b`.
    /// - Throws: `BertError.shape` when the counts differ; as `LogisticRegression.fit`.
    public static func fitRegression(_ x: FeatureMatrix, targets: [Float], weights: [Float]? = nil,
                                     regularization: Float = 1, kernel: Kernel = .blas) throws -> LinearHead {
        guard targets.count == x.rows else {
            throw BertError(.shape, "ridge regression: \(targets.count) targets for \(x.rows) feature rows")
        }
        if let bad = targets.firstIndex(where: { !$0.isFinite }) {
            throw BertError(.invalidInput, "ridge regression: target \(bad) is not finite (\(targets[bad]))")
        }
        // Validation of the features and weights is the classifier's (labels are not used).
        try LogisticRegression.validate(x, labels: [Int](repeating: 0, count: x.rows), labelCount: 2, weights: weights)
        let (w, intercepts) = try solve(x, y: targets, targets: 1, weights: weights, regularization: regularization, kernel: kernel)
        return try LinearHead(weight: w, bias: intercepts, labelCount: 1, inputSize: x.columns, kind: .regression)
    }

    /// Solves `(XcᵀXc + λI)·W = XcᵀYc` for `targets` columns of `y` `[N, T]`, features and targets
    /// centered by their (weighted) means; returns W `[H, T]` and the intercepts `[T]`.
    static func solve(_ x: FeatureMatrix, y targetsIn: [Float], targets: Int, weights: [Float]?, regularization: Float,
                      kernel: Kernel) throws -> (weights: [Float], intercepts: [Float]) {
        guard regularization > 0, regularization.isFinite else {
            throw BertError(.invalidInput, "regularization must be a positive number, got \(regularization)")
        }
        let n = x.rows, d = x.columns
        var y = targetsIn
        let w = weights.map { $0.map(Double.init) } ?? [Double](repeating: 1, count: n)
        let totalWeight = w.reduce(0, +)
        // Weighted column means in Double, then centered copies scaled by √w (as scikit-learn).
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += w[i] * Double(x.values[i * d + j]) } }
        for j in 0..<d { mean[j] /= totalWeight }
        var xc = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            let r = w[i].squareRoot()
            for j in 0..<d { xc[i * d + j] = Float(r * (Double(x.values[i * d + j]) - mean[j])) }
        }
        var yMean = [Double](repeating: 0, count: targets)
        for i in 0..<n { for t in 0..<targets { yMean[t] += w[i] * Double(y[i * targets + t]) } }
        for t in 0..<targets { yMean[t] /= totalWeight }
        for i in 0..<n {
            let r = w[i].squareRoot()
            for t in 0..<targets { y[i * targets + t] = Float(r * (Double(y[i * targets + t]) - yMean[t])) }
        }

        var a = [Float](repeating: 0, count: d * d)
        var b = [Float](repeating: 0, count: d * targets)
        xc.withUnsafeBufferPointer { xp in
            guard let x = xp.baseAddress else { return }
            a.withUnsafeMutableBufferPointer { ap in
                if let c = ap.baseAddress { LinearAlgebra.gramUpper(kernel, n: d, k: n, a: x, lda: d, c: c, ldc: d) }
            }
            y.withUnsafeBufferPointer { yp in
                b.withUnsafeMutableBufferPointer { bp in
                    guard let yb = yp.baseAddress, let c = bp.baseAddress else { return }
                    Gemm.sgemm(kernel, transA: true, m: d, n: targets, k: n, a: x, lda: d, b: yb, ldb: targets,
                               c: c, ldc: targets)
                }
            }
        }
        for j in 0..<d { a[j * d + j] += regularization }
        try solveSPD(&a, &b, size: d, rightHandSides: targets, kernel: kernel)
        var intercepts = [Float](repeating: 0, count: targets)
        for t in 0..<targets {
            var intercept = yMean[t]
            for j in 0..<d { intercept -= mean[j] * Double(b[j * targets + t]) }
            intercepts[t] = Float(intercept)
        }
        return (b, intercepts)
    }
}
