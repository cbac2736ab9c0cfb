import BertBLAS
import Foundation

/// The routes of the models' heads: `/predict`, `/rerank`, `/embed_sparse` (TEI's) and `/ner`,
/// `/qa`, `/fill-mask` (BertBLAS's; bodies as the CLI's records). Each runs the library's task on
/// the batching engine; a model without the head answers 422.
extension BertService {
    /// Contexts per `/qa` request are windowed; one context may not need more windows than this.
    static let maxWindowsPerContext = 256
    /// Largest `top_k` of `/fill-mask` (the answer holds masks × `top_k` candidates).
    static let maxFillMaskTopK = 100

    /// The inputs of a request as a list, and whether it sent a batch: 422 for an empty batch,
    /// 413 past `maxClientBatchSize`.
    func items(_ inputs: TextInputs, name: String = "inputs") throws -> (items: [String], batch: Bool) {
        switch inputs {
        case .single(let text): return ([text], false)
        case .batch(let texts):
            try checkBatch(count: texts.count, name: name)
            return (texts, true)
        }
    }

    func refuseLeftTruncation(_ direction: TruncationDirection?) throws {
        if direction == .left { throw APIError(.validation, "truncation_direction Left is not supported; use Right") }
    }

    /// Every label with its score (the logits when `raw`), best first.
    static func predictions(_ classification: Classification, raw: Bool) throws -> [Prediction] {
        let values = raw ? classification.logits : classification.scores
        guard !values.contains(where: \.isNaN) else { throw APIError(.backend, "score is NaN") }
        return Ranking.descending(values).map { Prediction(score: values[$0], label: classification.labels[$0]) }
    }

    /// `/predict`: every label's score, best first, per text or text pair.
    func predict(_ request: PredictRequest) async throws -> PerInput<[Prediction]> {
        let classifier = try require(heads.classifier, "has no sequence-classification head")
        try refuseLeftTruncation(request.truncationDirection)
        let pairs: [TextPair]
        switch request.inputs {
        case .single(let pair): pairs = [pair]
        case .batch(let batch):
            try checkBatch(count: batch.count)
            pairs = batch
        }
        let inputs = pairs.map { pair -> SequenceClassifier.Input in
            switch pair {
            case .single(let text): SequenceClassifier.Input(text)
            case .pair(let text, let second): SequenceClassifier.Input(text, pair: second)
            }
        }
        let task = PredictTask(classifier: classifier, truncate: request.truncate ?? options.autoTruncate)
        let results = try await engine.run(task, inputs).map { try Self.predictions($0, raw: request.rawScores ?? false) }
        if case .single = request.inputs { return .single(results[0]) }
        return .batch(results)
    }

    /// `/rerank`: each text's relevance to the query (a one-label cross-encoder on the pair
    /// (query, text); sigmoid unless `raw_scores`), best first.
    func rerank(_ request: RerankRequest) async throws -> [Rank] {
        let classifier = try require(heads.reranks ? heads.classifier : nil,
                                     "is not a re-ranker (a sequence classifier with one label)")
        try refuseLeftTruncation(request.truncationDirection)
        try checkBatch(count: request.texts.count, name: "texts")
        let task = PredictTask(classifier: classifier, truncate: request.truncate ?? options.autoTruncate)
        let results = try await engine.run(task, request.texts.map { SequenceClassifier.Input(request.query, pair: $0) })
        // TEI: the logit through a sigmoid, whatever the checkpoint's problem_type.
        let raw = request.rawScores ?? false
        let scores = results.map { raw ? $0.logits[0] : ClassificationFunction.sigmoid.apply($0.logits)[0] }
        guard !scores.contains(where: \.isNaN) else { throw APIError(.backend, "score is NaN") }
        let returnText = request.returnText ?? false
        return Ranking.descending(scores).map { i in
            Rank(index: i, text: returnText ? request.texts[i] : nil, score: scores[i])
        }
    }

    /// `/embed_sparse`: the SPLADE vector of each input, its non-zero entries (TEI answers a list
    /// of vectors for a single input too).
    func embedSparse(_ request: EmbedSparseRequest) async throws -> [[SparseValue]] {
        let sparse = try require(heads.sparse, "has no masked-LM head for sparse (SPLADE) embeddings")
        let task = SparseEmbeddingTask(
            embedder: sparse,
            inputs: try inputEncoder(truncate: request.truncate, direction: request.truncationDirection,
                                     promptName: request.promptName, maxLength: sparse.maxLength))
        return try await engine.run(task, items(request.inputs))
    }

    /// `/ner`: the entities of each text, in text order.
    func ner(_ request: NERRequest) async throws -> PerInput<[Entity]> {
        let tagger = try require(heads.tagger, "has no token-classification head")
        let (texts, batch) = try items(request.inputs)
        let ignore = Set(request.ignoreLabels ?? ["O"])
        let strategy = request.aggregationStrategy ?? .none
        let results = try await engine.run(tagger, texts.map {
            TokenClassifier.Input($0, aggregation: strategy, ignoreLabels: ignore)
        })
        return batch ? .batch(results) : .single(results[0])
    }

    /// `/qa`: up to `top_k` answers to the question from each context, best first.
    func qa(_ request: QARequest) async throws -> PerInput<[Answer]> {
        let reader = try require(heads.reader, "has no question-answering head")
        let (contexts, batch) = try items(request.context, name: "context")
        let options = QuestionAnsweringOptions(maxSeqLen: request.maxSeqLen, docStride: request.docStride,
                                               maxAnswerLen: request.maxAnswerLen ?? 15, topK: request.topK ?? 1,
                                               handleImpossibleAnswer: request.handleImpossibleAnswer ?? false)
        let task = AnswerTask(reader: reader, maxWindows: Self.maxWindowsPerContext)
        let results = try await engine.run(task, contexts.map {
            QuestionAnswerer.Input(question: request.question, context: $0, options: options)
        })
        return batch ? .batch(results) : .single(results[0])
    }

    /// `/fill-mask`: candidates for each mask of each text.
    func fillMask(_ request: FillMaskRequest) async throws -> PerInput<MaskFills> {
        let filler = try require(heads.filler, "has no masked-LM head")
        let (texts, batch) = try items(request.inputs)
        let topK = request.topK ?? 5
        guard (1...Self.maxFillMaskTopK).contains(topK) else {
            throw APIError(.validation, "top_k must be between 1 and \(Self.maxFillMaskTopK), got \(topK)")
        }
        var targets: [Int]?
        if let words = request.targets {
            guard !words.isEmpty else { throw APIError(.validation, "targets cannot be empty (leave it out to score every token)") }
            targets = try filler.targetIds(words).ids
        }
        let results = try await engine.run(filler, texts.map { MaskFiller.Input($0, topK: topK, targets: targets) })
        let fills = results.map(MaskFills.init)
        return batch ? .batch(fills) : .single(fills[0])
    }
}
