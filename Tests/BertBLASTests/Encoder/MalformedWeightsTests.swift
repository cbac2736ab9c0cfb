import Foundation
import Testing
@testable import BertBLAS

/// Every malformed-file case of the encoder issue (section 1) throws a `BertError` naming the
/// file (and tensor or key); none crashes or reads out of bounds.
@Suite struct MalformedWeightsTests {
    static let tiny = Paths.golden("encoder/tiny-gelu-uncased")

    /// A fresh temporary folder holding a copy of the tiny model (config, tokenizer, weights).
    static func copyOfTinyModel() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-malformed-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: tiny, to: dir)
        return dir
    }

    /// Raw safetensors bytes: 8-byte little-endian header length, header, data.
    static func safetensors(header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
        let headerBytes = Array(header.utf8)
        var out = Data()
        var n = length ?? UInt64(headerBytes.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: data)
        return out
    }

    static func write(_ data: Data) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-\(UUID().uuidString).safetensors")
        try data.write(to: url)
        return url
    }

    /// Opens `data` as a WeightStore and returns the error it throws.
    static func storeError(_ data: Data) throws -> BertError? {
        let url = try write(data)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try WeightStore(url: url)
            return nil
        } catch let error as BertError {
            #expect(error.message.contains(url.path), "message names the file: \(error.message)")
            return error
        }
    }

    static let eightFloats = [UInt8](repeating: 0, count: 32)

    @Test func fileShorterThanTheLengthPrefix() throws {
        let error = try Self.storeError(Data([1, 2, 3]))
        #expect(error?.kind == .invalidFile)
    }

    @Test func headerLengthBeyondTheFile() throws {
        let error = try Self.storeError(Self.safetensors(header: "{}", length: 1 << 40))
        #expect(error?.kind == .invalidFile)
        #expect(error?.message.contains("header length") == true)
    }

    @Test func headerIsNotJSON() throws {
        let error = try Self.storeError(Self.safetensors(header: "{\"a\": [1, 2", data: Self.eightFloats))
        #expect(error?.kind == .invalidFile)
        #expect(error?.message.contains("JSON") == true)
    }

    @Test func offsetsOutsideTheData() throws {
        let header = #"{"w":{"dtype":"F32","shape":[16],"data_offsets":[0,64]}}"#
        let error = try Self.storeError(Self.safetensors(header: header, data: Self.eightFloats))
        #expect(error?.kind == .invalidFile)
        #expect(error?.message.contains("tensor w") == true)
    }

    @Test func negativeOrReversedOffsets() throws {
        let header = #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[16,8]}}"#
        let error = try Self.storeError(Self.safetensors(header: header, data: Self.eightFloats))
        #expect(error?.kind == .invalidFile)
    }

    @Test func overlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
        let error = try Self.storeError(Self.safetensors(header: header, data: Self.eightFloats))
        #expect(error?.kind == .invalidFile)
        #expect(error?.message.contains("overlap") == true)
    }

    @Test func shapeDisagreesWithByteSize() throws {
        let header = #"{"w":{"dtype":"F32","shape":[3,3],"data_offsets":[0,32]}}"#
        let error = try Self.storeError(Self.safetensors(header: header, data: Self.eightFloats))
        #expect(error?.kind == .invalidFile)
        #expect(error?.message.contains("tensor w") == true)
    }

    @Test func shapeDisagreesWithDtype() throws {
        // 8 elements of F16 are 16 bytes, not 32.
        let header = #"{"w":{"dtype":"F16","shape":[8],"data_offsets":[0,32]}}"#
        let error = try Self.storeError(Self.safetensors(header: header, data: Self.eightFloats))
        #expect(error?.kind == .invalidFile)
    }

    @Test func unknownDtypeAndBadShape() throws {
        let unknown = #"{"w":{"dtype":"Q4","shape":[8],"data_offsets":[0,32]}}"#
        #expect(try Self.storeError(Self.safetensors(header: unknown, data: Self.eightFloats))?.kind == .invalidFile)
        let fraction = #"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,32]}}"#
        #expect(try Self.storeError(Self.safetensors(header: fraction, data: Self.eightFloats))?.kind == .invalidFile)
        let negative = #"{"w":{"dtype":"F32","shape":[-8],"data_offsets":[0,32]}}"#
        #expect(try Self.storeError(Self.safetensors(header: negative, data: Self.eightFloats))?.kind == .invalidFile)
        let huge = #"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,32]}}"#
        #expect(try Self.storeError(Self.safetensors(header: huge, data: Self.eightFloats))?.kind == .invalidFile)
    }

    /// F32 data at an offset that is not 4-byte aligned is copied once, and reads back exactly.
    @Test func unalignedFloatDataIsReadCorrectly() throws {
        var header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        while (8 + header.utf8.count) % 4 != 2 { header += " " }
        let values: [Float] = [1.5, -2.25]
        let data = values.flatMap { v in (0..<4).map { UInt8((v.bitPattern >> (8 * $0)) & 0xff) } }
        let url = try Self.write(Self.safetensors(header: header, data: data))
        defer { try? FileManager.default.removeItem(at: url) }
        let store = try WeightStore(url: url)
        let tensor = try store.tensor(TensorName(["w"]), shape: [2])
        #expect(Array(tensor.buffer) == values)
        #expect(Int(bitPattern: tensor.pointer) % 4 == 0)
    }

    @Test func nonFloatTensorIsAnErrorOnlyWhenRead() throws {
        let header = #"{"ids":{"dtype":"I64","shape":[4],"data_offsets":[0,32]}}"#
        let url = try Self.write(Self.safetensors(header: header, data: Self.eightFloats))
        defer { try? FileManager.default.removeItem(at: url) }
        let store = try WeightStore(url: url)
        #expect(throws: BertError.self) { try store.tensor(TensorName(["ids"])) }
    }

    /// Rewrites the tiny model's weights, dropping tensors and optionally reshaping one.
    static func rewriteWeights(in dir: URL, dropping drop: Set<String>, reshape: (String, [Int])? = nil) throws {
        let url = dir.appendingPathComponent("model.safetensors")
        let original = try Data(contentsOf: url)
        let store = try WeightStore(url: url)
        var header: [String: Any] = [:]
        var data = Data()
        for name in store.entries.keys.sorted() where !drop.contains(name) {
            let entry = try #require(store.entries[name])
            var shape = entry.shape
            if let reshape, reshape.0 == name { shape = reshape.1 }
            header[name] = ["dtype": entry.dtype, "shape": shape, "data_offsets": [data.count, data.count + entry.byteRange.count]]
            data.append(original[entry.byteRange])
        }
        let json = try JSONSerialization.data(withJSONObject: header)
        try safetensors(header: String(decoding: json, as: UTF8.self), data: Array(data)).write(to: url)
    }

    @Test func missingTensorListsTheNamesTried() throws {
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.rewriteWeights(in: dir, dropping: ["encoder.layer.1.attention.self.key.weight"])
        do {
            _ = try BertModel(directory: dir)
            Issue.record("loading a model without a key tensor succeeded")
        } catch let error as BertError {
            #expect(error.kind == .missingTensor)
            #expect(error.message.contains("bert.encoder.layer.1.attention.self.key.weight"))
            #expect(error.message.contains("model.safetensors"))
        }
    }

    @Test func wrongShapeForTheConfig() throws {
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Same bytes, transposed-looking shape: [64, 32] stored as [32, 64].
        try Self.rewriteWeights(in: dir, dropping: [], reshape: ("encoder.layer.0.intermediate.dense.weight", [32, 64]))
        do {
            _ = try BertModel(directory: dir)
            Issue.record("loading a model with a wrongly shaped tensor succeeded")
        } catch let error as BertError {
            #expect(error.kind == .shape)
            #expect(error.message.contains("encoder.layer.0.intermediate.dense.weight"))
        }
    }

    /// Rewrites config.json with `edit` applied.
    static func editConfig(in dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("config.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    @Test(arguments: ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"])
    func configMissingARequiredKey(key: String) throws {
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.editConfig(in: dir) { $0[key] = nil }
        do {
            _ = try BertModel(directory: dir)
            Issue.record("config without \(key) loaded")
        } catch let error as BertError {
            #expect(error.kind == .config)
            #expect(error.message.contains(key))
            #expect(error.message.contains("config.json"))
        }
    }

    @Test func configWithUnsupportedValues() throws {
        for (key, value) in [("position_embedding_type", "relative_key" as Any), ("hidden_act", "swiglu"),
                             ("num_attention_heads", 5), ("hidden_size", "large")] {
            let dir = try Self.copyOfTinyModel()
            defer { try? FileManager.default.removeItem(at: dir) }
            try Self.editConfig(in: dir) { $0[key] = value }
            #expect(throws: BertError.self, "\(key) = \(value)") { try BertModel(directory: dir) }
        }
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("config.json"))
        #expect(throws: BertError.self) { try BertModel(directory: dir) }
    }

    @Test func configWithMoreLayersThanTheWeights() throws {
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.editConfig(in: dir) { $0["num_hidden_layers"] = 3 }
        #expect(throws: BertError.self) { try BertModel(directory: dir) }
    }

    @Test func missingWeightsFile() throws {
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: BertError.self) { try BertModel(directory: dir) }
    }
}
