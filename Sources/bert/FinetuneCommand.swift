import ArgumentParser
import BertBLAS
import Foundation

/// `bert finetune`: train the whole encoder and a classifier (or regression head) on labelled
/// texts (backward pass on sgemm, AdamW), writing a HuggingFace model folder.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a BERT encoder and classifier on labelled texts (AdamW, HF Trainer's schedule).",
        discussion: """
            Holds out a fixed, seeded validation split of --data (the formats of train-head; \
            stratified by label for classification), then trains every parameter: AdamW (no weight \
            decay on biases and LayerNorm), linear warm-up over the first 6% of steps then linear \
            decay, gradient clipping at norm 1. Batches are packed without padding. A checkpoint \
            without a classifier (e.g. all-MiniLM-L6-v2) gets a new one. Dropout is on while \
            training, as transformers' Trainer trains (model.train()), at the rates of the \
            checkpoint's config.json (hidden_dropout_prob, attention_probs_dropout_prob, \
            classifier_dropout; seeded by --seed); --no-dropout turns it off. Validation and the \
            written model never drop.

            --task classification: one label per text, cross-entropy; validation accuracy and \
            macro-F1. --task multi-label: the label column (or field) lists a text's labels joined \
            by --label-separator (default ';', e.g. 'sports;politics'; '-' for none), one sigmoid \
            output per label, binary cross-entropy; validation micro- and macro-F1 of the labels \
            scored >= 0.5. --task regression: the label column is a number (e.g. a rating), one \
            output, mean squared error; validation Pearson r and RMSE, and with --rating-scale the \
            5-star accuracy. After each epoch it reports these figures and keeps the best epoch \
            (accuracy, micro-F1, or lowest RMSE).

            --task ner: token classification (e.g. WNUT-16) on a CoNLL-style --data file: one \
            'word<TAB>tag' per line (BIO tags), a blank line between sentences; each word is \
            tokenized on its own, its tag goes on its first sub-token (the others and the special \
            tokens are ignored by the loss, as transformers' run_ner); validation entity F1 \
            (conlleval chunks) and word accuracy; the folder is a BertForTokenClassification for \
            'bert ner'.

            --out becomes a HuggingFace folder (BertForSequenceClassification: config.json with \
            id2label and problem_type single_label_classification, multi_label_classification or \
            regression; model.safetensors; tokenizer files) for 'bert classify', 'bert eval', \
            'bert serve' and transformers' AutoModelForSequenceClassification.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var kernel: KernelOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var split: SplitOptions

    @Option(name: .long, help: ArgumentHelp("The model folder to write (created if needed). Required.", valueName: "dir"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("classification (one label per text, cross-entropy), multi-label (labels joined by --label-separator, sigmoid and binary cross-entropy), regression (a number per text, mean squared error) or ner (a tag per word of a 'word<TAB>tag' file, cross-entropy on first sub-tokens).", valueName: "classification|multi-label|regression|ner"))
    var task: TrainingTask = .classification

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Passes over the training split.", valueName: "n"))
    var epochs: Int = 2

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Peak learning rate.", valueName: "lr"))
    var learningRate: Float = 5e-5

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Texts per step.", valueName: "n"))
    var batchSize: Int = 32

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Tokens per text, special tokens included; longer texts are truncated.", valueName: "n"))
    var maxLength: Int = 128

    @Flag(name: .long, help: "Train without dropout (deterministic; transformers' Trainer trains with the config's dropout). Default: off (dropout on).")
    var noDropout = false

    @Flag(name: .long, help: "Print the training report as JSON. Default: off (text).")
    var json = false

    func validate() throws {
        if epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if maxLength < 2 { throw ValidationError("--max-length must be at least 2 ([CLS] and [SEP]), got \(maxLength)") }
        if !(learningRate > 0) || !learningRate.isFinite { throw ValidationError("--learning-rate must be a positive number, got \(learningRate)") }
        if data.ratingScale != nil && task != .regression { throw ValidationError("--rating-scale applies to --task regression only") }
    }

    func run() throws {
        try Report.stoppingOnError(body)
    }

    private func body() throws {
        if task == .ner { return try tokens() }
        let report = Report()
        let dataset = try data.load(report: report)
        let bar = ProgressBar(unit: "steps")
        let options = SequenceFineTuner.Options(
            epochs: epochs, learningRate: learningRate, batchSize: batchSize, maxLength: maxLength,
            validationSplit: split.validationSplit, seed: split.seed, problemType: task.problemType ?? .singleLabelClassification,
            labelSeparator: data.labelSeparator, targetName: data.labelColumn, ratingScale: data.ratingScale?.scale,
            dropout: !noDropout)
        let result = try SequenceFineTuner.train(directory: model.url, data: dataset, options: options, kernel: kernel.kernel) { p in
            bar.label = String(format: "epoch %d  loss %.4f  %.0f tokens/s ", p.epoch, p.loss, p.tokensPerSecond)
            bar.update(p.step, p.totalSteps)
        }
        bar.finish()
        try FineTunedFolder.write(URL(fileURLWithPath: out), model: result.model, labels: result.labels,
                                  problemType: result.problemType, source: model.url)
        if json {
            JSONLines.write(Summary(out: out, task: task.rawValue, problemType: result.problemType.rawValue,
                                    labels: result.labels, trainExamples: result.trainExamples,
                                    validationExamples: result.validationExamples, bestEpoch: result.bestEpoch,
                                    dropout: Rates(result.dropout), epochs: result.epochs))
        } else {
            let what = task == .regression ? "target \(result.labels[0])" : "\(result.labels.count) labels (\(result.labels.joined(separator: ", ")))"
            var text = "data        \(data.data): \(dataset.examples.count) texts, \(what)\n"
            text += "split       \(result.trainExamples) train / \(result.validationExamples) validation (seed \(split.seed)\(task == .classification ? ", stratified" : ""))\n"
            text += Self.dropoutLine(result.dropout)
            for e in result.epochs {
                text += String(format: "epoch %-5d train loss %.4f", e.epoch, e.trainLoss)
                if let a = e.validationAccuracy, let f = e.validationMacroF1 { text += String(format: "   validation accuracy %.4f (macro-F1 %.4f)", a, f) }
                if let micro = e.validationMicroF1, let macro = e.validationMacroF1 { text += String(format: "   validation micro-F1 %.4f macro-F1 %.4f", micro, macro) }
                if let r = e.validationPearson, let rmse = e.validationRMSE { text += String(format: "   validation r %.4f RMSE %.4f", r, rmse) }
                if let stars = e.validationStarAccuracy { text += String(format: " 5-star accuracy %.4f", stars) }
                text += String(format: "   %.1f s, %.0f tokens/s\n", e.seconds, e.tokensPerSecond)
            }
            text += "kept        epoch \(result.bestEpoch)\n"
            text += "model       \(out) (\(result.problemType.rawValue))\n"
            Output.write(text)
        }
        try report.finish()
    }
}

extension FinetuneCommand {
    /// `--task ner`.
    private func tokens() throws {
        let report = Report()
        let dataset = try TaggedDataset.load(path: data.data)
        for w in dataset.warnings.prefix(10) { report.warn(w) }
        let bar = ProgressBar(unit: "steps")
        let options = SequenceFineTuner.Options(epochs: epochs, learningRate: learningRate, batchSize: batchSize, maxLength: maxLength,
                                                validationSplit: split.validationSplit, seed: split.seed, dropout: !noDropout)
        let result = try SequenceFineTuner.trainTokens(directory: model.url, data: dataset, options: options, kernel: kernel.kernel) { p in
            bar.label = String(format: "epoch %d  loss %.4f  %.0f tokens/s ", p.epoch, p.loss, p.tokensPerSecond)
            bar.update(p.step, p.totalSteps)
        }
        bar.finish()
        try FineTunedFolder.write(URL(fileURLWithPath: out), tokenClassifier: result.model, labels: result.labels, source: model.url)
        if json {
            JSONLines.write(Summary(out: out, task: task.rawValue, problemType: "token_classification", labels: result.labels,
                                    trainExamples: result.trainExamples, validationExamples: result.validationExamples,
                                    bestEpoch: result.bestEpoch, dropout: Rates(result.dropout), epochs: result.epochs))
        } else {
            var text = "data        \(data.data): \(dataset.sentences.count) sentences, \(dataset.labels.count) tags\n"
            text += "split       \(result.trainExamples) train / \(result.validationExamples) validation sentences (seed \(split.seed))\n"
            text += Self.dropoutLine(result.dropout)
            for e in result.epochs {
                text += String(format: "epoch %-5d train loss %.4f", e.epoch, e.trainLoss)
                if let f1 = e.validationEntityF1, let a = e.validationWordAccuracy {
                    text += String(format: "   validation entity F1 %.4f (word accuracy %.4f)", f1, a)
                }
                text += String(format: "   %.1f s, %.0f tokens/s\n", e.seconds, e.tokensPerSecond)
            }
            text += "kept        epoch \(result.bestEpoch)\nmodel       \(out) (token classification)\n"
            Output.write(text)
        }
        try report.finish()
    }

    /// The report's dropout line.
    static func dropoutLine(_ d: Dropout) -> String {
        d == .off ? "dropout     off\n"
            : String(format: "dropout     hidden %g, attention %g, classifier %g (config.json)\n", d.hidden, d.attention, d.classifier)
    }

    /// The dropout rates of the `--json` summary (the key is absent when off).
    struct Rates: Encodable {
        var hidden, attention, classifier: Float

        init?(_ d: Dropout) {
            guard d != .off else { return nil }
            (hidden, attention, classifier) = (d.hidden, d.attention, d.classifier)
        }
    }

    /// The `--json` summary.
    struct Summary: Encodable {
        var out: String
        var task: String
        var problemType: String
        var labels: [String]
        var trainExamples: Int
        var validationExamples: Int
        var bestEpoch: Int
        var dropout: Rates?
        var epochs: [SequenceFineTuner.Epoch]

        enum CodingKeys: String, CodingKey {
            case out, task, labels, epochs, dropout
            case problemType = "problem_type"
            case trainExamples = "train_examples", validationExamples = "validation_examples", bestEpoch = "best_epoch"
        }
    }
}
