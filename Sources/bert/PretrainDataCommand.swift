import ArgumentParser
import BertBLAS
import Foundation

/// `bert pretrain-data`: masked-LM + next-sentence-prediction examples from a corpus.
struct PretrainData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-data",
        abstract: "Turn a corpus into BERT pre-training examples (masked LM + next sentence), one JSON object per line.",
        discussion: """
            The corpus format is google-research/bert's create_pretraining_data.py: one sentence \
            per line, a blank line between documents (each CORPUS file also ends a document). \
            Each output line is {"input_ids":[...],"token_type_ids":[...],"attention_mask":[...],\
            "labels":[...],"next_sentence_label":0|1} for [CLS] A [SEP] B [SEP]: labels hold the \
            original id at masked positions and -100 elsewhere; next_sentence_label is 0 when B \
            really follows A in the same document (IsNext) and 1 when B comes from another \
            document (NotNext). Examples are shuffled; the same --seed and corpus give \
            byte-identical output. The corpus needs at least two documents. When stderr is a \
            terminal and the work takes more than a second, a progress bar with rate and ETA is \
            shown on it (see --no-progress).
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Longest example, [CLS] and both [SEP] included (at least 5).", valueName: "n"))
    var maxSeqLength = 128

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Random seed (the default is google-research's).", valueName: "n"))
    var seed: UInt64 = 12345

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Passes over the corpus, each with new random choices.", valueName: "n"))
    var dupeFactor = 10

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Probability of a shorter random target length for a document.", valueName: "p"))
    var shortSeqProb = 0.1

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Share of tokens to mask.", valueName: "p"))
    var maskedLMProb = 0.15

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Most masked positions per example.", valueName: "n"))
    var maxPredictionsPerSeq = 20

    @Flag(name: .long, help: "Mask whole words (a token and its ## pieces together). Default: off.")
    var wholeWord = false

    @Flag(name: .long, help: "google-research's NSP label rule: a one-sentence chunk is always NotNext, which skews labels towards NotNext. Default: off (labels are 50/50).")
    var googleLabelRule = false

    @Flag(name: .long, help: "Pad every example to --max-seq-length with [PAD] (attention_mask 0, labels -100). Default: off.")
    var pad = false

    @Flag(name: .long, help: "Never show the progress bar. Default: off.")
    var noProgress = false

    @Argument(help: ArgumentHelp("Corpus files. None or '-' reads standard input.", valueName: "corpus"))
    var corpus: [String] = []

    func validate() throws {
        if maxSeqLength < 5 { throw ValidationError("--max-seq-length must be at least 5, got \(maxSeqLength)") }
        if dupeFactor < 1 { throw ValidationError("--dupe-factor must be at least 1, got \(dupeFactor)") }
        if !(0 ... 1).contains(shortSeqProb) { throw ValidationError("--short-seq-prob must be in [0, 1], got \(shortSeqProb)") }
        if !(0 ... 1).contains(maskedLMProb) { throw ValidationError("--masked-lm-prob must be in [0, 1], got \(maskedLMProb)") }
        if maxPredictionsPerSeq < 1 { throw ValidationError("--max-predictions-per-seq must be at least 1, got \(maxPredictionsPerSeq)") }
    }

    func run() throws {
        let report = Report()
        let tokenizer: BertTokenizer
        let builder: NSPExampleBuilder
        do {
            tokenizer = try BertTokenizer(directory: modelOptions.url)
            let options = NSPOptions(
                maxSeqLength: maxSeqLength, shortSeqProbability: shortSeqProb, dupeFactor: dupeFactor,
                masking: .createPretrainingData(probability: maskedLMProb, maxPredictions: maxPredictionsPerSeq,
                                                wholeWord: wholeWord),
                balancedLabels: !googleLabelRule)
            builder = try NSPExampleBuilder(options: options, vocabulary: MaskingVocabulary(tokenizer: tokenizer),
                                            clsId: tokenizer.specialTokens.cls, sepId: tokenizer.specialTokens.sep)
        } catch {
            try report.abort("\(error)")
        }
        // Sequences longer than the model's positions could not be scored or trained on.
        if let config = try? BertConfig.load(modelOptions.url.appendingPathComponent("config.json")),
           maxSeqLength > config.maxSequenceLength {
            report.warn("--max-seq-length \(maxSeqLength) exceeds the model's \(config.maxSequenceLength) positions (max_position_embeddings): longer examples cannot go through this model")
        }

        // Every file ends a document: a blank line goes between files.
        var lines: [String] = []
        for path in corpus.isEmpty ? ["-"] : corpus {
            do {
                for line in try TextLines.read(path: path) {
                    if line.repairedUTF8 { report.warn("\(line.source):\(line.number): invalid UTF-8 replaced with U+FFFD") }
                    lines.append(line.text)
                }
                lines.append("")
            } catch {
                report.fail("\(error)")
            }
        }
        let showProgress = !noProgress && Terminal.stderrIsTTY
        let tokenizing = ProgressBar(label: "tokenizing", unit: "lines", enabled: showProgress)
        let parsed = PretrainingCorpus.parse(lines: lines, tokenize: {
            tokenizer.encode($0, addSpecialTokens: false).ids
        }, progress: tokenizing.update)
        tokenizing.finish()

        var rng = SeededRandom(seed: seed)
        let building = ProgressBar(label: "building", unit: "documents", enabled: showProgress)
        let examples: [PretrainingExample]
        do {
            examples = try builder.examples(from: parsed, using: &rng, progress: building.update)
            building.finish()
        } catch {
            building.finish()
            report.fail("\((corpus.isEmpty ? ["-"] : corpus).joined(separator: ", ")): \(error)")
            try report.finish()
            return
        }
        var out = JSONLines.Buffer()
        let padId = tokenizer.specialTokens.pad
        for e in examples {
            let padding = pad ? max(0, maxSeqLength - e.inputIds.count) : 0
            let ids: [Int32] = e.inputIds + [Int32](repeating: padId, count: padding)
            let types: [Int32] = e.tokenTypeIds + [Int32](repeating: 0, count: padding)
            let mask: [Int32] = [Int32](repeating: 1, count: e.inputIds.count) + [Int32](repeating: 0, count: padding)
            let labels: [Int32] = e.labels + [Int32](repeating: MLMMasker.ignoreLabel, count: padding)
            out.append(Record(inputIds: ids, tokenTypeIds: types, attentionMask: mask, labels: labels,
                              nextSentenceLabel: e.nextSentenceLabel))
        }
        out.flush()
        try report.finish()
    }
}

extension PretrainData {
    /// One pre-training example, with the field names of HF's `BertForPreTraining` inputs.
    struct Record: Encodable {
        var inputIds: [Int32]
        var tokenTypeIds: [Int32]
        var attentionMask: [Int32]
        var labels: [Int32]
        var nextSentenceLabel: Int32

        enum CodingKeys: String, CodingKey {
            case labels
            case inputIds = "input_ids"
            case tokenTypeIds = "token_type_ids"
            case attentionMask = "attention_mask"
            case nextSentenceLabel = "next_sentence_label"
        }
    }
}
