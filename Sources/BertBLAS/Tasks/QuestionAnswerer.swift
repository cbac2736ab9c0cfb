import Foundation

/// A HuggingFace `BertForQuestionAnswering` checkpoint: extractive answers, decoded as
/// transformers' question-answering pipeline does.
///
/// The question and context go in as a pair; a long context is cut into overlapping windows
/// (`only_second` truncation with a stride); the start/end logits of every window are softmaxed
/// over the context tokens (and [CLS]), the best spans with `start ≤ end < start + maxAnswerLen`
/// win, and answers are widened to whole words and mapped to character offsets in the context.
/// Immutable and `Sendable`.
public final class QuestionAnswerer: Sendable {
    let backbone: TaskBackbone
    let head: QuestionAnsweringHead

    /// The longest window the model takes (the default `maxSeqLen` is `min(this, 384)`).
    public var maxLength: Int { backbone.maxLength }

    /// Loads a `BertForQuestionAnswering` folder.
    ///
    /// - Throws: `BertError` from loading; `.missingTensor` naming `qa_outputs.weight`/`.bias`
    ///   when the checkpoint has no QA head.
    public init(directory: URL, kernel: Kernel = .blas) throws {
        backbone = try TaskBackbone(directory: directory, kernel: kernel)
        head = try QuestionAnsweringHead(backbone.model.weights, config: backbone.config)
    }

    /// Answers `question` from `context`.
    ///
    /// - Parameters:
    ///   - question: the question.
    ///   - context: the text holding the answer; any length (it is windowed).
    ///   - options: windows, answer length, top-k, impossible answer; HF's defaults.
    /// - Returns: up to `options.topK` answers, best first.
    /// - Throws: `BertError.invalidInput` for an empty question or context, a `docStride` not
    ///   smaller than the room the question leaves in a window, `maxSeqLen` beyond the model's
    ///   length, or non-positive `topK` / `maxAnswerLen`.
    public func answer(question: String, context: String,
                       options: QuestionAnsweringOptions = QuestionAnsweringOptions()) throws -> [Answer] {
        try TaskBackbone.requireText(question, "question")
        try TaskBackbone.requireText(context, "context")
        guard options.topK >= 1 else { throw BertError(.invalidInput, "--top-k must be at least 1, got \(options.topK)") }
        guard options.maxAnswerLen >= 1 else {
            throw BertError(.invalidInput, "--max-answer-len must be at least 1, got \(options.maxAnswerLen)")
        }
        let maxSeqLen = options.maxSeqLen ?? min(maxLength, 384)
        guard maxSeqLen <= maxLength else {
            throw BertError(.invalidInput, "--max-seq-len \(maxSeqLen) exceeds the model's maximum length \(maxLength)")
        }
        let docStride = options.docStride ?? min(maxSeqLen / 2, 128)
        guard docStride >= 0, docStride <= maxSeqLen else {
            throw BertError(.invalidInput, "--doc-stride \(docStride) is larger than --max-seq-len \(maxSeqLen)")
        }
        // Windows hold the question, 3 special tokens and the rest of the context; HF's tokenizer
        // refuses settings that leave no room, or a stride that does not fit in that room.
        let questionTokens = backbone.tokenizer.encode(question, addSpecialTokens: false).count
        let room = maxSeqLen - questionTokens - backbone.tokenizer.numberOfSpecialTokens(pair: true)
        guard room > 0 else {
            throw BertError(.invalidInput, "the question has \(questionTokens) tokens: no room for the context in windows of --max-seq-len \(maxSeqLen)")
        }
        let contextTokens = backbone.tokenizer.encode(context, addSpecialTokens: false).count
        guard contextTokens <= room || docStride < room else {
            throw BertError(.invalidInput, "--doc-stride \(docStride) must be smaller than the \(room) context tokens a window holds (--max-seq-len \(maxSeqLen) minus the question's \(questionTokens) tokens and the special tokens)")
        }
        let truncation = Truncation(maxLength: maxSeqLen, strategy: .onlySecond, stride: docStride)
        let first = try backbone.tokenizer.checkedEncode(question, pair: context, truncation: truncation)
        var encodings = [first]
        encodings += first.overflowing
        let clsId = Int(backbone.tokenizer.specialTokens.cls)
        var windows: [AnswerWindow] = []
        try backbone.forEachBatch(encodings) { firstIndex, output in
            for b in 0..<output.batchSize {
                let encoding = encodings[firstIndex + b]
                guard let base = output.hiddenStates(sequence: b).baseAddress else { continue }
                let (start, end) = head.forward(base, rows: encoding.count, kernel: backbone.model.kernel)
                windows.append(AnswerWindow(ids: encoding.ids.map(Int.init), sequenceIds: encoding.sequenceIds,
                                            wordIds: encoding.wordIds,
                                            offsets: encoding.offsets.map { ($0.start, $0.end) },
                                            startLogits: start, endLogits: end))
            }
        }
        return AnswerDecoder(clsId: clsId, options: options).decode(windows: windows, context: context)
    }
}
