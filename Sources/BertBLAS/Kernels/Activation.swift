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

    /// Applies the activation to every element of `x`.
    public func apply(_ x: UnsafeMutableBufferPointer<Float>) {
        switch self {
        case .gelu:
            let invSqrt2: Float = 0.70710678118654752
            for i in x.indices { let v = x[i]; x[i] = 0.5 * v * (1 + erf(v * invSqrt2)) }
        case .geluTanh:
            let c: Float = 0.79788456080286536  // √(2/π)
            for i in x.indices { let v = x[i]; x[i] = 0.5 * v * (1 + Foundation.tanh(c * (v + 0.044715 * v * v * v))) }
        case .relu:
            for i in x.indices { x[i] = max(0, x[i]) }
        case .tanh:
            for i in x.indices { x[i] = Foundation.tanh(x[i]) }
        }
    }
}
