import ArgumentParser
import BertBLAS
import Foundation

/// `bert pretrain`: continued masked-LM pre-training of a BERT checkpoint on a text corpus,
/// writing a HuggingFace `BertForMaskedLM` folder.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Continue masked-LM pre-training of a BERT checkpoint on a text corpus (AdamW, held-out MLM loss and perplexity).",
        discussion: """
            --model must have a masked-LM head (cls.predictions: BertForMaskedLM or \
            BertForPreTraining); its decoder stays tied to the word embeddings. Every line of \
            --corpus is tokenized without special tokens; the tokens of all lines are concatenated \
            and cut into sequences of --max-length tokens ([CLS] and [SEP] included), as \
            transformers' run_mlm.py groups texts. A seeded --validation-split of the sequences is \
            held out and masked once, so every evaluation scores the same predictions; the \
            held-out MLM loss and perplexity are reported before training and after each epoch. \
            Training sequences are shuffled and masked afresh every epoch: --probability of the \
            tokens (or, with --whole-word, of whole words) is selected, 80% become [MASK], 10% a \
            random id, 10% stay (DataCollatorForLanguageModeling); the loss is the cross-entropy \
            over the vocabulary at the selected positions. AdamW (no weight decay on biases and \
            LayerNorm), linear warm-up over the first 6% of steps then linear decay, gradient \
            clipping at norm 1. Batches are packed without padding.

            --out becomes a HuggingFace folder (BertForMaskedLM: config.json, model.safetensors \
            without the tied decoder, tokenizer files) for 'bert fill-mask', 'bert mlm-score' and \
            transformers' AutoModelForMaskedLM.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var kernel: KernelOptions

    @Option(name: .long, help: ArgumentHelp("A text file; every line is text of the corpus. Required.", valueName: "file"))
    var corpus: String

    @Option(name: .long, help: ArgumentHelp("The model folder to write (created if needed). Required.", valueName: "dir"))
    var out: String

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Passes over the training sequences.", valueName: "n"))
    var epochs: Int = 1

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Peak learning rate.", valueName: "lr"))
    var learningRate: Float = 5e-5

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Sequences per step.", valueName: "n"))
    var batchSize: Int = 32

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Tokens per sequence, [CLS] and [SEP] included (at most the model's max_position_embeddings).", valueName: "n"))
    var maxLength: Int = 128

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Fraction of the sequences held out for the MLM loss and perplexity, in [0, 1).", valueName: "fraction"))
    var validationSplit: Double = 0.1

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Seed of the split, the held-out masks, the shuffling and the training masks.", valueName: "n"))
    var seed: UInt64 = 42

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Share of tokens to predict (mlm_probability), in (0, 1].", valueName: "p"))
    var probability = 0.15

    @Flag(name: .long, help: "Whole-word masking: select words (a token and its ## pieces), as DataCollatorForWholeWordMask. Default: off.")
    var wholeWord = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Use only the first n sequences of the corpus (a subset). Default: all.", valueName: "n"))
    var maxSequences: Int?

    @Flag(name: .long, help: "Print the training report as JSON. Default: off (text).")
    var json = false

    func validate() throws {
        if epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if maxLength < 3 { throw ValidationError("--max-length must be at least 3 ([CLS], a token, [SEP]), got \(maxLength)") }
        if !(learningRate > 0) || !learningRate.isFinite { throw ValidationError("--learning-rate must be a positive number, got \(learningRate)") }
        if !(0 ..< 1).contains(validationSplit) { throw ValidationError("--validation-split must be in [0, 1), got \(validationSplit)") }
        if !(probability > 0 && probability <= 1) { throw ValidationError("--probability must be in (0, 1], got \(probability)") }
        if let maxSequences, maxSequences < 1 { throw ValidationError("--max-sequences must be at least 1, got \(maxSequences)") }
    }

    func run() throws {
        try Report.stoppingOnError(body)
    }

    private func body() throws {
        let report = Report()
        let lines: [TextLine]
        do {
            lines = try TextLines.read(path: corpus)
        } catch {
            try report.abort("\(corpus): \(error)")
        }
        var options = MaskedLMPretrainer.Options()
        options.epochs = epochs
        options.learningRate = learningRate
        options.batchSize = batchSize
        options.maxLength = maxLength
        options.validationSplit = validationSplit
        options.seed = seed
        options.policy = wholeWord ? .wholeWordCollator(probability: probability) : .languageModeling(probability: probability)
        options.maxSequences = maxSequences
        let bar = ProgressBar(unit: "steps")
        let result = try MaskedLMPretrainer.train(directory: model.url, texts: lines.map(\.text), options: options,
                                                  kernel: kernel.kernel) { p in
            bar.label = String(format: "epoch %d  loss %.4f  %.0f tokens/s ", p.epoch, p.loss, p.tokensPerSecond)
            bar.update(p.step, p.totalSteps)
        }
        bar.finish()
        try MaskedLMFolder.write(URL(fileURLWithPath: out), model: result.model, source: model.url)
        if json {
            JSONLines.write(Summary(out: out, corpus: corpus, trainSequences: result.trainSequences,
                                    validationSequences: result.validationSequences, trainTokens: result.trainTokens,
                                    initial: result.initial, epochs: result.epochs))
        } else {
            var text = "corpus      \(corpus): \(lines.count) lines, \(result.trainSequences + result.validationSequences) sequences of up to \(maxLength) tokens\n"
            text += "split       \(result.trainSequences) train (\(result.trainTokens) tokens) / \(result.validationSequences) held out (seed \(seed))\n"
            if let v = result.initial {
                text += String(format: "before      held-out MLM loss %.4f   perplexity %.2f   (%d masked tokens)\n", v.loss, v.perplexity, v.maskedTokens)
            }
            for e in result.epochs {
                text += String(format: "epoch %-5d train loss %.4f", e.epoch, e.trainLoss)
                if let v = e.validation { text += String(format: "   held-out MLM loss %.4f   perplexity %.2f", v.loss, v.perplexity) }
                text += String(format: "   %.1f s, %.0f tokens/s\n", e.seconds, e.tokensPerSecond)
            }
            text += "model       \(out) (BertForMaskedLM)\n"
            Output.write(text)
        }
        try report.finish()
    }
}

extension PretrainCommand {
    /// The `--json` summary.
    struct Summary: Encodable {
        var out: String
        var corpus: String
        var trainSequences: Int
        var validationSequences: Int
        var trainTokens: Int
        var initial: MaskedLMPretrainer.Evaluation?
        var epochs: [MaskedLMPretrainer.Epoch]

        enum CodingKeys: String, CodingKey {
            case out, corpus, initial, epochs
            case trainSequences = "train_sequences", validationSequences = "validation_sequences", trainTokens = "train_tokens"
        }
    }
}
