import ArgumentParser
import BertBLAS
import Foundation

/// `bench encoder --sweep`: the tuning table users run on their own machine.
extension EncoderBench {
    static let sweepBatches = [1, 8, 32, 64]
    static let sweepLengths = [32, 128, 256]

    /// The product splits the sweep tries for `tokens` on `threads` threads: with one thread
    /// there is nothing to split; below the measured switch to row panels, column blocks (1, 2, 4
    /// per thread), row panels of 64 rows and one OpenBLAS call per product; above it, row panels
    /// of 128, 256, 512 rows and automatic, and one OpenBLAS call per product.
    static func sweepSplits(tokens: Int, threads: Int) -> [(name: String, split: ProductSplit)] {
        guard threads > 1 else { return [("-", .measured)] }
        let openBLAS = ("openblas", ProductSplit(openBLASThreads: true))
        if tokens < ProductSplit.measured.rowPanelTokensPerThread * threads {
            return [1, 2, 4].map { (perThread: Int) in ("cols \(perThread)", ProductSplit(columnBlocksPerThread: perThread)) }
                + [("rows 64", ProductSplit(rowPanelTokensPerThread: 0, panelRows: 64)), openBLAS]
        }
        return [("rows auto", ProductSplit.measured)]
            + [128, 256, 512].map { (rows: Int) in ("rows \(rows)", ProductSplit(panelRows: rows)) }
            + [openBLAS]
    }

    /// Times every batch × length × threads (1 … cores) × product split (`sweepSplits`) and
    /// names the best setting for latency (batch 1) and for throughput, per length, and the best
    /// split per batch × length on all cores.
    func runSweep(_ bert: BertModel) throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let lengths = Self.sweepLengths.filter { $0 <= bert.config.maxPositionEmbeddings }
        var rows: [[String: Any]] = []
        if !json {
            print("model \(model), BLAS core \(BLASRuntime.coreName), cores \(cores); median of ≥ 2 runs and ≥ 0.3 s per setting")
            print(pad("threads", 8) + pad("batch", 7) + pad("length", 8) + pad("split", 10) + pad("ms/forward", 12) + pad("ms/seq", 10) + pad("seq/s", 10) + pad("tokens/s", 11))
        }
        for threads in 1...cores {
            BLASRuntime.setThreads(threads)
            for length in lengths {
                for batch in Self.sweepBatches {
                    let ids = Self.fixedIds(count: batch, length: length, vocab: bert.config.vocabSize)
                    let ws = try bert.makeWorkspace(maxBatch: batch, maxLength: length)
                    for (name, split) in Self.sweepSplits(tokens: batch * length, threads: threads) {
                        BLASRuntime.setProductSplit(split)
                        _ = try bert.forward(ids: ids, workspace: ws)
                        var samples: [Double] = []
                        var spent = 0.0
                        while samples.count < 2 || spent < 0.3 {
                            let start = DispatchTime.now().uptimeNanoseconds
                            _ = try bert.forward(ids: ids, workspace: ws)
                            let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                            samples.append(t)
                            spent += t
                        }
                        let seconds = Self.median(samples)
                        let row: [String: Any] = ["threads": threads, "batch": batch, "length": length, "split": name,
                                                  "is_default": split == .measured,
                                                  "ms_per_forward": round3(seconds * 1000),
                                                  "seq_s": round2(Double(batch) / seconds),
                                                  "tokens_s": round2(Double(batch * length) / seconds)]
                        rows.append(row)
                        if !json {
                            print(pad("\(threads)", 8) + pad("\(batch)", 7) + pad("\(length)", 8) + pad(name, 10)
                                  + pad(String(format: "%.2f", seconds * 1000), 12)
                                  + pad(String(format: "%.2f", seconds * 1000 / Double(batch)), 10)
                                  + pad(String(format: "%.1f", Double(batch) / seconds), 10)
                                  + pad(String(format: "%.0f", Double(batch * length) / seconds), 11))
                        }
                    }
                    BLASRuntime.setProductSplit(.measured)
                }
            }
        }
        BLASRuntime.setThreads(threads)
        var best: [[String: Any]] = []
        for length in lengths {
            let forLength = rows.filter { $0["length"] as? Int == length }
            let latency = forLength.filter { $0["batch"] as? Int == 1 }
                .min { ($0["ms_per_forward"] as? Double ?? .infinity) < ($1["ms_per_forward"] as? Double ?? .infinity) }
            let throughput = forLength.max { ($0["tokens_s"] as? Double ?? 0) < ($1["tokens_s"] as? Double ?? 0) }
            if let latency, let throughput {
                best.append(["length": length, "latency": latency, "throughput": throughput])
                if !json {
                    print("length \(length): best latency \(latency["ms_per_forward"] ?? "?") ms at batch 1, \(latency["threads"] ?? "?") thread(s), split \(latency["split"] ?? "?"); "
                          + "best throughput \(throughput["tokens_s"] ?? "?") tokens/s at batch \(throughput["batch"] ?? "?"), \(throughput["threads"] ?? "?") thread(s), split \(throughput["split"] ?? "?")")
                }
            }
        }
        // The fastest split of each batch × length on all cores.
        var splits: [[String: Any]] = []
        for length in lengths {
            for batch in Self.sweepBatches {
                let candidates = rows.filter { $0["length"] as? Int == length && $0["batch"] as? Int == batch && $0["threads"] as? Int == cores }
                guard let fastest = candidates.min(by: { ($0["ms_per_forward"] as? Double ?? .infinity) < ($1["ms_per_forward"] as? Double ?? .infinity) }),
                      let measured = candidates.first(where: { $0["is_default"] as? Bool == true }) else { continue }
                splits.append(["batch": batch, "length": length, "fastest": fastest["split"] ?? "?",
                               "fastest_ms": fastest["ms_per_forward"] ?? 0, "measured_default_ms": measured["ms_per_forward"] ?? 0])
                if !json {
                    print("batch \(batch) × \(length) on \(cores) threads: fastest split \(fastest["split"] ?? "?") \(fastest["ms_per_forward"] ?? "?") ms; the default (\(measured["split"] ?? "?")) \(measured["ms_per_forward"] ?? "?") ms")
                }
            }
        }
        if json {
            let object: [String: Any] = ["blas_core": BLASRuntime.coreName, "cores": cores, "model": model,
                                         "rows": rows, "best": best, "splits": splits]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
