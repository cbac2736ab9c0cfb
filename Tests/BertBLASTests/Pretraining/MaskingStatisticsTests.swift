import Foundation
import Testing
@testable import BertBLAS

/// Masking statistics on a real corpus: the Rotten Tomatoes snippets (~400k tokens), each
/// encoded as `[CLS] text [SEP]` and padded to its batch's longest sequence, as a collator sees
/// them.
@Suite struct MaskingStatisticsTests {
    struct Batch {
        var ids: [[Int32]]
        var special: [[Int32]]
    }

    /// Batches of 32 padded sequences. The padding's special-tokens-mask entries are left at 0
    /// on purpose: the masker must skip `[PAD]` on its own.
    static let corpus: Result<(PretrainTokenizer, [Batch]), Error> = Result {
        let tokenizer = try PretrainTokenizer.load()
        let texts = try PretrainCorpora.rottenTomatoesTexts()
        var batches: [Batch] = []
        var start = 0
        while start < texts.count {
            let encoded = texts[start ..< min(start + 32, texts.count)].map {
                [tokenizer.cls] + tokenizer.tokenize($0).prefix(510) + [tokenizer.sep]
            }
            let width = encoded.map(\.count).max() ?? 0
            batches.append(Batch(
                ids: encoded.map { $0 + Array(repeating: tokenizer.pad, count: width - $0.count) },
                special: encoded.map { [1] + Array(repeating: 0, count: $0.count - 2) + [1]
                    + Array(repeating: 0, count: width - $0.count) }))
            start += 32
        }
        return (tokenizer, batches)
    }

    @Test func perTokenMaskingRatesAndLabels() throws {
        let (tokenizer, batches) = try Self.corpus.get()
        let masker = try MLMMasker(policy: .languageModeling(), vocabulary: tokenizer.vocabulary)
        var rng = SeededRandom(seed: 42)
        var candidates = 0, selected = 0, masked = 0, random = 0, kept = 0
        var randomIds: [Int32] = []
        for batch in batches {
            for (ids, special) in zip(batch.ids, batch.special) {
                let out = try masker.mask(ids, specialTokensMask: special, using: &rng)
                for i in ids.indices {
                    let isSpecial = special[i] == 1 || ids[i] == tokenizer.pad
                    if !isSpecial { candidates += 1 }
                    guard out.labels[i] != -100 else {
                        #expect(out.inputIds[i] == ids[i])
                        continue
                    }
                    #expect(!isSpecial, "special or padding token selected")
                    #expect(out.labels[i] == ids[i])
                    selected += 1
                    if out.inputIds[i] == tokenizer.mask {
                        masked += 1
                    } else if out.inputIds[i] == ids[i] {
                        kept += 1
                    } else {
                        random += 1
                        randomIds.append(out.inputIds[i])
                    }
                }
            }
        }
        #expect(candidates >= 100_000)
        let rate = Double(selected) / Double(candidates)
        #expect(abs(rate - 0.15) <= 0.005, "selection rate \(rate) over \(candidates) candidates")
        let s = Double(selected)
        #expect(abs(Double(masked) / s - 0.8) <= 0.015, "[MASK] share \(Double(masked) / s)")
        #expect(abs(Double(random) / s - 0.1) <= 0.015, "random share \(Double(random) / s)")
        #expect(abs(Double(kept) / s - 0.1) <= 0.015, "kept share \(Double(kept) / s)")
        // Random ids come from the whole vocabulary, not from the text.
        let size = Double(tokenizer.vocabulary.size)
        let mean = Double(randomIds.reduce(0) { $0 + Int($1) }) / Double(randomIds.count)
        #expect(abs(mean - size / 2) < 0.05 * size, "mean random id \(mean)")
        #expect(randomIds.filter { $0 < 1000 }.count > 0 && randomIds.filter { Double($0) > size - 1000 }.count > 0)
    }

    @Test func wholeWordMaskingMasksWordsWholeWithinBudget() throws {
        let (tokenizer, batches) = try Self.corpus.get()
        let masker = try MLMMasker(policy: .wholeWordCollator(), vocabulary: tokenizer.vocabulary)
        var rng = SeededRandom(seed: 43)
        var pieces = 0, selected = 0, masked = 0
        for batch in batches {
            for (ids, special) in zip(batch.ids, batch.special) {
                let out = try masker.mask(ids, specialTokensMask: special, using: &rng)
                let length = ids.filter { $0 != tokenizer.pad }.count
                let budget = min(512, max(1, Int((Double(length) * 0.15).rounded(.toNearestOrEven))))
                let chosen = out.labels.map { $0 != -100 }
                let count = chosen.filter { $0 }.count
                #expect(count <= budget)
                selected += count
                masked += out.inputIds.filter { $0 == tokenizer.mask }.count
                var wordLengths: [(start: Int, length: Int)] = []
                for i in ids.indices where special[i] == 0 && ids[i] != tokenizer.pad {
                    if tokenizer.vocabulary.isContinuation(ids[i]), let last = wordLengths.last,
                       last.start + last.length == i {
                        wordLengths[wordLengths.count - 1].length += 1
                        pieces += 1
                        #expect(chosen[i] == chosen[i - 1], "a ## piece masked apart from its word")
                    } else {
                        wordLengths.append((i, 1))
                    }
                    #expect(!chosen[i] || out.labels[i] == ids[i])
                }
                // Only words that would overshoot the budget may be left out.
                let free = wordLengths.filter { !chosen[$0.start] }.map(\.length)
                #expect(count == budget || free.allSatisfy { count + $0 > budget })
                #expect(!chosen.enumerated().contains { special[$0.offset] == 1 && $0.element })
            }
        }
        #expect(pieces > 5000)
        #expect(abs(Double(masked) / Double(selected) - 0.8) <= 0.015)
    }

    @Test func sameSeedSameBatchesDifferentSeedDifferent() throws {
        let (tokenizer, batches) = try Self.corpus.get()
        let masker = try MLMMasker(policy: .languageModeling(), vocabulary: tokenizer.vocabulary)
        func run(_ seed: UInt64) throws -> [MaskedSequence] {
            var rng = SeededRandom(seed: seed)
            return try batches.prefix(20).flatMap { batch in
                try zip(batch.ids, batch.special).map { try masker.mask($0, specialTokensMask: $1, using: &rng) }
            }
        }
        #expect(try run(1) == run(1))
        #expect(try run(1) != run(2))
    }
}
