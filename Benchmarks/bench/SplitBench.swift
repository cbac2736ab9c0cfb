import ArgumentParser
import BertBLAS
import Foundation

/// `bench split`: one product of the encoder cut different ways over the compute threads.
struct SplitBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Time the encoder's product shapes cut different ways over the threads: one OpenBLAS call on its own threads, row panels, column blocks.",
        discussion: """
            Each shape is one Linear over M tokens, C[M, N] = A[M, K] · W[N, K]ᵀ (the weight as \
            stored), MiniLM's QKV (N = 3H + 2, the fused span), attention output, intermediate and \
            output, at M = 128 and 4096. Ways:
              blas        one cblas_sgemm on OpenBLAS's own --threads threads
              rows R      row panels of R rows on BertBLAS's threads, each one single-threaded call
              cols B      B column blocks (multiples of 16 columns), each one single-threaded call
              1 thread    one single-threaded call (the rate of one core)
            GFLOP/s counts 2·M·N·K; each figure is the best of the runs that fit in --seconds, and \
            the ways are measured in --rounds interleaved rounds (best of the rounds printed).
            """)

    @Option(help: "Threads (BertBLAS's for panels and blocks, OpenBLAS's for blas). Default: the number of cores.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Seconds per way and round.")
    var seconds: Double = 0.12

    @Option(help: "Interleaved rounds.")
    var rounds: Int = 3

    @Option(parsing: .upToNextOption, help: "The M values (tokens).")
    var m: [Int] = [128, 4096]

    @Flag(help: "Run with a busy loop in another process on core 0 (taskset -c 0 python3).")
    var contended = false

    @Flag(help: "Print one JSON object.")
    var json = false

    struct Way {
        let name: String
        let run: (_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) -> Void
    }

    func ways(m: Int, threads: Int) -> [Way] {
        var ways: [Way] = [
            Way(name: "blas") { m, n, k, a, w, c in
                BLASRuntime.withOpenBLASThreads(threads) {
                    Gemm.sgemm(.blas, transB: true, m: m, n: n, k: k, a: a, lda: k, b: w, ldb: k, c: c, ldc: n, parallel: false)
                }
            },
            Way(name: "1 thread") { m, n, k, a, w, c in
                Gemm.sgemm(.blas, transB: true, m: m, n: n, k: k, a: a, lda: k, b: w, ldb: k, c: c, ldc: n, parallel: false)
            },
        ]
        let heights = m <= 128 ? [16, 32, 64] : [128, 256, 512, 1024, 2048]
        for rows in heights where rows < m {
            ways.append(Way(name: "rows \(rows)") { m, n, k, a, w, c in
                ComputePool.shared.parallelFor((m + rows - 1) / rows) { p in
                    let r0 = p * rows, count = min(rows, m - r0)
                    Gemm.sgemm(.blas, transB: true, m: count, n: n, k: k, a: a + r0 * k, lda: k, b: w, ldb: k,
                               c: c + r0 * n, ldc: n, parallel: false)
                }
            })
        }
        for blocks in [threads, 2 * threads, 4 * threads] {
            ways.append(Way(name: "cols \(blocks)") { m, n, k, a, w, c in
                let width = max(16, (n / blocks + 15) & ~15)
                ComputePool.shared.parallelFor((n + width - 1) / width) { b in
                    let j0 = b * width, count = min(width, n - j0)
                    Gemm.sgemm(.blas, transB: true, m: m, n: count, k: k, a: a, lda: k, b: w + j0 * k, ldb: k,
                               c: c + j0, ldc: n, parallel: false)
                }
            })
        }
        return ways
    }

    func run() throws {
        BLASRuntime.setThreads(threads)
        var hog: Process?
        if contended {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["taskset", "-c", "0", "python3", "-c", "while True: pass"]
            try p.run()
            Thread.sleep(forTimeInterval: 0.3)
            hog = p
        }
        defer { hog?.terminate(); hog?.waitUntilExit() }
        let h = 384, i = 1536
        let shapes = [("qkv", 3 * h + 2, h), ("attn-out", h, h), ("ffn1", i, h), ("ffn2", h, i)]
        var rows: [[String: Any]] = []
        if !json { print("BLAS core \(BLASRuntime.coreName), threads \(threads)\(contended ? ", busy loop on core 0" : ""); GFLOP/s, best of \(rounds) interleaved rounds (and each round's)") }
        for m in m {
            for (name, n, k) in shapes {
                var rng = SplitMix64(seed: UInt64(m * 31 + n * 7 + k))
                let a = (0..<(m * k)).map { _ in rng.nextFloat() }
                let w = (0..<(n * k)).map { _ in rng.nextFloat() }
                let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
                defer { c.deallocate() }
                let ways = ways(m: m, threads: threads)
                var rates = [[Double]](repeating: [], count: ways.count)
                a.withUnsafeBufferPointer { pa in
                    w.withUnsafeBufferPointer { pw in
                        guard let pa = pa.baseAddress, let pw = pw.baseAddress else { return }
                        for _ in 0..<rounds {
                            for (index, way) in ways.enumerated() {
                                way.run(m, n, k, pa, pw, c)
                                var best = Double.infinity, spent = 0.0, runs = 0
                                while runs < 3 || spent < seconds {
                                    let t = time { way.run(m, n, k, pa, pw, c) }
                                    best = min(best, t)
                                    spent += t
                                    runs += 1
                                }
                                rates[index].append(2 * Double(m) * Double(n) * Double(k) / best / 1e9)
                            }
                        }
                    }
                }
                if !json { print("M \(m) \(name) (N \(n), K \(k))") }
                for (index, way) in ways.enumerated() {
                    let best = rates[index].max() ?? 0
                    rows.append(["m": m, "shape": name, "n": n, "k": k, "way": way.name, "gflops": round2(best),
                                 "rounds": rates[index].map(round2)])
                    if !json {
                        print(pad(way.name, 12) + pad(String(format: "%.1f", best), 9) + "   "
                              + rates[index].map { String(format: "%.1f", $0) }.joined(separator: " "))
                    }
                }
            }
        }
        if json {
            let object: [String: Any] = ["blas_core": BLASRuntime.coreName, "threads": threads, "contended": contended, "rows": rows]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
