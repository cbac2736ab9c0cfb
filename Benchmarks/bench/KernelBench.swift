import ArgumentParser
import BertBLAS
import Foundation

/// `bench kernels`: the element-wise kernels of the forward pass on one thread (ns per element),
/// and the largest error of the vectorized functions against double-precision libm over a dense
/// range.
struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time the element-wise kernels (bias + GELU, softmax, residual + LayerNorm) on one thread, and measure their error.",
        discussion: """
            Shapes are MiniLM's for 128 tokens: bias + GELU over [128, 1536]; softmax over 12 heads' \
            [128, 128] scores; bias + residual + LayerNorm over [128, 384]. Each figure is the best of \
            repetitions over `--seconds`, in nanoseconds per element; the time to refill the input is \
            measured alone and subtracted. Errors: erf and GELU as absolute error, exp as relative \
            error, against libm in double precision at every 1e-5 step of the range.
            """)

    @Option(help: "Seconds to spend timing each kernel (best of the repetitions).")
    var seconds: Double = 0.3

    @Flag(help: "Skip the error scan (a few seconds).")
    var noErrors = false

    func run() throws {
        let rows = 128, inner = 1536, hidden = 384, heads = 12
        var rng = SplitMix64(seed: 1)
        func uniform(_ count: Int, _ scale: Float) -> [Float] {
            (0..<count).map { _ in (Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
        }
        // GELU inputs like a trained layer's pre-activations: mostly within ±4.
        let geluSource = uniform(rows * inner, 4)
        let bias = uniform(inner, 0.5)
        let scoreSource = uniform(heads * rows * rows, 8)
        let normInput = uniform(rows * hidden, 2), normResidual = uniform(rows * hidden, 2)
        let normBias = uniform(hidden, 0.1), gamma = uniform(hidden, 1), beta = uniform(hidden, 0.1)

        func buffer(_ values: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
            p.initialize(from: values, count: values.count)
            return p
        }
        let work = buffer([Float](repeating: 0, count: max(geluSource.count, scoreSource.count)))
        let out = buffer([Float](repeating: 0, count: rows * hidden))
        let gelu = buffer(geluSource), b = buffer(bias), scores = buffer(scoreSource)
        let nx = buffer(normInput), nr = buffer(normResidual), nb = buffer(normBias), g = buffer(gamma), bt = buffer(beta)
        func best(_ body: () -> Void) -> Double {
            body()
            var best = Double.infinity, spent = 0.0, runs = 0
            while runs < 5 || spent < seconds {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                let t = Double(DispatchTime.now().uptimeNanoseconds - start)
                best = min(best, t)
                spent += t / 1e9
                runs += 1
            }
            return best
        }
        var n = geluSource.count
        var copy = best { work.update(from: gelu, count: n) }
        var t = best {
            work.update(from: gelu, count: n)
            Activation.gelu.apply(rows: rows, width: inner, work, bias: b)
        }
        report("bias + GELU [\(rows), \(inner)]", (t - copy) / Double(n))
        t = best {
            work.update(from: gelu, count: n)
            Activation.gelu.apply(UnsafeMutableBufferPointer(start: work, count: n))
        }
        report("GELU [\(rows), \(inner)]", (t - copy) / Double(n))
        n = scoreSource.count
        copy = best { work.update(from: scores, count: n) }
        t = best {
            work.update(from: scores, count: n)
            RowOps.softmax(rows: heads * rows, width: rows, work)
        }
        report("softmax \(heads) × [\(rows), \(rows)]", (t - copy) / Double(n))
        t = best {
            RowOps.layerNorm(rows: rows, width: hidden, input: nx, inputBias: nb, residual: nr,
                             weight: g, bias: bt, eps: 1e-12, output: out)
        }
        report("bias + residual + LayerNorm [\(rows), \(hidden)]", t / Double(rows * hidden))
        guard !noErrors else { return }
        var erfError = 0.0, geluError = 0.0, expError = 0.0
        var x = -8.0
        while x <= 8 {
            let v = VectorMath.Vector(repeating: Float(x))
            let xf = Double(Float(x))
            erfError = max(erfError, abs(Double(VectorMath.erf(v)[0]) - Foundation.erf(xf)))
            var g = [Float](repeating: 0, count: 1)
            g[0] = Float(x)
            g.withUnsafeMutableBufferPointer { Activation.gelu.apply($0) }
            geluError = max(geluError, abs(Double(g[0]) - 0.5 * xf * (1 + Foundation.erf(xf / 2.0.squareRoot()))))
            x += 1e-5
        }
        x = -87
        while x <= 88 {
            let xf = Double(Float(x))
            let want = Foundation.exp(xf)
            expError = max(expError, abs(Double(VectorMath.exp(VectorMath.Vector(repeating: Float(x)))[0]) - want) / want)
            x += 1e-5
        }
        print(String(format: "max |erf - erf(double)| on [-8, 8]: %.2e", erfError))
        print(String(format: "max |GELU - GELU(double)| on [-8, 8]: %.2e", geluError))
        print(String(format: "max relative |exp - exp(double)| on [-87, 88]: %.2e", expError))
    }

    func report(_ name: String, _ nanoseconds: Double) {
        print(name.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%6.3f ns/element", nanoseconds))
    }
}
