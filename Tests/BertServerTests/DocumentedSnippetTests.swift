// The code between each `BEGIN docs/SERVER.md` / `END` pair below is, line for line, a code block of
// docs/SERVER.md: this test target compiles it, the tests below run it on loopback, and
// `theDocsShowThisCode` fails when the two drift apart.

// BEGIN docs/SERVER.md: embed route
import BertBLAS
import Hummingbird

struct EmbedInputs: Decodable { var inputs: [String] }
struct EmbedVectors: ResponseEncodable { var embeddings: [[Float]] }

func addEmbedRoute(to router: Router<BasicRequestContext>, engine: BatchingEngine, embedder: SentenceEmbedder) {
    router.post("/embed") { request, context -> EmbedVectors in
        let body = try await request.decode(as: EmbedInputs.self, context: context)
        do {
            return EmbedVectors(embeddings: try await engine.run(embedder, body.inputs))
        } catch EngineError.overloaded {
            throw HTTPError(.tooManyRequests)           // as TEI: 429 once the engine is full
        }                                               // a client gone away: CancellationError
    }
}
// END

// BEGIN docs/SERVER.md: mount BertService
import BertBLAS
import BertServer
import Foundation
import Hummingbird

func serve(modelFolder: URL, port: Int) async throws {
    let service = try BertService(model: LoadedModel(directory: modelFolder))
    let router = Router()
    router.get("/hello") { _, _ in "my own route" }    // your routes and BertBLAS's on one router
    service.addRoutes(to: router)                    // with its API-key, error and metrics middleware
    let app = Application(router: router,
                          configuration: .init(address: .hostname("127.0.0.1", port: port)),
                          services: [EngineService(service: service)])  // engine stops after the server
    try await app.runService()     // in main, pass gracefulShutdownSignals: [.sigterm, .sigint]
}
// END

import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DocumentedSnippetTests {
    static let thisFile = URL(fileURLWithPath: #filePath)
    static let serverDoc = ServerPaths.root.appendingPathComponent("docs/SERVER.md")

    /// The lines of each `BEGIN docs/SERVER.md: name` … `END` region of this file.
    static func regions(of source: String) -> [String: [Substring]] {
        var out: [String: [Substring]] = [:]
        var current: String?
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("// BEGIN docs/SERVER.md: ") {
                current = String(line.dropFirst("// BEGIN docs/SERVER.md: ".count))
                out[current!] = []
            } else if line == "// END" {
                current = nil
            } else if let name = current {
                out[name]!.append(line)
            }
        }
        return out
    }

    /// The ```swift blocks of a markdown file, each as its lines.
    static func swiftBlocks(of markdown: String) -> [[Substring]] {
        var blocks: [[Substring]] = []
        var inside = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if !inside, line == "```swift" {
                inside = true
                blocks.append([])
            } else if inside, line == "```" {
                inside = false
            } else if inside {
                blocks[blocks.count - 1].append(line)
            }
        }
        return blocks
    }

    @Test func theDocsShowThisCode() throws {
        let source = try String(contentsOf: Self.thisFile, encoding: .utf8)
        let blocks = Self.swiftBlocks(of: try String(contentsOf: Self.serverDoc, encoding: .utf8))
        let regions = Self.regions(of: source)
        #expect(regions.count == 2)
        for (name, lines) in regions {
            #expect(blocks.contains(lines), "docs/SERVER.md has no ```swift block equal to the region \"\(name)\" of \(Self.thisFile.lastPathComponent)")
        }
    }

    @Test func theEmbedRouteAnswersAsTheEngine() async throws {
        let model = try ModelCache.load(ServerPaths.miniLM)
        let embedder = try SentenceEmbedder(model: model)
        let engine = try BatchingEngine(model: model)
        let router = Router()
        addEmbedRoute(to: router, engine: engine, embedder: embedder)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        let running = Task { try await app.runService() }
        var port = 0
        for await bound in ports { port = bound; break }
        try #require(port > 0)
        let bound = port
        let texts = ["The movie was great.", "one request", "of several inputs"]
        let reply = try await Blocking.run {
            try HTTPClient.post(bound, "/embed", json: #"{"inputs":["The movie was great.","one request","of several inputs"]}"#)
        }
        running.cancel()
        _ = try? await running.value
        await engine.shutdown()
        #expect(reply.status == 200)
        let body = try #require(try reply.json() as? [String: Any])
        let served = try #require(body["embeddings"] as? [[Double]])
        let direct = try embedder.run(texts)
        #expect(served.count == direct.count)
        for (s, d) in zip(served, direct) {
            #expect(s.count == d.count)
            let gap = zip(s, d).map { abs(Float($0) - $1) }.max() ?? .infinity
            #expect(gap < 1e-5, "the route's vector differs from the direct call by \(gap)")
        }
    }

    @Test func mountedRoutesServeBesideTheAppsOwn() async throws {
        let port = try Self.freePort()
        let running = Task { try await serve(modelFolder: ServerPaths.miniLM, port: port) }
        var hello: HTTPReply?
        for _ in 0..<600 where hello == nil {   // loading and binding: up to a minute
            hello = try? await Blocking.run { try HTTPClient.get(port, "/hello") }
            if hello == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let embed = try? await Blocking.run { try HTTPClient.post(port, "/embed", json: #"{"inputs":"hello"}"#) }
        let missing = try? await Blocking.run { try HTTPClient.get(port, "/nowhere") }
        running.cancel()
        _ = try? await running.value
        #expect(hello?.status == 200 && hello?.text == "my own route")
        #expect(embed?.status == 200)
        #expect((try? embed?.json() as? [[Double]])?.first?.count == 384)
        #expect(missing?.status == 404 && missing?.errorType != nil, "BertService's middleware answers 404 as JSON")
    }

    /// A port nobody listens on now (bound to 0, read, closed).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPClientError.socket("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw HTTPClientError.socket("bind to port 0 failed, errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
