import Foundation
import Testing
@testable import BertBLAS

/// `bert tokenize`, run as a user would.
@Suite struct TokenizeCLITests {
    let model = Paths.miniLM.path

    @Test func emptyLineGivesClsSep() throws {
        let r = try CLI.run("bert", ["tokenize", "--model", model], stdin: "hello world\n\n")
        #expect(r.status == 0)
        let records = try r.jsonLines().compactMap { $0 as? [String: Any] }
        #expect(records.count == 2)
        #expect(records.last?["tokens"] as? [String] == ["[CLS]", "[SEP]"])
        #expect(records.last?["input_ids"] as? [Int] == [101, 102])
        #expect(records.last?["attention_mask"] as? [Int] == [1, 1])
        #expect(records.last?["offsets"] as? [[Int]] == [[0, 0], [0, 0]])
        // Reference: tokenizers 0.22.1 on "hello world".
        #expect(records.first?["input_ids"] as? [Int] == [101, 7592, 2088, 102])
        #expect(records.first?["token_type_ids"] as? [Int] == [0, 0, 0, 0])
    }

    @Test func invalidUTF8IsReplacedWithAWarningNamingFileAndLine() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-bad-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data([0x6F, 0x6B, 0x0A, 0x62, 0x61, 0xFF, 0x64, 0x0A]).write(to: file)  // "ok\nba\xFFd\n"
        let r = try CLI.run("bert", ["tokenize", "--model", model, file.path])
        #expect(r.status == 0)
        #expect(r.stderr.contains("\(file.path):2"))
        #expect(r.stderr.contains("invalid UTF-8"))
        let records = try r.jsonLines().compactMap { $0 as? [String: Any] }
        #expect(records.count == 2)
        // "ba\u{FFFD}d": clean_text drops U+FFFD. Reference (tokenizers 0.22.1): [CLS] bad [SEP], (0, 4).
        let tokenizer = try BertTokenizer(directory: Paths.miniLM)
        #expect(records.last?["input_ids"] as? [Int] == tokenizer.encode("ba\u{FFFD}d").ids.map(Int.init))
        #expect(records.last?["tokens"] as? [String] == ["[CLS]", "bad", "[SEP]"])
        #expect(records.last?["offsets"] as? [[Int]] == [[0, 0], [0, 4], [0, 0]])
    }

    @Test func pairsTruncateAndBadLinesFail() throws {
        let input = "what is it?\tit is a tokenizer that matches hugging face exactly\nno tab here\n"
        let r = try CLI.run("bert", ["tokenize", "--model", model, "--pair", "--max-length", "10",
                                     "--truncation", "only_second"], stdin: input)
        #expect(r.status != 0)
        #expect(r.stderr.contains("-:2"))
        let records = try r.jsonLines().compactMap { $0 as? [String: Any] }
        #expect(records.count == 2)
        let tokenizer = try BertTokenizer(directory: Paths.miniLM)
        let expected = tokenizer.encode("what is it?", pair: "it is a tokenizer that matches hugging face exactly",
                                        truncation: Truncation(maxLength: 10, strategy: .onlySecond))
        #expect(records.first?["input_ids"] as? [Int] == expected.ids.map(Int.init))
        #expect(records.first?["token_type_ids"] as? [Int] == expected.typeIds.map(Int.init))
        #expect((records.first?["input_ids"] as? [Int])?.count == 10)
        #expect(records.last?["error"] is String)
    }

    @Test func rejectsAnUnknownTruncationStrategy() throws {
        let r = try CLI.run("bert", ["tokenize", "--model", model, "--truncation", "sideways"], stdin: "x\n")
        #expect(r.status != 0)
        #expect(r.stderr.contains("--truncation"))
    }
}
