import Foundation
import Testing
@testable import BertBLAS

/// Caller-supplied options at the edges of their type: a `BertError` naming the option, no trap.
@Suite struct OptionEdgeTests {
    static let tiny = Paths.golden("encoder/tiny-gelu-uncased")

    /// Before: `maxLength - stride` overflowed for stride Int.min and trapped.
    @Test func negativeStrideIsRejectedNotApplied() throws {
        let tokenizer = try BertTokenizer(directory: Self.tiny)
        let text = "the quick brown fox jumps over the lazy dog again and again"
        let plain = tokenizer.encode(text)
        for stride in [-1, Int.min] {
            let truncation = Truncation(maxLength: 6, stride: stride)
            // Like HF's other rejected settings: encode leaves the text untruncated...
            let encoding = tokenizer.encode(text, truncation: truncation)
            #expect(encoding.ids == plain.ids)
            #expect(encoding.overflowing.isEmpty)
            // ...and checkedEncode names the option.
            do {
                _ = try tokenizer.checkedEncode(text, pair: "and a pair", truncation: truncation)
                Issue.record("stride \(stride) accepted")
            } catch let error as BertError {
                #expect(error.kind == .invalidInput)
                #expect(error.message.contains("--stride"), "\(error.message)")
            }
        }
        #expect(tokenizer.encodeBatch([text, ""], truncation: Truncation(maxLength: 6, stride: Int.min)).count == 2)
    }
}
