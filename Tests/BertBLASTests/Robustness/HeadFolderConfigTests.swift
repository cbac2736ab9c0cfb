import Foundation
import Testing
@testable import BertBLAS

/// A trained-head folder whose bertblas_head.json holds values no head can have: the error names
/// that file (it used to come from deeper layers with no file at all).
@Suite struct HeadFolderConfigTests {
    static let tiny = Paths.golden("encoder/tiny-gelu-uncased")

    /// A head folder on the tiny encoder (hidden 32, max length 64), with `edit` applied to the config.
    static func load(labels: Int = 2, _ edit: (inout HeadFolder.Config) -> Void) throws -> BertError? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-head-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = HeadFolder.Config(kind: .logistic, labels: (0..<labels).map { "L\($0)" }, encoder: tiny.path,
                                       encoderAbsolute: tiny.path, pooling: "mean", normalize: false, maxLength: 64,
                                       hiddenSize: 32, training: nil)
        edit(&config)
        let encoder = JSONEncoder()
        try encoder.encode(config).write(to: dir.appendingPathComponent(HeadFolder.configFile))
        let weights = SafetensorsF32.encode([(HeadFolder.weightName, [labels, 32], [Float](repeating: 0.1, count: labels * 32)),
                                             (HeadFolder.biasName, [labels], [Float](repeating: 0, count: labels))],
                                            metadata: [:])
        try weights.write(to: dir.appendingPathComponent(HeadFolder.weightsFile))
        do {
            _ = try DocumentClassifier(directory: dir)
            return nil
        } catch let error as BertError {
            return error
        }
    }

    @Test func validFolderLoads() throws {
        #expect(try Self.load { _ in } == nil)
    }

    /// Before: max_length -5 failed in SentenceEmbedder ("max length -5 leaves no room for [CLS]
    /// and [SEP]") and a one-label head in LinearHead ("linear head: needs at least 2 labels"),
    /// neither naming the folder's file.
    @Test func impossibleValuesNameTheConfigFile() throws {
        for maxLength in [-5, 0, 1] {
            let e = try Self.load { $0.maxLength = maxLength }
            #expect(e?.message.contains(HeadFolder.configFile) == true, "\(e?.message ?? "loaded")")
            #expect(e?.message.contains("max_length") == true, "\(e?.message ?? "loaded")")
        }
        let one = try Self.load(labels: 1) { _ in }
        #expect(one?.message.contains(HeadFolder.configFile) == true, "\(one?.message ?? "loaded")")
        #expect(one?.message.contains("labels") == true, "\(one?.message ?? "loaded")")
    }
}
