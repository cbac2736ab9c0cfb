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
        VectorMath.map(x) { v in vector(v) }
    }

    /// `x[r, j] = activation(x[r, j] + bias[j])` over `rows` rows of `width` (row stride `stride`):
    /// a Linear's bias and its activation in one pass (BERT's intermediate layer).
    public func apply(rows: Int, width: Int, _ x: UnsafeMutablePointer<Float>, stride: Int? = nil,
                      bias: UnsafePointer<Float>) {
        let ld = stride ?? width
        let whole = width & ~7
        for r in 0..<rows {
            let row = x + r * ld
            let raw = UnsafeMutableRawPointer(row), rawBias = UnsafeRawPointer(bias)
            var j = 0
            while j < whole {
                let v = raw.loadUnaligned(fromByteOffset: j * 4, as: VectorMath.Vector.self)
                    + rawBias.loadUnaligned(fromByteOffset: j * 4, as: VectorMath.Vector.self)
                raw.storeBytes(of: vector(v), toByteOffset: j * 4, as: VectorMath.Vector.self)
                j += 8
            }
            if j < width {
                for t in j..<width { row[t] += bias[t] }
                apply(UnsafeMutableBufferPointer(start: row + j, count: width - j))
            }
        }
    }

    /// The activation of 8 lanes.
    @inline(__always)
    func vector(_ v: VectorMath.Vector) -> VectorMath.Vector {
        switch self {
        case .gelu: return 0.5 * v * (1 + VectorMath.erf(v * 0.70710678118654752))
        case .geluTanh: return 0.5 * v * (1 + VectorMath.tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)))
        case .relu: return v.replacing(with: 0, where: v .< 0)
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
