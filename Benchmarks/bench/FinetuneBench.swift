import ArgumentParser
import BertBLAS
import Foundation

/// `bench finetune`: training steps of `bert finetune` (sequence classification, every
/// parameter) on Rotten Tomatoes, the same steps scripts/bench_finetune_torch.py runs on PyTorch.
struct FinetuneBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Time fine-tuning steps (forward, backward, clipping, AdamW) of MiniLM on Rotten Tomatoes.",
        discussion: """
            The data: the rows of --data whose category is fresh or rotten (plot synopses dropped), \
            in file order, tokenized with the model's tokenizer, truncated to --max-length tokens \
            (special tokens included). Step s trains on rows [s·batch, (s+1)·batch): --warmup \
            untimed steps, then --steps timed ones. One step is what bert finetune runs: zero the \
            gradients, forward and backward through the classifier, pooler, layers and embeddings \
            (packed, no padding; dropout as in the checkpoint's config, 0.1 for MiniLM), clip the gradient \
            norm at 1, one AdamW step (lr 5e-5). \
            Reported: training tokens/s (real tokens of the timed steps / their seconds), the median \
            step time and that of each phase (zeroing, forward + backward, the gradient norm for \
            clipping, AdamW with the clipping factor applied inside it), and the \
            process's peak RSS (VmHWM). scripts/bench_finetune_torch.py runs the \
            same rows with AutoModelForSequenceClassification (each batch padded to its longest \
            text, as HF's collator does) and prints the same figures.
            """)

    @Option(help: ArgumentHelp("The model folder. Default: .cache/models/all-MiniLM-L6-v2.", valueName: "dir"))
    var model: String = EncoderBench.cache + "/models/all-MiniLM-L6-v2"

    @Option(help: ArgumentHelp("Rotten Tomatoes CSV (category, text). Default: .cache/data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv.", valueName: "file"))
    var data: String = EncoderBench.cache + "/data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv"

    @Option(help: ArgumentHelp("Texts per step.", valueName: "n"))
    var batch = 32

    @Option(name: .customLong("max-length"), help: ArgumentHelp("Tokens per text, special tokens included.", valueName: "n"))
    var maxLength = 64

    @Option(help: ArgumentHelp("Untimed steps first.", valueName: "n"))
    var warmup = 3

    @Option(help: ArgumentHelp("Timed steps.", valueName: "n"))
    var steps = 20

    @Option(help: ArgumentHelp("Compute threads. Default: the number of cores.", valueName: "n"))
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print one JSON object: tokens_per_s, step_ms_median, zero/forward_backward/clip/adamw_ms_median, tokens, sequences, steps, peak_rss_mb, threads, blas_core.")
    var json = false

    func validate() throws {
        if batch < 1 || maxLength < 2 || warmup < 0 || steps < 1 || threads < 1 {
            throw ValidationError("--batch, --steps and --threads must be at least 1, --max-length at least 2, --warmup at least 0")
        }
    }

    func run() throws {
        BLASRuntime.setThreads(threads)
        let directory = URL(fileURLWithPath: model)
        let dataset = try LabeledDataset.load(path: data, options: .init(textColumn: "text", labelColumn: "category",
                                                                         excludedLabels: ["plot"]))
        let needed = (warmup + steps) * batch
        guard dataset.examples.count >= needed else {
            throw ValidationError("\(data): \(dataset.examples.count) texts, \(needed) needed for \(warmup + steps) steps of \(batch)")
        }
        let tokenizer = try BertTokenizer(directory: directory)
        let truncation = Truncation(maxLength: maxLength, strategy: .longestFirst)
        let examples = dataset.examples.prefix(needed)
        let ids = examples.map { tokenizer.encode($0.text, truncation: truncation).ids }
        let labels = Array(dataset.labelIndices.prefix(needed))

        let classifier = try TrainableSequenceClassifier(directory: directory, labels: dataset.labels.count, seed: 42)
        // Train mode, as bert finetune and PyTorch's model.train(): the checkpoint's dropout.
        classifier.dropout = try Dropout(directory: directory, seed: 42)
        let ws = try classifier.makeWorkspace(maxBatch: batch, maxLength: maxLength)
        let optimizer = AdamW(for: classifier.parameters)
        var samples: [Double] = []
        // Per phase: zeroing, forward + backward, clipping, AdamW.
        var phases: [[Double]] = Array(repeating: [], count: 4)
        var tokens = 0
        var lastLoss: Float = 0
        for s in 0..<(warmup + steps) {
            let range = (s * batch)..<((s + 1) * batch)
            let batchIds = Array(ids[range])
            var marks = [DispatchTime.now().uptimeNanoseconds]
            classifier.parameters.zeroGradients()
            marks.append(DispatchTime.now().uptimeNanoseconds)
            lastLoss = try classifier.lossAndGradients(ids: batchIds, targets: .classes(Array(labels[range])), workspace: ws)
            marks.append(DispatchTime.now().uptimeNanoseconds)
            // The clipping factor is applied inside the update (as bert finetune runs it):
            // "clip" is the norm, "AdamW" the scaled update.
            let norm = AdamW.gradientNorm(classifier.parameters)
            marks.append(DispatchTime.now().uptimeNanoseconds)
            try optimizer.update(classifier.parameters, learningRate: 5e-5, gradientNorm: norm, maxNorm: 1)
            marks.append(DispatchTime.now().uptimeNanoseconds)
            if s >= warmup {
                samples.append(Double(marks[4] - marks[0]) / 1e9)
                for p in 0..<4 { phases[p].append(Double(marks[p + 1] - marks[p]) / 1e9) }
                tokens += batchIds.reduce(0) { $0 + $1.count }
            }
        }
        let phaseMs = phases.map { round2(EncoderBench.median($0) * 1000) }
        let total = samples.reduce(0, +)
        let rate = Double(tokens) / total
        let rss = PeakRSS.megabytes()
        let medianMs = EncoderBench.median(samples) * 1000
        if json {
            let result: [String: Any] = [
                "engine": "bertblas", "tokens_per_s": round2(rate), "step_ms_median": round2(medianMs),
                "tokens": tokens, "sequences": steps * batch, "steps": steps, "warmup": warmup, "batch": batch,
                "max_length": maxLength, "peak_rss_mb": rss.map(round2) ?? NSNull(), "threads": threads,
                "blas_core": BLASRuntime.coreName, "last_loss": round3(Double(lastLoss)), "model": model,
                "zero_ms_median": phaseMs[0], "forward_backward_ms_median": phaseMs[1], "clip_ms_median": phaseMs[2],
                "adamw_ms_median": phaseMs[3],
            ]
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("model \(model), BLAS core \(BLASRuntime.coreName), threads \(threads)")
            print("finetune    \(String(format: "%8.0f", rate)) training tokens/s (\(tokens) real tokens in \(steps) steps of \(batch), max length \(maxLength), \(String(format: "%.2f", total)) s), median step \(String(format: "%.0f", medianMs)) ms, peak RSS \(rss.map { String(format: "%.1f", $0) } ?? "?") MB, last loss \(String(format: "%.4f", lastLoss))")
            print("median ms   zero \(phaseMs[0]), forward + backward \(phaseMs[1]), clip \(phaseMs[2]), AdamW \(phaseMs[3])")
        }
    }
}
