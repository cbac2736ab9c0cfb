import Foundation
import Testing
@testable import BertBLAS

/// Masking on small hand-made vocabularies: edge cases, word grouping, budgets, determinism.
/// The statistics on a real corpus are in MaskingStatisticsTests.
@Suite struct MLMMaskerTests {
    // 0 [PAD] 1 [UNK] 2 [CLS] 3 [SEP] 4 [MASK], then words and ## pieces.
    static let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "the", "cat",
                         "##s", "sat", "on", "mat", "##ted", "a"]
    static func vocabulary() throws -> MaskingVocabulary {
        try MaskingVocabulary(tokens: tokens, maskId: 4, padId: 0)
    }

    @Test func continuationPiecesAreTheHashHashTokens() throws {
        let v = try Self.vocabulary()
        #expect((0 ..< Int32(Self.tokens.count)).filter { v.isContinuation($0) } == [6, 7, 10, 14])
        #expect(!v.isContinuation(-1) && !v.isContinuation(99))
    }

    @Test func invalidPolicyAndVocabularyAreRejected() throws {
        let v = try Self.vocabulary()
        #expect(throws: BertError.self) { try MLMMasker(policy: MaskingPolicy(probability: 1.5), vocabulary: v) }
        #expect(throws: BertError.self) { try MLMMasker(policy: MaskingPolicy(maskFraction: 0.8, randomFraction: 0.3), vocabulary: v) }
        #expect(throws: BertError.self) { try MLMMasker(policy: .createPretrainingData(maxPredictions: 0), vocabulary: v) }
        #expect(throws: BertError.self) { try MaskingVocabulary(tokens: ["a"], maskId: 3, padId: nil) }
        let masker = try MLMMasker(policy: .languageModeling(), vocabulary: v)
        var rng = SeededRandom(seed: 1)
        #expect(throws: BertError.self) { try masker.mask([2, 5, 3], specialTokensMask: [1, 0], using: &rng) }
    }

    @Test func emptyAndAllSpecialSequencesComeBackUnchanged() throws {
        let v = try Self.vocabulary()
        for policy in [MaskingPolicy.languageModeling(probability: 1), .wholeWordCollator(probability: 1),
                       .createPretrainingData(probability: 1)] {
            let masker = try MLMMasker(policy: policy, vocabulary: v)
            var rng = SeededRandom(seed: 5)
            #expect(try masker.mask([], specialTokensMask: [], using: &rng) == MaskedSequence(inputIds: [], labels: []))
            let out = try masker.mask([2, 3, 0, 0], specialTokensMask: [1, 1, 1, 1], using: &rng)
            #expect(out == MaskedSequence(inputIds: [2, 3, 0, 0], labels: [-100, -100, -100, -100]))
        }
    }

    @Test func probabilityOneSelectsEveryCandidateAndNeverSpecialsOrPadding() throws {
        let v = try Self.vocabulary()
        let masker = try MLMMasker(policy: MaskingPolicy(probability: 1, maskFraction: 1, randomFraction: 0), vocabulary: v)
        var rng = SeededRandom(seed: 9)
        // Padding that the special-tokens mask forgot is still never selected.
        let ids: [Int32] = [2, 8, 9, 10, 3, 11, 3, 0, 0]
        let out = try masker.mask(ids, specialTokensMask: [1, 0, 0, 0, 1, 0, 1, 0, 0], using: &rng)
        #expect(out.inputIds == [2, 4, 4, 4, 3, 4, 3, 0, 0])
        #expect(out.labels == [-100, 8, 9, 10, -100, 11, -100, -100, -100])
    }

    @Test func fractionsZeroKeepsOriginalsButStillLabelsThem() throws {
        let v = try Self.vocabulary()
        let masker = try MLMMasker(policy: MaskingPolicy(probability: 1, maskFraction: 0, randomFraction: 0), vocabulary: v)
        var rng = SeededRandom(seed: 9)
        let out = try masker.mask([2, 8, 9, 3], specialTokensMask: [1, 0, 0, 1], using: &rng)
        #expect(out.inputIds == [2, 8, 9, 3])
        #expect(out.labels == [-100, 8, 9, -100])
    }

    @Test func wholeWordBudgetSelectsWordsWhole() throws {
        let v = try Self.vocabulary()
        // [CLS] un ##aff ##able the cat ##s sat on the mat ##ted [SEP] ##s a [SEP]
        let ids: [Int32] = [2, 5, 6, 7, 8, 9, 10, 11, 12, 8, 13, 14, 3, 10, 15, 3]
        let special: [Int32] = ids.map { $0 == 2 || $0 == 3 ? 1 : 0 }
        let words: [[Int]] = [[1, 2, 3], [4], [5, 6], [7], [8], [9], [10, 11], [13], [14]]
        for probability in [0.15, 0.3, 0.5, 1.0] {
            let masker = try MLMMasker(policy: .wholeWordCollator(probability: probability), vocabulary: v)
            let budget = min(512, max(1, Int((Double(ids.count) * probability).rounded(.toNearestOrEven))))
            for seed in 0 ..< 200 as Range<UInt64> {
                var rng = SeededRandom(seed: seed)
                let out = try masker.mask(ids, specialTokensMask: special, using: &rng)
                let selected = Set(out.labels.indices.filter { out.labels[$0] != -100 })
                for word in words {
                    let hit = word.filter { selected.contains($0) }.count
                    #expect(hit == 0 || hit == word.count, "seed \(seed): word \(word) partly selected")
                }
                #expect(selected.count <= budget)
                // Every word that still fits must have been tried: only overshooting words are left.
                let free = words.filter { !selected.contains($0[0]) }.map(\.count)
                #expect(selected.count == budget || free.allSatisfy { selected.count + $0 > budget },
                        "seed \(seed): budget \(budget), selected \(selected.count), free \(free)")
                #expect(!selected.contains(0) && !selected.contains(12) && !selected.contains(15))
            }
        }
    }

    @Test func tokenBudgetSelectsExactlyTheBudget() throws {
        let v = try Self.vocabulary()
        let ids: [Int32] = [2] + Array(repeating: 9, count: 40) + [3]
        let special: [Int32] = [1] + Array(repeating: 0, count: 40) + [1]
        for (maxPredictions, expected) in [(20, 6), (3, 3)] { // round(42 × 0.15) = round(6.3) = 6
            let masker = try MLMMasker(policy: .createPretrainingData(maxPredictions: maxPredictions), vocabulary: v)
            for seed in 0 ..< 50 as Range<UInt64> {
                var rng = SeededRandom(seed: seed)
                let out = try masker.mask(ids, specialTokensMask: special, using: &rng)
                #expect(out.labels.filter { $0 != -100 }.count == expected)
            }
        }
        // Half-to-even as Python's round(): 30 × 0.15 = 4.5 → 4; 10 × 0.15 = 1.5 → 2.
        for (length, expected) in [(30, 4), (10, 2), (2, 1)] {
            let masker = try MLMMasker(policy: .createPretrainingData(maxPredictions: 100), vocabulary: v)
            var rng = SeededRandom(seed: 1)
            let out = try masker.mask(Array(repeating: 9, count: length),
                                      specialTokensMask: Array(repeating: 0, count: length), using: &rng)
            #expect(out.labels.filter { $0 != -100 }.count == expected, "length \(length)")
        }
    }

    @Test func sameSeedSameOutputDifferentSeedDifferentOutput() throws {
        let v = try Self.vocabulary()
        let ids: [Int32] = [2] + (0 ..< 500).map { Int32(5 + $0 % 11) } + [3]
        let special: [Int32] = [1] + Array(repeating: 0, count: 500) + [1]
        for policy in [MaskingPolicy.languageModeling(), .wholeWordCollator(), .createPretrainingData(wholeWord: true),
                       MaskingPolicy(wholeWord: true)] {
            let masker = try MLMMasker(policy: policy, vocabulary: v)
            var a = SeededRandom(seed: 11), b = SeededRandom(seed: 11), c = SeededRandom(seed: 12)
            let x = try masker.mask(ids, specialTokensMask: special, using: &a)
            #expect(x == (try masker.mask(ids, specialTokensMask: special, using: &b)))
            #expect(x != (try masker.mask(ids, specialTokensMask: special, using: &c)))
            #expect(a == b)
        }
    }
}
