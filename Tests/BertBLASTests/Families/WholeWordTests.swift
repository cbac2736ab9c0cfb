import Foundation
import Testing
@testable import BertBLAS

/// Word boundaries of byte-level BPE and Unigram tokenizers for whole-word masking, against the
/// HF references written by scripts/goldens_whole_word.py (Tests/Goldens/pretrain/whole_word_*.jsonl)
/// on the first 120 lines of the multilingual tokenizer corpus.
@Suite struct WholeWordTests {
    struct Record {
        var text: String
        var ids: [Int32]
        var special: [Int32]
        var collatorStarts: Set<Int>
        var wordIdStarts: Set<Int>
        var insideCharacter: Set<Int>
    }

    static func records(_ name: String) throws -> [Record] {
        let data = try Data(contentsOf: Paths.golden("pretrain/whole_word_\(name).jsonl"))
        return try data.split(separator: 0x0A).filter { !$0.isEmpty }.map { line in
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            func ints(_ key: String) -> [Int] { (o[key] as? [Int]) ?? [] }
            return Record(text: (o["text"] as? String) ?? "", ids: ints("ids").map { Int32($0) },
                          special: ints("special").map { Int32($0) }, collatorStarts: Set(ints("collator_starts")),
                          wordIdStarts: Set(ints("word_id_starts")), insideCharacter: Set(ints("inside_character")))
        }
    }

    /// The word starts whole-word masking uses (MLMMasker's grouping): a non-special token starts a
    /// word unless the token before it is non-special and it is a continuation.
    static func starts(_ ids: [Int32], special: [Int32], _ isContinuation: (Int32) -> Bool) -> Set<Int> {
        Set(ids.indices.filter { i in
            special[i] == 0 && !(i > 0 && special[i - 1] == 0 && isContinuation(ids[i]))
        })
    }

    /// Byte-level BPE (`Ġ` marks a word's first token) equals transformers 4.57.1's whole-word
    /// collator (a word starts where a token's offset start differs from the previous token's end),
    /// except at the byte pieces of one character split over several tokens: they share the
    /// character's span, so the collator starts a new word at each; here they continue it.
    @Test func byteLevelBPEWordsAreTheCollators() throws {
        let tokenizer = try Tokenizer(directory: Paths.golden("tokenizer/roberta_bpe"))
        #expect(tokenizer.vocabulary.wordStartMarker == "\u{0120}")
        var tokens = 0, inside = 0
        for r in try Self.records("roberta_bpe") {
            let encoding = tokenizer.encode(r.text)
            #expect(encoding.ids == r.ids, "ids of \(r.text)")
            let ours = Self.starts(encoding.ids, special: r.special, tokenizer.isContinuation)
            #expect(ours == r.collatorStarts.subtracting(r.insideCharacter), "\(r.text)")
            #expect(ours.isDisjoint(with: r.insideCharacter), "\(r.text)")
            tokens += r.special.filter { $0 == 0 }.count
            inside += r.insideCharacter.count
        }
        // Measured with scripts/goldens_whole_word.py: 4,250 tokens, 574 of them byte pieces inside a character.
        #expect(tokens == 4250 && inside == 574)
    }

    /// Unigram (`▁` marks a word's first token) equals tokenizers' word ids (the Metaspace words)
    /// on XLM-R's converter over a trained and over sentencepiece's own model. The collator's offset
    /// rule cannot be the reference there: Metaspace offsets include the `▁` space, so every word
    /// touches the one before it and the collator sees one word per sequence.
    @Test(arguments: [("xlmr_unigram", "tokenizer/xlmr_unigram"), ("xlmr_spm", "families/models/xlm-roberta-cls")])
    func unigramWordsAreTheTokenizersWords(name: String, folder: String) throws {
        let tokenizer = try Tokenizer(directory: Paths.golden(folder))
        #expect(tokenizer.vocabulary.wordStartMarker == "\u{2581}")
        var tokens = 0, words = 0, collatorWords = 0
        for r in try Self.records(name) {
            let encoding = tokenizer.encode(r.text)
            #expect(encoding.ids == r.ids, "\(name): ids of \(r.text)")
            let ours = Self.starts(encoding.ids, special: r.special, tokenizer.isContinuation)
            #expect(ours == r.wordIdStarts, "\(name): \(r.text)")
            tokens += r.special.filter { $0 == 0 }.count
            words += ours.count
            collatorWords += r.collatorStarts.count
        }
        #expect(tokens > 3000 && words > 1000, "\(name): \(tokens) tokens, \(words) words")
        #expect(collatorWords * 5 < words, "\(name): the collator's offset rule found \(collatorWords) words, word ids \(words)")
    }

    /// WordPiece keeps its `##` rule, and the masking vocabulary of a BPE tokenizer is the tokenizer's rule.
    @Test func maskingVocabularyFollowsTheTokenizer() throws {
        let bpe = try Tokenizer(directory: Paths.golden("tokenizer/roberta_bpe"))
        let masking = try MaskingVocabulary(tokenizer: bpe)
        let all = (0 ..< Int32(bpe.vocabulary.count))
        #expect(all.allSatisfy { masking.isContinuation($0) == bpe.isContinuation($0) })
        #expect(all.contains { bpe.isContinuation($0) } && all.contains { !bpe.isContinuation($0) })
        for special in [bpe.specialTokens.cls, bpe.specialTokens.sep, bpe.specialTokens.pad] {
            #expect(!bpe.isContinuation(special))
        }
        let wordPiece = try Tokenizer(directory: FamilyGoldens.model("distilbert-cls"))
        #expect(wordPiece.vocabulary.wordStartMarker.isEmpty)
        #expect(all.filter { wordPiece.isContinuation($0) }.allSatisfy {
            wordPiece.vocabulary.token($0)?.hasPrefix("##") == true
        })
    }

    /// Whole-word masking on RoBERTa's tokenizer masks whole `Ġ` words: every word is all masked
    /// (selected) or all kept.
    @Test func wholeWordMaskingKeepsByteLevelWordsTogether() throws {
        let tokenizer = try Tokenizer(directory: Paths.golden("tokenizer/roberta_bpe"))
        let masker = try MLMMasker(policy: .wholeWordCollator(probability: 0.3), vocabulary: MaskingVocabulary(tokenizer: tokenizer))
        var rng = SeededRandom(seed: 11)
        var multiPieceWords = 0, selected = 0
        for r in try Self.records("roberta_bpe").prefix(60) {
            let out = try masker.mask(r.ids, specialTokensMask: r.special, using: &rng)
            let starts = Self.starts(r.ids, special: r.special, tokenizer.isContinuation).sorted()
            for (k, start) in starts.enumerated() {
                var end = k + 1 < starts.count ? starts[k + 1] : r.ids.count
                while end > start && r.special[end - 1] != 0 { end -= 1 }
                let chosen = (start ..< end).map { out.labels[$0] != MLMMasker.ignoreLabel }
                #expect(Set(chosen).count == 1, "\(r.text): word at \(start)..<\(end) partly selected")
                if end - start > 1 { multiPieceWords += 1 }
                if chosen.first == true { selected += 1 }
            }
        }
        #expect(multiPieceWords > 100 && selected > 50, "\(multiPieceWords) multi-piece words, \(selected) selected")
    }
}
