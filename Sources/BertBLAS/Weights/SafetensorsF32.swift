import Foundation

/// A small safetensors reader/writer for F32 tensors (the head's own file; the encoder's weights
/// go through `Weights/`). Format: 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}` padded with
/// spaces to a multiple of 8, then the little-endian data.
enum SafetensorsF32 {
    struct Tensor { var shape: [Int]; var values: [Float] }

    static func encode(_ tensors: [(String, [Int], [Float])], metadata: [String: String]) -> Data {
        var header = "{"
        var offset = 0
        var parts: [String] = []
        if !metadata.isEmpty {
            let items = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            parts.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        for (name, shape, values) in tensors {
            let end = offset + values.count * 4
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var data = Data()
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for (_, _, values) in tensors {
            for v in values {
                var bits = v.bitPattern.littleEndian
                withUnsafeBytes(of: &bits) { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    static func jsonString(_ s: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed])) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads every tensor through the library's one validated safetensors parser
    /// (`SafeTensors.parseHeader`: header length, offsets, overlap and overflow-checked shapes).
    static func read(_ url: URL) throws -> [String: Tensor] {
        let file = try MappedFile(url: url)
        let entries = try SafeTensors.parseHeader(file)
        var out: [String: Tensor] = [:]
        for (name, entry) in entries {
            guard entry.dtype == "F32" else { throw BertError(.invalidFile, "\(url.path): tensor '\(name)' is \(entry.dtype), expected F32") }
            let raw = UnsafeRawBufferPointer(rebasing: file.bytes[entry.byteRange])
            var values = [Float](repeating: 0, count: entry.elementCount)
            values.withUnsafeMutableBytes { _ = raw.copyBytes(to: $0) }
            out[name] = Tensor(shape: entry.shape, values: values)
        }
        return out
    }
}
