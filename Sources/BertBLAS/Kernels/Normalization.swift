import Foundation

/// Row-wise numeric kernels over `[rows, width]` row-major buffers.
public enum RowOps {
    /// `output = LayerNorm(input + inputBias + residual) * weight + bias` per row (residual and
    /// input bias optional), 8 lanes at a time.
    ///
    /// Mean and biased variance over the row, as `torch.nn.LayerNorm`. `output` may alias
    /// `input` or `residual`. With `inputBias` it is the epilogue of a Linear computed without its
    /// bias: BERT's `LayerNorm(dense(x) + residual)` in one pass over the rows.
    /// - Parameters:
    ///   - rows, width: the shape.
    ///   - input: `[rows, width]`, row stride `inputStride` (default `width`).
    ///   - inputBias: `[width]` added to every row of `input`, or nil.
    ///   - residual: added to `input` first, or nil.
    ///   - weight, bias: `[width]`.
    ///   - eps: added to the variance (config `layer_norm_eps`).
    ///   - output: `[rows, width]`.
    public static func layerNorm(rows: Int, width: Int, input: UnsafePointer<Float>, inputStride: Int? = nil,
                                 inputBias: UnsafePointer<Float>? = nil,
                                 residual: UnsafePointer<Float>? = nil,
                                 weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                                 output: UnsafeMutablePointer<Float>) {
        typealias Vector = VectorMath.Vector
        guard width > 0 else { return }
        let inverseWidth = 1 / Float(width)
        let ldx = inputStride ?? width
        let whole = width & ~7
        @inline(__always) func load(_ p: UnsafePointer<Float>, _ j: Int) -> Vector {
            UnsafeRawPointer(p).loadUnaligned(fromByteOffset: j * 4, as: Vector.self)
        }
        @inline(__always) func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ j: Int) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, toByteOffset: j * 4, as: Vector.self)
        }
        for r in 0..<rows {
            let x = input + r * ldx
            let y = output + r * width
            let s = residual.map { $0 + r * width }
            // y = x + inputBias + residual, summed.
            var sums = Vector()
            var j = 0
            while j < whole {
                var v = load(x, j)
                if let inputBias { v += load(inputBias, j) }
                if let s { v += load(s, j) }
                store(v, y, j)
                sums += v
                j += 8
            }
            var sum = sums.sum()
            while j < width {
                var v = x[j]
                if let inputBias { v += inputBias[j] }
                if let s { v += s[j] }
                y[j] = v
                sum += v
                j += 1
            }
            let mean = sum * inverseWidth
            var squares = Vector()
            j = 0
            while j < whole {
                let d = load(y, j) - mean
                squares += d * d
                j += 8
            }
            var variance = squares.sum()
            while j < width {
                let d = y[j] - mean
                variance += d * d
                j += 1
            }
            variance *= inverseWidth
            let scale = 1 / (variance + eps).squareRoot()
            j = 0
            while j < whole {
                store((load(y, j) - mean) * scale * load(weight, j) + load(bias, j), y, j)
                j += 8
            }
            while j < width {
                y[j] = (y[j] - mean) * scale * weight[j] + bias[j]
                j += 1
            }
        }
    }

    /// Softmax of each row in place (max-subtracted, as `torch.softmax`), 8 lanes at a time.
    public static func softmax(rows: Int, width: Int, _ x: UnsafeMutablePointer<Float>, stride: Int? = nil) {
        typealias Vector = VectorMath.Vector
        let ld = stride ?? width
        guard width > 0 else { return }
        let whole = width & ~7
        for r in 0..<rows {
            let row = x + r * ld
            let raw = UnsafeMutableRawPointer(row)
            var peaks = Vector(repeating: -.infinity)
            var i = 0
            while i < whole {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: Vector.self)
                peaks = peaks.replacing(with: v, where: v .> peaks)
                i += 8
            }
            var peak = peaks.max()
            for j in whole..<width where row[j] > peak { peak = row[j] }
            var sums = Vector()
            i = 0
            while i < whole {
                let e = VectorMath.exp(raw.loadUnaligned(fromByteOffset: i * 4, as: Vector.self) - peak)
                raw.storeBytes(of: e, toByteOffset: i * 4, as: Vector.self)
                sums += e
                i += 8
            }
            var sum = sums.sum()
            if whole < width {
                VectorMath.map(UnsafeMutableBufferPointer(start: row + whole, count: width - whole)) { VectorMath.exp($0 - peak) }
                for j in whole..<width { sum += row[j] }
            }
            let inverse = 1 / sum
            for j in 0..<width { row[j] *= inverse }
        }
    }

    /// Adds `bias` `[width]` to every row (row stride `stride`, default `width`), 8 lanes at a time.
    public static func addBias(rows: Int, width: Int, _ x: UnsafeMutablePointer<Float>, stride: Int? = nil,
                               bias: UnsafePointer<Float>) {
        let ld = stride ?? width
        let whole = width & ~7
        let rawBias = UnsafeRawPointer(bias)
        for r in 0..<rows {
            let row = x + r * ld
            let raw = UnsafeMutableRawPointer(row)
            var j = 0
            while j < whole {
                let v = raw.loadUnaligned(fromByteOffset: j * 4, as: VectorMath.Vector.self)
                    + rawBias.loadUnaligned(fromByteOffset: j * 4, as: VectorMath.Vector.self)
                raw.storeBytes(of: v, toByteOffset: j * 4, as: VectorMath.Vector.self)
                j += 8
            }
            while j < width {
                row[j] += bias[j]
                j += 1
            }
        }
    }
}
