import Foundation
import Testing
@testable import BertBLAS

/// The row-wise backward kernels against central differences of their forward definitions
/// (the gradient goldens only cover GELU-erf; these cover every activation and odd widths).
@Suite struct RowGradientTests {
    @Test(arguments: Activation.allCases)
    func activationDerivativeMatchesCentralDifferences(activation: Activation) {
        let xs: [Float] = stride(from: -5.3, through: 5.3, by: 0.37).map { Float($0) }  // 29 values: a SIMD tail
        var d = [Float](repeating: 1, count: xs.count)
        RowGradients.activation(activation, input: xs, &d, count: xs.count)
        for (i, x) in xs.enumerated() {
            let h = 1e-3
            let numeric = (Double(activation.reference(Float(Double(x) + h))) - Double(activation.reference(Float(Double(x) - h)))) / (2 * h)
            #expect(abs(Double(d[i]) - numeric) <= 2e-3, "\(activation) at \(x): \(d[i]) vs \(numeric)")
        }
    }

    /// LayerNorm backward against a double-precision central difference of Σ dy·LayerNorm(x).
    @Test func layerNormBackwardMatchesCentralDifferences() {
        let width = 11, rows = 3
        var generator = SplitMix64(seed: 5)
        func random() -> Float { Float(Double(generator.next() >> 11) / Double(1 << 53)) * 2 - 1 }
        let x = (0..<(rows * width)).map { _ in random() * 3 }
        let weight = (0..<width).map { _ in 1 + random() * 0.5 }
        let dy = (0..<(rows * width)).map { _ in random() }
        var dx = [Float](repeating: 0, count: rows * width)
        var dWeight = [Float](repeating: 0, count: width), dBias = [Float](repeating: 0, count: width)
        RowGradients.layerNorm(rows: rows, width: width, input: x, weight: weight, eps: 1e-12, dy: dy, dx: &dx,
                               dWeight: &dWeight, dBias: &dBias)
        func objective(_ x: [Double]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                let row = x[(r * width)..<((r + 1) * width)]
                let mean = row.reduce(0, +) / Double(width)
                let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
                for (j, v) in row.enumerated() {
                    total += Double(dy[r * width + j]) * ((v - mean) / (variance + 1e-12).squareRoot() * Double(weight[j]))
                }
            }
            return total
        }
        let base = x.map(Double.init)
        for i in 0..<(rows * width) {
            var plus = base, minus = base
            plus[i] += 1e-5
            minus[i] -= 1e-5
            let numeric = (objective(plus) - objective(minus)) / 2e-5
            #expect(abs(Double(dx[i]) - numeric) <= 1e-3 * max(1, abs(numeric)), "dx[\(i)]: \(dx[i]) vs \(numeric)")
        }
        for j in 0..<width {
            let bias = (0..<rows).map { dy[$0 * width + j] }.reduce(0, +)
            #expect(abs(dBias[j] - bias) <= 1e-5)
        }
    }
}
