import ArgumentParser
import BertBLAS
import Foundation

/// `bench tokenizer`: single-thread tokenization throughput (tokens/s, MB/s) on a text corpus.
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Tokenizer throughput on one thread: tokens/s and MB/s over a corpus, one text per line.",
        discussion: """
            Each line is encoded with BertTokenizer.encode (special tokens added, no truncation, no \
            padding: a full Encoding with ids, type ids, tokens, offsets, masks, word ids), one \
            line after the other on one thread. Tokens are all ids produced, [CLS]/[SEP] included; \
            MB/s counts the corpus's UTF-8 bytes (10^6 bytes per MB). The figure is the best of \
            --passes passes. Without --corpus, the corpus is every paragraph of BBC News plus every \
            Rotten Tomatoes snippet (from .cache/data); --write-corpus saves it so \
            scripts/bench_tokenizer_hf.py can time HF tokenizers on the same lines.
            """)

    @Option(name: .long, help: ArgumentHelp("Tokenizer folder. Default: .cache/models/all-MiniLM-L6-v2.", valueName: "dir"))
    var model = ".cache/models/all-MiniLM-L6-v2"

    @Option(name: .long, help: ArgumentHelp("Corpus file, one text per line. Default: BBC News paragraphs + Rotten Tomatoes snippets.", valueName: "file"))
    var corpus: String?

    @Option(name: .long, help: ArgumentHelp("Data folder for the default corpus. Default: .cache/data.", valueName: "dir"))
    var data = ".cache/data"

    @Option(name: .long, help: ArgumentHelp("Write the corpus used (one text per line) to this file. Default: none.", valueName: "file"))
    var writeCorpus: String?

    @Option(name: .long, help: ArgumentHelp("Timed passes; the best is reported. Default: 5.", valueName: "n"))
    var passes = 5

    @Flag(name: .long, help: "Print one JSON object instead of a table. Default: off.")
    var json = false

    func validate() throws {
        if passes < 1 { throw ValidationError("--passes must be at least 1") }
    }

    func run() throws {
        let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: model))
        let lines: [String]
        if let corpus {
            lines = try TextLines.read(path: corpus).map(\.text)
        } else {
            lines = try Self.defaultCorpus(data)
        }
        if let writeCorpus {
            try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: writeCorpus))
        }
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        // Warm-up: Unicode tables, caches.
        var tokens = 0
        for line in lines.prefix(200) { tokens &+= tokenizer.encode(line).count }
        var best = Double.infinity
        for _ in 0..<passes {
            tokens = 0
            let start = DispatchTime.now().uptimeNanoseconds
            for line in lines {
                let e = tokenizer.encode(line)
                tokens &+= e.count
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = min(best, seconds)
        }
        // A fingerprint of every id and offset, so the HF script can confirm identical output.
        var fingerprint: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in lines {
            let e = tokenizer.encode(line)
            for (id, o) in zip(e.ids, e.offsets) {
                for v in [Int(id), o.start, o.end] { fingerprint = (fingerprint ^ UInt64(truncatingIfNeeded: v)) &* 0x0000_0100_0000_01B3 }
            }
        }
        let tokensPerSecond = Double(tokens) / best
        let mbPerSecond = Double(bytes) / best / 1e6
        if json {
            let object: [String: Any] = [
                "engine": "BertBLAS", "lines": lines.count, "bytes": bytes, "tokens": tokens,
                "seconds": best, "tokens_per_s": tokensPerSecond, "mb_per_s": mbPerSecond, "threads": 1,
                "fingerprint": String(fingerprint, radix: 16),
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("corpus: \(lines.count) lines, \(bytes) bytes, \(tokens) tokens; best of \(passes) passes, 1 thread")
            print("ids+offsets fingerprint (FNV-1a): \(String(fingerprint, radix: 16))")
            print("| engine | tokens/s | MB/s | seconds |")
            print("|---|---:|---:|---:|")
            print("| BertBLAS BertTokenizer.encode, per line | \(Int(tokensPerSecond)) | \(String(format: "%.2f", mbPerSecond)) | \(String(format: "%.3f", best)) |")
        }
    }

    /// Every non-empty paragraph of BBC News (sorted topics and files) and every Rotten Tomatoes
    /// snippet (CSV `text` column, newlines inside a snippet replaced by spaces).
    static func defaultCorpus(_ data: String) throws -> [String] {
        var lines: [String] = []
        let bbc = URL(fileURLWithPath: data).appendingPathComponent("bbcnews")
        for topic in try FileManager.default.contentsOfDirectory(atPath: bbc.path).sorted() {
            let folder = bbc.appendingPathComponent(topic)
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { continue }
            for file in files.sorted() where file.hasSuffix(".txt") {
                let (text, _) = TextLines.decode(try Data(contentsOf: folder.appendingPathComponent(file)))
                for paragraph in text.split(separator: "\n") where !paragraph.allSatisfy(\.isWhitespace) {
                    lines.append(String(paragraph))
                }
            }
        }
        let csv = URL(fileURLWithPath: data).appendingPathComponent("rotten-tomatoes/rotten_tomatoes_corpus_full.csv")
        let (text, _) = TextLines.decode(try Data(contentsOf: csv))
        lines.append(contentsOf: csvColumn(text, named: "text").map { $0.split(separator: "\n").joined(separator: " ") })
        return lines
    }

    /// One column of an RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes).
    static func csvColumn(_ text: String, named name: String) -> [String] {
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var quoted = false
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if quoted {
                if c == 0x22 {
                    if i + 1 < bytes.count && bytes[i + 1] == 0x22 {
                        field.append(0x22)
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == 0x22 {
                quoted = true
            } else if c == 0x2C {
                row.append(String(decoding: field, as: UTF8.self))
                field.removeAll()
            } else if c == 0x0A {
                row.append(String(decoding: field, as: UTF8.self))
                field.removeAll()
                rows.append(row)
                row = []
            } else if c != 0x0D {
                field.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(String(decoding: field, as: UTF8.self))
            rows.append(row)
        }
        guard let header = rows.first, let column = header.firstIndex(of: name) else { return [] }
        return rows.dropFirst().compactMap { column < $0.count ? $0[column] : nil }
    }
}
