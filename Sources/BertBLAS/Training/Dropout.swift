import Foundation

/// Seeded dropout of a training step: BERT's `hidden_dropout_prob` (embeddings output,
/// attention output, feed-forward output), `attention_probs_dropout_prob` (attention
/// probabilities) and `classifier_dropout` (the classifier's input).
///
/// In train mode a unit is kept with probability 1 − p and scaled by 1/(1 − p), as
/// `torch.nn.Dropout`; evaluation and inference never drop. Masks are drawn from a counter-based
/// generator (SplitMix64's output function over seed, step, site and element index), so a mask
/// depends on the seed and the step only, never on the number of threads, and two runs with the
/// same seed drop the same units. The masks are kept in the `TrainingWorkspace` for the backward.
/// Reference: transformers `BertEmbeddings` / `BertSelfAttention` / `BertSelfOutput` /
/// `BertOutput` / `BertForSequenceClassification` (v4.57.1).
public struct Dropout: Sendable, Equatable {
    /// Probability of dropping a unit of the embeddings', attention's and feed-forward's outputs.
    public var hidden: Float
    /// Probability of dropping an attention probability.
    public var attention: Float
    /// Probability of dropping a unit of the head's input (the sequence head's pooler output,
    /// the token and question-answering heads' encoder output).
    public var classifier: Float
    /// Seeds every mask.
    public var seed: UInt64

    /// No dropout (evaluation, and the parity tests).
    public static let off = Dropout(checked: (0, 0, 0), seed: 0)

    /// - Throws: `BertError.invalidInput` naming the probability outside [0, 1).
    public init(hidden: Float, attention: Float, classifier: Float, seed: UInt64) throws {
        for (name, p) in [("hidden", hidden), ("attention", attention), ("classifier", classifier)] {
            guard p >= 0, p < 1 else { throw BertError(.invalidInput, "dropout probability \(name) must be in [0, 1), got \(p)") }
        }
        self.init(checked: (hidden, attention, classifier), seed: seed)
    }

    private init(checked p: (hidden: Float, attention: Float, classifier: Float), seed: UInt64) {
        hidden = p.hidden
        attention = p.attention
        classifier = p.classifier
        self.seed = seed
    }

    /// The probabilities a checkpoint's `config.json` trains `task`'s head with:
    /// `hidden_dropout_prob`, `attention_probs_dropout_prob` (transformers' defaults 0.1 when
    /// absent), and for `classifier` the dropout of the head's input, which depends on the task:
    ///
    /// | task | bert, roberta, electra | distilbert |
    /// |---|---|---|
    /// | sequence classification | `classifier_dropout` (`hidden_dropout_prob` when absent or null) | `seq_classif_dropout` (0.2) |
    /// | token classification | `classifier_dropout` (as above) | `dropout` (0.1) |
    /// | question answering | 0 (`qa_outputs` reads the encoder output as it is) | `qa_dropout` (0.1) |
    /// | masked LM, next sentence | 0 | 0 |
    ///
    /// DistilBERT's `hidden` and `attention` are its `dropout` and `attention_dropout` (0.1, 0.1).
    /// Reference: transformers v4.57.1 `modeling_distilbert.py` (`DistilBertForSequenceClassification`,
    /// `…ForTokenClassification`, `…ForQuestionAnswering`) and `BertForTokenClassification`,
    /// `BertForQuestionAnswering`.
    ///
    /// - Parameter task: the head being trained (default sequence classification).
    /// - Throws: `BertError.io` / `.config` naming the file when it cannot be read or parsed,
    ///   `.invalidInput` for a probability outside [0, 1).
    public init(directory: URL, seed: UInt64, task: HeadTask = .sequenceClassification) throws {
        let url = directory.appendingPathComponent("config.json")
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BertError(.io, "\(url.path): cannot read: \(error.localizedDescription)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BertError(.config, "\(url.path): not a JSON object")
        }
        func probability(_ key: String) -> Float? { (object[key] as? NSNumber).map { $0.floatValue } }
        let hidden: Float, attention: Float, classifier: Float
        if object["model_type"] as? String == ModelFamily.distilbert.rawValue {
            hidden = probability("dropout") ?? 0.1
            attention = probability("attention_dropout") ?? 0.1
            switch task {
            case .sequenceClassification: classifier = probability("seq_classif_dropout") ?? 0.2
            case .tokenClassification: classifier = hidden
            case .questionAnswering: classifier = probability("qa_dropout") ?? 0.1
            case .maskedLM, .nextSentencePrediction: classifier = 0
            }
        } else {
            hidden = probability("hidden_dropout_prob") ?? 0.1
            attention = probability("attention_probs_dropout_prob") ?? 0.1
            switch task {
            case .sequenceClassification, .tokenClassification: classifier = probability("classifier_dropout") ?? hidden
            case .questionAnswering, .maskedLM, .nextSentencePrediction: classifier = 0
            }
        }
        try self.init(hidden: hidden, attention: attention, classifier: classifier, seed: seed)
    }

    /// Where a mask is drawn: one key per (step, site), sites numbered by the caller.
    func key(step: UInt64, site: UInt64) -> UInt64 {
        Self.mix(seed &+ Self.mix(step &+ 0x51_7CC1_B727_220A) &+ site &* 0xD1B5_4A32_D192_ED03)
    }

    /// SplitMix64's output function.
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Writes `count` mask values at element indices `first ..< first + count` of the mask drawn
    /// with `key`: 0 with probability `p`, else 1/(1 − p) (24-bit uniforms).
    static func fill(_ mask: UnsafeMutablePointer<Float>, count: Int, first: Int, probability p: Float, key: UInt64) {
        let threshold = UInt64((Double(p) * 16_777_216).rounded())
        let scale = 1 / (1 - p)
        for i in 0..<count {
            let u = mix(key ^ (UInt64(first + i) &* 0x9E37_79B9_7F4A_7C15)) >> 40
            mask[i] = u < threshold ? 0 : scale
        }
    }

    /// The draw of a training step, and the step counter moved on; nil (counter unchanged) when
    /// dropout is off.
    func nextDraw(_ step: inout UInt64) -> (Dropout, step: UInt64)? {
        guard self != .off else { return nil }
        defer { step += 1 }
        return (self, step)
    }

    /// A head's input in a forward: with a step's draw (train mode) whose `classifier`
    /// probability is positive, `x` `[rows, width]` dropped at `site` as
    /// `draw(_:rows:width:probability:key:copying:into:)` does; else `x` itself.
    ///
    /// - Returns: the input the head's next layer reads, and whether it was dropped (then the
    ///   backward multiplies the input's gradient by `mask`).
    static func headInput(_ draw: (Dropout, step: UInt64)?, site: UInt64, _ x: UnsafePointer<Float>, rows: Int, width: Int,
                          mask: UnsafeMutablePointer<Float>, into dropped: UnsafeMutablePointer<Float>)
        -> (input: UnsafePointer<Float>, dropped: Bool) {
        guard let (settings, step) = draw, settings.classifier > 0 else { return (x, false) }
        return (Self.draw(mask, rows: rows, width: width, probability: settings.classifier, key: settings.key(step: step, site: site),
                          copying: x, into: dropped), true)
    }

    /// A head's input under dropout: `x` `[rows, width]` copied into `dropped`, a fresh mask drawn
    /// into `mask` and applied there; `x` is left as it is.
    ///
    /// - Returns: `dropped`, the input the head's next layer reads.
    static func draw(_ mask: UnsafeMutablePointer<Float>, rows: Int, width: Int, probability p: Float, key: UInt64,
                     copying x: UnsafePointer<Float>, into dropped: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        dropped.update(from: x, count: rows * width)
        draw(mask, rows: rows, width: width, probability: p, key: key, applyTo: dropped)
        return UnsafePointer(dropped)
    }

    /// `fill` over a whole `[rows, width]` mask on the compute threads, then `x *= mask` when
    /// `x` is given.
    static func draw(_ mask: UnsafeMutablePointer<Float>, rows: Int, width: Int, probability p: Float, key: UInt64,
                     applyTo x: UnsafeMutablePointer<Float>?) {
        RowGradients.rowPanels(rows: rows, width: width) { r0, count in
            fill(mask + r0 * width, count: count * width, first: r0 * width, probability: p, key: key)
            if let x { RowGradients.multiply(x + r0 * width, by: mask + r0 * width, count: count * width) }
        }
    }
}
