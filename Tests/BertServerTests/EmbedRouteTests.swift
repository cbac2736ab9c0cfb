import BertBLAS
import Foundation
import Testing
@testable import BertServer

/// The embedding routes against a real server, equal to what `bert embed` computes
/// (SentenceEmbedder.embed, its code path) for the same texts.
@Suite("Server embedding routes", .serialized)
struct EmbedRouteTests {
    static let texts = ["A man is playing a guitar.", "The new movie is awesome!",
                        "Ça va? 東京 is a city.", "", String(repeating: "long sentence ", count: 40)]

    static func reference(normalize: Bool = true) throws -> [[Float]] {
        let embedder = try SentenceEmbedder(directory: ServerPaths.miniLM, normalize: normalize)
        return try embedder.embed(texts)
    }

    static func jsonArray(_ strings: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(strings), as: UTF8.self)
    }

    static func expectClose(_ got: [[Float]], _ want: [[Float]], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, sourceLocation: sourceLocation)
        for (a, b) in zip(got, want) {
            #expect(a.count == b.count, sourceLocation: sourceLocation)
            #expect(VectorMath.cosine(a, b) >= 0.99999, sourceLocation: sourceLocation)
            let diff = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(diff < 1e-4, "max abs diff \(diff)", sourceLocation: sourceLocation)
        }
    }

    static func floats(_ reply: HTTPReply) throws -> [[Float]] {
        try #require(try reply.json() as? [[Double]], "\(reply.status): \(reply.text.prefix(300))").map { $0.map(Float.init) }
    }

    @Test("/embed equals bert embed: batch, single, normalize off, dimensions, token ids")
    func embed() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let want = try Self.reference()
        let batch = try await server.post("/embed", "{\"inputs\": \(try Self.jsonArray(Self.texts))}")
        #expect(batch.status == 200)
        Self.expectClose(try Self.floats(batch), want)

        let single = try await server.post("/embed", "{\"inputs\": \"A man is playing a guitar.\"}")
        Self.expectClose(try Self.floats(single), [want[0]])

        let raw = try await server.post("/embed", "{\"inputs\": \(try Self.jsonArray(Self.texts)), \"normalize\": false}")
        Self.expectClose(try Self.floats(raw), try Self.reference(normalize: false))

        let cut = try await server.post("/embed", "{\"inputs\": \"A man is playing a guitar.\", \"dimensions\": 8}")
        let eight = try Self.floats(cut)[0]
        #expect(eight.count == 8)
        Self.expectClose([eight], [VectorMath.finish(Array(try Self.reference(normalize: false)[0].prefix(8)),
                                                     dimensions: nil, normalize: true)])

        let tokenizer = try ModelCache.load(ServerPaths.miniLM).tokenizer
        let ids = tokenizer.encode("a man is playing a guitar.").ids.map(String.init).joined(separator: ",")
        let byIDs = try await server.post("/embed", "{\"inputs\": [\(ids)]}")
        Self.expectClose(try Self.floats(byIDs), [want[0]])
        #expect(try await server.post("/embed", "{\"inputs\": [[999999]]}").status == 422)
        #expect(try await server.post("/embed", "{\"inputs\": \"a\", \"dimensions\": 0}").status == 422)
        #expect(try await server.post("/embed", "{\"inputs\": \"a\", \"prompt_name\": \"query\"}").status == 422)
    }

    @Test("Too long: 422 unless truncate or auto-truncate")
    func truncation() async throws {
        let long = String(repeating: "word ", count: 400)
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let refused = try await server.post("/embed", "{\"inputs\": \"\(long)\"}")
        #expect(refused.status == 422)
        #expect(refused.errorType == "Validation")
        #expect(refused.text.contains("must have less than 256 tokens"))
        let cut = try await server.post("/embed", "{\"inputs\": \"\(long)\", \"truncate\": true}")
        #expect(cut.status == 200)
        let want = try SentenceEmbedder(directory: ServerPaths.miniLM).embed([long])
        Self.expectClose(try Self.floats(cut), want)

        let auto = try await TestServer.start { $0.autoTruncate = true }
        defer { Task { await auto.stop() } }
        Self.expectClose(try Self.floats(try await auto.post("/embed", "{\"inputs\": \"\(long)\"}")), want)
    }

    @Test("/v1/embeddings: floats and base64 equal /embed; usage counts tokens")
    func openAI() async throws {
        let server = try await TestServer.start { $0.servedModelName = "minilm" }
        defer { Task { await server.stop() } }
        let want = try Self.reference()
        let reply = try await server.post("/v1/embeddings", "{\"input\": \(try Self.jsonArray(Self.texts)), \"model\": \"x\"}")
        let object = try #require(try reply.json() as? [String: Any])
        #expect(object["object"] as? String == "list")
        #expect(object["model"] as? String == "minilm")
        let data = try #require(object["data"] as? [[String: Any]])
        #expect(data.map { $0["index"] as? Int } == Array(0..<Self.texts.count))
        #expect(data.allSatisfy { $0["object"] as? String == "embedding" })
        Self.expectClose(data.map { ($0["embedding"] as? [Double] ?? []).map(Float.init) }, want)
        let tokenizer = try ModelCache.load(ServerPaths.miniLM).tokenizer
        let tokens = Self.texts.map { tokenizer.encode($0, truncation: Truncation(maxLength: 256)).count }.reduce(0, +)
        let usage = try #require(object["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == tokens)
        #expect(usage["total_tokens"] as? Int == tokens)

        let encoded = try await server.post("/v1/embeddings", "{\"input\": \"A man is playing a guitar.\", \"encoding_format\": \"base64\"}")
        let first = try #require((try encoded.json() as? [String: Any])?["data"] as? [[String: Any]])
        let base64 = try #require(first[0]["embedding"] as? String)
        let bytes = try #require(Data(base64Encoded: base64))
        let vector = bytes.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        Self.expectClose([vector], [want[0]])
        let bad = try await server.post("/v1/embeddings", "{\"input\": []}")
        #expect(bad.status == 422)
        let body = try #require(try bad.json() as? [String: Any])
        #expect(body["type"] as? String == "Empty")
        #expect(body["code"] as? Int == 422)
    }

    @Test("/similarity and /embed_all")
    func similarityAndAll() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let want = try Self.reference()
        let reply = try await server.post("/similarity", """
            {"inputs": {"source_sentence": \(try Self.jsonArray([Self.texts[0]])).first, "sentences": \(try Self.jsonArray(Array(Self.texts.dropFirst())))}}
            """.replacingOccurrences(of: "[\"A man is playing a guitar.\"].first", with: "\"A man is playing a guitar.\""))
        let scores = try #require(try reply.json() as? [Double], "\(reply.text)")
        #expect(scores.count == Self.texts.count - 1)
        for (i, score) in scores.enumerated() {
            #expect(abs(Float(score) - VectorMath.cosine(want[0], want[i + 1])) < 1e-5)
        }
        let all = try await server.post("/embed_all", "{\"inputs\": [\"A man is playing a guitar.\"]}")
        let tokens = try #require(try all.json() as? [[[Double]]])
        let count = try ModelCache.load(ServerPaths.miniLM).tokenizer.encode("a man is playing a guitar.").count
        #expect(tokens.count == 1)
        #expect(tokens[0].count == count)
        #expect(tokens[0].allSatisfy { $0.count == 384 })
        // Mean pooling of the token vectors is the unnormalized sentence vector.
        var mean = [Float](repeating: 0, count: 384)
        for token in tokens[0] { for j in 0..<384 { mean[j] += Float(token[j]) / Float(count) } }
        Self.expectClose([mean], [try Self.reference(normalize: false)[0]])
    }

    @Test("A flood of /embed past max-concurrent-requests: 429s, and every 200 is right")
    func flood() async throws {
        let server = try await TestServer.start { $0.maxConcurrentRequests = 4 }
        defer { Task { await server.stop() } }
        let want = try Self.reference()
        let body = "{\"inputs\": \(try Self.jsonArray(Self.texts))}"
        let clients = 40
        let (statuses, wrong) = await server.flood("/embed", body: body, clients: clients) { reply in
            let got = try Self.floats(reply)
            return got.count == want.count && zip(got, want).allSatisfy { VectorMath.cosine($0, $1) >= 0.99999 }
        }
        #expect(statuses.count == clients)
        #expect(wrong.isEmpty, "\(wrong)")
        #expect(statuses.contains(429), "\(statuses)")
        #expect(statuses.contains(200))
        #expect(try await server.get("/health").status == 200)
        let metrics = try await server.get("/metrics").text
        #expect(metrics.contains("bert_batch_size_count"), "\(metrics.prefix(500))")
    }
}
