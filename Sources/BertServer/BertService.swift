import BertBLAS
import Foundation
import Hummingbird
import Logging

/// One loaded model behind HTTP: the routes, their limits and metrics.
///
/// Build it from a `LoadedModel`, then either run it (`BertHTTPServer`) or mount its routes in
/// your own Hummingbird application with `addRoutes(to:)`.
public final class BertService: Sendable {
    public let model: LoadedModel
    public let options: ServerOptions
    public let metrics: ServerMetrics
    let admission: Admission
    let logger: Logger
    /// The batching engine every model route runs on.
    public let engine: BatchingEngine
    /// Sentence-transformers pooling of the folder (normalization left to each request), when
    /// the folder is an embedding model; nil for a folder with a task head.
    let embedder: SentenceEmbedder?
    /// The model's heads, each nil when the folder has no such head (its routes answer 422).
    let heads: Heads

    /// The tasks the folder's head gives, chosen by `config.json` `architectures` (a token
    /// classifier also has a `classifier` tensor, so the tensors alone do not say).
    struct Heads: Sendable {
        /// `/predict` (and `/rerank` when it has one label): an HF sequence-classification
        /// checkpoint, or a trained head folder over the model.
        var classifier: SequenceClassifier?
        /// `/ner`.
        var tagger: TokenClassifier?
        /// `/qa`.
        var reader: QuestionAnswerer?
        /// `/fill-mask`.
        var filler: MaskFiller?
        /// `/embed_sparse` (SPLADE), from the same masked-LM head.
        var sparse: SparseEmbedder?

        /// Whether `classifier` is a one-label cross-encoder (TEI's "reranker").
        var reranks: Bool { classifier?.labels.count == 1 }
    }

    /// The model's name for `/info` and `/v1/embeddings`: `servedModelName`, else the folder name.
    public var modelName: String { options.servedModelName ?? model.directory.lastPathComponent }

    /// - Parameters:
    ///   - model: the loaded model folder.
    ///   - options: limits and switches (TEI's defaults).
    ///   - logger: where request errors and start-up notes go.
    ///   - headFolder: a head trained by `bert train-head` over `model` (served on `/predict`), or nil.
    public init(model: LoadedModel, headFolder: URL? = nil, options: ServerOptions = .init(),
                logger: Logger = Logger(label: "bert.serve")) throws {
        self.model = model
        self.options = options
        self.logger = logger
        let metrics = ServerMetrics()
        self.metrics = metrics
        admission = Admission(limit: options.maxConcurrentRequests)
        engine = try BatchingEngine(model: model, options: EngineOptions(
            maxBatchTokens: options.maxBatchTokens, maxBatchRequests: options.maxBatchRequests,
            maxConcurrentRequests: options.maxConcurrentRequests,
            onBatch: { report in
                metrics.batch(sequences: report.sequences, tokens: report.tokens, queued: report.queued,
                              seconds: report.seconds)
            }))
        let architecture = model.config.architectures?.first ?? ""
        var heads = Heads()
        if let headFolder {
            heads.classifier = try SequenceClassifier(model: model, headFolder: headFolder)
        } else if architecture.hasSuffix("ForSequenceClassification") {
            heads.classifier = try SequenceClassifier(model: model)
        } else if architecture.hasSuffix("ForTokenClassification") {
            heads.tagger = try TokenClassifier(model: model)
        } else if architecture.hasSuffix("ForQuestionAnswering") {
            heads.reader = try QuestionAnswerer(model: model)
        } else if architecture.hasSuffix("ForMaskedLM") || architecture.hasSuffix("ForPreTraining") {
            heads.filler = try MaskFiller(model: model)
            heads.sparse = try SparseEmbedder(model: model)
        }
        self.heads = heads
        let headed = headFolder != nil || ["ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering",
                                           "ForMaskedLM", "ForPreTraining", "ForNextSentencePrediction"]
            .contains { architecture.hasSuffix($0) }
        embedder = headed ? nil : try SentenceEmbedder(model: model, normalize: false)
    }

    /// Loads `directory` and serves it: a model folder, or a head folder from `bert train-head`
    /// (its encoder is loaded from the folder it names).
    ///
    /// - Throws: `BertError` from loading the folder or building its tasks.
    public convenience init(directory: URL, kernel: Kernel = .blas, options: ServerOptions = .init(),
                            logger: Logger = Logger(label: "bert.serve")) throws {
        if HeadFolder.isHeadFolder(directory) {
            let encoder = try HeadFolder.load(directory).encoder
            try self.init(model: LoadedModel(directory: encoder, kernel: kernel), headFolder: directory, options: options,
                          logger: logger)
        } else {
            try self.init(model: LoadedModel(directory: directory, kernel: kernel), options: options, logger: logger)
        }
    }

    /// Stops the engine once the HTTP server has stopped (admitted work finishes first).
    public func shutdown() async {
        await engine.shutdown()
    }

    /// Runs `body` as one admitted request: 429 once `maxConcurrentRequests` are in flight.
    func admitted<T>(_ body: () async throws -> T) async throws -> T {
        guard admission.enter() else { throw APIError.overloaded(limit: admission.limit) }
        metrics.inFlight.record(admission.current)
        defer {
            admission.leave()
            metrics.inFlight.record(admission.current)
        }
        return try await body()
    }

    /// Runs CPU work (tokenizing a 2 MB body) on a Dispatch thread, so it neither blocks Swift's
    /// cooperative pool (2 threads here) nor runs outside the admission count.
    func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// 422 for an empty batch, 413 for one over `maxClientBatchSize`.
    func checkBatch(count: Int, name: String = "inputs") throws {
        guard count > 0 else { throw APIError(.empty, "`\(name)` cannot be empty") }
        guard count <= options.maxClientBatchSize else {
            throw APIError.batchTooLarge(count, limit: options.maxClientBatchSize)
        }
    }

    // MARK: - Tokenizer routes

    /// `/tokenize`: each text's tokens with their byte spans, as TEI's `into_tokens`.
    func tokenize(_ request: TokenizeRequest) throws -> [[SimpleToken]] {
        if case .batch(let texts) = request.inputs { try checkBatch(count: texts.count) }
        if let name = request.promptName { throw APIError(.validation, "prompt_name '\(name)': this model has no prompts") }
        let addSpecial = request.addSpecialTokens ?? true
        return request.inputs.items.map { text in
            let encoding = model.tokenizer.encode(text, addSpecialTokens: addSpecial)
            // Encoding offsets count code points; TEI's count UTF-8 bytes.
            let scalars = Array(text.unicodeScalars)
            var byteOffset = [Int](repeating: 0, count: scalars.count + 1)
            for (i, scalar) in scalars.enumerated() { byteOffset[i + 1] = byteOffset[i] + UTF8.width(scalar) }
            return encoding.ids.indices.map { t in
                let id = UInt32(bitPattern: encoding.ids[t])
                if encoding.specialTokensMask[t] == 1 {
                    return SimpleToken(id: id, text: encoding.tokens[t], special: true, start: nil, stop: nil)
                }
                let start = min(max(encoding.offsets[t].start, 0), scalars.count)
                let end = min(max(encoding.offsets[t].end, start), scalars.count)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[start..<end])
                return SimpleToken(id: id, text: String(view), special: false,
                                   start: byteOffset[start], stop: byteOffset[end])
            }
        }
    }

    /// `/decode`: each id list back to text. Ids outside the vocabulary are skipped.
    func decode(_ request: DecodeRequest) throws -> [String] {
        let lists: [[UInt32]]
        switch request.ids {
        case .single(let ids): lists = [ids]
        case .batch(let batch):
            try checkBatch(count: batch.count, name: "ids")
            lists = batch
        }
        let skip = request.skipSpecialTokens ?? true
        return lists.map { ids in
            model.tokenizer.decode(ids.map { Int32(exactly: $0) ?? -1 }, skipSpecialTokens: skip)
        }
    }

    // MARK: - /info

    /// What the model serves, for `/info`.
    var modelType: ModelType {
        if let labels = heads.classifier?.labels {
            let id2label = Dictionary(uniqueKeysWithValues: labels.enumerated().map { (String($0.offset), $0.element) })
            let label2id = Dictionary(labels.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
            return heads.reranks ? .reranker(id2label: id2label, label2id: label2id)
                                 : .classifier(id2label: id2label, label2id: label2id)
        }
        if heads.sparse != nil { return .embedding(pooling: "splade") }
        return .embedding(pooling: embedder?.pooling.map(\.rawValue).joined(separator: "+") ?? "none")
    }

    /// The routes this model answers (the tokenizer's always; the model's by its heads).
    var routes: [String] {
        var routes = ["/tokenize", "/decode"]
        if embedder != nil { routes += ["/embed", "/embed_all", "/similarity", "/v1/embeddings", "/embeddings"] }
        if heads.classifier != nil { routes.append("/predict") }
        if heads.reranks { routes.append("/rerank") }
        if heads.tagger != nil { routes.append("/ner") }
        if heads.reader != nil { routes.append("/qa") }
        if heads.filler != nil { routes.append("/fill-mask") }
        if heads.sparse != nil { routes.append("/embed_sparse") }
        return routes
    }

    // MARK: - Embedding routes

    /// The inputs of a request as a list: 422 for an empty one, 413 past `maxClientBatchSize`.
    func items(_ inputs: Inputs) throws -> [InputItem] {
        if case .batch(let items) = inputs { try checkBatch(count: items.count) }
        return inputs.items
    }

    func inputEncoder(truncate: Bool?, direction: TruncationDirection?, promptName: String?,
                      maxLength: Int, lowercase: Bool = false) throws -> InputEncoder {
        if let promptName { throw APIError(.validation, "prompt_name '\(promptName)': this model has no prompts") }
        if direction == .left { throw APIError(.validation, "truncation_direction Left is not supported; use Right") }
        return InputEncoder(tokenizer: model.tokenizer, vocabularySize: model.config.vocabSize, maxLength: maxLength,
                            truncate: truncate ?? options.autoTruncate, lowercase: lowercase)
    }

    func requireEmbedder() throws -> SentenceEmbedder {
        try require(embedder, "is not an embedding model")
    }

    /// `head`, or 422 naming what the model lacks and the routes it answers.
    func require<T>(_ head: T?, _ what: String) throws -> T {
        guard let head else {
            throw APIError(.validation, "this model \(what) (config.json architectures: \(model.config.architectures ?? [])); it answers \(routes.joined(separator: ", "))")
        }
        return head
    }

    /// Pooled vectors of `items`, with TEI's `dimensions` and `normalize`.
    func pooled(_ items: [InputItem], truncate: Bool?, direction: TruncationDirection?, promptName: String?,
                dimensions: Int?, normalize: Bool) async throws -> [PooledEmbeddingTask.Output] {
        let embedder = try requireEmbedder()
        if let dimensions, !(1...embedder.dimension).contains(dimensions) {
            throw APIError(.validation, "dimensions must be between 1 and \(embedder.dimension), got \(dimensions)")
        }
        let task = PooledEmbeddingTask(
            model: model, embedder: embedder,
            inputs: try inputEncoder(truncate: truncate, direction: direction, promptName: promptName,
                                     maxLength: embedder.maxLength, lowercase: embedder.lowercase))
        let outputs = try await engine.run(task, items)
        return outputs.map { output in
            var output = output
            output.vector = VectorMath.finish(output.vector, dimensions: dimensions, normalize: normalize)
            return output
        }
    }

    /// `/embed`: one sentence vector per input.
    func embed(_ request: EmbedRequest) async throws -> [[Float]] {
        try await pooled(items(request.inputs), truncate: request.truncate, direction: request.truncationDirection,
                         promptName: request.promptName, dimensions: request.dimensions,
                         normalize: request.normalize ?? true).map(\.vector)
    }

    /// `/embed_all`: every token's vector, per input.
    func embedAll(_ request: EmbedAllRequest) async throws -> [[[Float]]] {
        let embedder = try requireEmbedder()
        let task = TokenEmbeddingTask(
            model: model,
            inputs: try inputEncoder(truncate: request.truncate, direction: request.truncationDirection,
                                     promptName: request.promptName, maxLength: embedder.maxLength,
                                     lowercase: embedder.lowercase))
        return try await engine.run(task, items(request.inputs))
    }

    /// `/similarity`: cosine of the source sentence with each sentence.
    func similarity(_ request: SimilarityRequest) async throws -> [Float] {
        try checkBatch(count: request.inputs.sentences.count, name: "sentences")
        let texts = [request.inputs.sourceSentence] + request.inputs.sentences
        let parameters = request.parameters
        let vectors = try await pooled(texts.map { .text($0) }, truncate: parameters?.truncate,
                                       direction: parameters?.truncationDirection, promptName: parameters?.promptName,
                                       dimensions: nil, normalize: true).map(\.vector)
        return vectors.dropFirst().map { VectorMath.cosine(vectors[0], $0) }
    }

    /// `/v1/embeddings`: OpenAI's shape, floats or base64.
    func openAIEmbeddings(_ request: OpenAIEmbeddingRequest) async throws -> OpenAIEmbeddingResponse {
        let outputs = try await pooled(items(request.input), truncate: nil, direction: nil, promptName: nil,
                                       dimensions: request.dimensions, normalize: true)
        let base64 = request.encodingFormat == .base64
        let data = outputs.enumerated().map { index, output in
            OpenAIEmbedding(embedding: base64 ? .base64(VectorMath.base64(output.vector)) : .float(output.vector),
                            index: index)
        }
        let tokens = outputs.reduce(0) { $0 + $1.tokens }
        return OpenAIEmbeddingResponse(data: data, model: modelName,
                                       usage: OpenAIUsage(promptTokens: tokens, totalTokens: tokens))
    }

    var info: Info {
        Info(modelId: model.directory.path, modelSha: nil, modelDtype: "float32", servedModelName: modelName,
             modelType: modelType, maxConcurrentRequests: options.maxConcurrentRequests,
             maxInputLength: model.maxLength, maxBatchTokens: options.maxBatchTokens,
             maxBatchRequests: options.maxBatchRequests, maxClientBatchSize: options.maxClientBatchSize,
             autoTruncate: options.autoTruncate, tokenizationWorkers: 1, version: BertHTTPServer.version,
             sha: nil, dockerLabel: nil, routes: routes, blasCore: BLASRuntime.coreName,
             blasThreads: BLASRuntime.threads)
    }

    // MARK: - Routes

    /// Adds every route, and the middleware that checks the API key, answers errors as JSON and
    /// counts requests, to `router` (the middleware applies to the whole router, so its 404s are
    /// JSON too).
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.add(middleware: ServerMiddleware<Context>(apiKey: options.apiKey, metrics: metrics))
        let health: @Sendable (Request, Context) async throws -> Response = { _, _ in
            Response(status: .ok)
        }
        router.get("/health", use: health)
        router.get("/ping", use: health)
        router.get("/info") { _, _ in try JSONBody.response(self.info) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
        let openAPI: @Sendable (Request, Context) async throws -> Response = { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json(
                         routes: self.routes,
                         limits: .init(maxClientBatchSize: self.options.maxClientBatchSize,
                                       vocabularySize: self.model.config.vocabSize)))))
        }
        router.get("/openapi.json", use: openAPI)
        router.get("/api-doc/openapi.json", use: openAPI)

        // Every model route is there whatever the model: one it has no head for answers 422.
        post("/embed", router, EmbedRequest.self) { try await self.embed($0) }
        post("/embed_all", router, EmbedAllRequest.self) { try await self.embedAll($0) }
        post("/similarity", router, SimilarityRequest.self) { try await self.similarity($0) }
        post("/v1/embeddings", router, OpenAIEmbeddingRequest.self) { try await self.openAIEmbeddings($0) }
        post("/embeddings", router, OpenAIEmbeddingRequest.self) { try await self.openAIEmbeddings($0) }
        post("/embed_sparse", router, EmbedSparseRequest.self) { try await self.embedSparse($0) }
        post("/predict", router, PredictRequest.self) { try await self.predict($0) }
        post("/rerank", router, RerankRequest.self) { try await self.rerank($0) }
        post("/ner", router, NERRequest.self) { try await self.ner($0) }
        post("/qa", router, QARequest.self) { try await self.qa($0) }
        post("/fill-mask", router, FillMaskRequest.self) { try await self.fillMask($0) }
        post("/tokenize", router, TokenizeRequest.self) { request in try await self.offload { try self.tokenize(request) } }
        post("/decode", router, DecodeRequest.self) { request in try await self.offload { try self.decode(request) } }
    }

    /// A POST route: body collected under the payload limit, decoded, run as an admitted request,
    /// answered as JSON.
    func post<Context: RequestContext, Body: Decodable, Output: Encodable>(
        _ path: RouterPath, _ router: Router<Context>, _ body: Body.Type,
        _ handler: @escaping @Sendable (Body) async throws -> Output
    ) {
        router.post(path) { request, _ -> Response in
            let buffer = try await JSONBody.collect(request, limit: self.options.payloadLimit)
            let decoded = try JSONBody.decode(Body.self, from: buffer)
            let output = try await self.admitted { try await handler(decoded) }
            return try JSONBody.response(output)
        }
    }
}
