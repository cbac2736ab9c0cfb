import Foundation

/// The backward passes of the row-wise kernels in `Kernels/` (`RowOps.layerNorm`,
/// `RowOps.softmax`, `Activation`), over the same `[rows, width]` row-major buffers.
///
/// The forward kernels do not keep their statistics; each backward recomputes what it needs from
/// what the training forward keeps (a LayerNorm's input, an activation's input, softmax's output).
enum RowGradients {
    typealias Vector = VectorMath.Vector

    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ j: Int) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(fromByteOffset: j * 4, as: Vector.self)
    }

    @inline(__always) static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ j: Int) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, toByteOffset: j * 4, as: Vector.self)
    }

    /// LayerNorm backward: given `y = LayerNorm(x) * weight + bias` and `dy`, writes
    /// `dx = rstd · (g − mean(g) − x̂ · mean(g x̂))` with `g = dy · weight`, and accumulates
    /// `dWeight += Σ_rows dy · x̂`, `dBias += Σ_rows dy`.
    ///
    /// Mean and `rstd = 1/√(var + eps)` are recomputed from `input` as the forward computes them.
    /// `dx` may alias `dy` (each row is read before it is written).
    /// Reference: `torch.nn.LayerNorm` (biased variance).
    static func layerNorm(rows: Int, width: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
                          dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                          dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>) {
        guard width > 0 else { return }
        let inverseWidth = 1 / Float(width)
        let whole = width & ~7
        for r in 0..<rows {
            let x = input + r * width, g = dy + r * width, out = dx + r * width
            // The forward's statistics, in the forward's order.
            var sums = Vector()
            var j = 0
            while j < whole { sums += load(x, j); j += 8 }
            var sum = sums.sum()
            while j < width { sum += x[j]; j += 1 }
            let mean = sum * inverseWidth
            var squares = Vector()
            j = 0
            while j < whole { let d = load(x, j) - mean; squares += d * d; j += 8 }
            var variance = squares.sum()
            while j < width { let d = x[j] - mean; variance += d * d; j += 1 }
            variance *= inverseWidth
            let rstd = 1 / (variance + eps).squareRoot()
            // Σ g and Σ g·x̂; the parameter gradients.
            var gSums = Vector(), gxSums = Vector()
            j = 0
            while j < whole {
                let d = load(g, j), xhat = (load(x, j) - mean) * rstd
                let gw = d * load(weight, j)
                gSums += gw
                gxSums += gw * xhat
                store(load(dWeight, j) + d * xhat, dWeight, j)
                store(load(dBias, j) + d, dBias, j)
                j += 8
            }
            var gSum = gSums.sum(), gxSum = gxSums.sum()
            while j < width {
                let d = g[j], xhat = (x[j] - mean) * rstd
                let gw = d * weight[j]
                gSum += gw
                gxSum += gw * xhat
                dWeight[j] += d * xhat
                dBias[j] += d
                j += 1
            }
            let gMean = gSum * inverseWidth, gxMean = gxSum * inverseWidth
            j = 0
            while j < whole {
                let xhat = (load(x, j) - mean) * rstd
                store(rstd * (load(g, j) * load(weight, j) - gMean - xhat * gxMean), out, j)
                j += 8
            }
            while j < width {
                let xhat = (x[j] - mean) * rstd
                out[j] = rstd * (g[j] * weight[j] - gMean - xhat * gxMean)
                j += 1
            }
        }
    }

    /// Softmax backward in place: `d[j] = p[j] · (d[j] − Σ_k p[k] d[k])` per row, where `p` is
    /// the softmax output and `d` enters as the gradient of the output, leaves as that of the
    /// input. Row strides `width`.
    static func softmax(rows: Int, width: Int, probabilities p: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>) {
        let whole = width & ~7
        for r in 0..<rows {
            let pr = p + r * width, dr = d + r * width
            var dots = Vector()
            var j = 0
            while j < whole { dots += load(pr, j) * load(dr, j); j += 8 }
            var dot = dots.sum()
            while j < width { dot += pr[j] * dr[j]; j += 1 }
            j = 0
            while j < whole { store(load(pr, j) * (load(dr, j) - dot), dr, j); j += 8 }
            while j < width { dr[j] = pr[j] * (dr[j] - dot); j += 1 }
        }
    }

    /// `d[i] *= f'(x[i])` over `count` elements, where `x` is the activation's input.
    static func activation(_ f: Activation, input x: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, count: Int) {
        let whole = count & ~7
        var i = 0
        while i < whole {
            store(load(d, i) * derivative(f, load(x, i)), d, i)
            i += 8
        }
        if i < count {
            var v = Vector(), g = Vector()
            for j in 0..<(count - i) { v[j] = x[i + j]; g[j] = d[i + j] }
            let out = g * derivative(f, v)
            for j in 0..<(count - i) { d[i + j] = out[j] }
        }
    }

    /// Over `count` elements: `output[i] = f(x[i])` exactly as `Activation.apply` computes it,
    /// and `x[i] = f'(x[i])` (the input is overwritten with the derivative). GELU evaluates its
    /// erf once for both.
    static func activationAndDerivative(_ f: Activation, _ x: UnsafeMutablePointer<Float>,
                                        output: UnsafeMutablePointer<Float>, count: Int) {
        @inline(__always) func both(_ v: Vector) -> (Vector, Vector) {
            if case .gelu = f {
                let e = VectorMath.erf(v * 0.70710678118654752)
                let cdf = 0.5 * (1 + e)
                return (0.5 * v * (1 + e), cdf + v * 0.39894228040143268 * VectorMath.exp(-0.5 * v * v))
            }
            return (f.vector(v), derivative(f, v))
        }
        let whole = count & ~7
        var i = 0
        while i < whole {
            let (y, d) = both(load(x, i))
            store(y, output, i)
            store(d, x, i)
            i += 8
        }
        if i < count {
            var v = Vector()
            for j in 0..<(count - i) { v[j] = x[i + j] }
            let (y, d) = both(v)
            for j in 0..<(count - i) { output[i + j] = y[j]; x[i + j] = d[j] }
        }
    }

    /// `d[i] *= factor[i]` over `count` elements.
    static func multiply(_ d: UnsafeMutablePointer<Float>, by factor: UnsafePointer<Float>, count: Int) {
        let whole = count & ~7
        var i = 0
        while i < whole { store(load(d, i) * load(factor, i), d, i); i += 8 }
        while i < count { d[i] *= factor[i]; i += 1 }
    }

    /// `out = a ⊙ b` over `[rows, width]`, in row panels on the compute threads.
    static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                         rows: Int, width: Int) {
        rowPanels(rows: rows, width: width) { r0, count in
            let start = r0 * width, total = count * width
            (out + start).update(from: a + start, count: total)
            multiply(out + start, by: b + start, count: total)
        }
    }

    /// Runs `body(firstRow, rows)` over panels of `rows` rows of `width` floats on the compute
    /// threads (about four panels per thread); small blocks run on the caller's thread.
    static func rowPanels(rows: Int, width: Int, _ body: (_ firstRow: Int, _ rows: Int) -> Void) {
        let threads = ComputePool.shared.threads
        guard threads > 1, rows > 1, rows * width >= 1 << 15 else {
            if rows > 0 { body(0, rows) }
            return
        }
        let panel = (rows + 4 * threads - 1) / (4 * threads)
        ComputePool.shared.parallelFor((rows + panel - 1) / panel) { p in
            let r0 = p * panel
            body(r0, min(panel, rows - r0))
        }
    }

    /// f'(x) of 8 lanes, with the same `erf`/`exp`/`tanh` approximations as the forward.
    @inline(__always)
    static func derivative(_ f: Activation, _ x: Vector) -> Vector {
        switch f {
        case .gelu:
            // Φ(x) + x·φ(x)
            let cdf = 0.5 * (1 + VectorMath.erf(x * 0.70710678118654752))
            return cdf + x * 0.39894228040143268 * VectorMath.exp(-0.5 * x * x)
        case .geluTanh:
            let k: Float = 0.79788456080286536
            let x2: Vector = x * x
            let inner: Vector = k * (x + 0.044715 * x2 * x)
            let t: Vector = VectorMath.tanh(inner)
            let slope: Vector = k * (1 + 0.134145 * x2)
            let half: Vector = 0.5 * x * (1 - t * t)
            return 0.5 * (1 + t) + half * slope
        case .relu:
            return Vector(repeating: 1).replacing(with: 0, where: x .<= 0)
        case .tanh:
            let t = VectorMath.tanh(x)
            return 1 - t * t
        }
    }

    /// `sums[j] += Σ_rows x[r, j]` (a bias gradient), rows `stride` floats apart (default `width`).
    static func addColumnSums(rows: Int, width: Int, stride: Int? = nil, _ x: UnsafePointer<Float>,
                              into sums: UnsafeMutablePointer<Float>) {
        let whole = width & ~7, stride = stride ?? width
        for r in 0..<rows {
            let row = x + r * stride
            var j = 0
            while j < whole { store(load(sums, j) + load(row, j), sums, j); j += 8 }
            while j < width { sums[j] += row[j]; j += 1 }
        }
    }

    /// `y[i] += x[i]` over `count` elements.
    static func add(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        let whole = count & ~7
        var i = 0
        while i < whole { store(load(y, i) + load(x, i), y, i); i += 8 }
        while i < count { y[i] += x[i]; i += 1 }
    }
}
