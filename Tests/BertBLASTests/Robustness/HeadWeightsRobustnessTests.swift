import Foundation
import Testing
@testable import BertBLAS

/// head.safetensors (a trained classifier head) is read through the same validated parser as
/// model weights, so hostile shapes and offsets throw instead of trapping.
@Suite struct HeadWeightsRobustnessTests {
    static func file(header: String, data: [UInt8] = []) throws -> URL {
        var out = Data()
        var n = UInt64(header.utf8.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        out.append(contentsOf: Array(header.utf8) + data)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-head-\(UUID().uuidString).safetensors")
        try out.write(to: url)
        return url
    }

    static func error(header: String, data: [UInt8] = []) throws -> BertError? {
        let url = try file(header: header, data: data)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try SafetensorsF32.read(url)
            return nil
        } catch let error as BertError {
            #expect(error.message.contains(url.path), "\(error.message)")
            return error
        }
    }

    /// Before: the shape product overflowed (`shape.reduce(1, *)` / `count * 4`) and trapped.
    @Test func overflowingShapeThrows() throws {
        for shape in ["[4611686018427387904, 4]", "[9223372036854775807, 2]", "[3037000500, 3037000500]", "[4611686018427387904]"] {
            let e = try Self.error(header: #"{"classifier.weight":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,0]}}"#)
            #expect(e?.kind == .invalidFile, "\(shape)")
            #expect(e?.message.contains("classifier.weight") == true)
        }
    }

    @Test func reversedOffsetsAndPastTheEndThrow() throws {
        let e1 = try Self.error(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(e1?.kind == .invalidFile)
        let e2 = try Self.error(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(e2?.kind == .invalidFile)
        let e3 = try Self.error(header: #"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 4))
        #expect(e3?.message.contains("expected F32") == true)
    }

    @Test func validHeadFileReadsBack() throws {
        var data: [UInt8] = []
        for v: Float in [1.5, -2, 0.25] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        let url = try Self.file(header: #"{"b":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#, data: data)
        defer { try? FileManager.default.removeItem(at: url) }
        let tensors = try SafetensorsF32.read(url)
        #expect(tensors["b"]?.shape == [3])
        #expect(tensors["b"]?.values == [1.5, -2, 0.25])
    }
}
