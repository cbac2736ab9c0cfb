import ArgumentParser
import BertBLAS
import Foundation

/// `bench encoder --sweep`: the tuning table users run on their own machine.
extension EncoderBench {
    static let sweepBatches = [1, 8, 32, 64]
    static let sweepLengths = [32, 128, 256]

    /// Times every batch × length × threads (1 … cores) and names the best setting for latency
    /// (batch 1) and for throughput, per length.
    func runSweep(_ bert: BertModel) throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let lengths = Self.sweepLengths.filter { $0 <= bert.config.maxPositionEmbeddings }
        var rows: [[String: Any]] = []
        if !json {
            print("model \(model), BLAS core \(BLASRuntime.coreName), cores \(cores); median of ≥ 2 runs and ≥ 0.3 s per setting")
            print(pad("threads", 8) + pad("batch", 7) + pad("length", 8) + pad("ms/forward", 12) + pad("ms/seq", 10) + pad("seq/s", 10) + pad("tokens/s", 11))
        }
        for threads in 1...cores {
            BLASRuntime.setThreads(threads)
            for length in lengths {
                for batch in Self.sweepBatches {
                    let ids = Self.fixedIds(count: batch, length: length, vocab: bert.config.vocabSize)
                    let ws = try bert.makeWorkspace(maxBatch: batch, maxLength: length)
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
                    let row: [String: Any] = ["threads": threads, "batch": batch, "length": length,
                                              "ms_per_forward": round3(seconds * 1000),
                                              "seq_s": round2(Double(batch) / seconds),
                                              "tokens_s": round2(Double(batch * length) / seconds)]
                    rows.append(row)
                    if !json {
                        print(pad("\(threads)", 8) + pad("\(batch)", 7) + pad("\(length)", 8)
                              + pad(String(format: "%.2f", seconds * 1000), 12)
                              + pad(String(format: "%.2f", seconds * 1000 / Double(batch)), 10)
                              + pad(String(format: "%.1f", Double(batch) / seconds), 10)
                              + pad(String(format: "%.0f", Double(batch * length) / seconds), 11))
                    }
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
                    print("length \(length): best latency \(latency["ms_per_forward"] ?? "?") ms at batch 1, \(latency["threads"] ?? "?") thread(s); "
                          + "best throughput \(throughput["tokens_s"] ?? "?") tokens/s at batch \(throughput["batch"] ?? "?"), \(throughput["threads"] ?? "?") thread(s)")
                }
            }
        }
        if json {
            let object: [String: Any] = ["blas_core": BLASRuntime.coreName, "cores": cores, "model": model,
                                         "rows": rows, "best": best]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
