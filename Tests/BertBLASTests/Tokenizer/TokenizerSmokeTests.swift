import Foundation
import Testing
@testable import BertBLAS

/// Quick checks on the real MiniLM tokenizer; the full parity suite reads Tests/Goldens/tokenizer.
@Suite struct TokenizerSmokeTests {
    @Test func miniLMSentence() throws {
        let tokenizer = try BertTokenizer(directory: Paths.miniLM)
        // Reference: tokenizers 0.22.1, all-MiniLM-L6-v2 tokenizer.json, no padding/truncation.
        let e = tokenizer.encode("Hello, world! Unaffable naïveté, 東京!")
        #expect(e.ids == [101, 7592, 1010, 2088, 999, 14477, 20961, 3468, 15743, 2618, 1010, 1879, 1755, 999, 102])
        #expect(e.offsets.map { [$0.start, $0.end] } == [[0, 0], [0, 5], [5, 6], [7, 12], [12, 13], [14, 17], [17, 20],
                                                        [20, 23], [24, 29], [29, 31], [31, 32], [33, 34], [34, 35],
                                                        [35, 36], [0, 0]])
        #expect(tokenizer.specialTokens == SpecialTokens(cls: 101, sep: 102, pad: 0, unk: 100, mask: 103))
    }

    @Test func emptyTextIsClsSep() throws {
        let tokenizer = try BertTokenizer(directory: Paths.miniLM)
        let e = tokenizer.encode("")
        #expect(e.tokens == ["[CLS]", "[SEP]"])
        #expect(e.wordIds == [nil, nil])
    }
}
