import Foundation
import Testing
@testable import BertBLAS

/// Hostile tokenizer.json texts throw `BertError.invalidFile` naming the file; none traps.
@Suite struct TokenizerJSONRobustnessTests {
    static let tiny = Paths.golden("encoder/tiny-gelu-uncased")

    /// Before: 100,000 nested `[` recursed once per level and overflowed the stack (SIGSEGV).
    @Test func deepNestingThrows() throws {
        for open in ["[", "{\"a\":"] {
            let text = Array(String(repeating: open, count: 100_000).utf8)
            do {
                _ = try TokenizerJSON.parse(text, path: "deep.json")
                Issue.record("parsed \(open) x 100000")
            } catch let error as BertError {
                #expect(error.kind == .invalidFile)
                #expect(error.message.contains("deep.json"))
                #expect(error.message.contains("nested deeper"))
            }
        }
        // 128 levels, serde_json's limit, still parse.
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(throws: Never.self) { try TokenizerJSON.parse(Array(ok.utf8), path: "ok.json") }
    }

    @Test func loneSurrogatesAndBadEscapes() throws {
        let lone = try TokenizerJSON.parse(Array(#"["\ud800", "\udc00x", "\ud800\u0041", "\uD83D\uDE00"]"#.utf8), path: "s.json")
        #expect(lone.array?.map { $0.string ?? "?" } == ["\u{FFFD}", "\u{FFFD}x", "\u{FFFD}A", "😀"])
        for bad in [#""\u12""#, #""\x""#, #""abc"#, #""\"#, #""\u+041""#, #""\u-041""#, #""\u 041""#, #""\ud800\u+c00""#] {
            #expect(throws: BertError.self) { try TokenizerJSON.parse(Array(bad.utf8), path: "s.json") }
        }
    }

    /// A copy of the tiny model's tokenizer.json with `edit` applied, loaded from a fresh folder.
    static func loadEdited(_ edit: (String) -> String) throws -> Result<BertTokenizer, BertError> {
        let text = try String(contentsOf: tiny.appendingPathComponent("tokenizer.json"), encoding: .utf8)
        let edited = edit(text)
        #expect(edited != text)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(edited.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        do { return .success(try BertTokenizer(directory: dir)) } catch let e as BertError { return .failure(e) }
    }

    /// Before: a template `type_id` or post-processor special-token id beyond Int32 trapped in
    /// `Int32(_:)`.
    @Test func outOfRangeTemplateIdsThrow() throws {
        let typeId = try Self.loadEdited { $0.replacingOccurrences(of: "\"type_id\": 1", with: "\"type_id\": 3000000000") }
        guard case .failure(let e1) = typeId else { Issue.record("loaded"); return }
        #expect(e1.message.contains("tokenizer.json") && e1.message.contains("type_id"), "\(e1.message)")

        let text = try String(contentsOf: Self.tiny.appendingPathComponent("tokenizer.json"), encoding: .utf8)
        guard let range = text.range(of: #""ids": \[\s*\d+"#, options: .regularExpression) else {
            Issue.record("no special_tokens ids in the tiny tokenizer.json"); return
        }
        for bad in ["3000000000", "-1", "8000000000000000"] {
            let ids = try Self.loadEdited { $0.replacingCharacters(in: range, with: "\"ids\": [\(bad)") }
            guard case .failure(let e2) = ids else { Issue.record("loaded with id \(bad)"); continue }
            #expect(e2.message.contains("tokenizer.json") && e2.message.contains("post_processor"), "\(e2.message)")
        }
    }
}

/// usize fields of tokenizer.json (HF rejects negatives when deserializing).
@Suite struct TokenizerJSONCountTests {
    /// Before: a negative max_input_chars_per_word turned every word into [UNK], and negative
    /// stored truncation / padding lengths were kept; now each names tokenizer.json and the key.
    @Test func negativeCountsThrowNamingTheKey() throws {
        let edits: [(String, (String) -> String)] = [
            ("max_input_chars_per_word", { $0.replacingOccurrences(of: #""max_input_chars_per_word": 100"#, with: #""max_input_chars_per_word": -1"#) }),
            ("truncation.max_length", { $0.replacingOccurrences(of: #""truncation": null"#, with: #""truncation": {"max_length": -3, "strategy": "LongestFirst", "stride": 0}"#) }),
            ("truncation.stride", { $0.replacingOccurrences(of: #""truncation": null"#, with: #""truncation": {"max_length": 8, "strategy": "LongestFirst", "stride": -2}"#) }),
            ("padding.strategy.Fixed", { $0.replacingOccurrences(of: #""padding": null"#, with: #""padding": {"strategy": {"Fixed": -4}}"#) }),
        ]
        for (key, edit) in edits {
            guard case .failure(let e) = try TokenizerJSONRobustnessTests.loadEdited(edit) else {
                Issue.record("\(key) negative accepted"); continue
            }
            #expect(e.message.contains("tokenizer.json") && e.message.contains(key), "\(e.message)")
        }
        // Before: 1e15 was kept, and applying the stored padding tried to allocate 1e15 tokens.
        guard case .failure(let huge) = try TokenizerJSONRobustnessTests.loadEdited({
            $0.replacingOccurrences(of: #""padding": null"#, with: #""padding": {"strategy": {"Fixed": 1000000000000000}}"#)
        }) else { Issue.record("padding 1e15 accepted"); return }
        #expect(huge.message.contains("tokenizer.json") && huge.message.contains("padding.strategy.Fixed"), "\(huge.message)")
        guard case .success(let t) = try TokenizerJSONRobustnessTests.loadEdited({
            $0.replacingOccurrences(of: #""truncation": null"#, with: #""truncation": {"max_length": 8, "strategy": "LongestFirst", "stride": 2}"#)
        }) else { Issue.record("valid stored truncation rejected"); return }
        #expect(t.storedTruncation?.maxLength == 8 && t.storedTruncation?.stride == 2)
    }
}
