import Foundation

/// A float tensor read from a `WeightStore`: row-major, `shape` as stored.
///
/// It points into the mapped file (F32) or into the store's one-time F16/BF16 conversion, and
/// keeps the store alive, so the pointer stays valid as long as the tensor exists.
public struct Tensor: @unchecked Sendable {  // Immutable memory owned by `owner`.
    /// The name it was found under.
    public let name: String
    /// Row-major shape, e.g. `[out, in]` for a Linear weight.
    public let shape: [Int]
    /// The first element; a `Tensor` is never empty.
    public let pointer: UnsafePointer<Float>
    /// Number of elements (at least 1).
    public let count: Int
    private let owner: AnyObject

    init(name: String, shape: [Int], pointer: UnsafePointer<Float>, count: Int, owner: AnyObject) {
        self.name = name
        self.shape = shape
        self.pointer = pointer
        self.count = count
        self.owner = owner
    }

    /// The elements.
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }
}

/// The weights of a checkpoint: a `mmap`'d safetensors file with typed, validated lookup.
///
/// F32 tensors are read in place (never copied). F16 and BF16 tensors, and F32 tensors whose
/// data is not 4-byte aligned, are converted once at load into buffers the store owns.
/// The store is immutable after `init` and safe to share across threads.
public final class WeightStore: @unchecked Sendable {  // Immutable after init; owns `converted`.
    /// The safetensors file.
    public let url: URL
    /// Every stored tensor, validated.
    public let entries: [String: SafeTensorsEntry]
    private let file: MappedFile
    private let converted: [String: UnsafeMutableBufferPointer<Float>]

    /// Maps and validates a safetensors file.
    ///
    /// - Parameter url: the `model.safetensors` file.
    /// - Throws: `BertError.io` when the file cannot be mapped, `BertError.invalidFile` (naming the
    ///   file and tensor) when its header is malformed.
    public init(url: URL) throws {
        self.url = url
        file = try MappedFile(url: url)
        entries = try SafeTensors.parseHeader(file)
        var converted: [String: UnsafeMutableBufferPointer<Float>] = [:]
        let base = file.bytes
        for entry in entries.values {
            let raw = UnsafeRawBufferPointer(rebasing: base[entry.byteRange])
            let count = entry.elementCount
            switch entry.dtype {
            case "F32":
                if count > 0, Int(bitPattern: raw.baseAddress) % MemoryLayout<Float>.alignment != 0 {
                    let out = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
                    _ = out.withMemoryRebound(to: UInt8.self) { raw.copyBytes(to: $0) }
                    converted[entry.name] = out
                }
            case "F16", "BF16":
                let out = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
                let isBF16 = entry.dtype == "BF16"
                for i in 0..<count {
                    let bits = UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8
                    out[i] = isBF16 ? Float(bitPattern: UInt32(bits) << 16) : Float(Float16(bitPattern: bits))
                }
                converted[entry.name] = out
            default:
                break  // Not a float tensor: an error only if something asks for it.
            }
        }
        self.converted = converted
    }

    deinit {
        for buffer in converted.values { buffer.deallocate() }
    }

    /// Whether `tensor` is read in place from this store's mapped file (not converted at load):
    /// then the bytes between two such tensors are mapped too (the encoder reads Q, K and V's
    /// weights as one matrix when they are stored back to back).
    func isMapped(_ tensor: Tensor) -> Bool {
        guard let base = file.bytes.baseAddress else { return false }
        let start = UnsafeRawPointer(tensor.pointer)
        return start >= base && start + tensor.count * MemoryLayout<Float>.stride <= base + file.bytes.count
    }

    /// The stored name `name` resolves to, or nil when none of its candidates is present.
    public func resolve(_ name: TensorName) -> String? {
        name.candidates.first { entries[$0] != nil }
    }

    /// Whether any spelling of `name` is stored.
    public func contains(_ name: TensorName) -> Bool { resolve(name) != nil }

    /// Looks up a float tensor, optionally checking its shape.
    ///
    /// - Parameters:
    ///   - name: the tensor, with every spelling to try.
    ///   - shape: the expected shape (e.g. from the config); nil accepts any shape.
    /// - Returns: the tensor, in place for aligned F32, converted for F16/BF16.
    /// - Throws: `BertError.missingTensor` listing every name tried; `BertError.shape` when the
    ///   stored shape differs from `shape`; `BertError.invalidFile` for a non-float dtype.
    public func tensor(_ name: TensorName, shape: [Int]? = nil) throws -> Tensor {
        guard let stored = resolve(name), let entry = entries[stored] else {
            throw BertError(.missingTensor, "\(url.path): missing tensor \(name) (tried: \(name.candidates.joined(separator: ", ")))")
        }
        if let shape, shape != entry.shape {
            throw BertError(.shape, "\(url.path): tensor \(stored) has shape \(entry.shape), the config needs \(shape)")
        }
        let count = entry.elementCount
        guard count > 0 else {
            throw BertError(.shape, "\(url.path): tensor \(stored) is empty (shape \(entry.shape))")
        }
        if let buffer = converted[stored], let base = buffer.baseAddress {
            return Tensor(name: stored, shape: entry.shape, pointer: UnsafePointer(base), count: count, owner: self)
        }
        guard entry.dtype == "F32" else {
            throw BertError(.invalidFile, "\(url.path): tensor \(stored) has dtype \(entry.dtype); BertBLAS reads F32, F16 and BF16")
        }
        guard let base = UnsafeRawBufferPointer(rebasing: file.bytes[entry.byteRange]).baseAddress else {
            throw BertError(.invalidFile, "\(url.path): tensor \(stored) has no data")
        }
        return Tensor(name: stored, shape: entry.shape, pointer: base.assumingMemoryBound(to: Float.self),
                      count: count, owner: self)
    }
}
