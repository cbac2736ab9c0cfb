/// How a masked-LM pass chooses positions: independently per token, or a fixed budget.
public enum MaskSelection: Sendable, Equatable {
    /// Each candidate (or each candidate word, with whole-word masking) is selected independently
    /// with the policy's probability, as HF `DataCollatorForLanguageModeling.torch_mask_tokens`
    /// does with `torch.bernoulli`.
    case perToken
    /// Candidates (single tokens, or whole words) are shuffled and taken in order until
    /// `min(maxPredictions, max(1, round(len × probability)))` tokens are selected; a word that
    /// would overshoot the budget is skipped. `len` counts every non-padding position, special
    /// tokens included, and `round` is half-to-even as in Python. This is google-research/bert
    /// `create_masked_lm_predictions` and HF `DataCollatorForWholeWordMask._whole_word_mask`
    /// (which uses `maxPredictions` 512).
    case budget(maxPredictions: Int)
}

/// What a masked-LM pass does: how many positions it selects and what it puts there.
///
/// The defaults are BERT's: 15% of the tokens are selected; of those 80% become `[MASK]`, 10% a
/// random id drawn uniformly from the whole vocabulary, and 10% stay unchanged. Labels are the
/// original id at selected positions and -100 elsewhere.
///
/// Reference: transformers v4.57.1 `src/transformers/data/data_collator.py`
/// (`DataCollatorForLanguageModeling`, `DataCollatorForWholeWordMask`) and google-research/bert
/// `create_pretraining_data.py` at eedf571.
public struct MaskingPolicy: Sendable, Equatable {
    /// The probability a candidate is selected (`mlm_probability` / `masked_lm_prob`), in [0, 1].
    /// Default 0.15.
    public var probability: Double
    /// The fraction of selected positions replaced by `[MASK]` (`mask_replace_prob`). Default 0.8.
    public var maskFraction: Double
    /// The fraction of selected positions replaced by a random vocabulary id
    /// (`random_replace_prob`). Default 0.1. The rest, `1 - maskFraction - randomFraction`, keep
    /// their original id (but are still predicted).
    public var randomFraction: Double
    /// When true a word (a token plus the `##` continuation pieces right after it) is selected or
    /// left as a unit. Default false.
    public var wholeWord: Bool
    /// Per-token selection or a fixed budget. Default `.perToken`.
    public var selection: MaskSelection

    /// Creates a policy; `MLMMasker.init` validates it.
    ///
    /// - Parameters:
    ///   - probability: selection probability, default 0.15.
    ///   - maskFraction: share of selected positions set to `[MASK]`, default 0.8.
    ///   - randomFraction: share set to a random id, default 0.1.
    ///   - wholeWord: mask whole words, default false.
    ///   - selection: `.perToken` (default) or `.budget(maxPredictions:)`.
    public init(probability: Double = 0.15, maskFraction: Double = 0.8, randomFraction: Double = 0.1,
                wholeWord: Bool = false, selection: MaskSelection = .perToken) {
        self.probability = probability
        self.maskFraction = maskFraction
        self.randomFraction = randomFraction
        self.wholeWord = wholeWord
        self.selection = selection
    }

    /// HF `DataCollatorForLanguageModeling` (per-token Bernoulli selection, 80/10/10).
    ///
    /// - Parameter probability: `mlm_probability`, default 0.15.
    public static func languageModeling(probability: Double = 0.15) -> MaskingPolicy {
        MaskingPolicy(probability: probability)
    }

    /// HF `DataCollatorForWholeWordMask`: whole words, budget `min(512, max(1, round(len × p)))`,
    /// then 80/10/10 per token.
    ///
    /// - Parameter probability: `mlm_probability`, default 0.15.
    public static func wholeWordCollator(probability: Double = 0.15) -> MaskingPolicy {
        MaskingPolicy(probability: probability, wholeWord: true, selection: .budget(maxPredictions: 512))
    }

    /// google-research/bert `create_masked_lm_predictions`: budget
    /// `min(maxPredictions, max(1, round(len × p)))`, then 80/10/10 per token.
    ///
    /// - Parameters:
    ///   - probability: `masked_lm_prob`, default 0.15.
    ///   - maxPredictions: `max_predictions_per_seq`, default 20.
    ///   - wholeWord: `do_whole_word_mask`, default false.
    public static func createPretrainingData(probability: Double = 0.15, maxPredictions: Int = 20,
                                             wholeWord: Bool = false) -> MaskingPolicy {
        MaskingPolicy(probability: probability, wholeWord: wholeWord,
                      selection: .budget(maxPredictions: maxPredictions))
    }

    /// Checks every field's range.
    ///
    /// - Throws: `BertError.invalidInput` naming the option when a probability is outside
    ///   [0, 1], the two fractions add up to more than 1, or `maxPredictions` is below 1.
    public func validate() throws {
        func check(_ value: Double, _ name: String) throws {
            guard value >= 0, value <= 1 else {
                throw BertError(.invalidInput, "masking policy: \(name) must be in [0, 1], got \(value)")
            }
        }
        try check(probability, "probability")
        try check(maskFraction, "maskFraction")
        try check(randomFraction, "randomFraction")
        guard maskFraction + randomFraction <= 1 + 1e-12 else {
            throw BertError(.invalidInput,
                            "masking policy: maskFraction + randomFraction must not exceed 1, got \(maskFraction) + \(randomFraction)")
        }
        if case .budget(let maxPredictions) = selection, maxPredictions < 1 {
            throw BertError(.invalidInput, "masking policy: maxPredictions must be at least 1, got \(maxPredictions)")
        }
    }
}

/// The vocabulary facts masking needs: its size, the `[MASK]` and `[PAD]` ids, and which ids are
/// `##` continuation pieces (for whole-word masking).
public struct MaskingVocabulary: Sendable, Equatable {
    /// Random replacements are drawn uniformly from `0 ..< size` (the whole vocabulary, special
    /// tokens included, as HF's `torch.randint(len(tokenizer))`).
    public let size: Int
    /// The id written at positions chosen for `[MASK]`.
    public let maskId: Int32
    /// Positions holding this id are never selected and do not count in a budget's `len`.
    public let padId: Int32?
    /// `continuation[id]` is true when the token starts with `##`.
    let continuation: [Bool]

    /// Creates the vocabulary facts.
    ///
    /// - Parameters:
    ///   - size: the vocabulary size, at least 1.
    ///   - maskId: the `[MASK]` id, in `0 ..< size`.
    ///   - padId: the `[PAD]` id, or nil when the vocabulary has none.
    ///   - isContinuation: says whether an id is a `##` continuation piece; called once per id.
    /// - Throws: `BertError.invalidInput` when `size < 1` or `maskId` is out of range.
    public init(size: Int, maskId: Int32, padId: Int32?, isContinuation: (Int32) -> Bool) throws {
        guard size >= 1 else {
            throw BertError(.invalidInput, "masking vocabulary: size must be at least 1, got \(size)")
        }
        guard maskId >= 0, Int(maskId) < size else {
            throw BertError(.invalidInput, "masking vocabulary: [MASK] id \(maskId) is outside 0..<\(size)")
        }
        self.size = size
        self.maskId = maskId
        self.padId = padId
        var flags = [Bool](repeating: false, count: size)
        for id in 0 ..< size { flags[id] = isContinuation(Int32(id)) }
        self.continuation = flags
    }

    /// Creates the vocabulary facts from the token strings, in id order; a token is a
    /// continuation piece when its UTF-8 bytes start with `##`.
    ///
    /// - Parameters:
    ///   - tokens: every token, `tokens[id]`.
    ///   - maskId: the `[MASK]` id.
    ///   - padId: the `[PAD]` id, or nil.
    /// - Throws: `BertError.invalidInput` when `tokens` is empty or `maskId` is out of range.
    public init(tokens: [String], maskId: Int32, padId: Int32?) throws {
        try self.init(size: tokens.count, maskId: maskId, padId: padId) { id in
            MaskingVocabulary.isContinuationPiece(tokens[Int(id)])
        }
    }

    /// True when `id` is a `##` continuation piece; false for ids outside the vocabulary.
    public func isContinuation(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < continuation.count && continuation[Int(id)]
    }

    /// True when the token's UTF-8 bytes start with `##`.
    public static func isContinuationPiece(_ token: String) -> Bool {
        var bytes = token.utf8.makeIterator()
        return bytes.next() == UInt8(ascii: "#") && bytes.next() == UInt8(ascii: "#")
    }
}
