import Foundation

/// Next-sentence probabilities for a sentence pair.
public struct NextSentencePrediction: Sendable, Equatable, Codable {
    /// P(B follows A) (label 0, IsNext).
    public var isNext: Float
    /// P(B is a random sentence) (label 1, NotNext).
    public var notNext: Float

    enum CodingKeys: String, CodingKey {
        case isNext = "is_next"
        case notNext = "not_next"
    }
}

/// A `BertForNextSentencePrediction` or `BertForPreTraining` checkpoint: `cls.seq_relationship`
/// over the pooled output, softmaxed. Immutable and `Sendable`.
public final class NextSentencePredictor: EncoderTask {
    /// Sentence A and the sentence B that may follow it.
    public struct Input: Sendable {
        public var first: String
        public var second: String
        public init(_ first: String, _ second: String) {
            self.first = first
            self.second = second
        }
    }

    public let model: LoadedModel
    let head: NextSentenceHead

    /// The longest pair in tokens; longer pairs are truncated longest-first.
    public var maxLength: Int { model.maxLength }

    /// An NSP task on a loaded folder.
    ///
    /// - Throws: `.missingTensor` naming `cls.seq_relationship` (or the pooler) when absent.
    public init(model: LoadedModel) throws {
        self.model = model
        head = try NextSentenceHead(model.weights, config: model.config)
    }

    /// Loads a folder, then builds the task (see `init(model:)`).
    public convenience init(directory: URL, kernel: Kernel = .blas) throws {
        try self.init(model: LoadedModel(directory: directory, kernel: kernel))
    }

    /// - Throws: `BertError.invalidInput` when either sentence is empty or blank.
    public func encode(_ input: Input) throws -> [Encoding] {
        try TaskInput.requireText(input.first, "sentence A")
        try TaskInput.requireText(input.second, "sentence B")
        return [model.tokenizer.encode(input.first, pair: input.second,
                                       truncation: Truncation(maxLength: maxLength, strategy: .longestFirst))]
    }

    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        head.forward(try output.pooled(sequence: b), rows: 1, kernel: model.kernel)
    }

    public func finish(_ input: Input, encodings: [Encoding], partials: [[Float]]) throws -> NextSentencePrediction {
        let p = TaskMath.softmax(partials[0])
        return NextSentencePrediction(isNext: p[0], notNext: p[1])
    }

    /// Scores whether `b` follows `a`.
    ///
    /// - Throws: `BertError.invalidInput` when either text is empty or blank.
    public func predict(_ a: String, _ b: String) throws -> NextSentencePrediction {
        try run(Input(a, b))
    }

    /// Scores several pairs, batched; results keep the input order.
    public func predict(_ pairs: [(String, String)], batchSize: Int = 32) throws -> [NextSentencePrediction] {
        try run(pairs.map { Input($0.0, $0.1) }, batchSize: max(1, batchSize))
    }
}
