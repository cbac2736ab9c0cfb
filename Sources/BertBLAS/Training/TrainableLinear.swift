import Foundation

/// A dense layer `y = x Wᵀ + b` whose weight `[out, in]` and bias live in a `ParameterSet`:
/// the forward is `Linear`'s (bias rows, then one sgemm NoTrans/Trans); the backward is two
/// sgemm through `Gemm` and a column sum.
///
/// Reference: `torch.nn.Linear`; backward `dX = dY W`, `dW += dYᵀ X`, `db += Σ_rows dY`.
struct TrainableLinear: Sendable {
    let weight: ParameterSet.Parameter
    let bias: ParameterSet.Parameter
    let inFeatures: Int
    let outFeatures: Int

    /// Registers a checkpoint Linear (its `[out, in]` weight and `[out]` bias, shapes checked).
    ///
    /// - Throws: `BertError.missingTensor` / `.shape` from the checkpoint lookup.
    init(_ weights: WeightStore, _ names: LinearNames, inFeatures: Int, outFeatures: Int,
         into builder: inout ParameterSet.Builder) throws {
        let w = try weights.tensor(names.weight, shape: [outFeatures, inFeatures])
        let b = try weights.tensor(names.bias, shape: [outFeatures])
        weight = try builder.add(w, name: names.weight.description, decays: true)
        bias = try builder.add(b, name: names.bias.description, decays: false)
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Registers a new Linear initialized as transformers' `_init_weights` does: weight
    /// N(0, `std`²) from a seeded generator, bias 0.
    init(new names: LinearNames, inFeatures: Int, outFeatures: Int, std: Float, seed: UInt64,
         into builder: inout ParameterSet.Builder) throws {
        var generator = SplitMix64(seed: seed)
        var values = [Float](repeating: 0, count: inFeatures * outFeatures)
        // Box–Muller on 53-bit uniforms.
        var i = 0
        while i < values.count {
            let u1 = max(Double(generator.next() >> 11) / Double(1 << 53), .leastNonzeroMagnitude)
            let u2 = Double(generator.next() >> 11) / Double(1 << 53)
            let r = (-2 * Foundation.log(u1)).squareRoot()
            values[i] = Float(r * Foundation.cos(2 * Double.pi * u2)) * std
            if i + 1 < values.count { values[i + 1] = Float(r * Foundation.sin(2 * Double.pi * u2)) * std }
            i += 2
        }
        weight = try builder.add(names.weight.description, shape: [outFeatures, inFeatures], values: values, decays: true)
        bias = try builder.add(names.bias.description, shape: [outFeatures], source: nil, decays: false)
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// A Linear over parameters already registered (a decoder tied to the word embeddings).
    init(weight: ParameterSet.Parameter, bias: ParameterSet.Parameter, inFeatures: Int, outFeatures: Int) {
        self.weight = weight
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// `y[rows, out] = x[rows, in] Wᵀ + b`.
    func forward(_ p: ParameterSet, _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, kernel: Kernel) {
        let b = p.value(bias)
        for r in 0..<rows { (y + r * outFeatures).update(from: b, count: outFeatures) }
        Self.sgemm(kernel, transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                   b: p.value(weight), ldb: inFeatures, beta: 1, c: y, ldc: outFeatures)
    }

    /// `y[rows, out] = x[rows, in] Wᵀ` without the bias (its epilogue adds it, as inference does).
    func product(_ p: ParameterSet, _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, kernel: Kernel) {
        Self.sgemm(kernel, transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                   b: p.value(weight), ldb: inFeatures, beta: 0, c: y, ldc: outFeatures)
    }

    /// Accumulates `dW += dYᵀ X` and `db += Σ dY`, and writes `dX = dY W` (or adds it to `dX`
    /// when `accumulate`, for a residual branch); `dX` nil skips the input gradient.
    func backward(_ p: ParameterSet, dY: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int,
                  dX: UnsafeMutablePointer<Float>?, accumulate: Bool = false, kernel: Kernel) {
        guard rows > 0 else { return }
        // dW[out, in] += dY[rows, out]ᵀ · X[rows, in]
        Self.sgemm(kernel, transA: true, m: outFeatures, n: inFeatures, k: rows, a: dY, lda: outFeatures,
                   b: x, ldb: inFeatures, beta: 1, c: p.gradient(weight), ldc: inFeatures)
        RowGradients.addColumnSums(rows: rows, width: outFeatures, dY, into: p.gradient(bias))
        if let dX {
            // dX[rows, in] (+)= dY[rows, out] · W[out, in]
            Self.sgemm(kernel, m: rows, n: inFeatures, k: outFeatures, a: dY, lda: outFeatures,
                       b: p.value(weight), ldb: inFeatures, beta: accumulate ? 1 : 0, c: dX, ldc: inFeatures)
        }
    }

    /// `Gemm.sgemm` for a training step's products, whose M (a batch's tokens, or a weight's
    /// rows for dW) is large: one row panel per compute thread rather than `Gemm`'s panels of at
    /// most 256 rows, because every single-threaded `cblas_sgemm` packs its whole B again
    /// (the weight, or for dW the batch's inputs `[N, in]`), and thin panels run the kernel at a
    /// lower rate. Small products (the pooler, the classifier, a head's few rows) go to
    /// `Gemm.sgemm` as they are.
    static func sgemm(_ kernel: Kernel, transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
        let threads = ComputePool.shared.threads
        guard threads > 1, m >= 64 * threads, m * n * k >= 1 << 22 else {
            Gemm.sgemm(kernel, transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
            return
        }
        let rows = ((m + threads - 1) / threads + 7) & ~7
        ComputePool.shared.parallelFor((m + rows - 1) / rows) { panel in
            let r0 = panel * rows
            Gemm.sgemm(kernel, transA: transA, transB: transB, m: min(rows, m - r0), n: n, k: k,
                       a: a + (transA ? r0 : r0 * lda), lda: lda, b: b, ldb: ldb, beta: beta,
                       c: c + r0 * ldc, ldc: ldc, parallel: false)
        }
    }
}

/// A LayerNorm whose weight and bias live in a `ParameterSet`: forward `RowOps.layerNorm`,
/// backward `RowGradients.layerNorm` (statistics recomputed from the kept input).
struct TrainableLayerNorm: Sendable {
    let weight: ParameterSet.Parameter
    let bias: ParameterSet.Parameter
    let width: Int
    let eps: Float

    /// - Throws: `BertError.missingTensor` / `.shape` from the checkpoint lookup.
    init(_ weights: WeightStore, _ names: LayerNormNames, width: Int, eps: Float, into builder: inout ParameterSet.Builder) throws {
        let w = try weights.tensor(names.weight, shape: [width])
        let b = try weights.tensor(names.bias, shape: [width])
        weight = try builder.add(w, name: names.weight.description, decays: false)
        bias = try builder.add(b, name: names.bias.description, decays: false)
        self.width = width
        self.eps = eps
    }

    /// `output = LayerNorm(input)`; `input` is kept for the backward.
    func forward(_ p: ParameterSet, _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        RowOps.layerNorm(rows: rows, width: width, input: input, weight: p.value(weight), bias: p.value(bias),
                         eps: eps, output: output)
    }

    /// `dInput` from `dOutput` (may alias), accumulating the weight and bias gradients.
    func backward(_ p: ParameterSet, input: UnsafePointer<Float>, rows: Int, dOutput: UnsafePointer<Float>,
                  into dInput: UnsafeMutablePointer<Float>) {
        RowGradients.layerNorm(rows: rows, width: width, input: input, weight: p.value(weight), eps: eps,
                               dy: dOutput, dx: dInput, dWeight: p.gradient(weight), dBias: p.gradient(bias))
    }
}
