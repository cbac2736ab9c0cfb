import Foundation

/// Options of extractive question answering, with the defaults of transformers' QA pipeline.
public struct QuestionAnsweringOptions: Sendable, Equatable, Codable {
    /// Tokens per window (question + context + special tokens). `nil` means
    /// `min(model max length, 384)`.
    public var maxSeqLen: Int?
    /// Tokens of overlap between consecutive context windows. `nil` means `min(maxSeqLen / 2, 128)`.
    public var docStride: Int?
    /// Longest answer, in tokens (default 15).
    public var maxAnswerLen: Int
    /// How many answers to return, best first (default 1). Fewer come back when the context
    /// offers fewer distinct spans.
    public var topK: Int
    /// Also consider the empty answer (score: the lowest [CLS]×[CLS] probability over the windows),
    /// returned as `""` at offsets 0..<0 (default false).
    public var handleImpossibleAnswer: Bool

    public init(maxSeqLen: Int? = nil, docStride: Int? = nil, maxAnswerLen: Int = 15, topK: Int = 1,
                handleImpossibleAnswer: Bool = false) {
        self.maxSeqLen = maxSeqLen
        self.docStride = docStride
        self.maxAnswerLen = maxAnswerLen
        self.topK = topK
        self.handleImpossibleAnswer = handleImpossibleAnswer
    }
}

/// One answer to a question: a span of the context and its probability.
public struct Answer: Sendable, Equatable, Codable {
    /// The context's text between `start` and `end` (empty for the impossible answer).
    public var answer: String
    /// The span's probability: P(start)·P(end) within its window, summed over the windows and
    /// spans that give the same text (case-insensitively), as the HF pipeline does.
    public var score: Double
    /// Start of the answer in the context, in Unicode code points.
    public var start: Int
    /// End (exclusive) of the answer in the context, in Unicode code points.
    public var end: Int
}

/// The fields of one question+context window that span decoding needs (one row per token): what
/// `QuestionAnswerer` keeps of each window until its answers are decoded.
public struct AnswerWindow: Sendable {
    var ids: [Int]
    /// 0 for the question, 1 for the context, nil for special tokens.
    var sequenceIds: [Int?]
    var wordIds: [Int?]
    var offsets: [(start: Int, end: Int)]
    var startLogits: [Float]
    var endLogits: [Float]
}

/// Turns start/end logits of every window into answers exactly as transformers' QA pipeline
/// (fast tokenizer, question first, `align_to_words=True`).
///
/// Reference: transformers v4.57.1 `src/transformers/pipelines/question_answering.py`
/// (`select_starts_ends`, `decode_spans`, `postprocess`, `get_indices`).
///
/// One deviation: spans whose probability is exactly 0 (only possible when a window has fewer
/// candidate spans than `2·topK + 10`) are never returned; HF would pick some of them in numpy's
/// partition order, yielding empty or reversed answers with score 0.
struct AnswerDecoder {
    let clsId: Int?
    let options: QuestionAnsweringOptions

    func decode(windows: [AnswerWindow], context: String) -> [Answer] {
        let source = CodePointText(context)
        // Saturating: `topK` and `maxAnswerLen` come from callers (a request, a CLI option) and may be huge.
        let preTopK = options.topK > (Int.max - 10) / 2 ? Int.max : options.topK * 2 + 10
        var minNullScore: Float = 1_000_000
        var answers: [Answer] = []
        for window in windows {
            let n = window.ids.count
            // Tokens that may hold the answer: the context, plus [CLS] (kept for the null answer).
            let allowed = (0..<n).map { i in
                window.sequenceIds[i] == 1 || (clsId != nil && window.ids[i] == clsId)
            }
            var start = TaskMath.softmax((0..<n).map { allowed[$0] ? window.startLogits[$0] : -10000 })
            var end = TaskMath.softmax((0..<n).map { allowed[$0] ? window.endLogits[$0] : -10000 })
            if options.handleImpossibleAnswer {
                minNullScore = min(minNullScore, start[0] * end[0])
            }
            start[0] = 0
            end[0] = 0

            // The band of the outer product: start ≤ end < start + maxAnswerLen.
            var spans: [(s: Int, e: Int, score: Float)] = []
            for s in 0..<n where allowed[s] && start[s] > 0 {
                for e in s..<(s + min(n - s, max(options.maxAnswerLen, 0))) where allowed[e] {
                    let score = start[s] * end[e]
                    if score > 0 { spans.append((s, e, score)) }
                }
            }
            spans.sort { a, b in
                a.score != b.score ? a.score > b.score : (a.s, a.e) < (b.s, b.e)
            }
            for span in spans.prefix(preTopK) {
                let (from, to) = characterSpan(window, span.s, span.e)
                let text = source.slice(from, to)
                let key = text.lowercased()
                if let k = answers.firstIndex(where: { $0.answer.lowercased() == key }) {
                    answers[k].score += Double(span.score)
                } else {
                    answers.append(Answer(answer: text, score: Double(span.score), start: from, end: to))
                }
            }
        }
        if options.handleImpossibleAnswer {
            answers.append(Answer(answer: "", score: Double(minNullScore), start: 0, end: 0))
        }
        // A stable sort, best first, as Python's sorted(..., reverse=True).
        let ranked = answers.enumerated().sorted { a, b in
            a.element.score != b.element.score ? a.element.score > b.element.score : a.offset < b.offset
        }
        return ranked.prefix(options.topK).map(\.element)
    }

    /// The answer's character span, widened to whole words of the context (`align_to_words`).
    private func characterSpan(_ window: AnswerWindow, _ s: Int, _ e: Int) -> (Int, Int) {
        guard let startWord = window.wordIds[s], let endWord = window.wordIds[e],
              let from = wordChars(window, startWord)?.start, let to = wordChars(window, endWord)?.end
        else {
            return (window.offsets[s].start, window.offsets[e].end)
        }
        return (from, to)
    }

    /// `Encoding.word_to_chars(word, sequence_index=1)`: from the first to the last token of
    /// `word` within the context part of this window.
    private func wordChars(_ window: AnswerWindow, _ word: Int) -> (start: Int, end: Int)? {
        var first: Int?
        var last: Int?
        for i in window.ids.indices where window.sequenceIds[i] == 1 && window.wordIds[i] == word {
            if first == nil { first = i }
            last = i
        }
        guard let first, let last else { return nil }
        return (window.offsets[first].start, window.offsets[last].end)
    }
}
