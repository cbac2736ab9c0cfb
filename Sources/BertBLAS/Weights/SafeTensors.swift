import Foundation

/// One tensor's entry in a safetensors header, validated against the file it came from.
public struct SafeTensorsEntry: Sendable, Equatable {
    /// The HF tensor name as stored.
    public let name: String
    /// The stored dtype string (`F32`, `F16`, `BF16`, `I64`, ...).
    public let dtype: String
    /// The shape; a scalar has `[]`.
    public let shape: [Int]
    /// Byte range inside the file (absolute, i.e. already offset past the header).
    public let byteRange: Range<Int>

    /// Number of elements (product of the shape; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and data offsets, then the raw data.
///
/// Reference: https://github.com/huggingface/safetensors (README "Format").
/// Everything is validated before use so a malformed file gives a `BertError` naming the file and
/// tensor, never an out-of-bounds read.
public enum SafeTensors {
    /// Size in bytes of one element of `dtype`, or nil for a dtype this parser does not know.
    public static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": return 8
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
        default: return nil
        }
    }

    /// Parses and validates the header of a mapped safetensors file.
    ///
    /// - Parameter file: the mapped file.
    /// - Returns: the entries by name (the optional `__metadata__` is skipped).
    /// - Throws: `BertError.invalidFile` naming the file (and tensor) when the header length runs
    ///   past the file, the JSON does not parse, a dtype is unknown, a shape disagrees with the
    ///   byte size, or offsets fall outside the data or overlap.
    public static func parseHeader(_ file: MappedFile) throws -> [String: SafeTensorsEntry] {
        let path = file.url.path
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw BertError(.invalidFile, "\(path): not a safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(bytes.count - 8) else {
            throw BertError(.invalidFile, "\(path): safetensors header length \(length) runs past the end of the file (\(bytes.count) bytes)")
        }
        let headerEnd = 8 + Int(length)
        let dataSize = bytes.count - headerEnd
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]), options: [])
        } catch {
            throw BertError(.invalidFile, "\(path): safetensors header is not valid JSON (\(length) bytes)")
        }
        guard let object = json as? [String: Any] else {
            throw BertError(.invalidFile, "\(path): safetensors header is not a JSON object")
        }
        var entries: [String: SafeTensorsEntry] = [:]
        for (name, value) in object where name != "__metadata__" {
            guard let info = value as? [String: Any] else {
                throw BertError(.invalidFile, "\(path): tensor \(name): header entry is not an object")
            }
            guard let dtype = info["dtype"] as? String else {
                throw BertError(.invalidFile, "\(path): tensor \(name): missing or non-string dtype")
            }
            guard let size = elementSize(dtype) else {
                throw BertError(.invalidFile, "\(path): tensor \(name): unknown dtype \(dtype)")
            }
            guard let shapeValues = info["shape"] as? [Any],
                  let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw BertError(.invalidFile, "\(path): tensor \(name): shape is not a list of non-negative integers")
            }
            guard let offsetValues = info["data_offsets"] as? [Any], offsetValues.count == 2,
                  let offsets = integers(offsetValues), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw BertError(.invalidFile, "\(path): tensor \(name): data_offsets is not [begin, end] with 0 <= begin <= end")
            }
            guard offsets[1] <= dataSize else {
                throw BertError(.invalidFile, "\(path): tensor \(name): data_offsets \(offsets) run past the data (\(dataSize) bytes)")
            }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw BertError(.invalidFile, "\(path): tensor \(name): shape \(shape) overflows")
                }
                count = product
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, byteCount == offsets[1] - offsets[0] else {
                throw BertError(.invalidFile, "\(path): tensor \(name): shape \(shape) of \(dtype) needs \(overflow ? "too many" : String(byteCount)) bytes but data_offsets \(offsets) hold \(offsets[1] - offsets[0])")
            }
            entries[name] = SafeTensorsEntry(name: name, dtype: dtype, shape: shape,
                                             byteRange: (headerEnd + offsets[0])..<(headerEnd + offsets[1]))
        }
        // Overlap: in begin order, each tensor must start at or after the previous one's end.
        let ordered = entries.values.filter { !$0.byteRange.isEmpty }
            .sorted { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }
        for (previous, next) in zip(ordered, ordered.dropFirst())
        where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw BertError(.invalidFile, "\(path): tensors \(previous.name) and \(next.name) overlap in the data section")
        }
        return entries
    }

    /// Exact integers from JSON numbers (rejects fractions and non-numbers).
    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        result.reserveCapacity(values.count)
        for value in values {
            guard let number = value as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double.rounded() == double, let int = Int(exactly: double) else { return nil }
            result.append(int)
        }
        return result
    }
}
