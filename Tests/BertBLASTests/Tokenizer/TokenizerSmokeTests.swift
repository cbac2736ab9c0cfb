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

    /// MiniLM's tokenizer.json stores truncation longest_first 128 and fixed padding to 128:
    /// exposed, never applied unless asked for.
    @Test func storedSettingsAreOptIn() throws {
        let tokenizer = try BertTokenizer(directory: Paths.miniLM)
        #expect(tokenizer.storedTruncation == Truncation(maxLength: 128, strategy: .longestFirst, stride: 0))
        #expect(tokenizer.storedPadding == .maxLength(128))
        #expect(tokenizer.encode("hello world").count == 4)
        let padded = tokenizer.encodeBatch(["hello world"], truncation: tokenizer.storedTruncation,
                                           padding: tokenizer.storedPadding)
        #expect(padded.first?.count == 128)
        #expect(padded.first?.attentionMask.reduce(0, +) == 4)
    }

    /// One tokenizer shared by threads gives the same encodings as sequential use.
    @Test func concurrentEncodingMatchesSequential() throws {
        let tokenizer = try BertTokenizer(directory: Paths.miniLM)
        let text = try String(contentsOf: Paths.golden("tokenizer/corpus.txt"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let expected = lines.map { tokenizer.encode($0) }
        let results = ConcurrentResults(count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { k in
            let mine = lines.map { tokenizer.encode($0) }
            results.set(k, mine == expected)
        }
        #expect(results.all)
    }
}

/// Per-thread outcomes of the concurrency test; the lock protects `values`.
private final class ConcurrentResults: @unchecked Sendable {
    private var values: [Bool]
    private let lock = NSLock()
    init(count: Int) { values = [Bool](repeating: false, count: count) }
    func set(_ i: Int, _ v: Bool) { lock.lock(); values[i] = v; lock.unlock() }
    var all: Bool { lock.lock(); defer { lock.unlock() }; return values.allSatisfy { $0 } }
}
