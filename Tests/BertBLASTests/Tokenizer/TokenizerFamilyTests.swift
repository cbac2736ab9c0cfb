import Foundation
import Testing
@testable import BertBLAS

/// Parity of the byte-level BPE and Unigram tokenizers with HuggingFace `tokenizers`, against
/// goldens made by scripts/goldens_tokenizer_families.py (Tests/Goldens/tokenizer/<family>*).
/// Adding a family is one line of `families` (and one entry of the script's FAMILIES table).
@Suite struct TokenizerFamilyTests {
    struct Family: Sendable, CustomStringConvertible {
        /// The golden files' prefix.
        var name: String
        /// The folder under Tests/Goldens/tokenizer.
        var folder: String
        /// When set, the tokenizer is loaded from a copy of the folder holding only these files.
        var only: [String]? = nil
        /// The golden files to check (`<name>_<kind>.jsonl`).
        var goldens: [String]
        /// The expected `modelType`.
        var model: String
        var description: String { only == nil ? name : "\(name) (\(only?.joined(separator: " + ") ?? ""))" }
    }

    static let families: [Family] = [
        Family(name: "roberta_bpe", folder: "roberta_bpe", goldens: ["single", "fuzz", "pairs"], model: "BPE"),
        Family(name: "roberta_prefix", folder: "roberta_prefix", goldens: ["single", "fuzz"], model: "BPE"),
        Family(name: "roberta_bpe", folder: "roberta_bpe",
               only: ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"],
               goldens: ["single"], model: "BPE"),
        Family(name: "xlmr_unigram", folder: "xlmr_unigram", goldens: ["single", "fuzz", "pairs"], model: "Unigram"),
        Family(name: "unigram_nfkc", folder: "unigram_nfkc", goldens: ["single", "fuzz"], model: "Unigram"),
        // byte_fallback: 4,701 of the goldens' 15,004 tokens are <0xXX> pieces.
        Family(name: "unigram_bytes", folder: "unigram_bytes", goldens: ["single", "fuzz"], model: "Unigram"),
    ]

    /// Loads the family's tokenizer (from a copy holding only `only` when set).
    static func load(_ f: Family) throws -> Tokenizer {
        let folder = Paths.golden("tokenizer/\(f.folder)")
        guard let only = f.only else { return try Tokenizer(directory: folder) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-\(f.name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in only {
            try FileManager.default.copyItem(at: folder.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        return try Tokenizer(directory: dir)
    }

    /// Every record of every golden file of the family: ids, type ids, offsets, word ids, masks,
    /// sequence ids, overflow windows (and tokens where stored); settings HF rejects must throw.
    @Test(arguments: families)
    func parityWithTokenizers(_ f: Family) throws {
        let tokenizer = try Self.load(f)
        #expect(tokenizer.modelType == f.model)
        for kind in f.goldens {
            let file = "\(f.name)_\(kind).jsonl"
            let records = try TokenizerParityTests.records(file)
            #expect(records.count > 50, "\(file)")
            var failures: [String] = []
            for r in records {
                let text = r["text"] as? String ?? ""
                let pair = r["pair"] as? String
                let truncation = TokenizerParityTests.truncation(r["truncation"])
                let special = r["add_special_tokens"] as? Bool ?? true
                if r["error"] != nil {
                    do {
                        _ = try tokenizer.checkedEncode(text, pair: pair, truncation: truncation, addSpecialTokens: special)
                        failures.append("\(text.debugDescription): HF rejects \(String(describing: truncation)), we accepted")
                    } catch {}
                    continue
                }
                let e = tokenizer.encode(text, pair: pair, truncation: truncation, addSpecialTokens: special)
                let d = TokenizerParityTests.differences(e, r)
                if !d.isEmpty {
                    failures.append("\(text.debugDescription) / \(String(describing: pair)): \(d.joined(separator: "; "))")
                }
            }
            TokenizerParityTests.report(failures, of: records.count, "\(f.description) \(file)")
        }
    }
}

extension TokenizerFamilyTests {
    /// transformers' `tokenizer.decode` (ByteLevel and Metaspace decoders), special tokens
    /// skipped and kept.
    @Test(arguments: ["roberta_bpe", "xlmr_unigram"])
    func decodeLikeTransformers(_ name: String) throws {
        let tokenizer = try Tokenizer(directory: Paths.golden("tokenizer/\(name)"))
        let records = try TokenizerParityTests.records("\(name)_decode.jsonl")
        #expect(records.count > 50)
        var failures: [String] = []
        for r in records {
            let ids = TokenizerParityTests.ints(r["ids"]).map(Int32.init)
            let skip = tokenizer.decode(ids), keep = tokenizer.decode(ids, skipSpecialTokens: false)
            if skip != r["skip"] as? String { failures.append("\(ids) skip: \(skip.debugDescription) != \(String(describing: r["skip"]))") }
            if keep != r["keep"] as? String { failures.append("\(ids) keep: \(keep.debugDescription) != \(String(describing: r["keep"]))") }
        }
        TokenizerParityTests.report(failures, of: records.count, "\(name)_decode.jsonl")
    }

    /// A tokenizer.json whose model, normalizer or pre-tokenizer this library does not implement
    /// is refused with an error naming the file and listing what is supported.
    @Test func unsupportedStagesAreNamed() throws {
        let source = try String(contentsOf: Paths.golden("tokenizer/xlmr_unigram/tokenizer.json"), encoding: .utf8)
        let cases: [(String, String, String)] = [
            ("\"type\":\"Unigram\"", "\"type\":\"WordLevel\"", "model type WordLevel is not supported (supported: WordPiece, BPE, Unigram)"),
            ("\"type\":\"Precompiled\"", "\"type\":\"Nmt\"", "normalizer Nmt is not supported (supported: Sequence, Precompiled"),
            ("\"type\":\"Metaspace\"", "\"type\":\"Digits\"", "pre_tokenizer Digits is not supported (supported: Sequence, ByteLevel, Metaspace"),
        ]
        for (from, to, message) in cases {
            let compact = source.replacingOccurrences(of: "\": \"", with: "\":\"")
            #expect(compact.contains(from), "\(from)")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-unsupported-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("tokenizer.json")
            try compact.replacingOccurrences(of: from, with: to).write(to: file, atomically: true, encoding: .utf8)
            #expect {
                try Tokenizer(directory: dir)
            } throws: { error in
                guard let e = error as? BertError else { return false }
                return e.kind == .unsupported && e.message.contains(file.path) && e.message.contains(message)
            }
        }
    }
}
