import BertBLAS
import Foundation
import Testing
@testable import BertServer

/// The head routes against a real server on loopback: `/predict`, `/rerank`, `/embed_sparse`,
/// `/ner`, `/qa`, `/fill-mask`, each equal to the HF reference's goldens (transformers pipelines,
/// sentence-transformers CrossEncoder, SPLADE max pooling) or, for a trained head folder, to the
/// library's direct call. A model without the head answers 422.
@Suite("Server head routes", .serialized)
struct HeadRouteTests {
    typealias Object = [String: Any]
    /// float32 here against PyTorch's float32, as PipelineTests.
    static let tolerance = 1e-4

    static func golden(_ relative: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: ServerPaths.golden(relative)))
    }
    static func body(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }
    static func objects(_ value: Any?) -> [Object] { value as? [Object] ?? [] }
    static func number(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? .nan }
    static func headModel(_ name: String) -> URL { ServerPaths.headModels.appendingPathComponent(name) }

    /// Predictions (`[{"label","score"}]`, best first) equal `want` (the pipeline's, best first).
    static func expectPredictions(_ got: Any?, labels: [String], scores: [Double], _ what: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let got = objects(got)
        #expect(got.map { $0["label"] as? String ?? "" } == labels, "\(what)", sourceLocation: sourceLocation)
        #expect(got.count == scores.count, sourceLocation: sourceLocation)
        for (g, w) in zip(got, scores) {
            #expect(abs(number(g["score"]) - w) < tolerance, "\(what): \(g) vs \(w)", sourceLocation: sourceLocation)
        }
    }

    @Test("/predict equals transformers' text-classification pipeline: texts, pairs, raw scores, single and batch",
          arguments: ["cls-stars", "cls-multilabel"])
    func predict(_ name: String) async throws {
        let model = try #require(try Self.golden("heads/classify.json") as? Object)
        let golden = try #require((model["models"] as? Object)?[name] as? Object)
        let cases = Self.objects(golden["cases"])
        #expect(cases.count == 15)
        let server = try await TestServer.start(Self.headModel(name))
        defer { Task { await server.stop() } }

        let inputs = cases.map { c in [c["text"] as? String ?? ""] + ((c["pair"] as? String).map { [$0] } ?? []) }
        let reply = try await server.post("/predict", try Self.body(["inputs": inputs]))
        #expect(reply.status == 200, "\(reply.text.prefix(300))")
        let batch = try #require(try reply.json() as? [Any])
        #expect(batch.count == cases.count)
        for (got, c) in zip(batch, cases) {
            let want = Self.objects(c["results"])
            Self.expectPredictions(got, labels: want.map { $0["label"] as? String ?? "" },
                                   scores: want.map { Self.number($0["score"]) }, "\(name) \(c["text"] ?? "")")
        }

        // One text, and one pair: a single list, not a batch.
        let single = try await server.post("/predict", try Self.body(["inputs": inputs[0][0]]))
        let want0 = Self.objects(cases[0]["results"])
        Self.expectPredictions(try single.json(), labels: want0.map { $0["label"] as? String ?? "" },
                               scores: want0.map { Self.number($0["score"]) }, "\(name) single")
        let pairIndex = try #require(inputs.firstIndex { $0.count == 2 })
        let pair = try await server.post("/predict", try Self.body(["inputs": inputs[pairIndex]]))
        let wantPair = Self.objects(cases[pairIndex]["results"])
        Self.expectPredictions(try pair.json(), labels: wantPair.map { $0["label"] as? String ?? "" },
                               scores: wantPair.map { Self.number($0["score"]) }, "\(name) pair")

        // raw_scores: the logits, best first.
        let raw = try await server.post("/predict", try Self.body(["inputs": inputs[0][0], "raw_scores": true]))
        let logits = (cases[0]["logits"] as? [Any] ?? []).map(Self.number)
        let labels = golden["labels"] as? [String] ?? []
        let order = logits.indices.sorted { logits[$0] > logits[$1] }
        Self.expectPredictions(try raw.json(), labels: order.map { labels[$0] }, scores: order.map { logits[$0] },
                               "\(name) raw")

        // The routes this model has no head for, and TEI's length rule (the model takes 128 tokens).
        for route in ["/rerank", "/ner", "/qa", "/fill-mask", "/embed_sparse", "/embed"] {
            let body = route == "/rerank" ? "{\"query\": \"a\", \"texts\": [\"b\"]}"
                : route == "/qa" ? "{\"question\": \"a\", \"context\": \"b\"}" : "{\"inputs\": \"a [MASK]\"}"
            let refused = try await server.post(route, body)
            #expect(refused.status == 422 && refused.errorType == "Validation", "\(route): \(refused.status) \(refused.text)")
        }
        let long = String(repeating: "john smith works in paris. ", count: 40)
        let tooLong = try await server.post("/predict", try Self.body(["inputs": long]))
        #expect(tooLong.status == 422 && tooLong.text.contains("128"), "\(tooLong.text)")
        let cut = try await server.post("/predict", try Self.body(["inputs": long, "truncate": true]))
        let direct = try SequenceClassifier(model: ModelCache.load(Self.headModel(name))).classify(long)
        Self.expectPredictions(try cut.json(), labels: direct.ranked.map(\.label), scores: direct.ranked.map { Double($0.score) },
                               "\(name) truncated")
        #expect(try await server.post("/predict", "{\"inputs\": [[\"a\", \"b\", \"c\"]]}").status == 422)
        #expect(try await server.post("/predict", "{\"inputs\": [\"\"]}").status == 422)
        let info = try #require(try await server.get("/info").json() as? Object)
        #expect(info["routes"] as? [String] == ["/tokenize", "/decode", "/predict"])
    }

    @Test("/predict serves a head folder trained over MiniLM, equal to the library's classifier")
    func predictHeadFolder() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-serve-head-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // A 3-label logistic head with varied weights (a fixed pattern; what matters is that the
        // server and the library read the same folder).
        let hidden = 384, labels = ["sports", "politics", "tech"]
        let weight = (0..<(labels.count * hidden)).map { Float(sin(Double($0) * 0.37)) * 0.8 }
        let head = try LinearHead(weight: weight, bias: [0.1, -0.2, 0.05], labelCount: labels.count, inputSize: hidden)
        try HeadFolder.write(folder, head: head, config: HeadFolder.Config(
            kind: .logistic, labels: labels, encoder: ServerPaths.miniLM.path, encoderAbsolute: ServerPaths.miniLM.path,
            pooling: "mean", normalize: true, maxLength: 256, hiddenSize: hidden, training: nil))
        let model = try ModelCache.load(ServerPaths.miniLM)
        let classifier = try SequenceClassifier(model: model, headFolder: folder)
        let texts = ["The match ended in a draw after extra time.", "Parliament passed the budget.",
                     "The new phone has a faster chip.", "A man is playing a guitar."]
        let want = try classifier.classify(texts)

        let server = try await TestServer.start(ServerPaths.miniLM, headFolder: folder)
        defer { Task { await server.stop() } }
        let reply = try await server.post("/predict", try Self.body(["inputs": texts.map { [$0] }]))
        let batch = try #require(try reply.json() as? [Any], "\(reply.text.prefix(300))")
        #expect(batch.count == texts.count)
        for (got, w) in zip(batch, want) {
            Self.expectPredictions(got, labels: w.ranked.map(\.label), scores: w.ranked.map { Double($0.score) }, "head folder")
        }
        #expect(Set(want.map(\.label)).count > 1, "the head should not give one label to every text")
        let info = try #require(try await server.get("/info").json() as? Object)
        #expect((info["model_type"] as? Object)?["classifier"] != nil)
    }

    @Test("/rerank equals sentence-transformers' CrossEncoder.rank: sorted, sigmoid or raw, with the texts")
    func rerank() async throws {
        let golden = try #require(try Self.golden("server/rerank.json") as? Object)
        let cases = Self.objects(golden["cases"])
        #expect(cases.count == 2)
        let server = try await TestServer.start(ServerPaths.reranker)
        defer { Task { await server.stop() } }
        for c in cases {
            let query = c["query"] as? String ?? "", texts = c["texts"] as? [String] ?? []
            let reply = try await server.post("/rerank", try Self.body(["query": query, "texts": texts, "return_text": true]))
            let got = Self.objects(try reply.json())
            let want = Self.objects(c["ranked"])
            #expect(got.map { $0["index"] as? Int } == want.map { $0["index"] as? Int }, "\(query): \(reply.text)")
            #expect(got.map { $0["text"] as? String } == want.map { $0["text"] as? String })
            for (g, w) in zip(got, want) {
                #expect(abs(Self.number(g["score"]) - Self.number(w["score"])) < Self.tolerance, "\(g) vs \(w)")
            }
            let raw = try await server.post("/rerank", try Self.body(["query": query, "texts": texts, "raw_scores": true]))
            let rawGot = Self.objects(try raw.json())
            let rawWant = (c["raw_scores"] as? [Any] ?? []).map(Self.number)
            #expect(rawGot.count == texts.count && rawGot.allSatisfy { $0["text"] == nil })
            for g in rawGot {
                let i = try #require(g["index"] as? Int)
                #expect(abs(Self.number(g["score"]) - rawWant[i]) < Self.tolerance)
            }
            #expect(rawGot.map { $0["index"] as? Int } == want.map { $0["index"] as? Int })
        }
        // /predict on a reranker: its one label, sigmoid.
        let first = cases[0]
        let predicted = try await server.post("/predict", try Self.body(
            ["inputs": [first["query"] as? String ?? "", (first["texts"] as? [String] ?? [""])[0]]]))
        Self.expectPredictions(try predicted.json(), labels: ["LABEL_0"],
                               scores: [Self.number((first["scores"] as? [Any])?[0])], "predict on the reranker")
        #expect(try await server.post("/rerank", "{\"query\": \"a\", \"texts\": []}").status == 422)
        let many = try Self.body(["query": "a", "texts": Array(repeating: "b", count: 33)])
        #expect(try await server.post("/rerank", many).status == 413)
        let info = try #require(try await server.get("/info").json() as? Object)
        #expect((info["model_type"] as? Object)?["reranker"] != nil)
        #expect(info["routes"] as? [String] == ["/tokenize", "/decode", "/predict", "/rerank"])
    }

    @Test("/embed_sparse equals SPLADE max pooling of transformers' MLM logits (SPLADE-tiny)")
    func embedSparse() async throws {
        guard FileManager.default.fileExists(atPath: ServerPaths.spladeMLM.appendingPathComponent("model.safetensors").path) else {
            Issue.record("SPLADE model missing at \(ServerPaths.spladeMLM.path): run `make models`")
            return
        }
        let golden = try #require(try Self.golden("server/splade_sparse.json") as? Object)
        let cases = Self.objects(golden["cases"])
        #expect(cases.count == 7)
        let server = try await TestServer.start(ServerPaths.spladeMLM)
        defer { Task { await server.stop() } }
        let texts = cases.map { $0["text"] as? String ?? "" }
        let reply = try await server.post("/embed_sparse", try Self.body(["inputs": texts]))
        let vectors = try #require(try reply.json() as? [[Object]], "\(reply.text.prefix(300))")
        #expect(vectors.count == cases.count)
        for (got, c) in zip(vectors, cases) {
            var want = [Int: Double]()
            for (i, v) in zip(c["indices"] as? [Int] ?? [], (c["values"] as? [Any] ?? []).map(Self.number)) { want[i] = v }
            let indices = got.compactMap { $0["index"] as? Int }
            #expect(indices == indices.sorted() && got.allSatisfy { Self.number($0["value"]) > 0 })
            var diff = 0.0
            for g in got { diff = max(diff, abs(Self.number(g["value"]) - (want.removeValue(forKey: g["index"] as? Int ?? -1) ?? 0))) }
            for v in want.values { diff = max(diff, v) }
            #expect(diff < Self.tolerance, "\(c["text"] ?? ""): max abs diff \(diff)")
        }
        // A single input is answered as a list of one vector (TEI), and token ids give the same.
        let single = try await server.post("/embed_sparse", try Self.body(["inputs": texts[0]]))
        let singleVectors = try #require(try single.json() as? [[Object]])
        #expect(singleVectors.count == 1 && singleVectors[0].count == vectors[0].count)
        let ids = try ModelCache.load(ServerPaths.spladeMLM).tokenizer.encode(texts[0]).ids.map(Int.init)
        let byIDs = try #require(try await server.post("/embed_sparse", try Self.body(["inputs": ids])).json() as? [[Object]])
        #expect(byIDs.first?.compactMap { $0["index"] as? Int } == vectors[0].compactMap { $0["index"] as? Int })
        // /fill-mask is the same model's other route; /embed is not one of its routes.
        #expect(try await server.post("/embed", "{\"inputs\": \"a\"}").status == 422)
        let info = try #require(try await server.get("/info").json() as? Object)
        #expect(info["routes"] as? [String] == ["/tokenize", "/decode", "/fill-mask", "/embed_sparse"])
        #expect(((info["model_type"] as? Object)?["embedding"] as? Object)?["pooling"] as? String == "splade")
    }

    @Test("/ner equals transformers' token-classification pipeline for every aggregation strategy")
    func ner() async throws {
        let models = try #require((try Self.golden("heads/ner.json") as? Object)?["models"] as? Object)
        let golden = try #require(models["ner-bio"] as? Object)
        let cases = Self.objects(golden["cases"])
        #expect(cases.count == 11)
        let server = try await TestServer.start(Self.headModel("ner-bio"))
        defer { Task { await server.stop() } }
        let texts = cases.map { $0["text"] as? String ?? "" }
        var compared = 0
        for strategy in AggregationStrategy.allCases {
            let reply = try await server.post("/ner", try Self.body(["inputs": texts, "aggregation_strategy": strategy.rawValue]))
            let batch = try #require(try reply.json() as? [[Object]], "\(strategy): \(reply.text.prefix(300))")
            #expect(batch.count == cases.count)
            for (got, c) in zip(batch, cases) {
                let want = Self.objects((c["results"] as? Object)?[strategy.rawValue])
                #expect(got.count == want.count, "\(strategy) \(c["text"] ?? "")")
                for (g, w) in zip(got, want) {
                    for key in ["entity", "entity_group", "word", "start", "end", "index"] {
                        #expect((g[key] as? NSObject) == (w[key] as? NSObject), "\(strategy) \(key): \(g) vs \(w)")
                    }
                    #expect(abs(Self.number(g["score"]) - Self.number(w["score"])) < Self.tolerance)
                    compared += 1
                }
            }
        }
        #expect(compared > 50)
        let keepAll = try await server.post("/ner", try Self.body(["inputs": texts[0], "aggregation_strategy": "simple",
                                                                   "ignore_labels": [String]()]))
        let want = Self.objects((cases[0]["results"] as? Object)?["simple_keep_all"])
        #expect(Self.objects(try keepAll.json()).map { $0["entity_group"] as? String } == want.map { $0["entity_group"] as? String })
        #expect(try await server.post("/ner", "{\"inputs\": \"a\", \"aggregation_strategy\": \"loudest\"}").status == 422)
        #expect(try await server.post("/ner", "{\"inputs\": \"   \"}").status == 422)
    }

    @Test("/qa equals transformers' question-answering pipeline: windows, top_k, impossible answers")
    func qa() async throws {
        let golden = try #require(try Self.golden("heads/qa.json") as? Object)
        let cases = Self.objects(golden["cases"])
        #expect(cases.count == 10)
        let server = try await TestServer.start(Self.headModel("qa"))
        defer { Task { await server.stop() } }
        for c in cases {
            var body = (c["params"] as? Object) ?? [:]
            body["question"] = c["question"]
            body["context"] = c["context"]
            let reply = try await server.post("/qa", try Self.body(body))
            let got = Self.objects(try reply.json())
            let want = Self.objects(c["answers"])
            #expect(got.count == want.count, "\(c["name"] ?? ""): \(reply.text.prefix(300))")
            for (g, w) in zip(got, want) {
                #expect(g["answer"] as? String == w["answer"] as? String && g["start"] as? Int == w["start"] as? Int
                        && g["end"] as? Int == w["end"] as? Int, "\(c["name"] ?? ""): \(g) vs \(w)")
                #expect(abs(Self.number(g["score"]) - Self.number(w["score"])) < Self.tolerance)
            }
        }
        // Several contexts: one answer list each, as the single requests gave.
        let contexts = cases.prefix(3).map { $0["context"] as? String ?? "" }
        let batch = try await server.post("/qa", try Self.body(["question": cases[0]["question"] ?? "", "context": contexts]))
        let lists = try #require(try batch.json() as? [[Object]])
        #expect(lists.count == 3)
        #expect(lists[0].first?["answer"] as? String == Self.objects(cases[0]["answers"]).first?["answer"] as? String)
        // Bounded windows: a long context with a tiny step is refused before it is windowed.
        let long = String(repeating: "john smith walked there every day. ", count: 200)
        let refused = try await server.post("/qa", try Self.body(["question": "who?", "context": long,
                                                                  "max_seq_len": 24, "doc_stride": 18]))
        #expect(refused.status == 422 && refused.text.contains("windows"), "\(refused.text)")
        #expect(try await server.post("/qa", "{\"question\": \"\", \"context\": \"a b\"}").status == 422)
        #expect(try await server.post("/qa", "{\"question\": \"a\", \"context\": \"b\", \"top_k\": 0}").status == 422)
    }

    @Test("/fill-mask equals transformers' fill-mask pipeline: top_k, targets, several masks")
    func fillMask() async throws {
        let golden = try #require(try Self.golden("heads/fill_mask.json") as? Object)
        let cases = Self.objects(golden["cases"])
        #expect(cases.count == 11)
        let server = try await TestServer.start(Self.headModel("mlm"))
        defer { Task { await server.stop() } }
        for c in cases {
            var body = (c["params"] as? Object) ?? [:]
            body["inputs"] = c["text"]
            let reply = try await server.post("/fill-mask", try Self.body(body))
            let json = try reply.json()
            // One mask: a list of candidates; several: one list per mask (as the pipeline).
            let got: [[Object]] = (json as? [[Object]]) ?? [Self.objects(json)]
            let want: [[Object]] = (c["results"] as? [[Object]]) ?? [Self.objects(c["results"])]
            #expect(got.count == want.count, "\(c["name"] ?? ""): \(reply.text.prefix(300))")
            for (gm, wm) in zip(got, want) {
                #expect(gm.map { $0["token"] as? Int } == wm.map { $0["token"] as? Int }, "\(c["name"] ?? "")")
                for (g, w) in zip(gm, wm) {
                    #expect(g["token_str"] as? String == w["token_str"] as? String
                            && g["sequence"] as? String == w["sequence"] as? String, "\(g) vs \(w)")
                    #expect(abs(Self.number(g["score"]) - Self.number(w["score"])) < Self.tolerance)
                }
            }
        }
        let texts = cases.prefix(4).map { $0["text"] as? String ?? "" }
        let batch = try #require(try await server.post("/fill-mask", try Self.body(["inputs": texts])).json() as? [Any])
        #expect(batch.count == 4)
        #expect(try await server.post("/fill-mask", "{\"inputs\": \"no mask here\"}").status == 422)
        #expect(try await server.post("/fill-mask", "{\"inputs\": \"a [MASK]\", \"top_k\": 101}").status == 422)
        #expect(try await server.post("/fill-mask", "{\"inputs\": \"a [MASK]\", \"targets\": []}").status == 422)
    }

    @Test("/openapi.json documents exactly each model's routes, and every $ref resolves",
          arguments: ["cls-stars", "ner-bio", "qa", "mlm", "reranker"])
    func openAPI(_ name: String) async throws {
        let folder = name == "reranker" ? ServerPaths.reranker : Self.headModel(name)
        let server = try await TestServer.start(folder)
        defer { Task { await server.stop() } }
        let document = try #require(try await server.get("/openapi.json").json() as? Object)
        let paths = try #require(document["paths"] as? Object)
        let info = try #require(try await server.get("/info").json() as? Object)
        let routes = try #require(info["routes"] as? [String])
        #expect(Set(paths.keys) == Set(routes + ["/health", "/info", "/metrics", "/openapi.json"]))
        let schemas = try #require((document["components"] as? Object)?["schemas"] as? Object)
        var refs: [String] = []
        func collect(_ value: Any) {
            if let object = value as? Object {
                if let ref = object["$ref"] as? String { refs.append(ref) }
                object.values.forEach(collect)
            } else if let array = value as? [Any] {
                array.forEach(collect)
            }
        }
        collect(document)
        #expect(refs.count > 10)
        // The input schemas declare the server's own limits: a batch of at most
        // max_client_batch_size inputs, token ids below the model's vocab_size.
        let input = try #require((schemas["Input"] as? Object)?["oneOf"] as? [Object])
        let batchSchema = try #require(input.first { $0["type"] as? String == "array" })
        #expect(batchSchema["minItems"] as? Int == 1)
        #expect(batchSchema["maxItems"] as? Int == info["max_client_batch_size"] as? Int)
        let inputType = try #require((schemas["InputType"] as? Object)?["oneOf"] as? [Object])
        let idArray = try #require(inputType.first { $0["type"] as? String == "array" })
        let config = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as? Object)
        let vocabSize = try #require(config["vocab_size"] as? Int)
        #expect((idArray["items"] as? Object)?["maximum"] as? Int == vocabSize - 1)
        for ref in Set(refs) {
            #expect(schemas[String(ref.dropFirst("#/components/schemas/".count))] != nil, "\(ref)")
        }
    }
}
