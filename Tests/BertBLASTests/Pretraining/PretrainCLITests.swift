import Foundation
import Testing
@testable import BertBLAS

/// `bert mask` and `bert pretrain-data`, run as a user would.
@Suite struct PretrainCLITests {
    static let model = Paths.miniLM.path

    static func temporaryFile(_ name: String, _ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("bertblas-pretrain-\(ProcessInfo.processInfo.processIdentifier)-\(name)")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func maskPrintsIdsAndLabelsPerLineDeterministically() throws {
        let texts = try PretrainCorpora.rottenTomatoesTexts().prefix(300)
            .map { $0.replacingOccurrences(of: "\n", with: " ") }
        let input = (texts + [""]).joined(separator: "\n") + "\n"
        let a = try CLI.run("bert", ["mask", "--model", Self.model, "--seed", "7"], stdin: input)
        let b = try CLI.run("bert", ["mask", "--model", Self.model, "--seed", "7"], stdin: input)
        let c = try CLI.run("bert", ["mask", "--model", Self.model, "--seed", "8"], stdin: input)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == b.stdout)
        #expect(a.stdout != c.stdout)
        let records = try a.jsonLines()
        #expect(records.count == texts.count + 1)
        let tokenizer = try PretrainTokenizer.load()
        var selected = 0, candidates = 0
        for (record, text) in zip(records, texts + [""]) {
            let object = try #require(record as? [String: Any])
            let ids = try #require(object["input_ids"] as? [Int]), labels = try #require(object["labels"] as? [Int])
            let encoding = tokenizer.tokenizer.encode(text, truncation: Truncation(maxLength: tokenizer.tokenizer.modelMaxLength))
            // Restoring the labelled positions gives back the tokenizer's ids.
            #expect(zip(ids, labels).map { $1 == -100 ? $0 : $1 } == encoding.ids.map(Int.init))
            #expect(labels.first == -100 && labels.last == -100)
            selected += labels.filter { $0 != -100 }.count
            candidates += ids.count - 2
        }
        let rate = Double(selected) / Double(candidates)
        #expect(abs(rate - 0.15) < 0.02, "rate \(rate) over \(candidates)")
        let last = try #require(records.last as? [String: Any])
        #expect(last["input_ids"] as? [Int] == [Int(tokenizer.cls), Int(tokenizer.sep)])
    }

    @Test func maskRejectsBadOptions() throws {
        let bad = try CLI.run("bert", ["mask", "--model", Self.model, "--probability", "1.5"], stdin: "x\n")
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--probability"))
        let missing = try CLI.run("bert", ["mask", "--model", "/nonexistent"], stdin: "x\n")
        #expect(missing.status != 0)
    }

    @Test func pretrainDataWritesExamplesDeterministically() throws {
        let lines = try PretrainCorpora.bbcLines(perCategory: 8)
        let corpus = try Self.temporaryFile("bbc.txt", lines.joined(separator: "\n") + "\n")
        defer { try? FileManager.default.removeItem(at: corpus) }
        let args = ["pretrain-data", "--model", Self.model, "--dupe-factor", "2", "--max-seq-length", "64", corpus.path]
        let a = try CLI.run("bert", args + ["--seed", "1"])
        let b = try CLI.run("bert", args + ["--seed", "1"])
        let c = try CLI.run("bert", args + ["--seed", "2"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == b.stdout && a.stdout != c.stdout)
        let records = try a.jsonLines()
        #expect(records.count > 100)
        let tokenizer = try PretrainTokenizer.load()
        var notNext = 0
        for record in records {
            let o = try #require(record as? [String: Any])
            #expect(Set(o.keys) == ["input_ids", "token_type_ids", "attention_mask", "labels", "next_sentence_label"])
            let ids = try #require(o["input_ids"] as? [Int]), types = try #require(o["token_type_ids"] as? [Int])
            let labels = try #require(o["labels"] as? [Int]), mask = try #require(o["attention_mask"] as? [Int])
            #expect(ids.count <= 64 && types.count == ids.count && labels.count == ids.count && mask.count == ids.count)
            #expect(ids.first == Int(tokenizer.cls) && ids.last == Int(tokenizer.sep))
            #expect(labels.filter { $0 != -100 }.count <= 20)
            let label = try #require(o["next_sentence_label"] as? Int)
            #expect(label == 0 || label == 1)
            notNext += label
        }
        #expect(notNext > 0 && notNext < records.count)
        let padded = try CLI.run("bert", args + ["--seed", "1", "--pad"])
        for record in try padded.jsonLines() {
            let o = try #require(record as? [String: Any])
            #expect((o["input_ids"] as? [Int])?.count == 64)
        }
    }

    @Test func pretrainDataFailsClearlyOnEmptyAndSingleDocumentCorpora() throws {
        let single = try CLI.run("bert", ["pretrain-data", "--model", Self.model], stdin: "One sentence.\nTwo sentences.\n")
        #expect(single.status != 0)
        #expect(single.stderr.contains("single document"))
        #expect(single.stdout.isEmpty)
        let empty = try CLI.run("bert", ["pretrain-data", "--model", Self.model], stdin: "\n  \n")
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("empty"))
        let short = try CLI.run("bert", ["pretrain-data", "--model", Self.model, "--max-seq-length", "4"], stdin: "a\n\nb\n")
        #expect(short.status != 0)
        #expect(short.stderr.contains("--max-seq-length"))
    }

    @Test func linesLongerThanTheLimitAreTruncated() throws {
        let long = Array(repeating: "the quick brown fox jumps over the lazy dog.", count: 60).joined(separator: " ")
        let corpus = [long, "A short one.", "", "Another document.", long, ""].joined(separator: "\n")
        let result = try CLI.run("bert", ["pretrain-data", "--model", Self.model, "--max-seq-length", "32",
                                          "--dupe-factor", "3"], stdin: corpus)
        #expect(result.status == 0, "\(result.stderr)")
        let records = try result.jsonLines().compactMap { $0 as? [String: Any] }
        #expect(!records.isEmpty)
        #expect(records.allSatisfy { ($0["input_ids"] as? [Int])?.count ?? 99 <= 32 })
        #expect(records.contains { ($0["input_ids"] as? [Int])?.count == 32 })
        let masked = try CLI.run("bert", ["mask", "--model", Self.model, "--max-length", "16"], stdin: long + "\n")
        #expect(masked.status == 0)
        let ids = try #require((try masked.jsonLines().first as? [String: Any])?["input_ids"] as? [Int])
        #expect(ids.count == 16)
    }
}
