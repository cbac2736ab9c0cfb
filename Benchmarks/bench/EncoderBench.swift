import ArgumentParser
import BertBLAS
import Foundation

/// `bench encoder`: the encoder on the workloads of issue #12, the same ones
/// scripts/bench_reference.py runs on PyTorch and ONNX Runtime.
struct EncoderBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Time the BERT encoder on fixed workloads: latency, throughput, a real corpus, contention.",
        discussion: """
            Workloads (scripts/bench_reference.py runs the same ones on PyTorch and ONNX Runtime):
              lat128      one sequence of exactly 128 tokens; median milliseconds per forward pass
              thr32x128   batches of 32 sequences of exactly 128 tokens; sequences per second
              corpus      the lines of --corpus (make bench uses the first 1000 BBC News paragraphs) in
                          batches of 32 in file order, max length 256: text → tokenize → encode →
                          mean-pool → normalize (SentenceEmbedder.embed); sequences/s and real tokens/s,
                          tokenization included
              tok         the tokenizer alone over the whole file on one thread; tokens/s
              contended   lat128 while a busy loop in another process (taskset -c 0 python3) occupies
                          core 0; median milliseconds
            Token ids of lat128/thr32x128 are drawn from a fixed seed, [CLS] first and [SEP] last.
            Also printed: the GFLOP/s of matrix-product work in thr32x128 (2·M·N·K of every product,
            attention included), that rate as a fraction of the best cblas_sgemm rate on the encoder's
            Linear shapes (M = 128 and 4096) measured in the same run, the model's load time, and the
            peak RSS during thr32x128.
            --sweep instead times batch {1, 8, 32, 64} × length {32, 128, 256} × threads {1 … cores} ×
            product split, --rounds times (default 3), and names the best settings.
            """)

    @Option(help: ArgumentHelp("The model folder. Default: .cache/models/all-MiniLM-L6-v2.", valueName: "dir"))
    var model: String = Self.cache + "/models/all-MiniLM-L6-v2"

    @Option(help: ArgumentHelp("Text file, one passage per line (corpus and tok). Default: .cache/data/bench/bbc-paragraphs-1000.txt (make bench-corpus).", valueName: "file"))
    var corpus: String = Self.cache + "/data/bench/bbc-paragraphs-1000.txt"

    @Option(help: ArgumentHelp("Compute threads. Default: the number of cores.", valueName: "n"))
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("Matrix-product kernel. Default: blas.", valueName: "naive|blas"))
    var kernel: String = "blas"

    @Option(help: ArgumentHelp("Only these workloads (comma-separated: lat128,thr32x128,corpus,tok,contended,gemm). Default: all.", valueName: "names"))
    var only: String?

    @Option(help: ArgumentHelp("Column blocks per thread of each product for few tokens. Default: the measured one (ProductSplit).", valueName: "n"))
    var columnBlocks: Int?

    @Option(help: ArgumentHelp("Rows per panel for many tokens (8 … 512). Default: automatic.", valueName: "n"))
    var panelRows: Int?

    @Flag(help: "One cblas_sgemm per product on OpenBLAS's own threads instead of BertBLAS's panels and blocks.")
    var openblasThreads = false

    @Flag(help: "Time batch × length × threads × product split and name the best settings (no other workload runs).")
    var sweep = false

    @Option(help: ArgumentHelp("With --sweep: how many times the whole grid is timed, one round after another; a split is called faster than the default only when its slowest round beats the default's fastest. Default: 3.", valueName: "n"))
    var rounds: Int = 3

    @Flag(help: "Print one JSON object: lat128_ms, thr32x128_seq_s, corpus_seq_s, corpus_tok_s, tok_tokens_per_s, contended_lat128_ms, gflops, peak_fraction, load_ms, peak_rss_mb, blas_core, threads (and more).")
    var json = false

    static var cache: String { ProcessInfo.processInfo.environment["BERTBLAS_CACHE"] ?? ".cache" }

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if Kernel(rawValue: kernel) == nil { throw ValidationError("--kernel must be naive or blas") }
        if rounds < 1 { throw ValidationError("--rounds must be at least 1") }
    }

    func run() throws {
        let kernel = Kernel(rawValue: kernel) ?? .blas
        BLASRuntime.setThreads(threads)
        var split = BLASRuntime.productSplit
        if let columnBlocks { split.columnBlocksPerThread = max(1, columnBlocks) }
        if let panelRows { split.panelRows = min(512, max(8, panelRows & ~7)) }
        split.openBLASThreads = openblasThreads
        BLASRuntime.setProductSplit(split)
        let directory = URL(fileURLWithPath: model)
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let loaded = try LoadedModel(directory: directory, kernel: kernel)
        let loadMs = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
        if sweep {
            try runSweep(loaded.encoder)
            return
        }
        let wanted = only.map { Set($0.split(separator: ",").map(String.init)) }
        func selected(_ name: String) -> Bool { wanted?.contains(name) ?? true }
        var result: [String: Any] = ["blas_core": BLASRuntime.coreName, "threads": threads, "kernel": kernel.rawValue,
                                     "split": BLASRuntime.productSplit.description,
                                     "load_ms": round2(loadMs), "model": model]
        let bert = loaded.encoder
        let log = { (line: String) in if !self.json { print(line) } }
        log("model \(model), kernel \(kernel), BLAS core \(BLASRuntime.coreName), threads \(threads), load \(String(format: "%.1f", loadMs)) ms")

        if selected("lat128") {
            let ms = try latency(bert, length: 128)
            result["lat128_ms"] = round3(ms)
            log("lat128      \(String(format: "%8.2f", ms)) ms (median)")
        }
        if selected("thr32x128") {
            PeakRSS.reset()
            let seconds = try throughput(bert, batch: 32, length: 128)
            let rss = PeakRSS.megabytes()
            let rate = 32 / seconds
            let gflops = Self.flops(bert.config, lengths: Array(repeating: 128, count: 32)) / seconds / 1e9
            result["thr32x128_seq_s"] = round2(rate)
            result["gflops"] = round2(gflops)
            result["peak_rss_mb"] = rss.map(round2) ?? NSNull()
            result["model_file_mb"] = round2(Self.fileMegabytes(directory.appendingPathComponent("model.safetensors")))
            log("thr32x128   \(String(format: "%8.1f", rate)) seq/s, \(String(format: "%.1f", gflops)) GFLOP/s of matrix products, peak RSS \(rss.map { String(format: "%.1f", $0) } ?? "?") MB")
        }
        if selected("corpus") || selected("tok") {
            let lines = try TextLines.read(path: corpus).map(\.text)
            guard !lines.isEmpty else { throw ValidationError("\(corpus): no lines") }
            result["corpus_lines"] = lines.count
            if selected("corpus") {
                let (seconds, tokens) = try corpusRun(directory: directory, kernel: kernel, lines: lines)
                result["corpus_seq_s"] = round2(Double(lines.count) / seconds)
                result["corpus_tok_s"] = round2(Double(tokens) / seconds)
                result["corpus_tokens"] = tokens
                log("corpus      \(String(format: "%8.1f", Double(lines.count) / seconds)) seq/s, \(String(format: "%.0f", Double(tokens) / seconds)) tokens/s (\(lines.count) lines, \(tokens) real tokens, \(String(format: "%.2f", seconds)) s)")
            }
            if selected("tok") {
                let rate = tokenizerRate(loaded.tokenizer, lines: lines)
                result["tok_tokens_per_s"] = round2(rate)
                log("tok         \(String(format: "%8.0f", rate)) tokens/s (1 thread)")
            }
        }
        if selected("gemm") || selected("thr32x128") {
            let best = bestSgemm(bert.config)
            result["sgemm_best_gflops"] = round2(best.gflops)
            result["sgemm_best_shape"] = "\(best.m)x\(best.n)x\(best.k)"
            result["sgemm_shapes"] = best.all
            // The ceiling: lat128 and thr32x128 with every product at the best rate and nothing
            // else taking time (no attention softmax, GELU, LayerNorm, packing beyond the best
            // call's own, waits).
            let m128 = best.all.filter { ($0["m"] as? Int) == 128 }.compactMap { $0["gflops"] as? Double }.max() ?? best.gflops
            result["sgemm_best_m128_gflops"] = round2(m128)
            result["ceiling_lat128_ms"] = round3(Self.flops(bert.config, lengths: [128]) / best.gflops / 1e6)
            result["ceiling_lat128_m128_ms"] = round3(Self.flops(bert.config, lengths: [128]) / m128 / 1e6)
            result["ceiling_thr32x128_seq_s"] = round2(32 / (Self.flops(bert.config, lengths: Array(repeating: 128, count: 32)) / best.gflops / 1e9))
            if let gflops = result["gflops"] as? Double {
                result["peak_fraction"] = round3(gflops / best.gflops)
                log("sgemm best  \(String(format: "%8.1f", best.gflops)) GFLOP/s (M×N×K \(best.m)×\(best.n)×\(best.k)); thr32x128 runs at \(String(format: "%.0f", 100 * gflops / best.gflops))% of it")
            } else {
                log("sgemm best  \(String(format: "%8.1f", best.gflops)) GFLOP/s (M×N×K \(best.m)×\(best.n)×\(best.k))")
            }
        }
        if selected("contended") {
            if let ms = try contended(bert) {
                result["contended_lat128_ms"] = round3(ms)
                if let quiet = result["lat128_ms"] as? Double { result["contended_ratio"] = round3(ms / quiet) }
                log("contended   \(String(format: "%8.2f", ms)) ms (median, busy loop on core 0)")
            } else {
                result["contended_lat128_ms"] = NSNull()
                log("contended   skipped: could not start taskset -c 0 python3")
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    // MARK: - Workloads

    /// `count` sequences of `length` token ids from a fixed seed, [CLS] first and [SEP] last.
    static func fixedIds(count: Int, length: Int, vocab: Int, cls: Int32 = 101, sep: Int32 = 102) -> [[Int32]] {
        var rng = SplitMix64(seed: 0)
        return (0..<count).map { _ in
            var ids = (0..<length).map { _ in Int32(1000 + Int(rng.next() % UInt64(max(vocab - 1000, 1)))) }
            ids[0] = cls
            ids[length - 1] = sep
            return ids
        }
    }

    /// Median milliseconds of a forward pass of one sequence of `length` tokens (≥ 30 runs and
    /// ≥ 1 s after 3 warm-ups).
    func latency(_ bert: BertModel, length: Int, minimumSeconds: Double = 1) throws -> Double {
        let ids = Self.fixedIds(count: 1, length: length, vocab: bert.config.vocabSize)
        let ws = try bert.makeWorkspace(maxBatch: 1, maxLength: length)
        for _ in 0..<3 { _ = try bert.forward(ids: ids, workspace: ws) }
        var samples: [Double] = []
        var spent = 0.0
        while samples.count < 30 || spent < minimumSeconds {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try bert.forward(ids: ids, workspace: ws)
            let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            samples.append(t)
            spent += t
        }
        return Self.median(samples) * 1000
    }

    /// Median seconds of a forward pass of `batch` sequences of `length` tokens (≥ `runs` runs
    /// after one warm-up).
    func throughput(_ bert: BertModel, batch: Int, length: Int, runs: Int = 5) throws -> Double {
        let ids = Self.fixedIds(count: batch, length: length, vocab: bert.config.vocabSize)
        let ws = try bert.makeWorkspace(maxBatch: batch, maxLength: length)
        _ = try bert.forward(ids: ids, workspace: ws)
        var samples: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try bert.forward(ids: ids, workspace: ws)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return Self.median(samples)
    }

    /// The corpus through `SentenceEmbedder.embed` (what `bert embed` runs): one timed pass
    /// after a warm-up on the first batch (as the reference script). Returns seconds and real tokens.
    func corpusRun(directory: URL, kernel: Kernel, lines: [String]) throws -> (Double, Int) {
        let embedder = try SentenceEmbedder(directory: directory, kernel: kernel, pooling: .mean, normalize: true, maxLength: 256)
        let truncation = Truncation(maxLength: 256)
        let tokens = lines.reduce(0) { $0 + embedder.tokenizer.encode($1, truncation: truncation).count }
        _ = try embedder.embed(Array(lines.prefix(32)), batchSize: 32)
        var best = Double.infinity
        for _ in 0..<1 {
            let start = DispatchTime.now().uptimeNanoseconds
            let vectors = try embedder.embed(lines, batchSize: 32)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            guard vectors.count == lines.count else { throw ValidationError("corpus: \(vectors.count) vectors for \(lines.count) lines") }
        }
        return (best, tokens)
    }

    /// Tokens per second of `BertTokenizer.encode` (special tokens, no truncation) over every
    /// line on this thread: best of 5 passes.
    func tokenizerRate(_ tokenizer: BertTokenizer, lines: [String]) -> Double {
        var best = Double.infinity, tokens = 0
        for _ in 0..<5 {
            tokens = 0
            let start = DispatchTime.now().uptimeNanoseconds
            for line in lines { tokens &+= tokenizer.encode(line).count }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return Double(tokens) / best
    }

    /// lat128 with `taskset -c 0 python3 -c 'while True: pass'` running; nil when it cannot start.
    func contended(_ bert: BertModel) throws -> Double? {
        let hog = Process()
        hog.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        hog.arguments = ["taskset", "-c", "0", "python3", "-c", "while True: pass"]
        do { try hog.run() } catch { return nil }
        defer {
            hog.terminate()
            hog.waitUntilExit()
        }
        Thread.sleep(forTimeInterval: 0.3)
        guard hog.isRunning else { return nil }
        return try latency(bert, length: 128, minimumSeconds: 2)
    }

    /// Matrix-product flops of one forward pass over sequences of these lengths:
    /// per layer 2·N·(4H² + 2HI) for the dense layers and 4·T²·H per sequence for attention.
    static func flops(_ config: BertConfig, lengths: [Int]) -> Double {
        let h = Double(config.hiddenSize), i = Double(config.intermediateSize)
        let n = Double(lengths.reduce(0, +))
        let attention = lengths.reduce(0.0) { $0 + 4 * Double($1) * Double($1) * h }
        return Double(config.numHiddenLayers) * (2 * n * (4 * h * h + 2 * h * i) + attention)
    }

    /// The best `cblas_sgemm` rate on the encoder's Linear shapes, M = 128 and 4096 tokens, with
    /// the weight as stored (NoTrans, Trans), one call on OpenBLAS's own `threads` threads: the
    /// ceiling the forward pass is compared with.
    func bestSgemm(_ config: BertConfig) -> (gflops: Double, m: Int, n: Int, k: Int, all: [[String: Any]]) {
        let h = config.hiddenSize, i = config.intermediateSize
        var best = (gflops: 0.0, m: 0, n: 0, k: 0)
        var all: [[String: Any]] = []
        for m in [128, 4096] {
            for (n, k) in [(h, h), (3 * h, h), (i, h), (h, i)] {
                let rate = BLASRuntime.withOpenBLASThreads(threads) {
                    GemmBench.blasRate(m: m, n: n, k: k, seconds: 0.25, split: false)
                }
                all.append(["m": m, "n": n, "k": k, "gflops": round2(rate)])
                if rate > best.gflops { best = (rate, m, n, k) }
            }
        }
        return (best.gflops, best.m, best.n, best.k, all)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    static func fileMegabytes(_ url: URL) -> Double {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.doubleValue ?? 0
        return size / 1_048_576
    }
}

/// The process's peak resident set (`VmHWM`), resettable through /proc/self/clear_refs.
enum PeakRSS {
    /// Starts a new peak at the current RSS (Linux: writing 5 to /proc/self/clear_refs).
    static func reset() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// `VmHWM` in MiB, nil when /proc is unavailable.
    static func megabytes() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kb / 1024
    }
}

func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
