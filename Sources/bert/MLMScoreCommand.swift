import ArgumentParser
import BertBLAS
import Foundation

/// `bert mlm-score`: masked-LM loss/accuracy (and NSP accuracy) of pre-training examples.
struct MLMScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlm-score",
        abstract: "Score masked-LM (and next-sentence) examples with a BertForMaskedLM or BertForPreTraining checkpoint.",
        discussion: """
            Input: one JSON object per line, as `bert pretrain-data` or `bert mask` print them: \
            "input_ids" and "labels" (-100 where not predicted), optionally "token_type_ids" \
            (default all 0), "attention_mask" (ones then zeros: right padding is dropped) and \
            "next_sentence_label" (0 IsNext, 1 NotNext). Output, last line: {"examples":N,\
            "masked_tokens":M,"mlm_loss":L,"mlm_accuracy":A} where mlm_loss is the mean \
            cross-entropy (natural log) over all labelled positions, as HF's masked_lm_loss, and \
            mlm_accuracy the share whose top logit is the label; with an NSP head \
            (cls.seq_relationship) and labels, also "nsp_examples", "nsp_loss" and \
            "nsp_accuracy". A bad line gives an {"error":...} record in its place and the exit \
            status is non-zero at the end.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var kernel: KernelOptions

    @Flag(name: .long, help: "Also print one record per example, in input order. Default: off.")
    var perExample = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Examples per forward pass.", valueName: "n"))
    var batchSize = 16

    @OptionGroup var input: InputFiles

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        let report = Report()
        let scorer: PretrainingScorer
        do {
            scorer = try PretrainingScorer(directory: modelOptions.url, kernel: kernel.kernel)
        } catch {
            try report.abort("\(error)")
        }
        var summary = ScoreSummary()
        var pending: [(TextLine, ScoringExample)] = []
        var sawNSPLabel = false
        let progress = ProgressBar(label: "scoring", unit: "examples")
        func flush() throws {
            guard !pending.isEmpty else { return }
            let scores = try scorer.score(pending.map(\.1), batchSize: batchSize)
            for (score, item) in zip(scores, pending) {
                summary.add(score)
                if perExample { JSONLines.write(ExampleRecord(score, label: item.1.nextSentenceLabel)) }
            }
            progress.update(summary.examples)
            pending.removeAll(keepingCapacity: true)
        }
        try input.forEachLine(report) { line in
            if line.text.allSatisfy({ $0 == " " || $0 == "\t" }) { return }
            do {
                let example = try Self.parse(line.text)
                try scorer.validate(example)
                if example.nextSentenceLabel != nil { sawNSPLabel = true }
                pending.append((line, example))
                if pending.count >= 256 { try flush() }
            } catch {
                // Keep the output in input order: score what came before, then the error record.
                try flush()
                report.fail("\(line.source):\(line.number): \(error)")
                JSONLines.write(JSONLines.error("\(error)", line: line))
            }
        }
        try flush()
        progress.finish()
        if sawNSPLabel && !scorer.hasNextSentenceHead {
            report.warn("the checkpoint has no next-sentence head (cls.seq_relationship): NSP is not scored")
        }
        JSONLines.write(SummaryRecord(summary))
        try report.finish()
    }

    /// Parses one input record.
    static func parse(_ text: String) throws -> ScoringExample {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            throw ValidationError("not a JSON object")
        }
        guard let record = object as? [String: Any] else { throw ValidationError("not a JSON object") }
        func ints(_ key: String) throws -> [Int32]? {
            guard let value = record[key] else { return nil }
            guard let array = value as? [Any] else { throw ValidationError("\"\(key)\" is not an array of integers") }
            return try array.map { element in
                guard let number = element as? NSNumber, let int = Int32(exactly: number.doubleValue) else {
                    throw ValidationError("\"\(key)\" is not an array of integers")
                }
                return int
            }
        }
        guard var ids = try ints("input_ids") else { throw ValidationError("missing \"input_ids\"") }
        guard var labels = try ints("labels") else { throw ValidationError("missing \"labels\"") }
        var types = try ints("token_type_ids")
        if let mask = try ints("attention_mask") {
            let length = mask.prefix { $0 == 1 }.count
            guard mask.count == ids.count, mask[length...].allSatisfy({ $0 == 0 }) else {
                throw ValidationError("\"attention_mask\" must be ones then zeros (right padding), as long as input_ids")
            }
            ids = Array(ids.prefix(length))
            labels = Array(labels.prefix(length))
            types = types.map { Array($0.prefix(length)) }
        }
        var nsp: Int32?
        if let value = record["next_sentence_label"] {
            guard let number = value as? NSNumber, let label = Int32(exactly: number.doubleValue) else {
                throw ValidationError("\"next_sentence_label\" is not an integer")
            }
            nsp = label
        }
        return ScoringExample(inputIds: ids, tokenTypeIds: types, labels: labels, nextSentenceLabel: nsp)
    }

    /// One example's scores (`--per-example`); `mlm_loss` is null when nothing was masked.
    struct ExampleRecord: Encodable {
        var score: ExampleScore
        var label: Int32?

        init(_ score: ExampleScore, label: Int32?) {
            self.score = score
            self.label = label
        }

        enum CodingKeys: String, CodingKey {
            case maskedTokens = "masked_tokens", mlmLoss = "mlm_loss", mlmCorrect = "mlm_correct"
            case isNextProbability = "is_next_probability", nextSentenceLabel = "next_sentence_label"
            case nspCorrect = "nsp_correct"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(score.maskedTokens, forKey: .maskedTokens)
            try c.encode(finite(score.maskedTokens > 0 ? score.mlmLossSum / Double(score.maskedTokens) : nil), forKey: .mlmLoss)
            try c.encode(score.mlmCorrect, forKey: .mlmCorrect)
            try c.encodeIfPresent(finite(score.isNextProbability), forKey: .isNextProbability)
            if let label, let correct = score.nspCorrect {
                try c.encode(label, forKey: .nextSentenceLabel)
                try c.encode(correct, forKey: .nspCorrect)
            }
        }
    }

    /// The totals, last line: NSP fields only when some example had an NSP score.
    struct SummaryRecord: Encodable {
        var summary: ScoreSummary

        init(_ summary: ScoreSummary) { self.summary = summary }

        enum CodingKeys: String, CodingKey {
            case examples, maskedTokens = "masked_tokens", mlmLoss = "mlm_loss", mlmAccuracy = "mlm_accuracy"
            case nspExamples = "nsp_examples", nspLoss = "nsp_loss", nspAccuracy = "nsp_accuracy"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(summary.examples, forKey: .examples)
            try c.encode(summary.maskedTokens, forKey: .maskedTokens)
            try c.encode(finite(summary.mlmLoss), forKey: .mlmLoss)
            try c.encode(finite(summary.mlmAccuracy), forKey: .mlmAccuracy)
            if summary.nspExamples > 0 {
                try c.encode(summary.nspExamples, forKey: .nspExamples)
                try c.encode(finite(summary.nspLoss), forKey: .nspLoss)
                try c.encode(finite(summary.nspAccuracy), forKey: .nspAccuracy)
            }
        }
    }
}

/// A value JSON can hold: nil for a missing or non-finite number (written as null).
private func finite(_ value: Double?) -> Double? {
    value.flatMap { $0.isFinite ? $0 : nil }
}
