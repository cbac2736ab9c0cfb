import Foundation
import Testing
@testable import BertServer

/// Every error status the server answers, against a real server on 127.0.0.1, with TEI's
/// `{"error", "error_type"}` body.
@Suite("Server error statuses", .serialized)
struct ErrorStatusTests {
    @Test("400 for a body that is not JSON")
    func malformedJSON() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        // Trailing commas are not JSON (Foundation's decoder alone would accept them).
        for body in ["{\"inputs\": ", "not json", "\u{1}", "{\"inputs\": \"a\",}", "{\"inputs\": [\"a\", \"b\" ,\n]}"] {
            let reply = try await server.post("/tokenize", body)
            #expect(reply.status == 400, "\(body): \(reply.text)")
            #expect(reply.errorType == "MalformedJSON")
        }
        // A comma before a bracket inside a string is text, not a trailing comma.
        let quoted = try await server.post("/tokenize", "{\"inputs\": \"a,} \\\",] b\"}")
        #expect(quoted.status == 200, "\(quoted.text)")
        #expect(JSONBody.trailingComma(in: Array("{\"a\": [1, 2], \"b\": \"x,]\"}".utf8)) == nil)
        #expect(JSONBody.trailingComma(in: Array("[1, 2, ]".utf8)) == 5)
    }

    @Test("422 for JSON of the wrong shape, and an empty batch")
    func validation() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let cases: [(String, String)] = [
            ("{}", "missing field `inputs`"),
            ("{\"inputs\": 5}", "inputs"),
            ("[1, 2]", "body"),
            ("{\"inputs\": [\"a\", 3]}", "inputs"),
            ("{\"inputs\": \"a\", \"add_special_tokens\": \"yes\"}", "add_special_tokens"),
        ]
        for (body, mention) in cases {
            let reply = try await server.post("/tokenize", body)
            #expect(reply.status == 422, "\(body): \(reply.text)")
            #expect(reply.errorType == "Validation", "\(body): \(reply.text)")
            #expect(reply.text.contains(mention), "\(body): \(reply.text)")
        }
        let empty = try await server.post("/tokenize", "{\"inputs\": []}")
        #expect(empty.status == 422)
        #expect(empty.errorType == "Empty")
        let emptyIDs = try await server.post("/decode", "{\"ids\": [[]]}")
        #expect(emptyIDs.status == 200, "one empty id list decodes to an empty string: \(emptyIDs.text)")
    }

    @Test("413 for more inputs than max-client-batch-size")
    func batchTooLarge() async throws {
        let server = try await TestServer.start { $0.maxClientBatchSize = 4 }
        defer { Task { await server.stop() } }
        let four = try await server.post("/tokenize", "{\"inputs\": [\"a\", \"b\", \"c\", \"d\"]}")
        #expect(four.status == 200)
        let five = try await server.post("/tokenize", "{\"inputs\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}")
        #expect(five.status == 413)
        #expect(five.errorType == "Validation")
        #expect(five.text.contains("batch size 5 > maximum allowed batch size 4"))
    }

    @Test("413 for a body over the payload limit: declared, chunked, and 100 MB")
    func payloadTooLarge() async throws {
        let server = try await TestServer.start { $0.payloadLimit = 10_000 }
        defer { Task { await server.stop() } }
        let prefix = Data("{\"inputs\": \"".utf8)
        let declared = try await server.request("POST", "/tokenize", body: .declared(total: 10_001, prefix: prefix, filler: UInt8(ascii: "a")))
        #expect(declared.status == 413)
        #expect(declared.errorType == "PayloadTooLarge")
        let chunked = try await server.request("POST", "/tokenize", body: .chunked(total: 50_000, chunk: 4096, prefix: prefix, filler: UInt8(ascii: "a")))
        #expect(chunked.status == 413)
        #expect(chunked.errorType == "PayloadTooLarge")
        let huge = try await server.request("POST", "/tokenize", body: .declared(total: 100_000_000, prefix: prefix, filler: UInt8(ascii: "a")))
        #expect(huge.status == 413)
        // The server is still there.
        #expect(try await server.get("/health").status == 200)
        let small = try await server.post("/tokenize", "{\"inputs\": \"still serving\"}")
        #expect(small.status == 200)
    }

    @Test("401 without the API key; the public routes stay open")
    func apiKey() async throws {
        let server = try await TestServer.start { $0.apiKey = "s3cret" }
        defer { Task { await server.stop() } }
        let body = "{\"inputs\": \"hello\"}"
        let none = try await server.post("/tokenize", body)
        #expect(none.status == 401)
        #expect(none.errorType == "Unauthorized")
        let wrong = try await server.post("/tokenize", body, headers: ["Authorization": "Bearer nope"])
        #expect(wrong.status == 401)
        let right = try await server.post("/tokenize", body, headers: ["Authorization": "Bearer s3cret"])
        #expect(right.status == 200)
        #expect(try await server.get("/info").status == 401)
        #expect(try await server.get("/info", headers: ["Authorization": "Bearer s3cret"]).status == 200)
        for open in ["/health", "/metrics", "/openapi.json"] {
            #expect(try await server.get(open).status == 200, "\(open)")
        }
    }

    @Test("404 and 405 are JSON errors too")
    func unknownRoute() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let missing = try await server.post("/nope", "{}")
        #expect(missing.status == 404)
        #expect(missing.errorType == "NotFound")
    }

    @Test("No input crashes the server: deep nesting, a huge array, odd bytes")
    func hostileBodies() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let deepReply = try await server.post("/tokenize", "{\"inputs\": \(deep)}")
        #expect([400, 422].contains(deepReply.status), "\(deepReply.status)")
        let deepObject = String(repeating: "{\"a\":", count: 50_000) + "1" + String(repeating: "}", count: 50_000)
        #expect([400, 422].contains(try await server.post("/tokenize", deepObject).status))
        // 300,000 inputs in under 2 MB: refused by the batch limit, not tokenized.
        let many = "{\"inputs\": [" + Array(repeating: "\"a\"", count: 300_000).joined(separator: ",") + "]}"
        let manyReply = try await server.post("/tokenize", many)
        #expect(manyReply.status == 413)
        let ids = "{\"ids\": [" + Array(repeating: "4294967295", count: 100_000).joined(separator: ",") + "]}"
        #expect(try await server.post("/decode", ids).status == 200)
        let negative = try await server.post("/decode", "{\"ids\": [-1]}")
        #expect(negative.status == 422)
        let invalidUTF8 = try await server.request("POST", "/tokenize", body: .bytes(Data([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D])))
        #expect(invalidUTF8.status == 400)
        #expect(try await server.get("/health").status == 200)
    }
}
