import ArgumentParser
import BertBLAS
import Foundation

/// `bert finetune`: train the whole encoder and a classifier on labelled texts (backward pass on
/// sgemm, AdamW), writing a HuggingFace model folder.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a BERT encoder and classifier on labelled texts (AdamW, HF Trainer's schedule).",
        discussion: """
            Holds out a fixed, seeded, stratified validation split of --data (the formats of \
            train-head), then trains every parameter: AdamW (no weight decay on biases and \
            LayerNorm), linear warm-up over the first 6% of steps then linear decay, gradient \
            clipping at norm 1. Batches are packed without padding. After each epoch it reports \
            the validation accuracy and keeps the best epoch. A checkpoint without a classifier \
            (e.g. all-MiniLM-L6-v2) gets a new one. --out becomes a HuggingFace folder \
            (BertForSequenceClassification: config.json with id2label, model.safetensors, \
            tokenizer files) for 'bert classify', 'bert eval' and transformers.
            """)

    enum Task: String, ExpressibleByArgument, CaseIterable {
        case classification
    }

    @OptionGroup var model: ModelOptions
    @OptionGroup var kernel: KernelOptions
    @OptionGroup var data: DataOptions

    @Option(name: .long, help: ArgumentHelp("The model folder to write (created if needed). Required.", valueName: "dir"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("classification (single label, cross-entropy).", valueName: "task"))
    var task: Task = .classification

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Passes over the training split.", valueName: "n"))
    var epochs: Int = 2

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Peak learning rate.", valueName: "lr"))
    var learningRate: Float = 5e-5

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Texts per step.", valueName: "n"))
    var batchSize: Int = 32

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Tokens per text, special tokens included; longer texts are truncated.", valueName: "n"))
    var maxLength: Int = 128

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Fraction of each label held out for validation, in [0, 1).", valueName: "fraction"))
    var validationSplit: Double = 0.2

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Seed of the split, the new classifier and the shuffling.", valueName: "n"))
    var seed: UInt64 = 42

    @Flag(name: .long, help: "Print the training report as JSON. Default: off (text).")
    var json = false

    func validate() throws {
        if epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if maxLength < 2 { throw ValidationError("--max-length must be at least 2 ([CLS] and [SEP]), got \(maxLength)") }
        if !(0 ..< 1).contains(validationSplit) { throw ValidationError("--validation-split must be in [0, 1), got \(validationSplit)") }
        if !(learningRate > 0) || !learningRate.isFinite { throw ValidationError("--learning-rate must be a positive number, got \(learningRate)") }
    }

    func run() throws {
        try Report.stoppingOnError(body)
    }

    private func body() throws {
        let report = Report()
        let dataset = try data.load(report: report)
        let bar = ProgressBar(unit: "steps")
        let options = SequenceFineTuner.Options(epochs: epochs, learningRate: learningRate, batchSize: batchSize,
                                                maxLength: maxLength, validationSplit: validationSplit, seed: seed)
        let result = try SequenceFineTuner.train(directory: model.url, data: dataset, options: options, kernel: kernel.kernel) { p in
            bar.label = String(format: "epoch %d  loss %.4f  %.0f tokens/s ", p.epoch, p.loss, p.tokensPerSecond)
            bar.update(p.step, p.totalSteps)
        }
        bar.finish()
        try FineTunedFolder.write(URL(fileURLWithPath: out), model: result.model, labels: result.labels, source: model.url)
        if json {
            JSONLines.write(Summary(out: out, labels: result.labels, trainExamples: result.trainExamples,
                                    validationExamples: result.validationExamples, bestEpoch: result.bestEpoch,
                                    epochs: result.epochs))
        } else {
            var text = "data        \(data.data): \(dataset.examples.count) texts, \(dataset.labels.count) labels (\(dataset.labels.joined(separator: ", ")))\n"
            text += "split       \(result.trainExamples) train / \(result.validationExamples) validation (seed \(seed), stratified)\n"
            for e in result.epochs {
                text += String(format: "epoch %-5d train loss %.4f", e.epoch, e.trainLoss)
                if let a = e.validationAccuracy, let f = e.validationMacroF1 { text += String(format: "   validation accuracy %.4f (macro-F1 %.4f)", a, f) }
                text += String(format: "   %.1f s, %.0f tokens/s\n", e.seconds, e.tokensPerSecond)
            }
            text += "kept        epoch \(result.bestEpoch)\n"
            text += "model       \(out)\n"
            Output.write(text)
        }
        try report.finish()
    }
}

extension FinetuneCommand {
    /// The `--json` summary.
    struct Summary: Encodable {
        var out: String
        var labels: [String]
        var trainExamples: Int
        var validationExamples: Int
        var bestEpoch: Int
        var epochs: [SequenceFineTuner.Epoch]

        enum CodingKeys: String, CodingKey {
            case out, labels, epochs
            case trainExamples = "train_examples", validationExamples = "validation_examples", bestEpoch = "best_epoch"
        }
    }
}
