import Foundation
import Testing
@testable import BertBLAS

/// Public task APIs with edge arguments: a clear `BertError` or a sensible answer, never a trap.
@Suite struct TaskEdgeInputTests {
    static func model(_ name: String) -> URL { Paths.golden("heads/models/\(name)") }

    /// Before: `topK * 2 + 10` and `s + maxAnswerLen` overflowed and trapped for Int.max.
    @Test func questionAnsweringWithHugeTopKAndAnswerLength() throws {
        let reader = try QuestionAnswerer(directory: Self.model("qa"))
        let question = "Who walked?", context = "John walked to the park with Mary."
        let reference = try reader.answer(question: question, context: context, options: .init(topK: 3))
        let huge = try reader.answer(question: question, context: context,
                                     options: .init(maxAnswerLen: .max, topK: .max))
        #expect(!huge.isEmpty)
        let long = try reader.answer(question: question, context: context, options: .init(maxAnswerLen: .max, topK: 3))
        #expect(long.count == reference.count)
        for bad in [QuestionAnsweringOptions(topK: 0), .init(topK: -1), .init(maxAnswerLen: 0), .init(maxAnswerLen: .min),
                    .init(maxSeqLen: 32, docStride: -1), .init(maxSeqLen: 32, docStride: .max)] {
            #expect(throws: BertError.self) { try reader.answer(question: question, context: context, options: bad) }
        }
    }

    /// Before: a target id outside the vocabulary indexed past the probabilities and trapped.
    @Test func maskFillerRejectsOutOfVocabularyTargets() throws {
        let filler = try MaskFiller(directory: Self.model("mlm"))
        let text = "the man went to the [MASK] ."
        for bad in [[-1], [Int.max], [5, 1_000_000_000]] {
            do {
                _ = try filler.fill(text, targets: bad)
                Issue.record("accepted targets \(bad)")
            } catch let error as BertError {
                #expect(error.kind == .invalidInput)
                // The library names its parameter, never a CLI flag.
                #expect(error.message.hasPrefix("targets: token id \(bad.last ?? 0)"), "\(error.message)")
                #expect(!error.message.contains("--"), "\(error.message)")
            }
        }
        #expect(try filler.fill(text, topK: .max, targets: [5, 6]).first?.count == 2)
        #expect(try filler.fill(text, targets: []).first?.isEmpty == true)
        #expect(throws: BertError.self) { try filler.fill(text, topK: 0) }
    }

    @Test func emptyBatchesAndBadBatchSizes() throws {
        let classifier = try SequenceClassifier(directory: Self.model("cls-binary"))
        #expect(try classifier.classify([String]()).isEmpty)
        #expect(try classifier.classify(["good", "bad"], batchSize: 0).count == 2)
        #expect(throws: BertError.self) { try classifier.classify(["good"], pairs: []) }
        let ner = try TokenClassifier(directory: Self.model("ner-bio"))
        #expect(try ner.entities(in: [String]()).isEmpty)
        #expect(try ner.entities(in: ["John lives in Paris"], batchSize: -3).count == 1)
        let nsp = try NextSentencePredictor(directory: Self.model("nsp"))
        #expect(try nsp.predict([], batchSize: 0).isEmpty)
    }
}
