import ArgumentParser
import BertBLAS
import Foundation

/// `bert train-head`: learn a classifier head on frozen sentence embeddings with LAPACK.
struct TrainHeadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-head",
        abstract: "Train a classifier head on frozen sentence embeddings (LAPACK Newton solve).",
        discussion: """
            Embeds every document with the encoder (--model, e.g. all-MiniLM-L6-v2), holds out a \
            fixed, seeded, stratified validation split, and fits L2-regularized logistic regression \
            (multinomial; binary for two labels) by Newton's method, each step one LAPACKE_sposv \
            solve, or the closed-form ridge classifier (--solver ridge). The objective is \
            scikit-learn's LogisticRegression objective with C = 1/λ. Long documents are split into \
            overlapping windows (--long-text chunk); each window is an example weighted \
            1/windows, and a document's prediction averages its windows' probabilities.

            --task regression: the label column holds a number per document (e.g. a rating); the \
            head is ridge regression (the closed form of --solver ridge on the numbers; the default \
            solver then), the split is seeded but not stratified, and the report gives Pearson r \
            and RMSE, and the 5-star accuracy with --rating-scale.

            --out DIR becomes a model folder for 'bert classify' and 'bert eval': head.safetensors, \
            and bertblas_head.json with the labels, pooling, normalization, max length, the \
            encoder's path relative to DIR, and the training report.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var kernel: KernelOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var split: SplitOptions

    @Option(name: .long, help: ArgumentHelp("The head folder to write (created if needed). Required.", valueName: "dir"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("classification (one label per document) or regression (a number per document, ridge regression).", valueName: "classification|regression"))
    var task: TrainingTask = .classification

    @Option(name: .long, help: ArgumentHelp("newton (logistic regression) or ridge. (default: newton for classification, ridge for regression)", valueName: "newton|ridge"))
    var solver: HeadTrainer.Solver?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("λ, the L2 penalty on the weights; scikit-learn's C = 1/λ (ridge: alpha = λ).", valueName: "λ"))
    var regularization: Float = 1

    @Option(name: .long, help: ArgumentHelp("chunk: every overlapping window of a long document; truncate: first window only.", valueName: "chunk|truncate"))
    var longText: LongTextMode = .chunk

    @Option(name: .long, help: ArgumentHelp("Pooling: mean, cls, max or mean_sqrt_len. (default: from the sentence-transformers files, else mean)", valueName: "mode"))
    var pooling: PoolingMode?

    @Flag(name: .long, inversion: .prefixedNo, help: "L2-normalize embeddings. (default: from modules.json, else no)")
    var normalize: Bool?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Tokens per window. (default: max_seq_length of the sentence-transformers config, else the tokenizer's model_max_length capped by max_position_embeddings)", valueName: "n"))
    var maxLength: Int?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Windows per forward pass.", valueName: "n"))
    var batchSize: Int = 32

    @Option(name: .long, help: ArgumentHelp("Also write every window's features as JSON lines {document, split, label, weight, embedding}, for scripts/yardstick_sklearn.py. Default: not written.", valueName: "file"))
    var exportFeatures: String?

    @Flag(name: .long, help: "Print the training report as JSON. Default: off (text).")
    var json = false

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let maxLength, maxLength < 2 { throw ValidationError("--max-length must be at least 2 ([CLS] and [SEP]), got \(maxLength)") }
        if task == .multiLabel || task == .ner { throw ValidationError("--task \(task.rawValue) is not supported by train-head (use bert finetune --task \(task.rawValue))") }
        if task == .regression && solver == .newton { throw ValidationError("--task regression needs --solver ridge (newton fits logistic regression)") }
        if data.ratingScale != nil && task != .regression { throw ValidationError("--rating-scale applies to --task regression only") }
        if !(regularization > 0) || !regularization.isFinite { throw ValidationError("--regularization must be a positive number, got \(regularization)") }
    }

    func run() throws {
        try Report.stoppingOnError(body)
    }

    private func body() throws {
        let report = Report()
        let dataset = try data.load(report: report)
        let embedder = try makeEmbedder()
        for note in embedder.sentence.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        var bar: ProgressBar?
        let result = try HeadTrainer.train(
            embedder: embedder, data: dataset, dataPath: data.data, excludedLabels: data.excludeLabel.sorted(),
            options: .init(solver: solverChoice, regularization: regularization, validationSplit: split.validationSplit,
                           seed: split.seed, longText: longText, problemType: task.problemType ?? .singleLabelClassification,
                           targetName: data.labelColumn, ratingScale: data.ratingScale?.scale),
            progress: { done, total in
                if bar == nil { bar = ProgressBar(unit: "windows", total: total) }
                bar?.update(done)
            })
        bar?.finish()
        let outURL = URL(fileURLWithPath: out)
        let config = HeadTrainer.config(for: result, labels: result.labels, embedder: embedder, output: outURL)
        try HeadFolder.write(outURL, head: result.head, config: config)
        if let exportFeatures { try export(result, dataset: dataset, to: exportFeatures) }

        let r = result.record
        if json {
            JSONLines.write(Summary(
                out: out, task: task.rawValue, labels: result.labels, windows: result.windows.features.rows,
                trainExamples: r.trainExamples, validationExamples: r.validationExamples,
                trainAccuracy: r.trainAccuracy, validationAccuracy: result.validationMetrics?.accuracy,
                validationMacroF1: result.validationMetrics?.macroF1, trainRegression: result.trainRegression,
                validationRegression: result.validationRegression, solver: r.solver,
                regularization: r.regularization, iterations: r.iterations, converged: r.converged,
                embedSeconds: r.embedSeconds, solveSeconds: r.solveSeconds,
                blasCore: BLASRuntime.coreName, blasThreads: BLASRuntime.threads))
        } else {
            let what = task == .regression ? "target \(result.labels[0])" : "\(dataset.labels.count) labels (\(dataset.labels.joined(separator: ", ")))"
            var text = "data        \(data.data): \(dataset.examples.count) documents, \(what)\n"
            text += "split       \(r.trainExamples) train / \(r.validationExamples) validation (seed \(split.seed)\(task == .regression ? "" : ", stratified"))\n"
            text += "windows     \(result.windows.features.rows) (\(longText.rawValue), max length \(embedder.maxLength)), \(embedder.dimension) features, \(embedder.poolingName) pooling\(embedder.sentence.normalize ? ", normalized" : "")\n"
            text += "solver      \(r.solver), λ = \(r.regularization) (C = \(1 / r.regularization))" + (solverChoice == .newton ? ", \(r.iterations) Newton steps\(r.converged ? "" : " (not converged)")" : "") + "\n"
            if let t = result.trainMetrics {
                text += String(format: "accuracy    train %.4f", t.accuracy)
                if let v = result.validationMetrics { text += String(format: "   validation %.4f (macro-F1 %.4f)", v.accuracy, v.macroF1) }
                text += "\n"
            }
            if let t = result.trainRegression {
                text += String(format: "pearson r   train %.4f", t.pearson)
                if let v = result.validationRegression {
                    text += String(format: "   validation %.4f (RMSE %.4f", v.pearson, v.rmse)
                    if let stars = v.starAccuracy { text += String(format: ", 5-star accuracy %.4f", stars) }
                    text += ")"
                }
                text += "\n"
            }
            text += String(format: "time        embedding %.2f s, solving %.3f s\n", r.embedSeconds, r.solveSeconds)
            text += "blas        \(BLASRuntime.coreName), \(BLASRuntime.threads) thread(s)\n"
            text += "head        \(out)  (encoder: \(config.encoder))\n"
            Output.write(text)
        }
        try report.finish()
    }

    /// `--solver`, or the task's default.
    var solverChoice: HeadTrainer.Solver { solver ?? (task == .regression ? .ridge : .newton) }

    func makeEmbedder() throws -> WindowEmbedder {
        try WindowEmbedder(directory: model.url, pooling: pooling, normalize: normalize, maxLength: maxLength,
                           batchSize: batchSize, kernel: kernel.kernel)
    }

    func export(_ result: HeadTrainer.Result, dataset: LabeledDataset, to path: String) throws {
        let validation = Set(result.validation)
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw BertError(.io, "\(path): cannot create --export-features file")
        }
        defer { try? handle.close() }
        let w = result.windows
        let h = w.features.columns
        var buffer = ""
        for row in 0..<w.features.rows {
            let d = w.document[row]
            buffer += JSONLines.text(FeatureRecord(
                document: d, split: validation.contains(d) ? "validation" : "train", label: dataset.examples[d].label,
                weight: 1 / Double(w.windowCounts[d]), embedding: Array(w.features.values[(row * h)..<((row + 1) * h)]))) + "\n"
            if buffer.utf8.count > 1 << 20 {
                handle.write(Data(buffer.utf8))
                buffer = ""
            }
        }
        handle.write(Data(buffer.utf8))
    }
}

extension TrainHeadCommand {
    /// The `--json` summary.
    struct Summary: Encodable {
        var out: String
        var task: String
        var labels: [String]
        var windows: Int
        var trainExamples: Int
        var validationExamples: Int
        var trainAccuracy: Double?
        var validationAccuracy: Double?
        var validationMacroF1: Double?
        /// Regression: Pearson r, RMSE, MAE (and star accuracy) of each part.
        var trainRegression: RegressionMetrics?
        var validationRegression: RegressionMetrics?
        var solver: String
        var regularization: Double
        var iterations: Int
        var converged: Bool
        var embedSeconds: Double
        var solveSeconds: Double
        var blasCore: String
        var blasThreads: Int

        enum CodingKeys: String, CodingKey {
            case out, task, labels, windows, solver, regularization, iterations, converged
            case trainRegression = "train_regression", validationRegression = "validation_regression"
            case trainExamples = "train_examples", validationExamples = "validation_examples"
            case trainAccuracy = "train_accuracy", validationAccuracy = "validation_accuracy"
            case validationMacroF1 = "validation_macro_f1", embedSeconds = "embed_seconds"
            case solveSeconds = "solve_seconds", blasCore = "blas_core", blasThreads = "blas_threads"
        }
    }

    /// One line of `--export-features`: a window's embedding and its document's label and split.
    struct FeatureRecord: Encodable {
        var document: Int
        var split: String
        var label: String
        /// 1 / the document's window count, so each document weighs 1 in total.
        var weight: Double
        var embedding: [Float]
    }
}
