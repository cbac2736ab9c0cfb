import ArgumentParser
import BertBLAS
import Foundation

/// `bench encoder`: encoder throughput on fixed workloads (the same ones as
/// scripts/bench_reference.py runs on PyTorch and ONNX Runtime).
struct EncoderBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Time the BERT encoder forward pass on fixed workloads (sequences/s, tokens/s).",
        discussion: """
            Workloads (as scripts/bench_reference.py):
              fixed-32x128  32 sequences of 128 tokens (ids from a fixed seed; [CLS] ... [SEP])
              rotten-1024   the first 1,024 texts of the Rotten Tomatoes CSV, batches of 32 in file
                            order, truncated to 256 tokens; BertBLAS packs them without padding
            Tokenization is done before timing; the time is the best of --repeat runs of the whole
            workload. tokens/s counts real (non-padding) tokens.
            """)

    @Option(help: ArgumentHelp("The model folder.", valueName: "dir"))
    var model: String = Self.cache + "/models/all-MiniLM-L6-v2"

    @Option(help: ArgumentHelp("The Rotten Tomatoes CSV (column 'text').", valueName: "csv"))
    var data: String = Self.cache + "/data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv"

    @Option(help: "Runs per workload; the best is reported.")
    var `repeat`: Int = 3

    @Option(help: ArgumentHelp("Matrix-product kernel.", valueName: "naive|blas"))
    var kernel: String = "blas"

    @Option(help: ArgumentHelp("Only these workloads (comma-separated).", valueName: "names"))
    var only: String?

    @Flag(help: "Print one JSON object: {\"blas_core\", \"threads\", \"workloads\": [{\"name\", \"seconds\", \"sequences\", \"tokens\", \"padded_tokens\", \"sequences_per_s\", \"tokens_per_s\"}]}.")
    var json = false

    static var cache: String { ProcessInfo.processInfo.environment["BERTBLAS_CACHE"] ?? ".cache" }

    func run() throws {
        guard let kernel = Kernel(rawValue: kernel) else { throw ValidationError("--kernel must be naive or blas") }
        let directory = URL(fileURLWithPath: model)
        let bert = try BertModel(directory: directory, kernel: kernel)
        let tokenizer = try BertTokenizer(directory: directory)
        let wanted = only.map { Set($0.split(separator: ",").map(String.init)) }
        var workloads: [(String, [[Encoding]])] = []
        if wanted?.contains("fixed-32x128") ?? true {
            workloads.append(("fixed-32x128", [fixedBatch(tokenizer: tokenizer, vocab: bert.config.vocabSize)]))
        }
        if wanted?.contains("rotten-1024") ?? true {
            workloads.append(("rotten-1024", try rottenBatches(tokenizer: tokenizer)))
        }
        var rows: [[String: Any]] = []
        if !json {
            print("model: \(model), kernel: \(kernel), BLAS core: \(BLASRuntime.coreName), threads: \(BLASRuntime.threads)")
            print(pad("workload", 14) + pad("seconds", 10) + pad("seqs", 7) + pad("tokens", 8) + pad("padded", 8) + pad("seq/s", 10) + pad("tokens/s", 11))
        }
        for (name, batches) in workloads {
            let longest = batches.flatMap { $0 }.map(\.count).max() ?? 1
            let maxBatch = batches.map(\.count).max() ?? 1
            let workspace = try bert.makeWorkspace(maxBatch: maxBatch, maxLength: longest)
            var best = Double.infinity
            _ = try bert.forward(batches[0], workspace: workspace)  // warm-up
            for _ in 0..<max(1, self.repeat) {
                var failure: Error?
                let t = time {
                    do { for batch in batches { _ = try bert.forward(batch, workspace: workspace) } } catch { failure = error }
                }
                if let failure { throw failure }
                best = min(best, t)
            }
            let sequences = batches.map(\.count).reduce(0, +)
            let tokens = batches.flatMap { $0 }.map(\.count).reduce(0, +)
            let padded = batches.map { ($0.map(\.count).max() ?? 0) * $0.count }.reduce(0, +)
            let row: [String: Any] = ["name": name, "seconds": best, "sequences": sequences, "tokens": tokens,
                                      "padded_tokens": padded, "sequences_per_s": round2(Double(sequences) / best),
                                      "tokens_per_s": round2(Double(tokens) / best)]
            rows.append(row)
            if !json {
                print(pad(name, 14) + pad(String(format: "%.3f", best), 10) + pad("\(sequences)", 7) + pad("\(tokens)", 8)
                      + pad("\(padded)", 8) + pad(String(format: "%.1f", Double(sequences) / best), 10)
                      + pad(String(format: "%.0f", Double(tokens) / best), 11))
            }
        }
        if json {
            let object: [String: Any] = ["blas_core": BLASRuntime.coreName, "threads": BLASRuntime.threads,
                                         "kernel": kernel.rawValue, "workloads": rows]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// 32 × 128 token ids in [1000, V) from a fixed seed, with [CLS] first and [SEP] last.
    func fixedBatch(tokenizer: BertTokenizer, vocab: Int) -> [Encoding] {
        var rng = SplitMix64(seed: 0)
        return (0..<32).map { _ in
            var ids = (0..<128).map { _ in Int32(1000 + Int(rng.next() % UInt64(max(vocab - 1000, 1)))) }
            ids[0] = tokenizer.specialTokens.cls
            ids[127] = tokenizer.specialTokens.sep
            var encoding = tokenizer.encode("")
            encoding.ids = ids
            encoding.typeIds = [Int32](repeating: 0, count: 128)
            encoding.attentionMask = [Int32](repeating: 1, count: 128)
            return encoding
        }
    }

    /// The first 1,024 texts of the CSV, tokenized (truncated to 256), in batches of 32.
    func rottenBatches(tokenizer: BertTokenizer) throws -> [[Encoding]] {
        let url = URL(fileURLWithPath: data)
        let records = try CSVReader.parse(try Data(contentsOf: url), source: data)
        guard let header = records.first, let column = header.fields.firstIndex(of: "text") else {
            throw ValidationError("\(data): no 'text' column")
        }
        let texts = records.dropFirst().prefix(1024).map { column < $0.fields.count ? $0.fields[column] : "" }
        let encodings = tokenizer.encodeBatch(Array(texts), truncation: Truncation(maxLength: 256))
        return stride(from: 0, to: encodings.count, by: 32).map { Array(encodings[$0..<min($0 + 32, encodings.count)]) }
    }
}
