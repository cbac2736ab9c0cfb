import BertBLAS
import Foundation
import Testing
@testable import BertServer

/// /tokenize, /decode, /info, /health, /metrics and /openapi.json against a real server.
@Suite("Server tokenizer and info routes", .serialized)
struct TokenizerRouteTests {
    @Test("/tokenize gives TEI's tokens: ids, text, special, byte spans")
    func tokenize() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let text = "Héllo, wörld! 東京"
        let reply = try await server.post("/tokenize", "{\"inputs\": \"\(text)\"}")
        #expect(reply.status == 200, "\(reply.text)")
        let batches = try #require(try reply.json() as? [[[String: Any]]])
        #expect(batches.count == 1)
        let tokens = batches[0]
        let encoding = try ModelCache.load(ServerPaths.miniLM).tokenizer.encode(text)
        #expect(tokens.map { $0["id"] as? Int } == encoding.ids.map { Int($0) })
        #expect(tokens.first?["special"] as? Bool == true)
        #expect(tokens.first?["text"] as? String == "[CLS]")
        #expect(tokens.first?["start"] is NSNull)
        let bytes = Array(text.utf8)
        for token in tokens where token["special"] as? Bool == false {
            let start = try #require(token["start"] as? Int), stop = try #require(token["stop"] as? Int)
            #expect(String(decoding: bytes[start..<stop], as: UTF8.self) == token["text"] as? String)
        }
        let without = try await server.post("/tokenize", "{\"inputs\": [\"a b\", \"c\"], \"add_special_tokens\": false}")
        let pair = try #require(try without.json() as? [[[String: Any]]])
        #expect(pair.map(\.count) == [2, 1])
    }

    @Test("/decode inverts /tokenize's ids")
    func decode() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let tokenizer = try ModelCache.load(ServerPaths.miniLM).tokenizer
        let ids = tokenizer.encode("the quick brown fox").ids.map(String.init).joined(separator: ",")
        let reply = try await server.post("/decode", "{\"ids\": [[\(ids)], [\(ids)]], \"skip_special_tokens\": true}")
        #expect(reply.status == 200)
        #expect(try reply.json() as? [String] == ["the quick brown fox", "the quick brown fox"])
        let kept = try await server.post("/decode", "{\"ids\": [\(ids)], \"skip_special_tokens\": false}")
        #expect(try kept.json() as? [String] == ["[CLS] the quick brown fox [SEP]"])
    }

    @Test("/info, /health, /metrics and /openapi.json")
    func infoRoutes() async throws {
        let server = try await TestServer.start { $0.maxClientBatchSize = 7 }
        defer { Task { await server.stop() } }
        #expect(try await server.get("/health").status == 200)
        let info = try #require(try await server.get("/info").json() as? [String: Any])
        #expect(info["max_client_batch_size"] as? Int == 7)
        #expect(info["max_batch_tokens"] as? Int == 16_384)
        #expect(info["max_concurrent_requests"] as? Int == 512)
        #expect(info["model_dtype"] as? String == "float32")
        #expect(info["blas_core"] as? String == BLASRuntime.coreName)
        _ = try await server.post("/tokenize", "{\"inputs\": \"count me\"}")
        _ = try await server.post("/tokenize", "{}")
        let metrics = try await server.get("/metrics").text
        #expect(metrics.contains("bert_requests_total{route=\"/tokenize\",status=\"200\"} 1"), "\(metrics)")
        #expect(metrics.contains("bert_requests_total{route=\"/tokenize\",status=\"422\"} 1"))
        #expect(metrics.contains("bert_request_duration_seconds_bucket"))
        let document = try #require(try await server.get("/openapi.json").json() as? [String: Any])
        #expect(document["openapi"] as? String == "3.0.3")
        let paths = try #require(document["paths"] as? [String: Any])
        for route in server.service.routes + ["/health", "/info", "/metrics", "/openapi.json"] {
            #expect(paths[route] != nil, "\(route) is not documented")
        }
    }

    @Test("A flood past max-concurrent-requests gets 429s; every admitted request is answered right")
    func flood() async throws {
        let server = try await TestServer.start { $0.maxConcurrentRequests = 2; $0.maxClientBatchSize = 64 }
        defer { Task { await server.stop() } }
        // Requests long enough to overlap: 32 texts of ~7 kB each.
        let text = Array(repeating: "tokenization keeps the server busy", count: 200).joined(separator: " ")
        let body = "{\"inputs\": [" + Array(repeating: "\"\(text)\"", count: 32).joined(separator: ",") + "]}"
        let expected = try ModelCache.load(ServerPaths.miniLM).tokenizer.encode(text).count
        let clients = 48
        let (all, wrong) = await server.flood("/tokenize", body: body, clients: clients) { reply in
            let tokens = try reply.json() as? [[Any]]
            return tokens?.count == 32 && tokens?.allSatisfy({ $0.count == expected }) == true
        }
        #expect(all.count == clients, "every request got an answer")
        #expect(wrong.isEmpty, "\(wrong)")
        #expect(all.contains(429), "statuses: \(all)")
        #expect(all.contains(200))
        #expect(try await server.get("/health").status == 200)
        let metrics = try await server.get("/metrics").text
        let served = all.filter { $0 == 200 }.count
        #expect(metrics.contains("bert_requests_total{route=\"/tokenize\",status=\"200\"} \(served)"))
    }
}

/// An array appended to from many threads.
final class LockedArray<T: Sendable>: @unchecked Sendable {
    // `lock` protects `storage`.
    private let lock = NSLock()
    private var storage: [T] = []
    func append(_ value: T) { lock.lock(); storage.append(value); lock.unlock() }
    var values: [T] { lock.lock(); defer { lock.unlock() }; return storage }
}
