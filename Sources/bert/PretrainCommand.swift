import ArgumentParser
import BertBLAS
import Foundation

/// `bert pretrain`: continued masked-LM pre-training of a checkpoint of any family on a text
/// corpus (and next-sentence prediction for a BERT checkpoint with an NSP head), writing a
/// HuggingFace `<Family>ForMaskedLM` (`BertForPreTraining`) folder.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Continue masked-LM (and next-sentence) pre-training of a checkpoint on a text corpus (AdamW, held-out MLM loss and perplexity).",
        discussion: """
            --model must have its family's masked-LM head: BertForMaskedLM or BertForPreTraining \
            (cls.predictions), DistilBertForMaskedLM (vocab_transform, vocab_projector), \
            RobertaForMaskedLM or XLMRobertaForMaskedLM (lm_head), ElectraForMaskedLM (the \
            generator: generator_predictions, generator_lm_head); its decoder stays tied to the \
            word embeddings. Every line of --corpus is tokenized without special tokens; the \
            tokens of all lines are concatenated and cut into sequences of --max-length tokens \
            ([CLS] and [SEP], or <s> and </s>, included), as \
            transformers' run_mlm.py groups texts. A seeded --validation-split of the sequences is \
            held out and masked once, so every evaluation scores the same predictions; the \
            held-out MLM loss and perplexity are reported before training and after each epoch. \
            Training sequences are shuffled and masked afresh every epoch: --probability of the \
            tokens (or, with --whole-word, of whole words: a token and its ## pieces, or with \
            byte-level BPE and SentencePiece the tokens after one that starts a word) is \
            selected, 80% become [MASK], 10% a \
            random id, 10% stay (DataCollatorForLanguageModeling); the loss is the cross-entropy \
            over the vocabulary at the selected positions. AdamW (no weight decay on biases and \
            LayerNorm), linear warm-up over the first 6% of steps then linear decay, gradient \
            clipping at norm 1. Batches are packed without padding. Dropout is on while \
            training, as transformers' Trainer trains, at the encoder rates of the checkpoint's \
            config.json (hidden_dropout_prob and attention_probs_dropout_prob, DistilBERT's \
            dropout and attention_dropout; the masked-LM head has none; seeded by --seed); \
            --no-dropout turns it off. The held-out evaluation never drops.

            Next-sentence pairs: when --model also has a next-sentence head \
            (cls.seq_relationship: BertForPreTraining, BERT only), it is trained too, unless --mlm-only. \
            --corpus is then read as google-research/bert's create_pretraining_data.py reads it: \
            one sentence per line, a blank line between documents. A seeded --validation-split of \
            the documents is held out (at least 2); [CLS] A [SEP] B [SEP] pairs of up to \
            --max-length tokens are made as create_pretraining_data.py does (B the text that \
            follows, IsNext, or from another document, NotNext, half each; short_seq_prob 0.1; \
            the longer side truncated from either end) and masked as above: the held-out pairs \
            once, the training pairs afresh every epoch. The loss is MLM + NSP (BertForPreTraining); \
            the held-out MLM loss and the next-sentence loss and accuracy are reported.

            --out becomes a HuggingFace folder (<Family>ForMaskedLM: config.json, model.safetensors \
            without the tied decoder, tokenizer files) for 'bert fill-mask', 'bert mlm-score' and \
            transformers' AutoModelForMaskedLM; trained with next-sentence pairs, a \
            BertForPreTraining folder (pooler and cls.seq_relationship kept) that 'bert nsp' reads too.
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

    @Flag(name: .long, help: "Whole-word masking: select words (a token and its ## pieces; with byte-level BPE or SentencePiece, a token marked as starting a word and the ones after it), as DataCollatorForWholeWordMask. Default: off.")
    var wholeWord = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Use only the first n sequences of the corpus (a subset; with next-sentence pairs, the first n training pairs of each epoch). Default: all.", valueName: "n"))
    var maxSequences: Int?

    @Flag(name: .long, help: "Train the masked LM only, even when --model has a next-sentence head (the output is then a BertForMaskedLM). Default: off.")
    var mlmOnly = false

    @Flag(name: .long, help: "Train without dropout (deterministic; transformers' Trainer trains with the config's dropout). Default: off (dropout on).")
    var noDropout = false

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
            try report.abort("\(error)")
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
        options.nextSentence = mlmOnly ? false : nil
        options.dropout = !noDropout
        let bar = ProgressBar(unit: "steps")
        let result = try MaskedLMPretrainer.train(directory: model.url, texts: lines.map(\.text), options: options,
                                                  kernel: kernel.kernel) { p in
            let next = p.nextSentenceLoss.map { String(format: "  NSP %.4f", $0) } ?? ""
            bar.label = String(format: "epoch %d  loss %.4f", p.epoch, p.loss) + next + String(format: "  %.0f tokens/s ", p.tokensPerSecond)
            bar.update(p.step, p.totalSteps)
        }
        bar.finish()
        try MaskedLMFolder.write(URL(fileURLWithPath: out), model: result.model, source: model.url)
        if json {
            JSONLines.write(Summary(out: out, corpus: corpus, trainSequences: result.trainSequences,
                                    validationSequences: result.validationSequences, trainTokens: result.trainTokens,
                                    nextSentence: result.nextSentence, trainDocuments: result.trainDocuments,
                                    validationDocuments: result.validationDocuments,
                                    dropout: FinetuneCommand.Rates(result.model.dropout),
                                    initial: result.initial, epochs: result.epochs))
        } else {
            var text: String
            if let trainDocuments = result.trainDocuments, let validationDocuments = result.validationDocuments {
                text = "corpus      \(corpus): \(lines.count) lines, \(trainDocuments + validationDocuments) documents; next-sentence pairs of up to \(maxLength) tokens\n"
                text += "split       \(trainDocuments) documents train (\(result.trainSequences) pairs, \(result.trainTokens) tokens in epoch 1) / \(validationDocuments) held out (\(result.validationSequences) pairs; seed \(seed))\n"
            } else {
                text = "corpus      \(corpus): \(lines.count) lines, \(result.trainSequences + result.validationSequences) sequences of up to \(maxLength) tokens\n"
                text += "split       \(result.trainSequences) train (\(result.trainTokens) tokens) / \(result.validationSequences) held out (seed \(seed))\n"
            }
            text += FinetuneCommand.dropoutLine(result.model.dropout)
            func nextSentence(_ v: MaskedLMPretrainer.Evaluation) -> String {
                guard let loss = v.nextSentenceLoss, let accuracy = v.nextSentenceAccuracy else { return "" }
                return String(format: "   NSP loss %.4f   accuracy %.2f%%", loss, 100 * accuracy)
            }
            if let v = result.initial {
                text += String(format: "before      held-out MLM loss %.4f   perplexity %.2f   (%d masked tokens)", v.loss, v.perplexity, v.maskedTokens)
                text += nextSentence(v) + "\n"
            }
            for e in result.epochs {
                text += String(format: "epoch %-5d train loss %.4f", e.epoch, e.trainLoss)
                if let n = e.trainNextSentenceLoss { text += String(format: " (NSP %.4f)", n) }
                if let v = e.validation {
                    text += String(format: "   held-out MLM loss %.4f   perplexity %.2f", v.loss, v.perplexity) + nextSentence(v)
                }
                text += String(format: "   %.1f s, %.0f tokens/s\n", e.seconds, e.tokensPerSecond)
            }
            text += "model       \(out) (\(result.nextSentence ? "BertForPreTraining" : result.model.config.className(.maskedLM)))\n"
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
        var nextSentence: Bool
        var trainDocuments: Int?
        var validationDocuments: Int?
        /// The dropout rates trained with (absent when off).
        var dropout: FinetuneCommand.Rates?
        var initial: MaskedLMPretrainer.Evaluation?
        var epochs: [MaskedLMPretrainer.Epoch]

        enum CodingKeys: String, CodingKey {
            case out, corpus, initial, epochs, dropout
            case trainSequences = "train_sequences", validationSequences = "validation_sequences", trainTokens = "train_tokens"
            case nextSentence = "next_sentence", trainDocuments = "train_documents", validationDocuments = "validation_documents"
        }
    }
}
