import Foundation
import Testing

/// The Examples package's `concurrent-embed` (a separate package linking BertBLAS by path, built by
/// `make test` into .build-examples): every line its own request from 32 concurrent tasks through
/// one BatchingEngine gives the vectors of `bert embed`.
@Suite("Examples: concurrent-embed")
struct ConcurrentEmbedTests {
    static let executable = Paths.root.appendingPathComponent(".build-examples/release/concurrent-embed")

    /// 300 non-empty lines of real news text (BBC articles, in file order): titles and paragraphs
    /// from 4 to 200+ words, so batches mix short and truncated sequences.
    static func newsLines(_ count: Int) throws -> [String] {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Paths.bbcNews.path).sorted()
        var lines: [String] = []
        for folder in folders {
            let directory = Paths.bbcNews.appendingPathComponent(folder)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()) ?? []
            for file in files where file.hasSuffix(".txt") {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") where !line.allSatisfy(\.isWhitespace) {
                    lines.append(String(line))
                    if lines.count == count { return lines }
                }
            }
        }
        return lines
    }

    static func vectors(_ result: CLIResult) throws -> [[Double]] {
        try result.jsonLines().map { line in
            let record = try #require(line as? [String: Any], "not an object: \(line)")
            return try #require(record["embedding"] as? [Double], "no embedding: \(record)")
        }
    }

    @Test("32 concurrent clients give bert embed's vectors within 1e-6, in input order")
    func sameVectorsAsBertEmbed() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable.path),
                     "\(Self.executable.path) is missing: make test builds it (swift build --package-path Examples --scratch-path .build-examples)")
        let lines = try Self.newsLines(300)
        try #require(lines.count == 300, "BBC News data is missing from \(Paths.bbcNews.path): run make data")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("concurrent-embed-\(UUID().uuidString).txt")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }

        let reference = try CLI.run("bert", ["embed", "--model", Paths.miniLM.path, "--batch-size", "32", file.path])
        #expect(reference.status == 0, "bert embed: \(reference.stderr)")
        let concurrent = try CLI.run(at: Self.executable, ["--model", Paths.miniLM.path, "--concurrency", "32", file.path])
        #expect(concurrent.status == 0, "concurrent-embed: \(concurrent.stderr)")
        #expect(concurrent.stderr.contains("300 requests from 32 clients"), "summary: \(concurrent.stderr)")

        let expected = try Self.vectors(reference), actual = try Self.vectors(concurrent)
        try #require(expected.count == 300 && actual.count == 300)
        var worst = 0.0
        for (a, b) in zip(actual, expected) {
            #expect(a.count == 384 && b.count == 384)
            worst = max(worst, zip(a, b).map { abs($0 - $1) }.max() ?? .infinity)
        }
        #expect(worst <= 1e-6, "max abs diff to bert embed: \(worst)")
    }
}
