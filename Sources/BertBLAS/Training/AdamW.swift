import Foundation

/// HF Trainer's learning-rate schedule: linear warm-up from 0, then linear decay to 0.
///
/// Reference: transformers `get_linear_schedule_with_warmup` (v4.57.1): the factor at step s
/// (0-based, the step about to be taken) is `s / warmup` during warm-up, then
/// `max(0, (total − s) / (total − warmup))`. Step 0 therefore runs at learning rate 0 when
/// there is a warm-up, as in the Trainer.
public struct LinearSchedule: Sendable, Equatable {
    public let peak: Float
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(peak: Float, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The learning rate of step `step` (0-based).
    public func learningRate(step: Int) -> Float {
        let factor: Double
        if step < warmupSteps {
            factor = Double(step) / Double(max(1, warmupSteps))
        } else {
            factor = max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        }
        return Float(Double(peak) * factor)
    }
}

/// AdamW over a `ParameterSet`, as `torch.optim.AdamW` computes it, with HF Trainer's grouping
/// (no weight decay on biases and LayerNorm weights: `ParameterSet.Entry.decays`) and gradient
/// clipping by global norm (`torch.nn.utils.clip_grad_norm_`).
///
/// Per element, at step t (1-based): `p −= lr·wd·p` (decaying entries only),
/// `m = β1 m + (1 − β1) g`, `v = β2 v + (1 − β2) g²`,
/// `p −= lr / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)`.
/// Reference: torch 2.x `torch/optim/adamw.py` (`_single_tensor_adamw`), transformers
/// `Trainer.create_optimizer` / `get_decay_parameter_names` (v4.57.1).
public final class AdamW {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    /// Steps taken so far.
    public private(set) var step = 0
    private let moments: UnsafeMutableBufferPointer<Float>  // m then v, 2 × count
    private let count: Int

    /// - Parameters:
    ///   - parameters: the set it will update (sizes its moment buffers).
    ///   - beta1, beta2, epsilon: Adam's constants (torch defaults 0.9, 0.999, 1e-8).
    ///   - weightDecay: decoupled weight decay for decaying entries (HF Trainer's default 0).
    public init(for parameters: ParameterSet, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        count = parameters.count
        moments = .allocate(capacity: max(2 * count, 1))
        moments.initialize(repeating: 0)
    }

    deinit { moments.deallocate() }

    /// The global L2 norm of all gradients (in Double).
    public static func gradientNorm(_ parameters: ParameterSet) -> Float {
        var sum = 0.0
        for g in parameters.gradients { sum += Double(g) * Double(g) }
        return Float(sum.squareRoot())
    }

    /// Scales the gradients so that their global norm is at most `maxNorm`, as
    /// `clip_grad_norm_`: by `min(1, maxNorm / (norm + 1e-6))`.
    ///
    /// - Returns: the norm before clipping.
    @discardableResult
    public static func clipGradients(_ parameters: ParameterSet, maxNorm: Float) -> Float {
        let norm = gradientNorm(parameters)
        let coefficient = min(1, maxNorm / (norm + 1e-6))
        if coefficient < 1 {
            for i in parameters.gradients.indices { parameters.gradients[i] *= coefficient }
        }
        return norm
    }

    /// Applies one step with learning rate `learningRate` to `parameters` from their gradients.
    ///
    /// - Throws: `BertError.invalidInput` when `parameters` is not the set this optimizer was
    ///   made for (a different size).
    public func update(_ parameters: ParameterSet, learningRate lr: Float) throws {
        guard parameters.count == count else {
            throw BertError(.invalidInput, "AdamW was made for \(count) parameters, got a set of \(parameters.count)")
        }
        step += 1
        // The scalars in Double, as torch computes them in Python floats.
        let t = Double(step)
        let bias1 = 1 - Foundation.pow(Double(beta1), t)
        let bias2Root = Float((1 - Foundation.pow(Double(beta2), t)).squareRoot())
        let stepSize = Float(Double(lr) / bias1)
        let decayFactor = Float(1 - Double(lr) * Double(weightDecay))
        guard let m = moments.baseAddress, let p = parameters.values.baseAddress,
              let g = parameters.gradients.baseAddress else { return }
        let v = m + count
        let b1 = beta1, b2 = beta2, eps = epsilon
        for entry in parameters.entries {
            let start = entry.parameter.offset, end = start + entry.parameter.count
            let decay: Float = entry.decays ? decayFactor : 1
            for i in start..<end {
                let gi = g[i]
                if decay != 1 { p[i] *= decay }
                // torch: exp_avg.lerp_(grad, 1 − β1), exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2)
                m[i] += (gi - m[i]) * (1 - b1)
                v[i] = v[i] * b2 + (1 - b2) * gi * gi
                let denominator = v[i].squareRoot() / bias2Root + eps
                p[i] -= stepSize * (m[i] / denominator)
            }
        }
    }
}
