import Foundation
import Testing
@testable import BertBLAS

/// Next-sentence-prediction examples on BBC News articles (one sentence per line, a blank line
/// between articles), checked against the corpus they came from.
@Suite struct NSPExampleBuilderTests {
    /// ~150k tokens of BBC News, tokenized once for the whole suite.
    static let bbc: Result<(PretrainTokenizer, PretrainingCorpus), Error> = Result {
        let tokenizer = try PretrainTokenizer.load()
        let lines = try PretrainCorpora.bbcLines(perCategory: 60)
        return (tokenizer, PretrainingCorpus.parse(lines: lines, tokenize: tokenizer.tokenize))
    }

    static func builder(_ tokenizer: PretrainTokenizer, _ options: NSPOptions) throws -> NSPExampleBuilder {
        try NSPExampleBuilder(options: options, vocabulary: tokenizer.vocabulary,
                              clsId: tokenizer.cls, sepId: tokenizer.sep)
    }

    /// Checks one example against the corpus: layout, token types, provenance, truncation,
    /// labels. Returns the number of masked positions.
    static func check(_ e: PretrainingExample, _ corpus: PretrainingCorpus, _ tokenizer: PretrainTokenizer,
                      maxSeqLength: Int, maxPredictions: Int) -> Int {
        let n = e.inputIds.count
        #expect(n <= maxSeqLength)
        #expect(e.tokenTypeIds.count == n && e.labels.count == n)
        // The ids before masking: labels hold the originals where selected.
        let original = zip(e.inputIds, e.labels).map { $1 == -100 ? $0 : $1 }
        let o = e.origin
        let fullA = o.sentencesA.flatMap { corpus.documents[o.documentA][$0] }
        let fullB = o.sentencesB.flatMap { corpus.documents[o.documentB][$0] }
        let a = Array(fullA[o.trimmedAFront ..< fullA.count - o.trimmedABack])
        let b = Array(fullB[o.trimmedBFront ..< fullB.count - o.trimmedBBack])
        #expect(!a.isEmpty && !b.isEmpty)
        #expect(original == [tokenizer.cls] + a + [tokenizer.sep] + b + [tokenizer.sep])
        #expect(e.tokenTypeIds == Array(repeating: 0, count: a.count + 2) + Array(repeating: 1, count: b.count + 1))
        if e.nextSentenceLabel == PretrainingExample.isNext {
            #expect(o.documentB == o.documentA)
            #expect(o.sentencesB.lowerBound == o.sentencesA.upperBound)
        } else {
            #expect(e.nextSentenceLabel == PretrainingExample.notNext)
            #expect(o.documentB != o.documentA)
        }
        // Truncation only ever removed tokens from the longer side, down to the limit.
        if o.trimmedAFront + o.trimmedABack + o.trimmedBFront + o.trimmedBBack > 0 {
            #expect(n == maxSeqLength)
        }
        let masked = e.labels.indices.filter { e.labels[$0] != -100 }
        #expect(!masked.contains(0) && !masked.contains(a.count + 1) && !masked.contains(n - 1))
        #expect(masked.count <= maxPredictions)
        #expect(masked.count == min(maxPredictions, max(1, Int((Double(n) * 0.15).rounded(.toNearestOrEven)))))
        return masked.count
    }

    @Test func examplesAreTruthfulAndHalfAreNotNext() throws {
        let (tokenizer, corpus) = try Self.bbc.get()
        #expect(corpus.documents.count == 300)
        #expect(corpus.tokenCount >= 100_000)
        let options = NSPOptions(maxSeqLength: 128, dupeFactor: 2)
        var rng = SeededRandom(seed: 2024)
        let examples = try Self.builder(tokenizer, options).examples(from: corpus, using: &rng)
        #expect(examples.count > 2000)
        var masked = 0, tokens = 0
        for e in examples {
            masked += Self.check(e, corpus, tokenizer, maxSeqLength: 128, maxPredictions: 20)
            tokens += e.inputIds.count
        }
        let notNext = Double(examples.filter { $0.nextSentenceLabel == 1 }.count) / Double(examples.count)
        #expect(abs(notNext - 0.5) <= 0.02, "NotNext rate \(notNext) over \(examples.count) examples")
        // About 10% of documents use a short target; most examples fill the sequence.
        let full = examples.filter { $0.inputIds.count >= 120 }.count
        #expect(Double(full) / Double(examples.count) > 0.5)
        #expect(Double(masked) / Double(tokens) > 0.14 && Double(masked) / Double(tokens) < 0.16)
    }

    @Test func googleRuleSkewsLabelsTowardsNotNext() throws {
        let (tokenizer, corpus) = try Self.bbc.get()
        var rng = SeededRandom(seed: 2024)
        let builder = try Self.builder(tokenizer, NSPOptions(dupeFactor: 2, balancedLabels: false))
        let examples = try builder.examples(from: corpus, using: &rng)
        for e in examples where e.nextSentenceLabel == PretrainingExample.isNext {
            _ = Self.check(e, corpus, tokenizer, maxSeqLength: 128, maxPredictions: 20)
        }
        let notNext = Double(examples.filter { $0.nextSentenceLabel == 1 }.count) / Double(examples.count)
        #expect(notNext > 0.52, "NotNext rate \(notNext)")
    }

    @Test func wholeWordExamplesMaskWordsWhole() throws {
        let (tokenizer, corpus) = try Self.bbc.get()
        let options = NSPOptions(maxSeqLength: 64, dupeFactor: 1,
                                 masking: .createPretrainingData(maxPredictions: 20, wholeWord: true))
        var rng = SeededRandom(seed: 5)
        let examples = try Self.builder(tokenizer, options).examples(from: corpus, using: &rng)
        var pieces = 0
        for e in examples {
            let original = zip(e.inputIds, e.labels).map { $1 == -100 ? $0 : $1 }
            let selected = e.labels.map { $0 != -100 }
            // A piece right after [CLS]/[SEP] lost its word start to truncation: it stands alone.
            for i in 1 ..< original.count where tokenizer.vocabulary.isContinuation(original[i])
                && original[i - 1] != tokenizer.sep && original[i - 1] != tokenizer.cls {
                pieces += 1
                #expect(selected[i] == selected[i - 1], "a ## piece masked apart from its word")
            }
            #expect(selected.filter { $0 }.count <= 20)
        }
        #expect(pieces > 1000)
    }

    @Test func sameSeedSameExamplesDifferentSeedDifferent() throws {
        let (tokenizer, corpus) = try Self.bbc.get()
        let small = PretrainingCorpus(documents: Array(corpus.documents.prefix(40)))
        let builder = try Self.builder(tokenizer, NSPOptions(dupeFactor: 2))
        var r1 = SeededRandom(seed: 77), r2 = SeededRandom(seed: 77), r3 = SeededRandom(seed: 78)
        let x = try builder.examples(from: small, using: &r1)
        #expect(x == (try builder.examples(from: small, using: &r2)))
        #expect(x != (try builder.examples(from: small, using: &r3)))
    }

    @Test func longLinesAreTruncatedToMaxSeqLength() throws {
        let (tokenizer, _) = try Self.bbc.get()
        // Two documents whose sentences are far longer than the limit.
        let long = (0 ..< 300).map { Int32(1000 + $0) }
        let corpus = PretrainingCorpus(documents: [[long, Array(long.reversed())], [long, [7, 8, 9], long]])
        for maxSeqLength in [5, 16, 128] {
            let builder = try Self.builder(tokenizer, NSPOptions(maxSeqLength: maxSeqLength, dupeFactor: 5))
            var rng = SeededRandom(seed: 3)
            let examples = try builder.examples(from: corpus, using: &rng)
            #expect(!examples.isEmpty)
            for e in examples {
                _ = Self.check(e, corpus, tokenizer, maxSeqLength: maxSeqLength, maxPredictions: 20)
            }
        }
    }

    @Test func emptyAndSingleDocumentCorporaAreClearErrors() throws {
        let (tokenizer, _) = try Self.bbc.get()
        let builder = try Self.builder(tokenizer, NSPOptions())
        var rng = SeededRandom(seed: 1)
        let empty = PretrainingCorpus.parse(lines: ["", "   ", "\t", ""], tokenize: tokenizer.tokenize)
        #expect(empty.documents.isEmpty)
        #expect { try builder.examples(from: empty, using: &rng) } throws: { error in
            (error as? BertError)?.message.contains("empty") == true
        }
        let one = PretrainingCorpus.parse(lines: ["One sentence.", "Another one.", ""], tokenize: tokenizer.tokenize)
        #expect(one.documents.count == 1)
        #expect { try builder.examples(from: one, using: &rng) } throws: { error in
            (error as? BertError)?.message.contains("single document") == true
        }
        #expect(throws: BertError.self) { try Self.builder(tokenizer, NSPOptions(maxSeqLength: 4)) }
        #expect(throws: BertError.self) { try Self.builder(tokenizer, NSPOptions(dupeFactor: 0)) }
        #expect(throws: BertError.self) { try Self.builder(tokenizer, NSPOptions(shortSeqProbability: 2)) }
    }

    @Test func corpusFormatBlankLinesSeparateDocuments() throws {
        let lines = ["  a b  ", "c", "", "", " \t ", "d", "@@@", "e f g", "", "h"]
        // "@@@" tokenizes to nothing here: skipped, without ending the document.
        let corpus = PretrainingCorpus.parse(lines: lines) { line in
            line == "@@@" ? [] : line.split(separator: " ").map { Int32($0.unicodeScalars.first?.value ?? 0) }
        }
        #expect(corpus.documents == [[[97, 98], [99]], [[100], [101, 102, 103]], [[104]]])
        #expect(corpus.sentenceCount == 5 && corpus.tokenCount == 8)
    }

    @Test func sentenceSplitterKeepsQuotesAndSplitsOnCapitals() {
        #expect(SentenceSplitter.split("He said \"No.\" Then he left. the end... 3 more! OK?") ==
                ["He said \"No.\"", "Then he left. the end...", "3 more!", "OK?"])
        #expect(SentenceSplitter.split("   ") == [])
    }
}
