import Foundation
import Testing
@testable import BertBLAS

/// `bert classify`, `bert train-head` and `bert eval` end to end, on the real MiniLM encoder and
/// real data (BBC News subsets, kept small so the suite stays at seconds).
@Suite(.serialized) struct ClassifyCLITests {
    static func temp(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-cli-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A head folder over MiniLM with fixed weights (no training needed to test input handling).
    static func fixedHead(_ dir: URL) throws -> URL {
        let out = dir.appendingPathComponent("head")
        let h = 384
        let weight = (0..<(2 * h)).map { Float(($0 * 37) % 11) / 11 - 0.5 }
        let head = try LinearHead(weight: weight, bias: [0.1, -0.1], labelCount: 2, inputSize: h)
        let config = HeadFolder.Config(kind: .logistic, labels: ["neg", "pos"],
                                       encoder: HeadFolder.relativePath(from: out, to: Paths.miniLM),
                                       encoderAbsolute: nil, pooling: "mean", normalize: true, maxLength: 64,
                                       hiddenSize: h, training: nil)
        try HeadFolder.write(out, head: head, config: config)
        return out
    }

    @Test func badInputsFolderGivesOneRecordEachAndNoCrash() throws {
        try #require(FileManager.default.fileExists(atPath: Paths.miniLM.path), "run `make models`")
        let (dir, expected) = try DocumentInputTests.makeBadInputs("cli")
        let head = try Self.fixedHead(try Self.temp("bad"))
        let missing = dir.appendingPathComponent("missing.txt").path
        let result = try CLI.run("bert", ["classify", "--model", head.path, "--format", "jsonl", dir.path, missing])
        #expect(result.status != 0)
        let records = try result.jsonLines().map { try #require($0 as? [String: Any]) }
        let names = records.map { (($0["path"] as? String ?? "") as NSString).lastPathComponent }
        #expect(names == expected.map(\.0) + ["missing.txt"])
        for (record, (name, error)) in zip(records, expected + [("missing.txt", "no such file")]) {
            if let error {
                #expect((record["error"] as? String)?.contains(error) == true, "\(name): \(record)")
                #expect(record["label"] == nil)
            } else {
                #expect(record["error"] == nil, "\(name): \(record)")
                #expect(["neg", "pos"].contains(record["label"] as? String ?? ""), "\(name)")
                #expect(record["windows"] as? Int == 1)
                let scores = try #require(record["scores"] as? [String: Double])
                #expect(abs(scores.values.reduce(0, +) - 1) < 1e-5)
            }
        }
        let repaired = try #require(records.first { ($0["path"] as? String)?.hasSuffix("c-invalid-utf8.txt") == true })
        #expect((repaired["warning"] as? String)?.contains("invalid UTF-8") == true)
        let failures = expected.filter { $0.1 != nil }.count + 1  // the bad files + the missing path
        #expect(result.stderr.contains("\(failures) input(s) failed"))
    }

    @Test func linesCSVAndFormats() throws {
        try #require(FileManager.default.fileExists(atPath: Paths.miniLM.path), "run `make models`")
        let dir = try Self.temp("formats")
        let head = try Self.fixedHead(dir)
        let result = try CLI.run("bert", ["classify", "--model", head.path, "--lines", "--format", "csv", "-"],
                                 stdin: "first line\n\nthird, with a comma\n")
        #expect(result.status != 0)  // the blank line
        let rows = try CSVReader.parse(Data(result.stdout.utf8), source: "stdout")
        #expect(rows.map { $0.fields[0] } == ["path", "-", "-", "-"])
        #expect(rows.map { $0.fields[1] } == ["line", "1", "2", "3"])
        #expect(rows[2].fields[5] == "empty line")
        #expect(!rows[3].fields[2].isEmpty)
        let csv = dir.appendingPathComponent("reviews.csv")
        try Data("id,body\n1,\"Loved it,\nreally\"\n2,Dull\n".utf8).write(to: csv)
        let cells = try CLI.run("bert", ["classify", "--model", head.path, "--csv-column", "body", "--top-k", "1", csv.path])
        #expect(cells.status == 0, "\(cells.stderr)")
        let records = try cells.jsonLines().map { try #require($0 as? [String: Any]) }
        #expect(records.map { $0["line"] as? Int } == [2, 4])
        #expect(records.allSatisfy { ($0["scores"] as? [String: Any])?.count == 1 })
        let table = try CLI.run("bert", ["classify", "--model", head.path, "--format", "table", csv.path, "--csv-column", "body"])
        #expect(table.lines.first?.hasPrefix("PATH") == true && table.lines.count == 3)
    }

    @Test func trainEvalClassifyOnBBCSubset() throws {
        try #require(FileManager.default.fileExists(atPath: Paths.miniLM.path), "run `make models`")
        try #require(FileManager.default.fileExists(atPath: Paths.bbcNews.path), "run `make data`")
        let dir = try Self.temp("bbc")
        let head = dir.appendingPathComponent("bbc-head").path
        // 9 articles per topic (001–009), first 128 tokens: seconds, not minutes.
        let train = try CLI.run("bert", ["train-head", "--model", Paths.miniLM.path, "--data", Paths.bbcNews.path,
                                 "--data-glob", "00?.txt", "--out", head, "--long-text", "truncate",
                                 "--max-length", "128", "--validation-split", "0.2", "--json"])
        #expect(train.status == 0, "\(train.stderr)")
        let report = try #require(try train.jsonLines().first as? [String: Any])
        #expect(report["labels"] as? [String] == ["business", "entertainment", "politics", "sports", "tech"])
        #expect(report["train_examples"] as? Int == 35)
        #expect(report["validation_examples"] as? Int == 10)
        #expect(report["converged"] as? Bool == true)
        #expect(HeadFolder.isHeadFolder(URL(fileURLWithPath: head)))

        // eval --split validation rebuilds train-head's split from the recorded fraction and seed.
        let again = try CLI.run("bert", ["eval", "--model", head, "--data", Paths.bbcNews.path, "--data-glob", "00?.txt",
                                         "--split", "validation", "--long-text", "truncate", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let validation = try #require(try again.jsonLines().first as? [String: Any])
        #expect(validation["count"] as? Int == 10)
        #expect(validation["accuracy"] as? Double == report["validation_accuracy"] as? Double)

        // Held-out articles 010–014: 25 documents never seen in training.
        let eval = try CLI.run("bert", ["eval", "--model", head, "--data", Paths.bbcNews.path, "--data-glob", "01[0-4].txt",
                                "--long-text", "truncate", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try eval.jsonLines().first as? [String: Any])
        #expect(Set(metrics.keys).isSuperset(of: ["accuracy", "macro_f1", "labels", "per_label", "confusion"]))
        let confusion = try #require(metrics["confusion"] as? [[Int]])
        #expect(confusion.map { $0.reduce(0, +) } == [5, 5, 5, 5, 5])
        #expect((metrics["accuracy"] as? Double ?? 0) >= 0.8, "\(metrics)")

        // The whole BBC folder, filtered to articles 020–024 (25 files): order, counts, windows.
        let run = try CLI.run("bert", ["classify", "--model", head, "--glob", "02[0-4].txt", "--format", "jsonl", Paths.bbcNews.path])
        #expect(run.status == 0, "\(run.stderr)")
        let records = try run.jsonLines().map { try #require($0 as? [String: Any]) }
        #expect(records.count == 25)
        let paths = records.map { $0["path"] as? String ?? "" }
        let expected = ["business", "entertainment", "politics", "sports", "tech"].flatMap { label in
            (20...24).map { Paths.bbcNews.appendingPathComponent(label).appendingPathComponent(String(format: "%03d.txt", $0)).path }
        }
        #expect(paths == expected)
        let windows = records.map { $0["windows"] as? Int ?? 0 }
        #expect(windows.allSatisfy { $0 >= 1 })
        #expect(windows.contains { $0 > 1 })  // BBC articles run past 128 tokens: chunked
        let correct = zip(records, paths).filter { record, path in
            path.contains("/\(record["label"] as? String ?? "?")/")
        }.count
        #expect(correct >= 20, "\(correct)/25 correct")
    }

    /// Both kernels (`--kernel blas|naive`) give the pipeline's labels and scores.
    @Test(arguments: ["blas", "naive"])
    func huggingFaceCheckpointEqualsPipeline(kernel: String) throws {
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: Paths.golden("heads/classify.json")))
        let models = try #require((golden as? [String: Any])?["models"] as? [String: Any])
        let stars = try #require(models["cls-stars"] as? [String: Any])
        let model = Paths.golden("heads/models/cls-stars").path
        // Single-text cases (pair cases' ids hold a second segment the "text" field lacks).
        let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: model))
        let cases = try #require(stars["cases"] as? [[String: Any]]).filter {
            let text = $0["text"] as? String ?? ""
            return !text.contains("\n") && tokenizer.encode(text).ids.map(Int.init) == ($0["input_ids"] as? [Int])
        }
        try #require(!cases.isEmpty)
        let texts = cases.compactMap { $0["text"] as? String }
        let run = try CLI.run("bert", ["classify", "--model", model, "--kernel", kernel, "--lines", "--long-text", "truncate", "-"],
                              stdin: texts.joined(separator: "\n") + "\n")
        #expect(run.status == 0, "\(run.stderr)")
        let records = try run.jsonLines().map { try #require($0 as? [String: Any]) }
        #expect(records.count == cases.count)
        for (record, c) in zip(records, cases) {
            let results = try #require(c["results"] as? [[String: Any]])
            #expect(record["label"] as? String == results.first?["label"] as? String)
            let scores = try #require(record["scores"] as? [String: Double])
            for r in results {
                let label = try #require(r["label"] as? String), score = try #require(r["score"] as? Double)
                #expect(abs((scores[label] ?? -1) - score) < 1e-4, "\(label)")
            }
        }
        // eval takes the same checkpoint: labels matched by name.
        let dir = try Self.temp("hfeval")
        let data = dir.appendingPathComponent("stars.tsv")
        let lines = zip(texts, cases).map { t, c in "\(((c["results"] as? [[String: Any]])?.first?["label"] as? String) ?? "")\t\(t)" }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: data)
        let eval = try CLI.run("bert", ["eval", "--model", model, "--data", data.path, "--long-text", "truncate", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try eval.jsonLines().first as? [String: Any])
        #expect(metrics["accuracy"] as? Double == 1)
    }
}
