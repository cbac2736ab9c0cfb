import ArgumentParser
import BertBLAS
import Foundation

/// `bert qa`: extractive answers to one question from each context line.
struct QACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qa",
        abstract: "Answer a question from each context line with a BertForQuestionAnswering checkpoint.",
        discussion: """
            Prints one JSON list per context line: up to --top-k {"answer","score","start","end"}, \
            best first, as transformers' question-answering pipeline (start and end are character \
            offsets into the context). Long contexts are split into overlapping windows.
            """)

    @OptionGroup var model: ModelOptions

    @OptionGroup var kernel: KernelOptions

    @Option(name: .long, help: ArgumentHelp("The question asked of every context. Required.", valueName: "text"))
    var question: String

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Tokens per window, question included (default: the model's maximum length, at most 384).",
        valueName: "n"))
    var maxSeqLen: Int?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Tokens of overlap between context windows (default: min(max-seq-len / 2, 128)).", valueName: "n"))
    var docStride: Int?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Longest answer, in tokens.", valueName: "n"))
    var maxAnswerLen: Int = 15

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Answers per context, best first.", valueName: "n"))
    var topK: Int = 1

    @Flag(name: .long, help: "Also consider the empty answer (\"\" at 0..0) when no span is likely. Off by default.")
    var handleImpossibleAnswer = false

    @OptionGroup var input: InputFiles

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        guard maxAnswerLen >= 1 else { throw ValidationError("--max-answer-len must be at least 1") }
        if let maxSeqLen, maxSeqLen < 4 { throw ValidationError("--max-seq-len must be at least 4") }
        if let docStride, docStride < 0 { throw ValidationError("--doc-stride must not be negative") }
        if let maxSeqLen, let docStride, docStride > maxSeqLen {
            throw ValidationError("--doc-stride \(docStride) is larger than --max-seq-len \(maxSeqLen)")
        }
        guard question.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw ValidationError("--question is empty")
        }
    }

    func run() throws {
        let options = QuestionAnsweringOptions(maxSeqLen: maxSeqLen, docStride: docStride, maxAnswerLen: maxAnswerLen,
                                               topK: topK, handleImpossibleAnswer: handleImpossibleAnswer)
        let loaded = Result { try QuestionAnswerer(directory: model.url, kernel: kernel.kernel) }
        // Window settings that no context can satisfy are option errors, found before any input.
        if case .success(let reader) = loaded {
            let windowLength = maxSeqLen ?? min(reader.maxLength, 384)
            if windowLength > reader.maxLength {
                throw ValidationError("--max-seq-len \(windowLength) exceeds the model's maximum length \(reader.maxLength)")
            }
            if let docStride, docStride > windowLength {
                throw ValidationError("--doc-stride \(docStride) is larger than --max-seq-len \(windowLength)")
            }
        }
        try HeadCommand.run(files: input, load: { try loaded.get() }) { reader, line, _ in
            try reader.answer(question: question, context: line.text, options: options)
        }
    }
}
