import ArgumentParser
import BertBLAS
import Foundation

/// `bench gemm`: naive reference vs OpenBLAS on the encoder's real GEMM shapes.
struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Time the naive kernel against OpenBLAS sgemm on the encoder's Linear shapes.",
        discussion: """
            Each shape is one Linear layer over M tokens: C[M, N] = A[M, K] · W[N, K]ᵀ (the weight \
            as stored, NoTrans/Trans). M is 128 or 4096; (N, K) are MiniLM's (384,384), (1536,384), \
            (384,1536) and BERT-base's (768,768), (3072,768), (768,3072). GFLOP/s counts 2·M·N·K. \
            BLAS runs on OpenBLAS's threads; the naive kernel on one thread.
            """)

    @Flag(help: "Print one JSON object: {\"blas_core\", \"threads\", \"shapes\": [{\"m\",\"n\",\"k\",\"naive_gflops\",\"blas_gflops\",\"speedup\",\"max_abs_diff\"}]}.")
    var json = false

    @Option(help: "Seconds to spend timing BLAS per shape (best of the repetitions).")
    var seconds: Double = 0.3

    @Option(help: "Time the naive kernel on at most this many rows of M (its rate does not depend on M); 0 means all rows.")
    var naiveRows: Int = 256

    @Option(parsing: .upToNextOption, help: "The M values (tokens).")
    var m: [Int] = [128, 4096]

    @Flag(help: "Time only one single-threaded cblas_sgemm call per shape (the rate of one panel on one core), BLAS GFLOP/s per M.")
    var singleThread = false

    static let shapes: [(n: Int, k: Int)] = [(384, 384), (1536, 384), (384, 1536), (768, 768), (3072, 768), (768, 3072)]

    func run() throws {
        if singleThread {
            BLASRuntime.setThreads(1)
            print("one thread, one cblas_sgemm call per product; BLAS core \(BLASRuntime.coreName); GFLOP/s")
            print(pad("M", 6) + Self.shapes.map { pad("\($0.n)x\($0.k)", 11) }.joined())
            for m in m {
                let rates = Self.shapes.map { GemmBench.blasRate(m: m, n: $0.n, k: $0.k, seconds: 0.2, split: false) }
                print(pad("\(m)", 6) + rates.map { pad(String(format: "%.1f", $0), 11) }.joined())
            }
            return
        }
        var rows: [[String: Any]] = []
        if !json {
            print("BLAS core: \(BLASRuntime.coreName), threads: \(BLASRuntime.threads)")
            print(pad("M", 6) + pad("N", 6) + pad("K", 6) + pad("naive GFLOP/s", 15) + pad("BLAS GFLOP/s", 14) + pad("speedup", 9) + pad("max |diff|", 12))
        }
        for m in m {
            for shape in Self.shapes {
                let row = measure(m: m, n: shape.n, k: shape.k)
                rows.append(row)
                if !json {
                    print(pad("\(m)", 6) + pad("\(shape.n)", 6) + pad("\(shape.k)", 6)
                          + pad(fmt(row["naive_gflops"]), 15) + pad(fmt(row["blas_gflops"]), 14)
                          + pad(fmt(row["speedup"]) + "x", 9) + pad(String(format: "%.1e", row["max_abs_diff"] as? Double ?? 0), 12))
                }
            }
        }
        if json {
            let object: [String: Any] = ["blas_core": BLASRuntime.coreName, "threads": BLASRuntime.threads, "shapes": rows]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    func measure(m: Int, n: Int, k: Int) -> [String: Any] {
        var rng = SplitMix64(seed: UInt64(m * 31 + n * 7 + k))
        let a = (0..<(m * k)).map { _ in rng.nextFloat() }
        let w = (0..<(n * k)).map { _ in rng.nextFloat() }
        var c = [Float](repeating: 0, count: m * n)
        var reference = [Float](repeating: 0, count: m * n)
        let naiveM = naiveRows > 0 ? min(m, naiveRows) : m
        let flops = { (rows: Int) in 2.0 * Double(rows) * Double(n) * Double(k) }
        // Naive: one timed run over naiveM rows.
        let naiveSeconds = a.withUnsafeBufferPointer { pa in
            w.withUnsafeBufferPointer { pw in
                reference.withUnsafeMutableBufferPointer { pc in
                    time {
                        Gemm.sgemm(.naive, transB: true, m: naiveM, n: n, k: k, a: pa.baseAddress!, lda: k,
                                   b: pw.baseAddress!, ldb: k, c: pc.baseAddress!, ldc: n)
                    }
                }
            }
        }
        // BLAS: warm up, then the best of as many runs as fit in `seconds`.
        var best = Double.infinity, spent = 0.0, runs = 0
        a.withUnsafeBufferPointer { pa in
            w.withUnsafeBufferPointer { pw in
                c.withUnsafeMutableBufferPointer { pc in
                    let out = pc.baseAddress!
                    let call = {
                        Gemm.sgemm(.blas, transB: true, m: m, n: n, k: k, a: pa.baseAddress!, lda: k,
                                   b: pw.baseAddress!, ldb: k, c: out, ldc: n)
                    }
                    call()
                    while runs < 3 || spent < seconds {
                        let t = time(call)
                        best = min(best, t)
                        spent += t
                        runs += 1
                    }
                }
            }
        }
        var maxDiff: Float = 0
        for i in 0..<(naiveM * n) { maxDiff = max(maxDiff, abs(c[i] - reference[i])) }
        let naiveRate = flops(naiveM) / naiveSeconds / 1e9
        let blasRate = flops(m) / best / 1e9
        return ["m": m, "n": n, "k": k, "naive_gflops": round2(naiveRate), "blas_gflops": round2(blasRate),
                "speedup": round2(blasRate / naiveRate), "max_abs_diff": Double(maxDiff), "naive_rows": naiveM]
    }
}

extension GemmBench {
    /// The best GFLOP/s of `cblas_sgemm` (NoTrans, Trans: a Linear on the weight as stored) on
    /// `[m, k] · [n, k]ᵀ` over `seconds` of runs, inputs uniform in [-1, 1]; `split` false makes
    /// it one `cblas_sgemm` call (on OpenBLAS's threads) instead of BertBLAS's panels.
    static func blasRate(m: Int, n: Int, k: Int, seconds: Double, split: Bool = true) -> Double {
        var rng = SplitMix64(seed: UInt64(m * 31 + n * 7 + k))
        let a = (0..<(m * k)).map { _ in rng.nextFloat() }
        let w = (0..<(n * k)).map { _ in rng.nextFloat() }
        var c = [Float](repeating: 0, count: m * n)
        var best = Double.infinity, spent = 0.0, runs = 0
        a.withUnsafeBufferPointer { pa in
            w.withUnsafeBufferPointer { pw in
                c.withUnsafeMutableBufferPointer { pc in
                    guard let pa = pa.baseAddress, let pw = pw.baseAddress, let out = pc.baseAddress else { return }
                    let call = {
                        Gemm.sgemm(.blas, transB: true, m: m, n: n, k: k, a: pa, lda: k, b: pw, ldb: k, c: out, ldc: n,
                                   parallel: split)
                    }
                    call()
                    while runs < 3 || spent < seconds {
                        let t = time(call)
                        best = min(best, t)
                        spent += t
                        runs += 1
                    }
                }
            }
        }
        return 2 * Double(m) * Double(n) * Double(k) / best / 1e9
    }
}

func time(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
func fmt(_ x: Any?) -> String { String(format: "%.2f", x as? Double ?? 0) }
func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

extension SplitMix64 {
    /// Uniform in [-1, 1), for benchmark inputs.
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
}
