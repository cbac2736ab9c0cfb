import Foundation
import Testing
@testable import BertBLAS

/// Data readers, the split, metrics and the head folder: no model needed.
@Suite struct ClassifyDataTests {
    static func tempDirectory(_ name: String = #function) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("bertblas-classify-\(name.filter(\.isLetter))-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func goldenMetrics() throws -> [String: Any] {
        let data = try Data(contentsOf: Paths.golden("classify/metrics_and_csv.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func csvQuotingAndMultilineFields() throws {
        let text = "text,label\n\"one, two\",a\r\n\"multi\nline \"\"quoted\"\"\",b\n\nplain,c\nlast,\"d\""
        let records = try CSVReader.parse(Data(text.utf8), source: "t.csv")
        #expect(records.map(\.fields) == [["text", "label"], ["one, two", "a"], ["multi\nline \"quoted\"", "b"],
                                          ["plain", "c"], ["last", "d"]])
        #expect(records.map(\.line) == [1, 2, 3, 6, 7])
        #expect(throws: BertError.self) { try CSVReader.parse(Data("a,\"never closed\n".utf8), source: "bad.csv") }
        // TSV has no quoting: quotes are ordinary characters.
        let tsv = try CSVReader.parse(Data("label\ttext\npos\t\"quoted\" start\n".utf8), delimiter: 9, source: "t.tsv")
        #expect(tsv.map(\.fields) == [["label", "text"], ["pos", "\"quoted\" start"]])
    }

    @Test func rottenTomatoesLikePythonCSV() throws {
        let golden = try #require(try Self.goldenMetrics()["rotten_tomatoes"] as? [String: Any])
        let path = Paths.rottenTomatoesCSV.path
        try #require(FileManager.default.fileExists(atPath: path), "run `make data`")
        let all = try LabeledDataset.load(path: path, options: .init(textColumn: "text", labelColumn: "category"))
        // Rows with a blank text are skipped with one warning each; the others are all read.
        let counts = try #require(golden["nonblank_counts"] as? [String: Int])
        let rows = try #require(golden["rows"] as? Int)
        #expect(all.examples.count == counts.values.reduce(0, +))
        #expect(all.warnings.count == rows - all.examples.count)
        #expect(all.labels == counts.keys.sorted())
        for (label, n) in counts { #expect(all.examples.filter { $0.label == label }.count == n) }
        #expect(all.examples.first?.text == golden["first_text"] as? String)
        #expect(all.examples.last?.text == golden["last_text"] as? String)
        let reviews = try LabeledDataset.load(path: path, options: .init(textColumn: "text", labelColumn: "category",
                                                                         excludedLabels: ["plot"]))
        #expect(reviews.labels == ["fresh", "rotten"])
        #expect(reviews.examples.count == (counts["fresh"] ?? 0) + (counts["rotten"] ?? 0))
        // Missing columns: the message lists what the header has.
        #expect(throws: BertError.self) { try LabeledDataset.load(path: path) }
    }

    @Test func folderTSVAndHeaderlessForms() throws {
        let dir = try Self.tempDirectory()
        let folder = dir.appendingPathComponent("data")
        for (label, texts) in [("pos", ["good", "great"]), ("neg", ["bad", "awful", "dire"])] {
            let sub = folder.appendingPathComponent(label)
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            for (i, t) in texts.enumerated() { try Data(t.utf8).write(to: sub.appendingPathComponent("\(i).txt")) }
        }
        try Data().write(to: folder.appendingPathComponent("pos/empty.txt"))
        try Data("x".utf8).write(to: folder.appendingPathComponent("pos/ignored.md"))
        let fromFolder = try LabeledDataset.load(path: folder.path)
        #expect(fromFolder.labels == ["neg", "pos"])
        #expect(fromFolder.examples.map(\.text) == ["bad", "awful", "dire", "good", "great"])
        #expect(fromFolder.warnings.count == 1)  // the empty file
        #expect(fromFolder.labelIndices == [0, 0, 0, 1, 1])

        let headerless = dir.appendingPathComponent("plain.tsv")
        try Data("pos\tgood one\nneg\tbad\tstill text\n\nno tab here\npos\t \n".utf8).write(to: headerless)
        let fromTSV = try LabeledDataset.load(path: headerless.path)
        #expect(fromTSV.examples.map(\.text) == ["good one", "bad\tstill text"])
        #expect(fromTSV.warnings.count == 2)

        let named = dir.appendingPathComponent("named.csv")
        try Data("id,review,stars\n1,\"fine, really\",5\n2,meh,1\n".utf8).write(to: named)
        let fromCSV = try LabeledDataset.load(path: named.path, options: .init(textColumn: "review", labelColumn: "stars"))
        #expect(fromCSV.labels == ["1", "5"])
        #expect(fromCSV.examples.map(\.text) == ["fine, really", "meh"])
        #expect(fromCSV.examples.map(\.source) == ["\(named.path):2", "\(named.path):3"])

        let one = dir.appendingPathComponent("one.tsv")
        try Data("pos\ta\npos\tb\n".utf8).write(to: one)
        #expect(try LabeledDataset.load(path: one.path).labels == ["pos"])  // fine for eval; train-head refuses it
        #expect(throws: BertError.self) { try LabeledDataset.load(path: dir.appendingPathComponent("missing.csv").path) }
    }

    @Test func splitIsStratifiedSeededAndDisjoint() throws {
        var examples: [LabeledExample] = []
        for i in 0..<100 { examples.append(.init(text: "t\(i)", label: i % 4 == 0 ? "rare" : "common", source: "")) }
        let data = LabeledDataset(examples: examples)
        let (train, validation) = try data.split(validationFraction: 0.2, seed: 7)
        #expect(Set(train).isDisjoint(with: validation))
        #expect(train.count + validation.count == 100)
        #expect(validation.filter { $0 % 4 == 0 }.count == 5)   // 20% of the 25 rare
        #expect(validation.filter { $0 % 4 != 0 }.count == 15)  // 20% of the 75 common
        let again = try data.split(validationFraction: 0.2, seed: 7)
        #expect(again.validation == validation)
        let other = try data.split(validationFraction: 0.2, seed: 8)
        #expect(other.validation != validation)
        #expect(try data.split(validationFraction: 0, seed: 1).validation.isEmpty)
        #expect(throws: BertError.self) { try data.split(validationFraction: 1, seed: 1) }
    }

    @Test func metricsEqualScikitLearn() throws {
        let g = try Self.goldenMetrics()
        let labels = try #require(g["labels"] as? [String])
        let m = try ClassificationMetrics(truth: try #require(g["truth"] as? [Int]),
                                          predicted: try #require(g["predicted"] as? [Int]), labels: labels)
        #expect(abs(m.accuracy - (g["accuracy"] as? Double ?? -1)) < 1e-12)
        #expect(abs(m.macroF1 - (g["macro_f1"] as? Double ?? -1)) < 1e-12)
        let precision = try #require(g["precision"] as? [Double]), recall = try #require(g["recall"] as? [Double])
        let f1 = try #require(g["f1"] as? [Double])
        for k in labels.indices {
            #expect(abs(m.perLabel[k].precision - precision[k]) < 1e-12)
            #expect(abs(m.perLabel[k].recall - recall[k]) < 1e-12)
            #expect(abs(m.perLabel[k].f1 - f1[k]) < 1e-12)
        }
        #expect(m.perLabel.map(\.support) == g["support"] as? [Int])
        #expect(m.confusion == g["confusion"] as? [[Int]])
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(m)) as? [String: Any])
        #expect(Set(json.keys).isSuperset(of: ["accuracy", "macro_f1", "labels", "per_label", "confusion"]))
        #expect(abs((json["macro_f1"] as? Double ?? -1) - m.macroF1) < 1e-12)
        let perLabel = json["per_label"] as? [String: [String: Any]]
        #expect(perLabel?[labels[0]]?["support"] as? Int == m.perLabel[0].support)
        #expect(m.table.contains("macro-F1"))
        #expect(throws: BertError.self) { try ClassificationMetrics(truth: [0], predicted: [0, 1], labels: labels) }
    }

    @Test func headFolderRoundTrip() throws {
        let dir = try Self.tempDirectory()
        let encoder = dir.appendingPathComponent("models/enc")
        try FileManager.default.createDirectory(at: encoder, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: encoder.appendingPathComponent("config.json"))
        let headDir = dir.appendingPathComponent("heads/h1")
        let head = try LinearHead(weight: [1, 2, 3, -1, -2, -3.5], bias: [0.25, -0.25], labelCount: 2, inputSize: 3)
        let relative = HeadFolder.relativePath(from: headDir, to: encoder)
        #expect(relative == "../../models/enc")
        let config = HeadFolder.Config(kind: .logistic, labels: ["neg", "pos"], encoder: relative,
                                       encoderAbsolute: encoder.path, pooling: "mean", normalize: true,
                                       maxLength: 256, hiddenSize: 3, training: nil)
        try HeadFolder.write(headDir, head: head, config: config)
        #expect(HeadFolder.isHeadFolder(headDir))
        let (loadedConfig, loadedHead, loadedEncoder) = try HeadFolder.load(headDir)
        #expect(loadedConfig == config)
        #expect(loadedHead == head)
        #expect(loadedEncoder.standardizedFileURL.path == encoder.standardizedFileURL.path)
        // The safetensors header: 8-byte length, JSON, padded to 8, offsets covering the data.
        let bytes = try Data(contentsOf: headDir.appendingPathComponent(HeadFolder.weightsFile))
        var length = 0
        for i in 0..<8 { length |= Int(bytes[i]) << (8 * i) }
        #expect(length % 8 == 0)
        #expect(bytes.count == 8 + length + (6 + 2) * 4)
        let header = try #require(try JSONSerialization.jsonObject(with: bytes[8..<(8 + length)]) as? [String: Any])
        let weight = try #require(header["classifier.weight"] as? [String: Any])
        #expect(weight["shape"] as? [Int] == [2, 3])
        #expect(weight["data_offsets"] as? [Int] == [0, 24])
        // A corrupted weights file is an error naming the file, not a crash.
        try Data([200, 0, 0, 0, 0, 0, 0, 0, 123]).write(to: headDir.appendingPathComponent(HeadFolder.weightsFile))
        #expect(throws: BertError.self) { try HeadFolder.load(headDir) }
        // Mismatched shapes are refused at write time.
        let wrong = HeadFolder.Config(kind: .logistic, labels: ["a", "b", "c"], encoder: relative, encoderAbsolute: nil,
                                      pooling: "mean", normalize: true, maxLength: 256, hiddenSize: 3, training: nil)
        #expect(throws: BertError.self) { try HeadFolder.write(headDir, head: head, config: wrong) }
    }
}
