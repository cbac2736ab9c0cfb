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
    var addedTokens: [(content: String, id: Int32, special: Bool)] = []
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
}

/// One piece of a `TemplateProcessing` post-processor.
enum TemplatePiece: Sendable {
    /// Special token(s) by name, with their type id.
    case special(String, typeId: Int32)
    /// Sequence A (0) or B (1), with the type id its tokens get.
    case sequence(Int, typeId: Int32)
}

enum TokenizerFiles {
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
        if fm.fileExists(atPath: tokenizerJSON.path) {
            def = try fromTokenizerJSON(tokenizerJSON)
        } else if fm.fileExists(atPath: vocabTXT.path) {
            def = try fromVocabTXT(vocabTXT, config: config, configPath: configURL.path)
        } else {
            throw BertError(.io, "\(vocabTXT.path): no such file (and no tokenizer.json in \(directory.path))")
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
        guard type == "WordPiece" else {
            throw BertError(.unsupported, "\(path): model type \(type) is not supported (WordPiece only)")
        }
        guard let vocab = model["vocab"]?.members else {
            throw BertError(.invalidFile, "\(path): model.vocab is missing or not an object")
        }
        def.entries.reserveCapacity(vocab.count)
        // Ids are dense in real vocabularies; a far-out id would make every per-id table huge.
        let idLimit = vocab.count + 1_000_000
        for (token, value) in vocab {
            guard let id = value.int, id >= 0, id < idLimit else {
                throw BertError(.invalidFile, "\(path): model.vocab[\"\(token)\"] is not a valid id")
            }
            def.entries.append((token, Int32(id)))
        }
        if let unk = model["unk_token"]?.string { def.unkToken = unk }
        if let p = model["continuing_subword_prefix"]?.string { def.continuationPrefix = p }
        // Counts tokenizers stores as usize: present means a non-negative integer (serde rejects
        // anything else), so a negative or fractional value is an error here too.
        func count(_ value: TokenizerJSON?, _ key: String) throws -> Int? {
            guard let value, !value.isNull else { return nil }
            guard let n = value.int, n >= 0 else {
                throw BertError(.invalidFile, "\(path): \(key) must be a non-negative integer")
            }
            return n
        }
        if let m = try count(model["max_input_chars_per_word"], "model.max_input_chars_per_word") {
            def.maxInputCharsPerWord = m
        }

        // Normalizer.
        if let n = json["normalizer"], !n.isNull {
            let t = n["type"]?.string ?? ""
            guard t == "BertNormalizer" else {
                throw BertError(.unsupported, "\(path): normalizer \(t) is not supported (BertNormalizer only)")
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
                throw BertError(.unsupported, "\(path): pre_tokenizer \(t) is not supported (BertPreTokenizer only)")
            }
        }

        // Added tokens (matched on the raw text).
        for a in json["added_tokens"]?.array ?? [] {
            guard let content = a["content"]?.string, let id = a["id"]?.int, id >= 0, id < idLimit else {
                throw BertError(.invalidFile, "\(path): added_tokens has an entry without content or a valid id")
            }
            def.addedTokens.append((content, Int32(id), a["special"]?.bool ?? false))
        }

        // Post-processor.
        def.single = [.sequence(0, typeId: 0)]
        def.pair = [.sequence(0, typeId: 0), .sequence(1, typeId: 1)]
        if let pp = json["post_processor"], !pp.isNull {
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
            case "BertProcessing":
                let cls = pp["cls"]?.array?.first?.string ?? "[CLS]"
                let sep = pp["sep"]?.array?.first?.string ?? "[SEP]"
                def.clsToken = cls
                def.sepToken = sep
                def.single = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0)]
                def.pair = [.special(cls, typeId: 0), .sequence(0, typeId: 0), .special(sep, typeId: 0),
                            .sequence(1, typeId: 1), .special(sep, typeId: 1)]
            default:
                throw BertError(.unsupported, "\(path): post_processor \(t) is not supported")
            }
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
                def.storedPadding = .maxLength(n)
            } else {
                def.storedPadding = .longest
            }
        }
        if let c = json["decoder"]?["cleanup"]?.bool { def.decoderCleanup = c }
        return def
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
                def.addedTokens.append((name, i, true))
            }
        }
        _ = configPath
        return def
    }
}
