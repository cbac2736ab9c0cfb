import ArgumentParser
import BertBLAS
import Foundation

/// `bert mask`: masked-LM inputs and labels for each input line.
struct Mask: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mask",
        abstract: "Mask each input line for masked-LM training, as HF DataCollatorForLanguageModeling; one JSON object per line.",
        discussion: """
            Each line is tokenized with [CLS]/[SEP] and printed as {"input_ids":[...],"labels":[...]}. \
            Without --whole-word, every token except [CLS], [SEP] and [PAD] is selected with \
            probability --probability (DataCollatorForLanguageModeling). With --whole-word, words \
            (a token and its ## pieces) are shuffled and taken until min(512, max(1, \
            round(len × p))) tokens are selected (DataCollatorForWholeWordMask). Selected tokens \
            become [MASK] (--mask-fraction), a random id from the whole vocabulary \
            (--random-fraction) or stay unchanged (the rest); labels hold the original id there \
            and -100 elsewhere. One generator seeded by --seed runs over all lines in order, so \
            the same seed and input give byte-identical output. An empty line gives [CLS] [SEP] \
            with no label. Lines longer than --max-length are truncated.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Share of tokens to select (mlm_probability), in [0, 1].", valueName: "p"))
    var probability = 0.15

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Share of selected tokens set to [MASK].", valueName: "p"))
    var maskFraction = 0.8

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Share of selected tokens set to a random id.", valueName: "p"))
    var randomFraction = 0.1

    @Flag(name: .long, help: "Whole-word masking (DataCollatorForWholeWordMask). Default: off.")
    var wholeWord = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Random seed.", valueName: "n"))
    var seed: UInt64 = 12345

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Truncate each line to this many tokens, [CLS]/[SEP] included. Default: the tokenizer's model_max_length.", valueName: "n"))
    var maxLength: Int?

    @OptionGroup var input: InputFiles

    func validate() throws {
        for (name, value) in [("--probability", probability), ("--mask-fraction", maskFraction),
                              ("--random-fraction", randomFraction)] where !(0 ... 1).contains(value) {
            throw ValidationError("\(name) must be in [0, 1], got \(value)")
        }
        if maskFraction + randomFraction > 1 {
            throw ValidationError("--mask-fraction + --random-fraction must not exceed 1, got \(maskFraction + randomFraction)")
        }
        if let maxLength, maxLength < 2 { throw ValidationError("--max-length must be at least 2, got \(maxLength)") }
    }

    func run() throws {
        let report = Report()
        let tokenizer: BertTokenizer
        let masker: MLMMasker
        do {
            tokenizer = try BertTokenizer(directory: modelOptions.url)
            var policy = wholeWord ? MaskingPolicy.wholeWordCollator(probability: probability)
                : .languageModeling(probability: probability)
            policy.maskFraction = maskFraction
            policy.randomFraction = randomFraction
            masker = try MLMMasker(policy: policy, vocabulary: MaskingVocabulary(tokenizer: tokenizer))
        } catch {
            try report.abort("\(error)")
        }
        let limit = maxLength ?? tokenizer.modelMaxLength
        let truncation = limit < Int.max ? Truncation(maxLength: limit) : nil
        var rng = SeededRandom(seed: seed)
        var out = JSONLines.Buffer()
        input.forEachLine(report) { line in
            let encoding = tokenizer.encode(line.text, truncation: truncation)
            do {
                let masked = try masker.mask(encoding.ids, specialTokensMask: encoding.specialTokensMask, using: &rng)
                out.append(Record(inputIds: masked.inputIds, labels: masked.labels))
            } catch {
                out.flush()
                report.fail("\(line.source):\(line.number): \(error)")
                JSONLines.write(JSONLines.error("\(error)", line: line))
            }
        }
        out.flush()
        try report.finish()
    }
}

extension Mask {
    /// One masked example: `{"input_ids", "labels"}` (-100 where nothing is predicted).
    struct Record: Encodable {
        var inputIds: [Int32]
        var labels: [Int32]

        enum CodingKeys: String, CodingKey {
            case labels
            case inputIds = "input_ids"
        }
    }
}
