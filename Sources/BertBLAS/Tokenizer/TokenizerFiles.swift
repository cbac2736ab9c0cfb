import Foundation

/// Everything a `BertTokenizer` is built from, read from a model folder's `tokenizer.json`, or
/// from `vocab.txt` + `tokenizer_config.json` (the slow-tokenizer files, converted the way
/// transformers' `BertTokenizerFast` converts them).
struct TokenizerDefinition {
    var entries: [(String, Int32)] = []
    var continuationPrefix = "##"
    var maxInputCharsPerWord = 100
    var unkToken = "[UNK]"
    var normalizer: NormalizerOptions? = NormalizerOptions()
    var addedTokens: [AddedTokenSpec] = []
    /// Post-processor template pieces for one and for two sequences.
    var single: [TemplatePiece] = []
    var pair: [TemplatePiece] = []
    /// Ids of the template's special tokens, from `post_processor.special_tokens`.
    var templateIds: [String: Int32] = [:]
    var clsToken = "[CLS]", sepToken = "[SEP]", padToken = "[PAD]", maskToken = "[MASK]"
    var modelMaxLength = Int.max
    var storedTruncation: Truncation?
    var storedPadding: Padding?
    var decoderCleanup = true
    var cleanUpTokenizationSpaces = false
    /// The file the vocabulary came from, for error messages.
    var vocabularyFile = ""
    /// `model.type`: WordPiece, BPE or Unigram.
    var modelType = "WordPiece"
    /// The post-processor trims byte-level spaces out of offsets (RobertaProcessing, ByteLevel).
    var trimOffsets = false
    var trimAddPrefixSpace = false
    /// RobertaProcessing: every type id 0.
    var zeroTypeIds = false
    /// The decoder.
    var decoder: TokenDecoder = .wordPiece(prefix: "##", cleanup: true)
    /// BPE: merges in rank order, and the model options.
    var merges: [(String, String)] = []
    var bpeUnkToken: String?
    var ignoreMerges = false
    /// Unigram: pieces with scores (ids are their positions), the unknown piece, byte fallback.
    var pieces: [(String, Double)] = []
    var unigramUnkId: Int?
    var byteFallback = false
    /// Normalizer and pre-tokenizer of the staged pipeline (BPE, Unigram).
    var normalizerSteps: [NormalizerStep] = []
    var preTokenizerSteps: [PreTokenizerStep] = []

    /// RoBERTa / XLM-R special-token names, the defaults of BPE and Unigram folders.
    mutating func setSentencePieceNames() {
        clsToken = "<s>"
        sepToken = "</s>"
        padToken = "<pad>"
        unkToken = "<unk>"
        maskToken = "<mask>"
    }

    /// The sequence stages for this definition: the model with its normalizer and pre-tokenizer.
    func makeEncoder(vocabulary: Vocabulary, unk: Int32) throws -> any SequenceEncoder {
        switch modelType {
        case "BPE", "Unigram":
            let model: SubwordModel
            if modelType == "BPE" {
                model = .bpe(try makeBPE(vocabulary))
            } else {
                model = .unigram(UnigramModel(
                    pieces: pieces.map { (Array($0.0.utf8), $0.1) },
                    unk: unigramUnkId.map { Int32($0) }, byteFallback: byteFallback))
            }
            func entry(_ a: AddedTokenSpec, _ content: [UInt8]) -> AddedVocabulary.Entry {
                .init(content: content, id: a.id, lstrip: a.lstrip, rstrip: a.rstrip, singleWord: a.singleWord)
            }
            let raw = addedTokens.filter { !$0.normalized }.map { entry($0, Array($0.content.utf8)) }
            // A normalized added token is looked for in its normalized form.
            let normalized = addedTokens.filter(\.normalized).map { a -> AddedVocabulary.Entry in
                var t = NormalizedText(bytes: Array(a.content.utf8), origin: [Int32](repeating: 0, count: a.content.utf8.count))
                for n in normalizerSteps { n.apply(&t) }
                return entry(a, t.bytes)
            }
            return StagedEncoder(rawAdded: AddedVocabulary(raw), normalizedAdded: AddedVocabulary(normalized),
                                 normalizers: normalizerSteps, preTokenizers: preTokenizerSteps, model: model)
        default:
            return WordPieceEncoder(
                vocabulary: vocabulary, unk: unk, maxInputCharsPerWord: maxInputCharsPerWord,
                normalizer: normalizer,
                addedTokens: addedTokens.map { AddedToken(content: Array($0.content.utf8), id: $0.id, special: $0.special) })
        }
    }

    /// The BPE model: merges as id pairs, byte-level symbol ids when the pre-tokenizer is ByteLevel.
    func makeBPE(_ vocabulary: Vocabulary) throws -> BPEModel {
        let byteLevel = preTokenizerSteps.contains { if case .byteLevel = $0 { return true } else { return false } }
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let l = vocabulary.id(a), let r = vocabulary.id(b), let m = vocabulary.id(a + b) else {
                throw BertError(.invalidFile, "\(vocabularyFile): merge \(rank + 1) (\(a) \(b)) uses a token that is not in the vocabulary")
            }
            let key = BPEModel.key(l, r)
            // A pair listed twice keeps its last rank, as tokenizers' map built in order does.
            table[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: m))
        }
        var byteIds = [Int32](repeating: -1, count: 256)
        var whole: [[UInt8]: Int32] = [:]
        if byteLevel {
            for b in 0..<256 {
                byteIds[b] = Unicode.Scalar(ByteLevel.scalarOfByte[b]).flatMap { vocabulary.id(String($0)) } ?? -1
            }
            if ignoreMerges {
                for id in 0..<vocabulary.count {
                    if let t = vocabulary.token(Int32(id)), let bytes = ByteLevel.bytes(of: t) { whole[bytes] = Int32(id) }
                }
            }
        } else if ignoreMerges {
            for id in 0..<vocabulary.count {
                if let t = vocabulary.token(Int32(id)) { whole[Array(t.utf8)] = Int32(id) }
            }
        }
        return BPEModel(byteIds: byteIds, byteLevel: byteLevel, merges: table,
                        unk: bpeUnkToken.flatMap { vocabulary.id($0) }, vocabulary: vocabulary,
                        ignoreMerges: ignoreMerges, wholeWords: whole)
    }
}

/// An added token of tokenizer.json (`added_tokens`) or tokenizer_config.json
/// (`added_tokens_decoder`).
struct AddedTokenSpec {
    var content: String
    var id: Int32
    var special: Bool
    var lstrip = false
    var rstrip = false
    var singleWord = false
    var normalized = false
}

/// One piece of a `TemplateProcessing` post-processor.
enum TemplatePiece: Sendable {
    /// Special token(s) by name, with their type id.
    case special(String, typeId: Int32)
    /// Sequence A (0) or B (1), with the type id its tokens get.
    case sequence(Int, typeId: Int32)
}

enum TokenizerFiles {
    /// The longest stored fixed padding accepted (2^20 tokens): far beyond any model's positions.
    static let maxPaddedLength = 1 << 20
    static func load(directory: URL) throws -> TokenizerDefinition {
        let fm = FileManager.default
        let tokenizerJSON = directory.appendingPathComponent("tokenizer.json")
        let vocabTXT = directory.appendingPathComponent("vocab.txt")
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BertError(.io, "\(directory.path): no such model folder")
        }
        let config = fm.fileExists(atPath: configURL.path) ? try readJSONObject(configURL) : [:]
        var def: TokenizerDefinition
        let vocabJSON = directory.appendingPathComponent("vocab.json")
        let mergesTXT = directory.appendingPathComponent("merges.txt")
        if fm.fileExists(atPath: tokenizerJSON.path) {
            def = try fromTokenizerJSON(tokenizerJSON)
        } else if fm.fileExists(atPath: vocabJSON.path) && fm.fileExists(atPath: mergesTXT.path) {
            def = try fromVocabJSON(vocabJSON, merges: mergesTXT, config: config)
        } else if fm.fileExists(atPath: vocabTXT.path) {
            def = try fromVocabTXT(vocabTXT, config: config, configPath: configURL.path)
        } else {
            throw BertError(.io, "\(vocabTXT.path): no such file (and no tokenizer.json, nor vocab.json + merges.txt, in \(directory.path))")
        }
        // tokenizer_config.json: special-token names, model_max_length, decode clean-up.
        for (key, path) in [("cls_token", \TokenizerDefinition.clsToken), ("sep_token", \.sepToken),
                            ("pad_token", \.padToken), ("mask_token", \.maskToken)] {
            if let name = tokenName(config[key]) { def[keyPath: path] = name }
        }
        if let n = config["model_max_length"] as? NSNumber, n.doubleValue > 0, n.doubleValue < 1e15 {
            def.modelMaxLength = n.intValue
        } else if let model = try? readJSONObject(directory.appendingPathComponent("config.json")),
                  let n = model["max_position_embeddings"] as? Int {
            def.modelMaxLength = n
        }
        if let b = config["clean_up_tokenization_spaces"] as? Bool { def.cleanUpTokenizationSpaces = b }
        return def
    }

    /// A token name in tokenizer_config.json: a string or an `AddedToken` dict with `content`.
    static func tokenName(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let d = value as? [String: Any], let s = d["content"] as? String { return s }
        return nil
    }

    static func readJSONObject(_ url: URL) throws -> [String: Any] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw BertError(.io, "\(url.path): cannot read: \(error.localizedDescription)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw BertError(.invalidFile, "\(url.path): invalid JSON: \(error.localizedDescription)")
        }
        guard let dict = object as? [String: Any] else {
            throw BertError(.invalidFile, "\(url.path): expected a JSON object at the top level")
        }
        return dict
    }

    // MARK: tokenizer.json

    static func fromTokenizerJSON(_ url: URL) throws -> TokenizerDefinition {
        let path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw BertError(.io, "\(path): cannot read: \(error.localizedDescription)")
        }
        let json = try TokenizerJSON.parse([UInt8](data), path: path)
        var def = TokenizerDefinition()
        def.vocabularyFile = path
        guard let model = json["model"], model.members != nil else {
            throw BertError(.invalidFile, "\(path): no \"model\" object")
        }
        let type = model["type"]?.string ?? "WordPiece"
        def.modelType = type
        // Ids are dense in real vocabularies; a far-out id would make every per-id table huge.
        let idLimit: Int
        switch type {
        case "WordPiece", "BPE":
            guard let vocab = model["vocab"]?.members else {
                throw BertError(.invalidFile, "\(path): model.vocab is missing or not an object")
            }
            idLimit = vocab.count + 1_000_000
            def.entries = try vocabEntries(vocab, idLimit: idLimit, path: path, key: "model.vocab")
        case "Unigram":
            guard let vocab = model["vocab"]?.array else {
                throw BertError(.invalidFile, "\(path): model.vocab is missing or not a list of [piece, score]")
            }
            idLimit = vocab.count + 1_000_000
            def.pieces.reserveCapacity(vocab.count)
            for (id, item) in vocab.enumerated() {
                guard let pair = item.array, pair.count == 2, let piece = pair[0].string,
                      case .number(let score) = pair[1] else {
                    throw BertError(.invalidFile, "\(path): model.vocab[\(id)] is not a [piece, score] pair")
                }
                def.pieces.append((piece, score))
                def.entries.append((piece, Int32(id)))
            }
        default:
            throw BertError(.unsupported,
                            "\(path): model type \(type) is not supported (supported: WordPiece, BPE, Unigram)")
        }
        // Counts tokenizers stores as usize: present means a non-negative integer (serde rejects
        // anything else), so a negative or fractional value is an error here too.
        func count(_ value: TokenizerJSON?, _ key: String) throws -> Int? {
            guard let value, !value.isNull else { return nil }
            guard let n = value.int, n >= 0 else {
                throw BertError(.invalidFile, "\(path): \(key) must be a non-negative integer")
            }
            return n
        }
        switch type {
        case "WordPiece":
            if let unk = model["unk_token"]?.string { def.unkToken = unk }
            if let p = model["continuing_subword_prefix"]?.string { def.continuationPrefix = p }
            if let m = try count(model["max_input_chars_per_word"], "model.max_input_chars_per_word") {
                def.maxInputCharsPerWord = m
            }
        case "BPE":
            try readBPEOptions(model, into: &def, path: path)
        default:
            def.continuationPrefix = ""
            def.setSentencePieceNames()
            if let unk = try count(model["unk_id"], "model.unk_id") {
                guard unk < def.pieces.count else {
                    throw BertError(.invalidFile, "\(path): model.unk_id \(unk) is not a piece of the \(def.pieces.count)")
                }
                def.unigramUnkId = unk
                def.unkToken = def.pieces[unk].0
            }
            def.byteFallback = model["byte_fallback"]?.bool ?? false
        }

        // Normalizer and pre-tokenizer: BERT's are fused into WordPiece; the others are stages.
        if type == "WordPiece" {
            if let n = json["normalizer"], !n.isNull {
                let t = n["type"]?.string ?? ""
                guard t == "BertNormalizer" else {
                    throw BertError(.unsupported, "\(path): normalizer \(t) is not supported with WordPiece (BertNormalizer only)")
                }
                def.normalizer = NormalizerOptions(
                    cleanText: n["clean_text"]?.bool ?? true,
                    handleChineseChars: n["handle_chinese_chars"]?.bool ?? true,
                    stripAccents: n["strip_accents"]?.bool,
                    lowercase: n["lowercase"]?.bool ?? true)
            } else {
                def.normalizer = nil
            }
            if let p = json["pre_tokenizer"], !p.isNull {
                let t = p["type"]?.string ?? ""
                guard t == "BertPreTokenizer" else {
                    throw BertError(.unsupported, "\(path): pre_tokenizer \(t) is not supported with WordPiece (BertPreTokenizer only)")
                }
            }
        } else {
            def.normalizer = nil
            def.normalizerSteps = try normalizerSteps(json["normalizer"], path: path)
            def.preTokenizerSteps = try preTokenizerSteps(json["pre_tokenizer"], path: path)
        }

        // Added tokens (matched on the raw text, or on the normalized text when `normalized`).
        for a in json["added_tokens"]?.array ?? [] {
            guard let content = a["content"]?.string, let id = a["id"]?.int, id >= 0, id < idLimit else {
                throw BertError(.invalidFile, "\(path): added_tokens has an entry without content or a valid id")
            }
            def.addedTokens.append(AddedTokenSpec(
                content: content, id: Int32(id), special: a["special"]?.bool ?? false,
                lstrip: a["lstrip"]?.bool ?? false, rstrip: a["rstrip"]?.bool ?? false,
                singleWord: a["single_word"]?.bool ?? false,
                // WordPiece matches every added token on the raw text (BERT's are not normalized).
                normalized: type != "WordPiece" && (a["normalized"]?.bool ?? !(a["special"]?.bool ?? false))))
        }

        // Post-processor.
        def.single = [.sequence(0, typeId: 0)]
        def.pair = [.sequence(0, typeId: 0), .sequence(1, typeId: 1)]
        if let pp = json["post_processor"], !pp.isNull {
            let processors = pp["type"]?.string == "Sequence" ? (pp["processors"]?.array ?? []) : [pp]
            for p in processors { try readPostProcessor(p, into: &def, path: path, idLimit: idLimit) }
        }

        // Stored truncation / padding (applied only when a caller asks for them).
        if let t = json["truncation"], let max = try count(t["max_length"], "truncation.max_length") {
            let strategy: TruncationStrategy
            switch t["strategy"]?.string {
            case "OnlyFirst": strategy = .onlyFirst
            case "OnlySecond": strategy = .onlySecond
            default: strategy = .longestFirst
            }
            def.storedTruncation = Truncation(maxLength: max, strategy: strategy,
                                              stride: try count(t["stride"], "truncation.stride") ?? 0)
        }
        if let p = json["padding"], !p.isNull {
            if let n = try count(p["strategy"]?["Fixed"], "padding.strategy.Fixed") {
                // A size a caller allocates when it applies the padding: bounded like any size.
                guard n <= Self.maxPaddedLength else {
                    throw BertError(.invalidFile, "\(path): padding.strategy.Fixed \(n) is more than \(Self.maxPaddedLength) tokens")
                }
                def.storedPadding = .maxLength(n)
            } else {
                def.storedPadding = .longest
            }
        }
        if let c = json["decoder"]?["cleanup"]?.bool { def.decoderCleanup = c }
        def.decoder = try decoder(json["decoder"], def, path: path)
        return def
    }

    /// `token → id` members of a vocabulary object.
    static func vocabEntries(_ vocab: [(String, TokenizerJSON)], idLimit: Int, path: String,
                             key: String) throws -> [(String, Int32)] {
        var entries: [(String, Int32)] = []
        entries.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = value.int, id >= 0, id < idLimit else {
                throw BertError(.invalidFile, "\(path): \(key)[\"\(token)\"] is not a valid id")
            }
            entries.append((token, Int32(id)))
        }
        return entries
    }

    /// BPE model options and merges (`["a", "b"]` pairs or `"a b"` strings).
    static func readBPEOptions(_ model: TokenizerJSON, into def: inout TokenizerDefinition, path: String) throws {
        def.continuationPrefix = ""
        def.setSentencePieceNames()
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key]?.string, !v.isEmpty {
                throw BertError(.unsupported, "\(path): model.\(key) \"\(v)\" is not supported (BPE without affixes only)")
            }
        }
        if let d = model["dropout"], !d.isNull {
            throw BertError(.unsupported, "\(path): model.dropout is not supported (BPE without dropout only)")
        }
        if model["byte_fallback"]?.bool == true {
            throw BertError(.unsupported, "\(path): model.byte_fallback is not supported for BPE")
        }
        def.ignoreMerges = model["ignore_merges"]?.bool ?? false
        if let unk = model["unk_token"]?.string {
            def.bpeUnkToken = unk
            def.unkToken = unk
        }
        guard let merges = model["merges"]?.array else {
            throw BertError(.invalidFile, "\(path): model.merges is missing or not a list")
        }
        def.merges.reserveCapacity(merges.count)
        for (i, m) in merges.enumerated() {
            if let pair = m.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string {
                def.merges.append((a, b))
            } else if let line = m.string, let merge = mergeLine(line) {
                def.merges.append(merge)
            } else {
                throw BertError(.invalidFile, "\(path): model.merges[\(i)] is not a pair of tokens")
            }
        }
    }

    /// `"a b"` → (a, b): one space between two non-empty tokens.
    static func mergeLine(_ line: String) -> (String, String)? {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    static func normalizerSteps(_ value: TokenizerJSON?, path: String) throws -> [NormalizerStep] {
        guard let n = value, !n.isNull else { return [] }
        let t = n["type"]?.string ?? ""
        func unsupported(_ what: String) -> BertError {
            BertError(.unsupported, "\(path): normalizer \(what) is not supported (supported: \(NormalizerStep.supported))")
        }
        switch t {
        case "Sequence":
            return try (n["normalizers"]?.array ?? []).flatMap { try normalizerSteps($0, path: path) }
        case "Precompiled":
            guard let b64 = n["precompiled_charsmap"]?.string else {
                // tokenizers accepts a null charsmap as "no normalization".
                return []
            }
            guard let data = Data(base64Encoded: b64) else {
                throw BertError(.invalidFile, "\(path): normalizer Precompiled: precompiled_charsmap is not base64")
            }
            return [.precompiled(try PrecompiledCharsMap([UInt8](data), path: path))]
        case "NFKC": return [.unicode(.nfkc)]
        case "NFC": return [.unicode(.nfc)]
        case "NFD": return [.unicode(.nfd)]
        case "NFKD": return [.unicode(.nfkd)]
        case "Lowercase": return [.lowercase]
        case "Strip":
            return [.strip(left: n["strip_left"]?.bool ?? true, right: n["strip_right"]?.bool ?? true)]
        case "Replace":
            guard let content = n["content"]?.string else {
                throw BertError(.invalidFile, "\(path): normalizer Replace without content")
            }
            if let literal = n["pattern"]?["String"]?.string {
                return [.replace(.init(literal: Array(literal.utf8), minimumRepeats: nil), content: Array(content.utf8))]
            }
            if let regex = n["pattern"]?["Regex"]?.string, let p = repeatPattern(regex) {
                return [.replace(p, content: Array(content.utf8))]
            }
            throw unsupported("Replace with pattern \(n["pattern"].map { "\($0)" } ?? "null") (a string, or a regex `X{n,}` of one character)")
        default:
            throw unsupported(t.isEmpty ? "without a type" : t)
        }
    }

    /// A regex `X{n,}` (one literal character repeated at least n times), as transformers writes
    /// `" {2,}"` for SentencePiece conversions; nil for any other regex.
    static func repeatPattern(_ regex: String) -> NormalizerStep.ReplacePattern? {
        let scalars = Array(regex.unicodeScalars)
        guard scalars.count >= 5, scalars[1] == "{", scalars.last == "}", scalars[scalars.count - 2] == ",",
              !"\\.[]()*+?{}|^$".unicodeScalars.contains(scalars[0]),
              let n = Int(String(String.UnicodeScalarView(scalars[2..<(scalars.count - 2)]))), n >= 1 else { return nil }
        var literal: [UInt8] = []
        UTF8Scalars.append(scalars[0].value, to: &literal)
        return .init(literal: literal, minimumRepeats: n)
    }

    static func preTokenizerSteps(_ value: TokenizerJSON?, path: String) throws -> [PreTokenizerStep] {
        guard let p = value, !p.isNull else { return [] }
        let t = p["type"]?.string ?? ""
        switch t {
        case "Sequence":
            return try (p["pretokenizers"]?.array ?? []).flatMap { try preTokenizerSteps($0, path: path) }
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: p["add_prefix_space"]?.bool ?? true, useRegex: p["use_regex"]?.bool ?? true)]
        case "Metaspace":
            let replacement = p["replacement"]?.string ?? "\u{2581}"
            guard replacement.unicodeScalars.count == 1 else {
                throw BertError(.invalidFile, "\(path): pre_tokenizer Metaspace replacement must be one character")
            }
            let scheme: PreTokenizerStep.PrependScheme
            switch p["prepend_scheme"]?.string {
            case "first": scheme = .first
            case "never": scheme = .never
            case "always": scheme = .always
            default:
                // Files written before prepend_scheme: add_prefix_space true means always.
                scheme = (p["add_prefix_space"]?.bool ?? true) ? .always : .never
            }
            return [.metaspace(replacement: Array(replacement.utf8), prepend: scheme, split: p["split"]?.bool ?? true)]
        case "WhitespaceSplit":
            return [.whitespaceSplit]
        default:
            throw BertError(.unsupported, "\(path): pre_tokenizer \(t.isEmpty ? "without a type" : t) is not supported (supported: \(PreTokenizerStep.supported))")
        }
    }

    /// One post-processor (of a Sequence): templates, and the byte-level offset trimming.
    static func readPostProcessor(_ pp: TokenizerJSON, into def: inout TokenizerDefinition, path: String,
                                  idLimit: Int) throws {
        let t = pp["type"]?.string ?? ""
        switch t {
        case "TemplateProcessing":
            def.single = try template(pp["single"], path: path)
            def.pair = try template(pp["pair"], path: path)
            for (name, value) in pp["special_tokens"]?.members ?? [] {
                guard let ids = value["ids"]?.array, ids.count == 1, let id = ids[0].int, id >= 0, id < idLimit else {
                    throw BertError(.unsupported,
                                    "\(path): post_processor special token \(name) must map to one valid id")
                }
                def.templateIds[name] = Int32(id)
            }
        case "BertProcessing", "RobertaProcessing":
            let roberta = t == "RobertaProcessing"
            let cls = pp["cls"]?.array?.first?.string ?? (roberta ? "<s>" : "[CLS]")
            let sep = pp["sep"]?.array?.first?.string ?? (roberta ? "</s>" : "[SEP]")
            for (name, value) in [(cls, pp["cls"]), (sep, pp["sep"])] {
                if let id = value?.array?.last?.int, id >= 0, id < idLimit { def.templateIds[name] = Int32(id) }
            }
            def.clsToken = cls
            def.sepToken = sep
            def.single = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0)]
            if roberta {
                // roberta.rs: `<s> A </s></s> B </s>`, every type id 0.
                def.pair = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0),
                            .special(sep, typeId: 0), .sequence(1, typeId: 0), .special(sep, typeId: 0)]
                def.trimOffsets = pp["trim_offsets"]?.bool ?? true
                def.trimAddPrefixSpace = pp["add_prefix_space"]?.bool ?? true
                def.zeroTypeIds = true
            } else {
                def.pair = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0),
                            .sequence(1, typeId: 1), .special(sep, typeId: 1)]
            }
        case "ByteLevel":
            def.trimOffsets = pp["trim_offsets"]?.bool ?? true
            def.trimAddPrefixSpace = pp["add_prefix_space"]?.bool ?? true
        default:
            throw BertError(.unsupported, "\(path): post_processor \(t.isEmpty ? "without a type" : t) is not supported (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)")
        }
    }

    static func decoder(_ value: TokenizerJSON?, _ def: TokenizerDefinition, path: String) throws -> TokenDecoder {
        guard let d = value, !d.isNull else {
            return def.modelType == "WordPiece" ? .wordPiece(prefix: def.continuationPrefix, cleanup: def.decoderCleanup)
                                                : .wordPiece(prefix: "", cleanup: false)
        }
        let t = d["type"]?.string ?? ""
        switch t {
        case "WordPiece":
            return .wordPiece(prefix: d["prefix"]?.string ?? def.continuationPrefix, cleanup: d["cleanup"]?.bool ?? true)
        case "ByteLevel":
            return .byteLevel
        case "Metaspace":
            let scheme = d["prepend_scheme"]?.string ?? ((d["add_prefix_space"]?.bool ?? true) ? "always" : "never")
            return .metaspace(replacement: d["replacement"]?.string ?? "\u{2581}", stripFirstSpace: scheme != "never")
        default:
            throw BertError(.unsupported, "\(path): decoder \(t.isEmpty ? "without a type" : t) is not supported (supported: WordPiece, ByteLevel, Metaspace)")
        }
    }

    static func template(_ value: TokenizerJSON?, path: String) throws -> [TemplatePiece] {
        guard let items = value?.array else {
            throw BertError(.invalidFile, "\(path): post_processor template is not a list")
        }
        func typeId(_ piece: TokenizerJSON) throws -> Int32 {
            guard let value = piece["type_id"] else { return 0 }
            guard let n = value.int, let id = Int32(exactly: n), id >= 0 else {
                throw BertError(.invalidFile, "\(path): post_processor template type_id is not an integer in 0...\(Int32.max)")
            }
            return id
        }
        return try items.map { item in
            if let s = item["SpecialToken"], let id = s["id"]?.string {
                return .special(id, typeId: try typeId(s))
            }
            if let s = item["Sequence"], let id = s["id"]?.string {
                return .sequence(id == "A" ? 0 : 1, typeId: try typeId(s))
            }
            throw BertError(.invalidFile, "\(path): unknown post_processor template piece")
        }
    }

    // MARK: vocab.json + merges.txt + tokenizer_config.json

    /// The byte-level BPE files of a RoBERTa folder, converted as transformers'
    /// `RobertaConverter` converts them: ByteLevel pre-tokenizer (`add_prefix_space` from
    /// tokenizer_config.json, default false), RobertaProcessing (`trim_offsets`, default true),
    /// ByteLevel decoder, and the added tokens of `added_tokens_decoder` (else the special tokens,
    /// `<mask>` with lstrip as RobertaTokenizer declares it).
    static func fromVocabJSON(_ url: URL, merges mergesURL: URL, config: [String: Any]) throws -> TokenizerDefinition {
        let path = url.path
        let data: Data
        let mergesData: Data
        do {
            data = try Data(contentsOf: url)
            mergesData = try Data(contentsOf: mergesURL)
        } catch {
            throw BertError(.io, "\(path): cannot read it or merges.txt: \(error.localizedDescription)")
        }
        guard let vocab = try TokenizerJSON.parse([UInt8](data), path: path).members else {
            throw BertError(.invalidFile, "\(path): expected a JSON object of token → id")
        }
        var def = TokenizerDefinition()
        def.vocabularyFile = path
        def.modelType = "BPE"
        def.continuationPrefix = ""
        def.setSentencePieceNames()
        let idLimit = vocab.count + 1_000_000
        def.entries = try vocabEntries(vocab, idLimit: idLimit, path: path, key: "")
        // transformers reads merges.txt as lines, skipping the first (#version) and the last.
        var lines = String(decoding: mergesData, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if !lines.isEmpty { lines.removeFirst() }
        if !lines.isEmpty { lines.removeLast() }
        for (i, line) in lines.enumerated() {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard parts.count == 2 else {
                throw BertError(.invalidFile, "\(mergesURL.path): line \(i + 2) is not two tokens")
            }
            def.merges.append((String(parts[0]), String(parts[1])))
        }
        for (key, path) in [("cls_token", \TokenizerDefinition.clsToken), ("sep_token", \.sepToken),
                            ("pad_token", \.padToken), ("mask_token", \.maskToken), ("unk_token", \.unkToken)] {
            if let name = tokenName(config[key]) { def[keyPath: path] = name }
        }
        def.bpeUnkToken = def.unkToken
        let addPrefixSpace = config["add_prefix_space"] as? Bool ?? false
        let trimOffsets = config["trim_offsets"] as? Bool ?? true
        def.preTokenizerSteps = [.byteLevel(addPrefixSpace: addPrefixSpace, useRegex: true)]
        def.trimOffsets = trimOffsets
        def.trimAddPrefixSpace = addPrefixSpace
        def.zeroTypeIds = true
        def.decoder = .byteLevel
        def.cleanUpTokenizationSpaces = false
        let cls = def.clsToken, sep = def.sepToken
        def.single = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0)]
        def.pair = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0),
                    .special(sep, typeId: 0), .sequence(1, typeId: 0), .special(sep, typeId: 0)]
        let ids = Dictionary(def.entries.map { (Array($0.0.utf8), $0.1) }, uniquingKeysWith: { _, b in b })
        if let decoder = config["added_tokens_decoder"] as? [String: Any] {
            for (key, value) in decoder.sorted(by: { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }) {
                guard let id = Int32(key), id >= 0, Int(id) < idLimit, let d = value as? [String: Any],
                      let content = d["content"] as? String else {
                    throw BertError(.invalidFile, "tokenizer_config.json: added_tokens_decoder[\(key)] needs an id and a content")
                }
                def.addedTokens.append(AddedTokenSpec(
                    content: content, id: id, special: d["special"] as? Bool ?? false,
                    lstrip: d["lstrip"] as? Bool ?? false, rstrip: d["rstrip"] as? Bool ?? false,
                    singleWord: d["single_word"] as? Bool ?? false, normalized: d["normalized"] as? Bool ?? false))
            }
        } else {
            for name in [def.clsToken, def.padToken, def.sepToken, def.unkToken, def.maskToken] {
                guard let id = ids[Array(name.utf8)],
                      !def.addedTokens.contains(where: { $0.content.utf8.elementsEqual(name.utf8) }) else { continue }
                def.addedTokens.append(AddedTokenSpec(content: name, id: id, special: true, lstrip: name == def.maskToken))
            }
        }
        return def
    }

    // MARK: vocab.txt + tokenizer_config.json

    static func fromVocabTXT(_ url: URL, config: [String: Any], configPath: String) throws -> TokenizerDefinition {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw BertError(.io, "\(url.path): cannot read: \(error.localizedDescription)")
        }
        var def = TokenizerDefinition()
        def.vocabularyFile = url.path
        // One token per line, split on bytes as Python's universal newlines do (\n, \r\n, \r);
        // nothing else is stripped (HF `load_vocab`: `rstrip("\n")`).
        var id: Int32 = 0
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let b = raw.bindMemory(to: UInt8.self)
            var start = 0, i = 0
            while i < b.count {
                if b[i] == 0x0A || b[i] == 0x0D {
                    def.entries.append((String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self), id))
                    id += 1
                    if b[i] == 0x0D && i + 1 < b.count && b[i + 1] == 0x0A { i += 1 }
                    start = i + 1
                }
                i += 1
            }
            if start < b.count {
                def.entries.append((String(decoding: UnsafeBufferPointer(rebasing: b[start..<b.count]), as: UTF8.self), id))
            }
        }
        // transformers converts the slow BertTokenizer, whose clean_up_tokenization_spaces
        // defaults to true (a tokenizer.json folder defaults to false).
        def.cleanUpTokenizationSpaces = true
        let lower = config["do_lower_case"] as? Bool ?? true
        def.normalizer = NormalizerOptions(
            cleanText: true,
            handleChineseChars: config["tokenize_chinese_chars"] as? Bool ?? true,
            stripAccents: config["strip_accents"] as? Bool,
            lowercase: lower)
        if let unk = tokenName(config["unk_token"]) { def.unkToken = unk }
        for (key, path) in [("cls_token", \TokenizerDefinition.clsToken), ("sep_token", \.sepToken),
                            ("pad_token", \.padToken), ("mask_token", \.maskToken)] {
            if let name = tokenName(config[key]) { def[keyPath: path] = name }
        }
        let cls = def.clsToken, sep = def.sepToken
        def.single = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0)]
        def.pair = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0),
                    .sequence(1, typeId: 1), .special(sep, typeId: 1)]
        // BertTokenizerFast adds the special tokens as literal (non-normalized) added tokens.
        for name in [def.padToken, def.unkToken, def.clsToken, def.sepToken, def.maskToken] {
            // The last line with this exact token (bytes, not canonical equivalence) wins.
            if let i = def.entries.last(where: { $0.0.utf8.elementsEqual(name.utf8) })?.1,
               !def.addedTokens.contains(where: { $0.content.utf8.elementsEqual(name.utf8) }) {
                def.addedTokens.append(AddedTokenSpec(content: name, id: i, special: true))
            }
        }
        _ = configPath
        return def
    }
}
