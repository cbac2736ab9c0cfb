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
        return [("rows auto=\(ProductSplit.measured.rowsPerPanel(tokens: tokens, threads: threads))", ProductSplit.measured)]
            + [128, 256, 512].map { (rows: Int) in ("rows \(rows)", ProductSplit(panelRows: rows)) }
            + [openBLAS]
    }

    /// One point of the sweep's grid.
    struct SweepSetting {
        var threads: Int
        var batch: Int
        var length: Int
        var name: String
        var split: ProductSplit
        var isDefault: Bool { split == .measured }
    }

    /// What one setting measured: one median per round.
    struct SweepResult {
        var setting: SweepSetting
        var rounds: [Double] = []
        var median: Double { EncoderBench.median(rounds) }
        var fastest: Double { rounds.min() ?? .nan }
        var slowest: Double { rounds.max() ?? .nan }
    }

    /// Every batch × length × threads (1 … cores) × product split (`sweepSplits`), in the order
    /// the sweep runs them.
    static func sweepGrid(cores: Int, lengths: [Int]) -> [SweepSetting] {
        var grid: [SweepSetting] = []
        for length in lengths {
            for batch in sweepBatches {
                for threads in 1...cores {
                    for (name, split) in sweepSplits(tokens: batch * length, threads: threads) {
                        grid.append(SweepSetting(threads: threads, batch: batch, length: length, name: name, split: split))
                    }
                }
            }
        }
        return grid
    }

    /// Whether `candidate` is faster than `reference` beyond the spread of the rounds: its
    /// slowest round beats the reference's fastest.
    static func fasterBeyondSpread(_ candidate: SweepResult, than reference: SweepResult) -> Bool {
        candidate.slowest < reference.fastest
    }

    /// Times the grid (`sweepGrid`) `rounds` times, the rounds one after another so that a slow
    /// spell of the machine hits every setting alike, and each round starting the settings that
    /// share a batch × length at a different one (the first after a new workspace can read
    /// differently); each round's figure for a setting is the median of ≥ 2 passes and ≥ 0.2 s
    /// after one untimed pass. Prints per setting the median over the rounds and their range,
    /// names the best setting for latency (batch 1) and for throughput per length, and per batch ×
    /// length on all cores the fastest split against the default, saying whether the difference
    /// is beyond the rounds' spread.
    func runSweep(_ bert: BertModel) throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let lengths = Self.sweepLengths.filter { $0 <= bert.config.maxPositionEmbeddings }
        let grid = Self.sweepGrid(cores: cores, lengths: lengths)
        var results = grid.map { SweepResult(setting: $0) }
        let sweepStart = DispatchTime.now().uptimeNanoseconds
        for round in 1...rounds {
            var index = 0
            while index < grid.count {
                // One workspace per batch × length, for the settings that share it.
                let (batch, length) = (grid[index].batch, grid[index].length)
                let ids = Self.fixedIds(count: batch, length: length, vocab: bert.config.vocabSize)
                let ws = try bert.makeWorkspace(maxBatch: batch, maxLength: length)
                var group: [Int] = []
                while index < grid.count, grid[index].batch == batch, grid[index].length == length {
                    group.append(index)
                    index += 1
                }
                let shift = (round - 1) % group.count
                for i in group[shift...] + group[..<shift] {
                    let setting = grid[i]
                    BLASRuntime.setThreads(setting.threads)
                    BLASRuntime.setProductSplit(setting.split)
                    _ = try bert.forward(ids: ids, workspace: ws)
                    var samples: [Double] = []
                    var spent = 0.0
                    while samples.count < 2 || spent < 0.2 {
                        let start = DispatchTime.now().uptimeNanoseconds
                        _ = try bert.forward(ids: ids, workspace: ws)
                        let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                        samples.append(t)
                        spent += t
                    }
                    results[i].rounds.append(Self.median(samples) * 1000)
                }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - sweepStart) / 1e9
                FileHandle.standardError.write(Data("sweep: round \(round) of \(rounds), batch \(batch) × length \(length) done (\(String(format: "%.0f", elapsed)) s so far)\n".utf8))
            }
        }
        BLASRuntime.setProductSplit(.measured)
        BLASRuntime.setThreads(threads)

        func row(_ r: SweepResult) -> [String: Any] {
            let s = r.setting, seconds = r.median / 1000
            return ["threads": s.threads, "batch": s.batch, "length": s.length, "split": s.name, "is_default": s.isDefault,
                    "ms_per_forward": round3(r.median), "ms_fastest_round": round3(r.fastest), "ms_slowest_round": round3(r.slowest),
                    "seq_s": round2(Double(s.batch) / seconds), "tokens_s": round2(Double(s.batch * s.length) / seconds)]
        }
        func range(_ r: SweepResult) -> String { String(format: "%.2f [%.2f–%.2f] ms", r.median, r.fastest, r.slowest) }
        if !json {
            print("model \(model), BLAS core \(BLASRuntime.coreName), cores \(cores); \(rounds) rounds over the grid, each the median of ≥ 2 passes and ≥ 0.2 s per setting")
            print(pad("threads", 8) + pad("batch", 7) + pad("length", 8) + pad("split", 16) + pad("ms/forward", 12)
                  + pad("range of rounds", 18) + pad("ms/seq", 10) + pad("seq/s", 10) + pad("tokens/s", 11))
            for r in results {
                let s = r.setting
                print(pad("\(s.threads)", 8) + pad("\(s.batch)", 7) + pad("\(s.length)", 8) + pad(s.name, 16)
                      + pad(String(format: "%.2f", r.median), 12)
                      + pad(String(format: "%.2f–%.2f", r.fastest, r.slowest), 18)
                      + pad(String(format: "%.2f", r.median / Double(s.batch)), 10)
                      + pad(String(format: "%.1f", Double(s.batch) * 1000 / r.median), 10)
                      + pad(String(format: "%.0f", Double(s.batch * s.length) * 1000 / r.median), 11))
            }
        }
        var best: [[String: Any]] = []
        for length in lengths {
            let forLength = results.filter { $0.setting.length == length }
            let latency = forLength.filter { $0.setting.batch == 1 }.min { $0.median < $1.median }
            let throughput = forLength.max { Double($0.setting.batch) / $0.median < Double($1.setting.batch) / $1.median }
            if let latency, let throughput {
                best.append(["length": length, "latency": row(latency), "throughput": row(throughput)])
                if !json {
                    let l = latency.setting, t = throughput.setting
                    print("length \(length): best latency \(range(latency)) at batch 1, \(l.threads) thread(s), split \(l.name); "
                          + "best throughput \(String(format: "%.0f", Double(t.batch * t.length) * 1000 / throughput.median)) tokens/s at batch \(t.batch), \(t.threads) thread(s), split \(t.name)")
                }
            }
        }
        // The fastest split of each batch × length on all cores, against the default.
        var splits: [[String: Any]] = []
        for length in lengths {
            for batch in Self.sweepBatches {
                let candidates = results.filter { $0.setting.length == length && $0.setting.batch == batch && $0.setting.threads == cores }
                guard let fastest = candidates.min(by: { $0.median < $1.median }),
                      let measured = candidates.first(where: { $0.setting.isDefault }) else { continue }
                let beyond = Self.fasterBeyondSpread(fastest, than: measured)
                splits.append(["batch": batch, "length": length, "fastest": fastest.setting.name,
                               "fastest_ms": round3(fastest.median), "measured_default_ms": round3(measured.median),
                               "beyond_spread": beyond])
                if !json {
                    let verdict = fastest.setting.isDefault ? "the default is the fastest"
                        : beyond ? "its slowest round beats the default's fastest"
                        : "within the rounds' spread: no evidence against the default"
                    print("batch \(batch) × \(length) on \(cores) threads: fastest split \(fastest.setting.name) \(range(fastest)); "
                          + "the default (\(measured.setting.name)) \(range(measured)): \(verdict)")
                }
            }
        }
        if json {
            let object: [String: Any] = ["blas_core": BLASRuntime.coreName, "cores": cores, "model": model, "rounds": rounds,
                                         "rows": results.map(row), "best": best, "splits": splits]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
