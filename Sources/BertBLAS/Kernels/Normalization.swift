import Foundation

/// Row-wise numeric kernels over `[rows, width]` row-major buffers.
public enum RowOps {
    /// `output = LayerNorm(input + residual) * weight + bias` per row (residual optional).
    ///
    /// Mean and biased variance over the row, as `torch.nn.LayerNorm`. `output` may alias
    /// `input` or `residual`.
    /// - Parameters:
    ///   - rows, width: the shape.
    ///   - input: `[rows, width]`.
    ///   - residual: added to `input` first, or nil.
    ///   - weight, bias: `[width]`.
    ///   - eps: added to the variance (config `layer_norm_eps`).
    ///   - output: `[rows, width]`.
    public static func layerNorm(rows: Int, width: Int, input: UnsafePointer<Float>,
                                 residual: UnsafePointer<Float>? = nil,
                                 weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                                 output: UnsafeMutablePointer<Float>) {
        guard width > 0 else { return }
        let inverseWidth = 1 / Float(width)
        for r in 0..<rows {
            let x = input + r * width
            let y = output + r * width
            if let residual {
                let s = residual + r * width
                for j in 0..<width { y[j] = x[j] + s[j] }
            } else if UnsafePointer(y) != x {
                y.update(from: x, count: width)
            }
            var mean: Float = 0
            for j in 0..<width { mean += y[j] }
            mean *= inverseWidth
            var variance: Float = 0
            for j in 0..<width { let d = y[j] - mean; variance += d * d }
            variance *= inverseWidth
            let scale = 1 / (variance + eps).squareRoot()
            for j in 0..<width { y[j] = (y[j] - mean) * scale * weight[j] + bias[j] }
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

    /// Adds `bias` `[width]` to every row.
    public static func addBias(rows: Int, width: Int, _ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * width
            for j in 0..<width { row[j] += bias[j] }
        }
    }
}
