import BertBLAS
import Foundation

/// `/predict` and `/rerank`: the library's classifier with TEI's truncation rule (an input past
/// the model's length is 422 unless the request or the server truncates).
struct PredictTask: EncoderTask {
    let classifier: SequenceClassifier
    let truncate: Bool
    var model: LoadedModel { classifier.model }

    func encode(_ input: SequenceClassifier.Input) throws -> [Encoding] {
        var encodings = try classifier.encode(input)
        // The classifier truncates (longest first); what it cut is in `overflowing`.
        if let first = encodings.first, !first.overflowing.isEmpty {
            guard truncate else {
                throw APIError(.validation, "Input validation error: `inputs` must have less than \(classifier.maxLength) tokens; set `truncate` to cut it")
            }
            encodings[0].overflowing = []
        }
        return encodings
    }

    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        try classifier.read(output, sequence: b, encoding: encoding, workspace: workspace)
    }

    func finish(_ input: SequenceClassifier.Input, encodings: [Encoding], partials: [[Float]]) throws -> Classification {
        try classifier.finish(input, encodings: encodings, partials: partials)
    }
}

/// `/embed_sparse`: the library's SPLADE vectors, with TEI's inputs (texts or token ids) and
/// truncation rule.
struct SparseEmbeddingTask: EncoderTask {
    let embedder: SparseEmbedder
    let inputs: InputEncoder
    var model: LoadedModel { embedder.model }

    func encode(_ input: InputItem) throws -> [Encoding] { [try inputs.encode(input)] }

    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> SparseEmbedding {
        try embedder.read(output, sequence: b, encoding: encoding, workspace: workspace)
    }

    func finish(_ input: InputItem, encodings: [Encoding], partials: [SparseEmbedding]) throws -> [SparseValue] {
        try embedder.finish("", encodings: encodings, partials: partials).sparseValues
    }
}

extension SparseEmbedding {
    /// TEI's `[{"index", "value"}]`: the non-zero entries in index order.
    var sparseValues: [SparseValue] {
        zip(indices, values).map { SparseValue(index: $0, value: $1) }
    }
}

/// `/qa`: the library's reader, refusing a context that would need more than `maxWindows`
/// windows before any is built (a 2 MB context with a small window and a large stride would
/// otherwise make hundreds of thousands of them).
struct AnswerTask: EncoderTask {
    let reader: QuestionAnswerer
    let maxWindows: Int
    var model: LoadedModel { reader.model }

    func encode(_ input: QuestionAnswerer.Input) throws -> [Encoding] {
        // The library's window settings (QuestionAnswerer.encode); settings it refuses are left to it.
        let tokenizer = model.tokenizer
        let maxSeqLen = input.options.maxSeqLen ?? min(reader.maxLength, 384)
        let docStride = input.options.docStride ?? min(maxSeqLen / 2, 128)
        let question = tokenizer.encode(input.question, addSpecialTokens: false).count
        let room = maxSeqLen - question - tokenizer.numberOfSpecialTokens(pair: true)
        if docStride >= 0, room > docStride {
            let context = tokenizer.encode(input.context, addSpecialTokens: false).count
            let step = room - docStride
            let windows = context <= room ? 1 : 1 + (context - room + step - 1) / step
            guard windows <= maxWindows else {
                throw APIError(.validation, "the context needs \(windows) windows of max_seq_len \(maxSeqLen) with doc_stride \(docStride); at most \(maxWindows) per context")
            }
        }
        return try reader.encode(input)
    }

    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> AnswerWindow {
        try reader.read(output, sequence: b, encoding: encoding, workspace: workspace)
    }

    func finish(_ input: QuestionAnswerer.Input, encodings: [Encoding], partials: [AnswerWindow]) throws -> [Answer] {
        try reader.finish(input, encodings: encodings, partials: partials)
    }
}
