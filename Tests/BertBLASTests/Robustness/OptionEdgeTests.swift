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
            // ...and checkedEncode names the parameter.
            do {
                _ = try tokenizer.checkedEncode(text, pair: "and a pair", truncation: truncation)
                Issue.record("stride \(stride) accepted")
            } catch let error as BertError {
                #expect(error.kind == .invalidInput)
                #expect(error.message.contains("truncation stride"), "\(error.message)")
                #expect(!error.message.contains("--"), "\(error.message)")
            }
        }
        #expect(tokenizer.encodeBatch([text, ""], truncation: Truncation(maxLength: 6, stride: Int.min)).count == 2)
    }

    /// Before: `documents × dupeFactor` overflowed for dupeFactor Int.max and trapped.
    @Test func hugeDupeFactorThrows() throws {
        let tokenizer = try BertTokenizer(directory: Self.tiny)
        let special = tokenizer.specialTokens
        let builder = try NSPExampleBuilder(options: NSPOptions(maxSeqLength: 16, dupeFactor: .max),
                                            vocabulary: MaskingVocabulary(tokenizer: tokenizer),
                                            clsId: special.cls, sepId: special.sep)
        let corpus = PretrainingCorpus.parse(lines: ["the dog ran .", "a cat sat .", "", "the end .", "go home ."]) {
            tokenizer.encode($0, addSpecialTokens: false).ids
        }
        var rng = SeededRandom(seed: 1)
        do {
            _ = try builder.examples(from: corpus, using: &rng)
            Issue.record("dupe-factor Int.max accepted")
        } catch let error as BertError {
            #expect(error.kind == .invalidInput)
            #expect(error.message.contains("dupe-factor"), "\(error.message)")
        }
    }

    /// Before: `length - ids.count` overflowed for padding to Int.min and trapped.
    @Test func paddingToANegativeLengthIsANoOp() throws {
        let tokenizer = try BertTokenizer(directory: Self.tiny)
        let texts = ["the dog", "a much longer text here"]
        let plain = tokenizer.encodeBatch(texts)
        for n in [Int.min, -1, 0] {
            let padded = tokenizer.encodeBatch(texts, padding: .maxLength(n))
            #expect(padded.map(\.ids) == plain.map(\.ids))
        }
    }

    /// Before: `labelCount * inputSize` overflowed and trapped.
    @Test func linearHeadWithOverflowingSizeThrows() throws {
        for (labels, input) in [(Int.max / 2, 3), (3, Int.max), (1 << 32, 1 << 32)] {
            #expect(throws: BertError.self) {
                try LinearHead(weight: [1, 2, 3], bias: [0, 0, 0], labelCount: labels, inputSize: input)
            }
        }
    }
}
