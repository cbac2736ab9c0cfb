import Foundation

/// The element-wise activations BERT configs name in `hidden_act`, applied in place.
///
/// Reference: transformers `activations.py` (v4.57.1): `GELUActivation` (erf),
/// `NewGELUActivation` / `PytorchGELUTanh` (tanh approximation), `nn.ReLU`.
public enum Activation: String, Sendable, CaseIterable {
    /// Exact GELU: `0.5 x (1 + erf(x / √2))` (`hidden_act: "gelu"`).
    case gelu
    /// Tanh approximation: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`
    /// (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    case geluTanh
    /// `max(0, x)`.
    case relu
    /// `tanh(x)` (the pooler's activation).
    case tanh

    /// Maps a config's `hidden_act` string.
    ///
    /// - Throws: `BertError.config` naming the value when it is not one BertBLAS implements.
    public init(hiddenAct: String) throws {
        switch hiddenAct {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        case "tanh": self = .tanh
        default:
            throw BertError(.config, "hidden_act \"\(hiddenAct)\" is not supported (use gelu, gelu_new, gelu_pytorch_tanh, gelu_fast or relu)")
        }
    }

    /// Applies the activation to every element of `x` (vectorized; see `VectorMath`).
    public func apply(_ x: UnsafeMutableBufferPointer<Float>) {
        // One loop per activation, the switch outside it: with the switch inside the loop body
        // (`VectorMath.map(x) { vector($0) }`) the compiler kept every case's code in the loop,
        // and GELU ran at 1.96 instead of 1.15 ns per element (`bench kernels`, one thread).
        switch self {
        case .gelu: VectorMath.map(x) { Self.gelu($0) }
        case .geluTanh: VectorMath.map(x) { Self.geluTanh($0) }
        case .relu: VectorMath.map(x) { Self.relu($0) }
        case .tanh: VectorMath.map(x) { VectorMath.tanh($0) }
        }
    }

    /// `x[r, j] = activation(x[r, j] + bias[j])` over `rows` rows of `width` (row stride `stride`):
    /// a Linear's bias and its activation in one pass (BERT's intermediate layer).
    public func apply(rows: Int, width: Int, _ x: UnsafeMutablePointer<Float>, stride: Int? = nil,
                      bias: UnsafePointer<Float>) {
        let ld = stride ?? width
        switch self {
        case .gelu: Self.mapRows(rows: rows, width: width, x, stride: ld, bias: bias) { Self.gelu($0) }
        case .geluTanh: Self.mapRows(rows: rows, width: width, x, stride: ld, bias: bias) { Self.geluTanh($0) }
        case .relu: Self.mapRows(rows: rows, width: width, x, stride: ld, bias: bias) { Self.relu($0) }
        case .tanh: Self.mapRows(rows: rows, width: width, x, stride: ld, bias: bias) { VectorMath.tanh($0) }
        }
    }

    /// `body(x + bias)` written back over each row, 8 lanes at a time (the tail padded).
    @inline(__always)
    private static func mapRows(rows: Int, width: Int, _ x: UnsafeMutablePointer<Float>, stride ld: Int,
                                bias: UnsafePointer<Float>, _ body: (VectorMath.Vector) -> VectorMath.Vector) {
        let whole = width & ~7
        let rawBias = UnsafeRawPointer(bias)
        for r in 0..<rows {
            let row = x + r * ld
            let raw = UnsafeMutableRawPointer(row)
            var j = 0
            while j < whole {
                let v = raw.loadUnaligned(fromByteOffset: j * 4, as: VectorMath.Vector.self)
                    + rawBias.loadUnaligned(fromByteOffset: j * 4, as: VectorMath.Vector.self)
                raw.storeBytes(of: body(v), toByteOffset: j * 4, as: VectorMath.Vector.self)
                j += 8
            }
            if j < width {
                var v = VectorMath.Vector()
                for t in j..<width { v[t - j] = row[t] + bias[t] }
                let out = body(v)
                for t in j..<width { row[t] = out[t - j] }
            }
        }
    }

    @inline(__always)
    static func gelu(_ v: VectorMath.Vector) -> VectorMath.Vector {
        0.5 * v * (1 + VectorMath.erf(v * 0.70710678118654752))
    }

    @inline(__always)
    static func geluTanh(_ v: VectorMath.Vector) -> VectorMath.Vector {
        0.5 * v * (1 + VectorMath.tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)))
    }

    @inline(__always)
    static func relu(_ v: VectorMath.Vector) -> VectorMath.Vector {
        v.replacing(with: 0, where: v .< 0)
    }

    /// The activation of 8 lanes.
    @inline(__always)
    func vector(_ v: VectorMath.Vector) -> VectorMath.Vector {
        switch self {
        case .gelu: return Self.gelu(v)
        case .geluTanh: return Self.geluTanh(v)
        case .relu: return Self.relu(v)
        case .tanh: return VectorMath.tanh(v)
        }
    }

    /// The scalar definition, with libm's `erf`/`tanh`: the reference the vectorized form is
    /// tested against.
    public func reference(_ v: Float) -> Float {
        switch self {
        case .gelu: return 0.5 * v * (1 + Foundation.erf(v * 0.70710678118654752))
        case .geluTanh: return 0.5 * v * (1 + Foundation.tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)))
        case .relu: return max(0, v)
        case .tanh: return Foundation.tanh(v)
        }
    }
}
