import Foundation

/// Ids of the special tokens, looked up in the vocabulary by name (never hard-coded).
public struct SpecialTokens: Sendable, Equatable {
    /// `[CLS]`: first token of every encoding.
    public var cls: Int32
    /// `[SEP]`: ends each sequence.
    public var sep: Int32
    /// `[PAD]`: padding.
    public var pad: Int32
    /// `[UNK]`: words WordPiece cannot split, and words over `max_input_chars_per_word`.
    public var unk: Int32
    /// `[MASK]`, when the vocabulary has it.
    public var mask: Int32?

    /// Special-token ids as given (`BertTokenizer` looks them up in its vocabulary).
    public init(cls: Int32, sep: Int32, pad: Int32, unk: Int32, mask: Int32?) {
        self.cls = cls
        self.sep = sep
        self.pad = pad
        self.unk = unk
        self.mask = mask
    }
}

/// HuggingFace's BERT tokenizer (`BertTokenizerFast`: BertNormalizer + BertPreTokenizer +
/// WordPiece + BertProcessing/TemplateProcessing), in Swift, id for id and offset for offset.
///
/// Immutable and `Sendable`: share one instance between threads.
public final class BertTokenizer: Sendable {
    /// The WordPiece vocabulary.
    public let vocabulary: Vocabulary
    /// Special-token ids.
    public let specialTokens: SpecialTokens
    /// `model_max_length` from tokenizer_config.json (else the model config's
    /// `max_position_embeddings`, else `Int.max`). Not applied unless a caller truncates to it.
    public let modelMaxLength: Int
    /// The normalizer settings in use (`nil`: no normalizer in tokenizer.json).
    public let normalizer: NormalizerOptions?
    /// The truncation stored in tokenizer.json, for callers that opt into it (`encode` never
    /// applies it by itself). The sentence-transformers MiniLM folder stores longest_first 128.
    public let storedTruncation: Truncation?
    /// The padding stored in tokenizer.json, for callers that opt into it (MiniLM stores fixed 128).
    public let storedPadding: Padding?

    let encoder: WordPieceEncoder
    let single: [TemplateStep]
    let pair: [TemplateStep]
    let specialIds: Set<Int32>
    let decoderCleanup: Bool
    let cleanUpTokenizationSpaces: Bool

    enum TemplateStep: Sendable {
        case special(Int32, typeId: Int32)
        case sequence(Int, typeId: Int32)
    }

    /// Loads the tokenizer of a HuggingFace model folder.
    ///
    /// Reads `tokenizer.json` when present; otherwise `vocab.txt` plus the optional
    /// `tokenizer_config.json` (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`,
    /// `model_max_length`, special-token names), as transformers converts them for
    /// `BertTokenizerFast`.
    ///
    /// - Parameter directory: the model folder.
    /// - Throws: `BertError` naming the file: `.io` when neither tokenizer.json nor vocab.txt
    ///   exists or cannot be read, `.invalidFile` for malformed JSON or a vocabulary without the
    ///   unknown token (or `[CLS]`, `[SEP]`, `[PAD]`), `.unsupported` for a non-WordPiece tokenizer.
    public init(directory: URL) throws {
        let def = try TokenizerFiles.load(directory: directory)
        var entries = def.entries
        // Added tokens the model vocab does not have get their own ids (as tokenizers' AddedVocabulary).
        var known = Set(entries.map(\.1))
        for a in def.addedTokens where !known.contains(a.id) {
            entries.append((a.content, a.id))
            known.insert(a.id)
        }
        let vocabulary = Vocabulary(entries, continuationPrefix: def.continuationPrefix)
        let file = def.vocabularyFile
        func require(_ name: String, _ what: String) throws -> Int32 {
            guard let id = vocabulary.id(name) else {
                throw BertError(.invalidFile, "\(file): the \(what) token \(name) is not in the vocabulary")
            }
            return id
        }
        let unk = try require(def.unkToken, "unknown")
        let cls = try require(def.clsToken, "classifier")
        let sep = try require(def.sepToken, "separator")
        let pad = try require(def.padToken, "padding")
        self.vocabulary = vocabulary
        self.specialTokens = SpecialTokens(cls: cls, sep: sep, pad: pad, unk: unk, mask: vocabulary.id(def.maskToken))
        self.modelMaxLength = def.modelMaxLength
        self.normalizer = def.normalizer
        self.storedTruncation = def.storedTruncation
        self.storedPadding = def.storedPadding
        self.decoderCleanup = def.decoderCleanup
        self.cleanUpTokenizationSpaces = def.cleanUpTokenizationSpaces
        self.specialIds = Set(def.addedTokens.filter(\.special).map(\.id))
        func steps(_ pieces: [TemplatePiece]) throws -> [TemplateStep] {
            try pieces.map { piece in
                switch piece {
                case .special(let name, let typeId):
                    if let id = def.templateIds[name] ?? vocabulary.id(name) { return .special(id, typeId: typeId) }
                    throw BertError(.invalidFile, "\(file): post-processor token \(name) is not in the vocabulary")
                case .sequence(let s, let typeId):
                    return .sequence(s, typeId: typeId)
                }
            }
        }
        self.single = try steps(def.single)
        self.pair = try steps(def.pair)
        self.encoder = WordPieceEncoder(
            vocabulary: vocabulary, unk: unk, maxInputCharsPerWord: def.maxInputCharsPerWord,
            normalizer: def.normalizer,
            addedTokens: def.addedTokens.map { AddedToken(content: Array($0.content.utf8), id: $0.id, special: $0.special) })
    }

    /// Number of special tokens the post-processor adds (2 for a single text, 3 for a pair).
    public func numberOfSpecialTokens(pair: Bool) -> Int {
        (pair ? self.pair : single).reduce(0) { n, s in
            if case .special = s { return n + 1 }
            return n
        }
    }

    // MARK: - Encoding

    /// Encodes one text, or a text pair, like `tokenizers`' `Tokenizer.encode`.
    ///
    /// - Parameters:
    ///   - text: the first (or only) text.
    ///   - pair: the second text of a pair (`[CLS] A [SEP] B [SEP]`, type ids 0 then 1).
    ///   - truncation: shorten to `maxLength` tokens, special tokens included; `nil` (default)
    ///     never truncates. Windows cut off with `stride` go to `overflowing`. Settings HF rejects
    ///     (`onlySecond` without a pair, a sequence too short to remove enough tokens, `maxLength`
    ///     smaller than the special tokens, a negative `stride`) leave the encoding untruncated; a stride too large is
    ///     clamped. Use `checkedEncode` to get an error instead.
    ///   - addSpecialTokens: add `[CLS]`/`[SEP]` (default true).
    /// - Returns: the encoding; an empty text gives `[CLS] [SEP]`.
    public func encode(_ text: String, pair: String? = nil, truncation: Truncation? = nil,
                       addSpecialTokens: Bool = true) -> Encoding {
        let (encoding, _) = encodeCore(text, pair: pair, truncation: truncation, addSpecialTokens: addSpecialTokens)
        return encoding
    }

    /// Like `encode`, but throws `BertError.invalidInput` for the truncation settings that
    /// HuggingFace rejects (see `encode`), with a message naming the option.
    public func checkedEncode(_ text: String, pair: String? = nil, truncation: Truncation? = nil,
                              addSpecialTokens: Bool = true) throws -> Encoding {
        let (encoding, error) = encodeCore(text, pair: pair, truncation: truncation, addSpecialTokens: addSpecialTokens)
        if let error { throw error }
        return encoding
    }

    /// Encodes a batch (each item as `encode`), then pads.
    ///
    /// - Parameters:
    ///   - texts: the first texts.
    ///   - pairs: second texts, one per text (missing entries mean no pair).
    ///   - truncation: as in `encode`.
    ///   - padding: `.longest` pads to the longest encoding of the batch, `.maxLength(n)` to `n`
    ///     (longer encodings are left as they are); `nil` (default) does not pad. Overflow windows
    ///     are padded to the same length.
    ///   - addSpecialTokens: add `[CLS]`/`[SEP]` (default true).
    /// - Returns: one encoding per text, in order.
    public func encodeBatch(_ texts: [String], pairs: [String]? = nil, truncation: Truncation? = nil,
                            padding: Padding? = nil, addSpecialTokens: Bool = true) -> [Encoding] {
        var out = texts.indices.map { i in
            encode(texts[i], pair: pairs.flatMap { i < $0.count ? $0[i] : nil }, truncation: truncation,
                   addSpecialTokens: addSpecialTokens)
        }
        if let padding { pad(&out, padding) }
        return out
    }

    /// Pads encodings in place on the right, as `tokenizers`' `pad_encodings`.
    public func pad(_ encodings: inout [Encoding], _ padding: Padding) {
        let target: Int
        switch padding {
        case .longest: target = encodings.map(\.count).max() ?? 0
        case .maxLength(let n): target = n
        }
        let token = vocabulary.token(specialTokens.pad) ?? ""
        for i in encodings.indices { encodings[i].pad(to: target, id: specialTokens.pad, token: token) }
    }

    /// The tokens of `text` without special tokens.
    public func tokenize(_ text: String) -> [String] {
        encode(text, addSpecialTokens: false).tokens
    }

    /// Token strings of `ids`; ids outside the vocabulary become the unknown token's string.
    public func convertIdsToTokens(_ ids: [Int32]) -> [String] {
        let unk = vocabulary.token(specialTokens.unk) ?? ""
        return ids.map { vocabulary.token($0) ?? unk }
    }

    /// Ids of `tokens`; tokens outside the vocabulary become `specialTokens.unk`.
    public func convertTokensToIds(_ tokens: [String]) -> [Int32] {
        tokens.map { vocabulary.id($0) ?? specialTokens.unk }
    }

    /// True when `id` continues the word of the token before it (a `##` piece). Whole-word
    /// masking groups a token with the continuation pieces that follow it.
    public func isContinuation(_ id: Int32) -> Bool { vocabulary.isContinuation(id) }

    func encodeCore(_ text: String, pair pairText: String?, truncation: Truncation?,
                    addSpecialTokens: Bool) -> (Encoding, BertError?) {
        var a = encoder.encode(text, typeId: 0)
        var b = pairText.map { encoder.encode($0, typeId: 1) }
        var problem: BertError?
        if let truncation {
            let added = addSpecialTokens ? numberOfSpecialTokens(pair: b != nil) : 0
            var params = truncation
            if truncation.maxLength < added {
                problem = BertError(.invalidInput,
                                    "--max-length \(truncation.maxLength) is smaller than the \(added) special tokens")
            } else if truncation.stride < 0 {
                // tokenizers' stride is a usize: a negative one is rejected, not applied.
                problem = BertError(.invalidInput, "--stride must not be negative, got \(truncation.stride)")
            } else {
                params.maxLength -= added
                problem = Self.truncate(&a, &b, params)
            }
        }
        // PostProcessor::process: sequence ids and type ids, then the template.
        a.setSequenceId(0)
        for i in a.overflowing.indices { a.overflowing[i].setSequenceId(0) }
        if b != nil {
            b?.setSequenceId(1)
            if let n = b?.overflowing.count { for i in 0..<n { b?.overflowing[i].setSequenceId(1) } }
        }
        let template = b == nil ? single : self.pair
        var merged = Encoding.Part()
        merged.reserveCapacity(a.count + (b?.count ?? 0) + template.count)
        for step in template {
            switch step {
            case .special(let id, let typeId):
                guard addSpecialTokens else { continue }
                merged.appendSpecial(id, typeId: typeId)
            case .sequence(let s, let typeId):
                guard var part = s == 0 ? a : b else { continue }
                part.typeIds = [Int32](repeating: typeId, count: part.count)
                part.setSequenceId(s)
                merged.merge(part)
            }
        }
        return (merged.finish(vocabulary), problem)
    }

    /// `truncate_encodings` (tokenizers/src/utils/truncation.rs), direction right. Returns the
    /// error HF would raise (leaving the parts untouched, or clamping a too-large stride).
    static func truncate(_ a: inout Encoding.Part, _ b: inout Encoding.Part?, _ p: Truncation) -> BertError? {
        let maxLength = p.maxLength
        var strideError: BertError?
        func cut(_ part: inout Encoding.Part, _ length: Int) {
            if length < part.count && length > 0 && p.stride >= length {
                strideError = BertError(.invalidInput,
                    "--stride \(p.stride) must be smaller than the \(length) tokens left for the truncated text")
            }
            part.truncate(length, stride: p.stride)
        }
        if maxLength == 0 {
            cut(&a, 0)
            if var other = b {
                cut(&other, 0)
                b = other
            }
            return strideError
        }
        let total = a.count + (b?.count ?? 0)
        guard total > maxLength else { return nil }
        let toRemove = total - maxLength
        switch p.strategy {
        case .longestFirst:
            if var other = b {
                var n1 = a.count, n2 = other.count
                let swapped = n1 > n2
                if swapped { swap(&n1, &n2) }
                n2 = n1 > maxLength ? n1 : max(n1, maxLength - n1)
                if n1 + n2 > maxLength {
                    n1 = maxLength / 2
                    n2 = n1 + maxLength % 2
                }
                if swapped { swap(&n1, &n2) }
                cut(&a, n1)
                cut(&other, n2)
                b = other
            } else {
                cut(&a, total - toRemove)
            }
        case .onlyFirst, .onlySecond:
            if p.strategy == .onlySecond {
                guard var other = b else {
                    return BertError(.invalidInput, "--truncation only_second needs a text pair")
                }
                guard other.count > toRemove else {
                    return BertError(.invalidInput,
                        "--truncation only_second: the second text has \(other.count) tokens, \(toRemove) must go; use longest_first")
                }
                cut(&other, other.count - toRemove)
                b = other
            } else {
                guard a.count > toRemove else {
                    return BertError(.invalidInput,
                        "--truncation only_first: the first text has \(a.count) tokens, \(toRemove) must go; use longest_first")
                }
                cut(&a, a.count - toRemove)
            }
        }
        return strideError
    }

    // MARK: - Decoding

    /// Turns ids back into text, as transformers' `tokenizer.decode` for a BERT fast tokenizer:
    /// the WordPiece decoder (`##` pieces join the previous token, others get a space; per-token
    /// clean-up), then `clean_up_tokenization_spaces` when the folder asks for it (the default).
    ///
    /// - Parameters:
    ///   - ids: token ids; ids outside the vocabulary are skipped.
    ///   - skipSpecialTokens: drop special added tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`,
    ///     `[MASK]`). Default true.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        let prefix = vocabulary.continuationPrefix
        var out = ""
        var first = true
        for id in ids {
            if skipSpecialTokens && specialIds.contains(id) { continue }
            guard let token = vocabulary.token(id) else { continue }
            var piece: String
            if first {
                piece = token
            } else if !prefix.isEmpty && token.utf8.starts(with: prefix.utf8) {
                // Compare bytes, not Characters: "##" + a combining mark is one grapheme.
                piece = String(decoding: token.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
            } else {
                piece = " " + token
            }
            first = false
            if decoderCleanup { piece = Self.cleanup(piece, dontRule: true) }
            out += piece
        }
        if cleanUpTokenizationSpaces { out = Self.cleanup(out, dontRule: false) }
        return out
    }

    /// The decoder's `cleanup` (tokenizers decoders/wordpiece.rs) and, without the `do not` rule,
    /// transformers' `clean_up_tokenization`.
    static func cleanup(_ s: String, dontRule: Bool) -> String {
        var bytes = Array(s.utf8)
        guard bytes.contains(0x20) else { return s }
        let rules: [(String, String)] = [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ]
        for (from, to) in rules where dontRule || from != " do not" {
            bytes = replace(bytes, Array(from.utf8), Array(to.utf8))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces every non-overlapping occurrence, left to right (Rust/Python `str.replace`).
    static func replace(_ s: [UInt8], _ from: [UInt8], _ to: [UInt8]) -> [UInt8] {
        guard s.count >= from.count else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + from.count <= s.count && s[i] == from[0] && s[i..<(i + from.count)].elementsEqual(from) {
                out += to
                i += from.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}
