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

/// A HuggingFace tokenizer (the `tokenizers` pipeline of a model folder), in Swift, id for id and
/// offset for offset: the sequence stages (added tokens, normalizer, pre-tokenizer, model: WordPiece,
/// byte-level BPE or Unigram, see `SequenceEncoder`), then the shared ones: truncation, the
/// post-processor template, padding, and the decoder.
///
/// Immutable and `Sendable`: share one instance between threads.
public final class Tokenizer: Sendable {
    /// The vocabulary (model vocabulary plus added tokens).
    public let vocabulary: Vocabulary
    /// Special-token ids (`[CLS]`/`<s>`, `[SEP]`/`</s>`, padding, unknown, mask).
    public let specialTokens: SpecialTokens
    /// `model_max_length` from tokenizer_config.json (else the model config's
    /// `max_position_embeddings`, else `Int.max`). Not applied unless a caller truncates to it.
    public let modelMaxLength: Int
    /// The BertNormalizer settings in use (`nil`: no normalizer, or not a BERT normalizer).
    public let normalizer: NormalizerOptions?
    /// The truncation stored in tokenizer.json, for callers that opt into it (`encode` never
    /// applies it by itself). The sentence-transformers MiniLM folder stores longest_first 128.
    public let storedTruncation: Truncation?
    /// The padding stored in tokenizer.json, for callers that opt into it (MiniLM stores fixed 128).
    public let storedPadding: Padding?
    /// The tokenizer model: `WordPiece`, `BPE` or `Unigram` (tokenizer.json's `model.type`).
    public let modelType: String

    /// The sequence stages: WordPiece (BERT's, fused) or the staged pipeline (BPE, Unigram). Two
    /// concrete properties rather than one `any SequenceEncoder`, so BERT's hot path is a direct call.
    let wordPiece: WordPieceEncoder?
    let staged: StagedEncoder?
    let postProcessor: PostProcessor
    let decoder: TokenDecoder
    let specialIds: Set<Int32>
    let cleanUpTokenizationSpaces: Bool

    /// Loads the tokenizer of a HuggingFace model folder.
    ///
    /// Reads `tokenizer.json` when present and dispatches on its `model.type` (WordPiece, BPE,
    /// Unigram); otherwise the slow-tokenizer files, converted as transformers converts them:
    /// `vocab.json` + `merges.txt` (byte-level BPE, RoBERTa) or `vocab.txt` (WordPiece, BERT),
    /// with the optional `tokenizer_config.json` (`do_lower_case`, `strip_accents`,
    /// `tokenize_chinese_chars`, `add_prefix_space`, `trim_offsets`, `model_max_length`,
    /// special-token names).
    ///
    /// - Parameter directory: the model folder.
    /// - Throws: `BertError` naming the file: `.io` when no tokenizer file exists or cannot be
    ///   read, `.invalidFile` for malformed JSON or a vocabulary without a needed special token,
    ///   `.unsupported` for a model, normalizer, pre-tokenizer, post-processor or decoder type this
    ///   library does not implement (the message lists the supported ones).
    public init(directory: URL) throws {
        let def = try TokenizerFiles.load(directory: directory)
        var entries = def.entries
        // Added tokens the model vocab does not have get their own ids (as tokenizers' AddedVocabulary).
        var known = Set(entries.map(\.1))
        for a in def.addedTokens where !known.contains(a.id) {
            entries.append((a.content, a.id))
            known.insert(a.id)
        }
        // Without a continuation prefix, words are marked at their start by the decoder's space (Ġ, ▁).
        // Added tokens start words, except the unknown token: the model emits it inside words
        // ("caf<unk>"), and tokenizers' word ids keep it in the word it came from.
        let unkIds = Set(entries.filter { $0.0 == def.unkToken }.map(\.1))
        let vocabulary = Vocabulary(entries, continuationPrefix: def.continuationPrefix,
                                    wordStartMarker: def.continuationPrefix.isEmpty ? def.decoder.wordStartMarker : "",
                                    wordStarts: Set(def.addedTokens.map(\.id)).subtracting(unkIds))
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
        self.cleanUpTokenizationSpaces = def.cleanUpTokenizationSpaces
        self.specialIds = Set(def.addedTokens.filter(\.special).map(\.id))
        self.modelType = def.modelType
        func steps(_ pieces: [TemplatePiece]) throws -> [PostProcessor.Step] {
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
        self.postProcessor = PostProcessor(single: try steps(def.single), pair: try steps(def.pair),
                                           trimOffsets: def.trimOffsets, addPrefixSpace: def.trimAddPrefixSpace,
                                           zeroTypeIds: def.zeroTypeIds)
        self.decoder = def.decoder
        let encoder = try def.makeEncoder(vocabulary: vocabulary, unk: unk)
        self.wordPiece = encoder as? WordPieceEncoder
        self.staged = encoder as? StagedEncoder
    }

    /// Number of special tokens the post-processor adds (BERT: 2 for a single text, 3 for a pair).
    public func numberOfSpecialTokens(pair: Bool) -> Int {
        postProcessor.addedTokens(pair: pair)
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
    ///   - addSpecialTokens: add the post-processor's special tokens (default true).
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
    ///   - addSpecialTokens: add the post-processor's special tokens (default true).
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

    /// The decoder alone on token strings, as transformers' `convert_tokens_to_string` for a fast
    /// tokenizer (no `clean_up_tokenization_spaces`): `["ĠSmith"]` → `" Smith"` for byte-level BPE,
    /// `["mic", "##ro"]` → `"micro"` for WordPiece.
    public func convertTokensToString(_ tokens: [String]) -> String { decoder.decode(tokens) }

    /// True when the model marks word continuations with a prefix (WordPiece's `##`), i.e.
    /// tokenizers' `model.continuing_subword_prefix` is set; false for byte-level BPE and Unigram.
    public var hasContinuingSubwordPrefix: Bool { !vocabulary.continuationPrefix.isEmpty }

    /// True when `id` continues the word of the token before it: a `##` piece (WordPiece), or a
    /// token without the leading space mark (`Ġ` byte-level BPE, `▁` Unigram). Whole-word masking
    /// groups a token with the continuation pieces that follow it.
    public func isContinuation(_ id: Int32) -> Bool { vocabulary.isContinuation(id) }

    @inline(__always)
    func encodeSequence(_ text: String, typeId: Int32) -> Encoding.Part {
        if let wordPiece { return wordPiece.encode(text, typeId: typeId) }
        return staged?.encode(text, typeId: typeId) ?? Encoding.Part()
    }

    func encodeCore(_ text: String, pair pairText: String?, truncation: Truncation?,
                    addSpecialTokens: Bool) -> (Encoding, BertError?) {
        var a = encodeSequence(text, typeId: 0)
        var b = pairText.map { encodeSequence($0, typeId: 1) }
        var problem: BertError?
        if let truncation {
            let added = addSpecialTokens ? numberOfSpecialTokens(pair: b != nil) : 0
            problem = TruncationStage.apply(truncation, added: added, &a, &b)
        }
        let merged = postProcessor.process(consume a, consume b, addSpecialTokens: addSpecialTokens, vocabulary: vocabulary)
        return (merged.finish(vocabulary), problem)
    }

    // MARK: - Decoding

    /// Turns ids back into text, as transformers' `tokenizer.decode` for the folder's fast
    /// tokenizer: the folder's decoder (WordPiece: `##` pieces join the previous token, others get
    /// a space, per-token clean-up; ByteLevel: bytes back to UTF-8; Metaspace: `▁` back to
    /// spaces), then `clean_up_tokenization_spaces` when the folder asks for it.
    ///
    /// - Parameters:
    ///   - ids: token ids; ids outside the vocabulary are skipped.
    ///   - skipSpecialTokens: drop special added tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`,
    ///     `[MASK]`, `<s>` ...). Default true.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if skipSpecialTokens && specialIds.contains(id) { continue }
            guard let token = vocabulary.token(id) else { continue }
            tokens.append(token)
        }
        var out = decoder.decode(tokens)
        if cleanUpTokenizationSpaces { out = TokenDecoder.cleanup(out, dontRule: false) }
        return out
    }
}

/// The BERT name of `Tokenizer`, kept for the code written before other families arrived.
public typealias BertTokenizer = Tokenizer
