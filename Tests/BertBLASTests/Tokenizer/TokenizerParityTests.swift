import Foundation
import Testing
@testable import BertBLAS

/// Parity with HuggingFace `tokenizers` / `transformers`, against goldens made by
/// scripts/goldens_tokenizer.py (Tests/Goldens/tokenizer).
@Suite struct TokenizerParityTests {
    /// JSONL records, read with the tokenizer's exact-scalar JSON reader (Foundation's drops a
    /// U+FEFF inside strings, and the goldens have some).
    static func records(_ name: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: Paths.golden("tokenizer/\(name)"))
        var out: [[String: Any]] = []
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            guard let r = plain(try TokenizerJSON.parse([UInt8](line), path: name)) as? [String: Any] else {
                throw BertError(.invalidFile, "\(name): a line is not a JSON object")
            }
            out.append(r)
        }
        return out
    }

    /// TokenizerJSON → Foundation-style values (numbers as Int when integral).
    static func plain(_ j: TokenizerJSON) -> Any {
        switch j {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let d): return j.int.map { $0 as Any } ?? d
        case .string(let s): return s
        case .array(let a): return a.map(plain)
        case .object(let keys, let values):
            var d: [String: Any] = [:]
            for (k, v) in zip(keys, values) { d[k] = plain(v) }
            return d
        }
    }

    static func ints(_ value: Any?) -> [Int] { (value as? [Any] ?? []).map { $0 as? Int ?? -1 } }
    static func optionalInts(_ value: Any?) -> [Int?] { (value as? [Any] ?? []).map { $0 as? Int } }
    static func offsets(_ value: Any?) -> [[Int]] { (value as? [Any] ?? []).map { ints($0) } }

    static func truncation(_ value: Any?) -> Truncation? {
        guard let t = value as? [String: Any], let max = t["max_length"] as? Int else { return nil }
        return Truncation(maxLength: max, strategy: TruncationStrategy(rawValue: t["strategy"] as? String ?? "") ?? .longestFirst,
                          stride: t["stride"] as? Int ?? 0)
    }

    /// Differences between an encoding and a golden record (empty when equal), recursing into
    /// the overflowing windows.
    static func differences(_ e: Encoding, _ r: [String: Any], path: String = "") -> [String] {
        var d: [String] = []
        func check<T: Equatable>(_ name: String, _ ours: T, _ theirs: T) {
            if ours != theirs { d.append("\(path)\(name): ours \(ours) != HF \(theirs)") }
        }
        check("ids", e.ids.map(Int.init), ints(r["ids"]))
        check("type_ids", e.typeIds.map(Int.init), ints(r["type_ids"]))
        check("offsets", e.offsets.map { [$0.start, $0.end] }, offsets(r["offsets"]))
        check("word_ids", e.wordIds, optionalInts(r["word_ids"]))
        if let tokens = r["tokens"] as? [String] { check("tokens", e.tokens, tokens) }
        if r["special_tokens_mask"] != nil { check("special_tokens_mask", e.specialTokensMask.map(Int.init), ints(r["special_tokens_mask"])) }
        if r["attention_mask"] != nil { check("attention_mask", e.attentionMask.map(Int.init), ints(r["attention_mask"])) }
        if r["sequence_ids"] != nil { check("sequence_ids", e.sequenceIds, optionalInts(r["sequence_ids"])) }
        let theirs = r["overflowing"] as? [[String: Any]] ?? []
        check("overflowing.count", e.overflowing.count, theirs.count)
        for (i, (o, t)) in zip(e.overflowing, theirs).enumerated() {
            d += differences(o, t, path: "\(path)overflowing[\(i)].")
        }
        return d
    }

    static func report(_ failures: [String], of total: Int, _ file: String) {
        if !failures.isEmpty {
            Issue.record("\(failures.count) of \(total) records of \(file) differ; first: \(failures.prefix(3).joined(separator: "\n"))")
        }
    }

    static let miniLM: BertTokenizer? = try? BertTokenizer(directory: Paths.miniLM)

    func singles(_ tokenizer: BertTokenizer, _ file: String) throws {
        let records = try Self.records(file)
        #expect(records.count > 200)
        var failures: [String] = []
        for r in records {
            let text = r["text"] as? String ?? ""
            let e: Encoding
            if let pair = r["pair"] as? String {
                e = tokenizer.encode(text, pair: pair, truncation: Self.truncation(r["truncation"]))
            } else {
                e = tokenizer.encode(text)
            }
            let d = Self.differences(e, r)
            if !d.isEmpty { failures.append("\(text.debugDescription): \(d.joined(separator: "; "))") }
        }
        Self.report(failures, of: records.count, file)
    }

    @Test func miniLMSingles() throws {
        let tokenizer = try #require(Self.miniLM)
        try singles(tokenizer, "minilm_single.jsonl")
    }

    /// Random strings glued from tricky pieces, single and paired.
    @Test func miniLMFuzz() throws {
        let tokenizer = try #require(Self.miniLM)
        try singles(tokenizer, "minilm_fuzz.jsonl")
    }

    @Test func casedTokenizerJSON() throws {
        let tokenizer = try BertTokenizer(directory: Paths.golden("tokenizer/cased"))
        #expect(tokenizer.normalizer?.lowercase == false)
        try singles(tokenizer, "cased_single.jsonl")
    }

    @Test func casedStripAccentsFromVocabTXT() throws {
        let tokenizer = try BertTokenizer(directory: Paths.golden("tokenizer/cased_strip"))
        #expect(tokenizer.normalizer == NormalizerOptions(cleanText: true, handleChineseChars: false,
                                                          stripAccents: true, lowercase: false))
        #expect(tokenizer.modelMaxLength == 64)
        try singles(tokenizer, "cased_strip_single.jsonl")
    }

    /// The MiniLM folder without tokenizer.json: vocab.txt + tokenizer_config.json only.
    @Test func miniLMFromVocabTXT() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-vocab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(at: Paths.miniLM.appendingPathComponent(name),
                                             to: dir.appendingPathComponent(name))
        }
        let tokenizer = try BertTokenizer(directory: dir)
        #expect(tokenizer.modelMaxLength == 512)
        try singles(tokenizer, "minilm_vocab_txt.jsonl")
    }

    @Test func miniLMPairsTruncationAndOverflow() throws {
        let tokenizer = try #require(Self.miniLM)
        let records = try Self.records("minilm_pairs.jsonl")
        var failures: [String] = []
        var errors = 0
        for r in records {
            let text = r["text"] as? String ?? ""
            let pair = r["pair"] as? String
            let truncation = Self.truncation(r["truncation"])
            let special = r["add_special_tokens"] as? Bool ?? true
            if r["error"] != nil {
                errors += 1
                do {
                    _ = try tokenizer.checkedEncode(text, pair: pair, truncation: truncation, addSpecialTokens: special)
                    failures.append("\(text.debugDescription): HF rejects \(String(describing: truncation)), we accepted")
                } catch {}
                continue
            }
            // `encode`, not `checkedEncode`: a max_length below the special tokens is not an error
            // in tokenizers (it leaves the pair untruncated), and `encode` does the same.
            let e = tokenizer.encode(text, pair: pair, truncation: truncation, addSpecialTokens: special)
            let d = Self.differences(e, r)
            if !d.isEmpty { failures.append("\(text.debugDescription) / \(String(describing: pair)) \(String(describing: truncation)): \(d.joined(separator: "; "))") }
        }
        #expect(errors > 0)
        Self.report(failures, of: records.count, "minilm_pairs.jsonl")
    }

    /// transformers' QA windows: truncation="only_second", stride, return_overflowing_tokens.
    @Test func miniLMQuestionAnsweringWindows() throws {
        let tokenizer = try #require(Self.miniLM)
        let records = try Self.records("minilm_qa.jsonl")
        var failures: [String] = []
        for r in records {
            let question = r["question"] as? String ?? "", context = r["context"] as? String ?? ""
            let t = Truncation(maxLength: r["max_length"] as? Int ?? 0, strategy: .onlySecond, stride: r["stride"] as? Int ?? 0)
            let e = tokenizer.encode(question, pair: context, truncation: t)
            let windows = [e] + e.overflowing
            let theirs = r["windows"] as? [[String: Any]] ?? []
            if windows.count != theirs.count {
                failures.append("\(question): \(windows.count) windows, HF \(theirs.count)")
                continue
            }
            for (w, h) in zip(windows, theirs) {
                var h = h
                h["word_ids"] = w.wordIds  // not in transformers' output
                let d = Self.differences(Encoding(ids: w.ids, typeIds: w.typeIds, tokens: w.tokens, offsets: w.offsets,
                                                  attentionMask: w.attentionMask, specialTokensMask: w.specialTokensMask,
                                                  wordIds: w.wordIds, sequenceIds: w.sequenceIds), h)
                if !d.isEmpty { failures.append("\(question): \(d.joined(separator: "; "))") }
            }
        }
        Self.report(failures, of: records.count, "minilm_qa.jsonl")
    }

    @Test func miniLMBatchesWithPadding() throws {
        let tokenizer = try #require(Self.miniLM)
        let records = try Self.records("minilm_batches.jsonl")
        var failures: [String] = []
        for r in records {
            let texts = r["texts"] as? [String] ?? []
            let pairs = r["pairs"] as? [String]
            let padding: Padding = (r["padding"] as? Int).map { .maxLength($0) } ?? .longest
            let out = tokenizer.encodeBatch(texts, pairs: pairs, truncation: Self.truncation(r["truncation"]), padding: padding)
            let theirs = r["encodings"] as? [[String: Any]] ?? []
            #expect(out.count == theirs.count)
            for (e, h) in zip(out, theirs) {
                let d = Self.differences(e, h)
                if !d.isEmpty { failures.append("\(texts.first ?? ""): \(d.joined(separator: "; "))") }
            }
        }
        Self.report(failures, of: records.count, "minilm_batches.jsonl")
    }

    @Test func decodeLikeTransformers() throws {
        let records = try Self.records("decode.jsonl")
        let vocabDir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-dec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: vocabDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: vocabDir) }
        for name in ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(at: Paths.miniLM.appendingPathComponent(name), to: vocabDir.appendingPathComponent(name))
        }
        let tokenizers = [
            "minilm": try #require(Self.miniLM),
            "splade": try BertTokenizer(directory: Paths.spladeMLM),
            "minilm_vocab_txt": try BertTokenizer(directory: vocabDir),
        ]
        var failures: [String] = []
        for r in records {
            guard let tokenizer = tokenizers[r["folder"] as? String ?? ""] else { continue }
            let ids = Self.ints(r["ids"]).map(Int32.init)
            let skip = tokenizer.decode(ids), keep = tokenizer.decode(ids, skipSpecialTokens: false)
            if skip != r["skip"] as? String { failures.append("\(r["folder"] ?? "") \(ids) skip: \(skip.debugDescription) != \(String(describing: r["skip"]))") }
            if keep != r["keep"] as? String { failures.append("\(r["folder"] ?? "") \(ids) keep: \(keep.debugDescription) != \(String(describing: r["keep"]))") }
        }
        Self.report(failures, of: records.count, "decode.jsonl")
    }

    /// Every code point through the normalizer and pre-tokenizer: the pre-tokens of
    /// "a" + c + "b" equal `tokenizers`' (BertNormalizer + BertPreTokenizer).
    @Test(arguments: ["uncased", "cased", "strip_only"])
    func everyCodePoint(_ config: String) throws {
        let data = try Data(contentsOf: Paths.golden("tokenizer/codepoints_\(config).json"))
        let table = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let runs = try #require(table["runs"] as? [[Any]])
        let explicit = try #require(table["explicit"] as? [[Any]])
        let options: NormalizerOptions
        switch config {
        case "uncased": options = NormalizerOptions()
        case "cased": options = NormalizerOptions(lowercase: false)
        default: options = NormalizerOptions(handleChineseChars: false, stripAccents: true, lowercase: false)
        }
        let tokenizer = try #require(Self.miniLM)
        let encoder = WordPieceEncoder(vocabulary: tokenizer.vocabulary, unk: 0, maxInputCharsPerWord: 100,
                                       normalizer: options, addedTokens: [])
        var explicitIndex = 0, previous = 0
        var failures: [String] = []
        var checked = 0
        for run in runs {
            guard run.count == 3, let first = run[0] as? Int, let count = run[1] as? Int, let code = run[2] as? String else {
                Issue.record("bad run \(run)")
                return
            }
            for cp in first..<(first + count) {
                guard code != "-", let scalar = Unicode.Scalar(UInt32(cp)) else { continue }
                let c = String(scalar)
                let expected: [String]
                switch code {
                case "W": expected = ["a" + c + "b"]
                case "P": expected = ["a", c, "b"]
                case "S": expected = ["a", "b"]
                case "R": expected = ["ab"]
                default:
                    let e = explicit[explicitIndex]
                    explicitIndex += 1
                    let delta = e[0] as? Int ?? 0
                    #expect(previous + delta == cp)
                    previous = cp
                    if let m = e[1] as? String { expected = ["a" + m + "b"] } else { expected = e[1] as? [String] ?? [] }
                }
                let ours = encoder.preTokens("a" + c + "b")
                checked += 1
                if ours != expected {
                    failures.append("U+\(String(cp, radix: 16, uppercase: true)): ours \(ours.map(\.unicodeScalars).map { $0.map { String($0.value, radix: 16) } }) HF \(expected.map(\.unicodeScalars).map { $0.map { String($0.value, radix: 16) } })")
                }
            }
        }
        #expect(checked > 1_100_000)
        if !failures.isEmpty, let dump = ProcessInfo.processInfo.environment["BERTBLAS_DUMP_CODEPOINTS"] {
            try? failures.joined(separator: "\n").write(toFile: dump + "." + config, atomically: true, encoding: .utf8)
        }
        if !failures.isEmpty {
            Issue.record("\(config): \(failures.count) code points differ; first: \(failures.prefix(20).joined(separator: "\n"))")
        }
    }
}
