import Foundation

/// A HuggingFace `BertForQuestionAnswering` checkpoint: extractive answers, decoded as
/// transformers' question-answering pipeline does.
///
/// The question and context go in as a pair; a long context is cut into overlapping windows
/// (`only_second` truncation with a stride); the start/end logits of every window are softmaxed
/// over the context tokens (and [CLS]), the best spans with `start ≤ end < start + maxAnswerLen`
/// win, and answers are widened to whole words and mapped to character offsets in the context.
/// Immutable and `Sendable`.
public final class QuestionAnswerer: EncoderTask {
    /// One question about one context, with the decoding options (HF's defaults).
    public struct Input: Sendable {
        public var question: String
        /// The text holding the answer; any length (it is windowed).
        public var context: String
        public var options: QuestionAnsweringOptions
        public init(question: String, context: String, options: QuestionAnsweringOptions = .init()) {
            self.question = question
            self.context = context
            self.options = options
        }
    }

    public let model: LoadedModel
    let head: QuestionAnsweringHead

    /// The longest window the model takes (the default `maxSeqLen` is `min(this, 384)`).
    public var maxLength: Int { model.maxLength }

    /// A QA task on a loaded `BertForQuestionAnswering` folder.
    ///
    /// - Throws: `.missingTensor` naming `qa_outputs.weight`/`.bias` when the checkpoint has no QA head.
    public init(model: LoadedModel) throws {
        self.model = model
        head = try QuestionAnsweringHead(model.weights, config: model.config)
    }

    /// Loads a folder, then builds the task (see `init(model:)`).
    public convenience init(directory: URL, kernel: Kernel = .blas) throws {
        try self.init(model: LoadedModel(directory: directory, kernel: kernel))
    }

    /// The windows of one question and context.
    ///
    /// - Throws: `BertError.invalidInput` for an empty question or context, non-positive `topK` /
    ///   `maxAnswerLen`, a `maxSeqLen` beyond the model's length, or a `docStride` not smaller
    ///   than the room the question leaves in a window.
    public func encode(_ input: Input) throws -> [Encoding] {
        let options = input.options
        try TaskInput.requireText(input.question, "question")
        try TaskInput.requireText(input.context, "context")
        guard options.topK >= 1 else { throw BertError(.invalidInput, "topK must be at least 1, got \(options.topK)") }
        guard options.maxAnswerLen >= 1 else {
            throw BertError(.invalidInput, "maxAnswerLen must be at least 1, got \(options.maxAnswerLen)")
        }
        let maxSeqLen = options.maxSeqLen ?? min(maxLength, 384)
        guard maxSeqLen <= maxLength else {
            throw BertError(.invalidInput, "maxSeqLen \(maxSeqLen) exceeds the model's maximum length \(maxLength)")
        }
        let docStride = options.docStride ?? min(maxSeqLen / 2, 128)
        guard docStride >= 0, docStride <= maxSeqLen else {
            throw BertError(.invalidInput, "docStride \(docStride) is larger than maxSeqLen \(maxSeqLen)")
        }
        // Windows hold the question, 3 special tokens and the rest of the context; HF's tokenizer
        // refuses settings that leave no room, or a stride that does not fit in that room.
        let tokenizer = model.tokenizer
        let questionTokens = tokenizer.encode(input.question, addSpecialTokens: false).count
        let room = maxSeqLen - questionTokens - tokenizer.numberOfSpecialTokens(pair: true)
        guard room > 0 else {
            throw BertError(.invalidInput, "the question has \(questionTokens) tokens: no room for the context in windows of maxSeqLen \(maxSeqLen)")
        }
        let contextTokens = tokenizer.encode(input.context, addSpecialTokens: false).count
        guard contextTokens <= room || docStride < room else {
            throw BertError(.invalidInput, "docStride \(docStride) must be smaller than the \(room) context tokens a window holds (maxSeqLen \(maxSeqLen) minus the question's \(questionTokens) tokens and the special tokens)")
        }
        let truncation = Truncation(maxLength: maxSeqLen, strategy: .onlySecond, stride: docStride)
        var first = try tokenizer.checkedEncode(input.question, pair: input.context, truncation: truncation)
        let overflowing = first.overflowing
        first.overflowing = []
        return [first] + overflowing
    }

    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> AnswerWindow {
        let (start, end) = head.forward(output.hiddenStates(sequence: b), rows: encoding.count, kernel: model.kernel)
        return AnswerWindow(ids: encoding.ids.map(Int.init), sequenceIds: encoding.sequenceIds, wordIds: encoding.wordIds,
                            offsets: encoding.offsets.map { ($0.start, $0.end) }, startLogits: start, endLogits: end)
    }

    public func finish(_ input: Input, encodings: [Encoding], partials: [AnswerWindow]) throws -> [Answer] {
        AnswerDecoder(clsId: Int(model.tokenizer.specialTokens.cls), options: input.options)
            .decode(windows: partials, context: input.context)
    }

    /// Answers `question` from `context`: up to `options.topK` answers, best first.
    ///
    /// - Throws: the cases of `encode`.
    public func answer(question: String, context: String,
                       options: QuestionAnsweringOptions = QuestionAnsweringOptions()) throws -> [Answer] {
        try run(Input(question: question, context: context, options: options))
    }
}
