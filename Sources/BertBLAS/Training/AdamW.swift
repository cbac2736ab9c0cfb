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

    /// HF Trainer's `warmup_ratio`: ceil(ratio × total) warm-up steps.
    public init(peak: Float, warmupRatio: Double, totalSteps: Int) {
        self.init(peak: peak, warmupSteps: Int((Double(totalSteps) * warmupRatio).rounded(.up)), totalSteps: totalSteps)
    }

    /// The number of steps of `epochs` passes over `examples` in batches of `batchSize`.
    public static func steps(examples: Int, batchSize: Int, epochs: Int) -> Int {
        (examples + batchSize - 1) / batchSize * epochs
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
/// `p −= lr / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)` (the division by √(1 − β2ᵗ) as a
/// multiplication by its inverse).
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
    /// The update's tasks: pieces of at most `ParameterSet.chunkSize` elements, each inside one
    /// entry (one weight-decay setting).
    private let chunks: [(start: Int, count: Int, decays: Bool)]
    /// The row-tracked parameter (`ParameterSet.RowTracking`, the word embeddings) and its
    /// chunks in `chunks`; nil when the set tracks none.
    private let tracked: (parameter: ParameterSet.Parameter, width: Int, decays: Bool, chunks: Range<Int>)?
    /// The tracked parameter's rows whose gradient has been non-zero in some step (listed in
    /// `activeRows`). The others have m = v = 0 and a zero gradient, so that without weight decay
    /// a step leaves them exactly as they are (`p − lr · 0 / (0 + ε)` = p), and is skipped.
    private var active: [Bool]
    private(set) var activeRows: [Int32] = []
    /// Every row counts as active: the parameter's gradient was once written whole.
    private var allActive = false

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
        var chunks: [(start: Int, count: Int, decays: Bool)] = []
        var tracked: (parameter: ParameterSet.Parameter, width: Int, decays: Bool, chunks: Range<Int>)?
        for entry in parameters.entries {
            let start = entry.parameter.offset, end = start + entry.parameter.count
            let first = chunks.count
            for s in stride(from: start, to: end, by: ParameterSet.chunkSize) {
                chunks.append((s, min(ParameterSet.chunkSize, end - s), entry.decays))
            }
            if let t = parameters.tracking, t.parameter == entry.parameter {
                tracked = (t.parameter, t.width, entry.decays, first..<chunks.count)
            }
        }
        self.chunks = chunks
        self.tracked = tracked
        active = Array(repeating: false, count: tracked.map { $0.parameter.count / $0.width } ?? 0)
        moments = .allocate(capacity: max(2 * count, 1))
        moments.initialize(repeating: 0)
    }

    deinit { moments.deallocate() }

    /// The global L2 norm of all gradients: squares summed in Float over blocks of 1,024,
    /// the blocks' sums in Double, in a fixed order (the same value on any number of threads).
    ///
    /// Of a chunk inside the row-tracked parameter only the blocks holding rows written since
    /// the last zeroing are summed: the others are 0, and adding 0.0 changes no sum, so the
    /// norm is the one of the whole arena, bit for bit.
    public static func gradientNorm(_ parameters: ParameterSet) -> Float {
        guard let g = parameters.gradients.baseAddress else { return 0 }
        let total = parameters.count, chunks = ParameterSet.chunkCount(total)
        let sum = parameters.withSortedWrittenRows { sparse in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: max(chunks, 1)) { partial -> Double in
                ComputePool.shared.parallelFor(chunks) { c in
                    let (start, count) = ParameterSet.chunk(c, of: total)
                    guard let (parameter, width, rows) = sparse, start >= parameter.offset,
                          start + count <= parameter.offset + parameter.count else {
                        partial[c] = squaredSum(g + start, count: count)
                        return
                    }
                    partial[c] = writtenBlocksSum(g, chunk: start..<(start + count), offset: parameter.offset, width: width, rows: rows)
                }
                var total = 0.0
                for c in 0..<chunks { total += partial[c] }
                return total
            }
        }
        return Float(sum.squareRoot())
    }

    /// `squaredSum` of a chunk of the tracked parameter (`offset`, rows of `width`) whose only
    /// non-zero rows are among `rows` (ascending): its 1,024-float blocks that hold such a row,
    /// in order, each summed as `squaredSum` sums it.
    private static func writtenBlocksSum(_ g: UnsafePointer<Float>, chunk: Range<Int>, offset: Int, width: Int,
                                         rows: UnsafeBufferPointer<Int32>) -> Double {
        // The first row ending after the chunk's start.
        var low = 0, high = rows.count
        while low < high {
            let mid = (low + high) / 2
            if offset + (Int(rows[mid]) + 1) * width <= chunk.lowerBound { low = mid + 1 } else { high = mid }
        }
        var total = 0.0
        var nextBlock = chunk.lowerBound  // blocks before it are summed
        var r = low
        while r < rows.count {
            let rowStart = offset + Int(rows[r]) * width
            if rowStart >= chunk.upperBound { break }
            let rowEnd = min(rowStart + width, chunk.upperBound)
            // The row's blocks not yet summed; chunk starts are multiples of 1,024.
            var block = max(nextBlock, (max(rowStart, chunk.lowerBound) / 1024) * 1024)
            while block < rowEnd {
                let end = min(block + 1024, chunk.upperBound)
                total += squaredSum(g + block, count: end - block)
                block = end
            }
            nextBlock = max(nextBlock, block)
            r += 1
        }
        return total
    }

    /// Σ x² over `count` floats: 8 lanes in Float over blocks of 1,024, then Double.
    static func squaredSum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var total = 0.0
        var blockStart = 0
        while blockStart < count {
            let end = min(blockStart + 1024, count), whole = blockStart + ((end - blockStart) & ~7)
            var lanes = RowGradients.Vector()
            var i = blockStart
            while i < whole { let v = RowGradients.load(x, i); lanes += v * v; i += 8 }
            var block = Double(lanes.sum())
            while i < end { block += Double(x[i] * x[i]); i += 1 }
            total += block
            blockStart = end
        }
        return total
    }

    /// Scales the gradients so that their global norm is at most `maxNorm`, as
    /// `clip_grad_norm_`: by `min(1, maxNorm / (norm + 1e-6))`. Both passes run on the compute
    /// threads.
    ///
    /// - Returns: the norm before clipping.
    @discardableResult
    public static func clipGradients(_ parameters: ParameterSet, maxNorm: Float) -> Float {
        let norm = gradientNorm(parameters)
        let coefficient = min(1, maxNorm / (norm + 1e-6))
        if coefficient < 1, let g = parameters.gradients.baseAddress {
            ComputePool.shared.parallelFor(ParameterSet.chunkCount(parameters.count)) { c in
                let (start, count) = ParameterSet.chunk(c, of: parameters.count)
                let x = g + start, whole = count & ~7
                var i = 0
                while i < whole { RowGradients.store(RowGradients.load(x, i) * coefficient, x, i); i += 8 }
                while i < count { x[i] *= coefficient; i += 1 }
            }
        }
        return norm
    }

    /// Applies one step with learning rate `learningRate` to `parameters` from their gradients,
    /// on the compute threads (each element is computed as the one-thread loop computes it, so
    /// the result does not depend on the number of threads).
    ///
    /// - Throws: `BertError.invalidInput` when `parameters` is not the set this optimizer was
    ///   made for (a different size).
    public func update(_ parameters: ParameterSet, learningRate lr: Float) throws {
        try update(parameters, learningRate: lr, gradientScale: 1)
    }

    /// Clips the gradients' global norm at `maxNorm` and applies one step: what `clipGradients`
    /// then `update(_:learningRate:)` compute, bit for bit, with the clipping factor applied to
    /// each gradient inside the update (one pass over the gradients fewer). The gradients are
    /// left unscaled.
    ///
    /// - Returns: the norm before clipping.
    /// - Throws: `BertError.invalidInput` when `parameters` is not the set this optimizer was
    ///   made for.
    @discardableResult
    public func update(_ parameters: ParameterSet, learningRate lr: Float, clippingNormTo maxNorm: Float) throws -> Float {
        let norm = Self.gradientNorm(parameters)
        try update(parameters, learningRate: lr, gradientNorm: norm, maxNorm: maxNorm)
        return norm
    }

    /// `update(_:learningRate:clippingNormTo:)` with the norm already computed: `norm` is
    /// `gradientNorm(parameters)` of these gradients.
    public func update(_ parameters: ParameterSet, learningRate lr: Float, gradientNorm norm: Float, maxNorm: Float) throws {
        try update(parameters, learningRate: lr, gradientScale: min(1, maxNorm / (norm + 1e-6)))
    }

    /// The update with every gradient multiplied by `gradientScale` first (as `clipGradients`
    /// scales it when the factor is below 1).
    private func update(_ parameters: ParameterSet, learningRate lr: Float, gradientScale: Float) throws {
        guard parameters.count == count else {
            throw BertError(.invalidInput, "AdamW was made for \(count) parameters, got a set of \(parameters.count)")
        }
        let scale: Float = gradientScale < 1 ? gradientScale : 1
        step += 1
        // The scalars in Double, as torch computes them in Python floats.
        let t = Double(step)
        let bias1 = 1 - Foundation.pow(Double(beta1), t)
        // 1/√(1 − β2ᵗ): one multiply per element where torch divides (within an ulp of it).
        let inverseBias2Root = Float(1 / (1 - Foundation.pow(Double(beta2), t)).squareRoot())
        let stepSize = Float(Double(lr) / bias1)
        let decayFactor = Float(1 - Double(lr) * Double(weightDecay))
        guard let m = moments.baseAddress, let p = parameters.values.baseAddress,
              let g = parameters.gradients.baseAddress else { return }
        let v = m + count
        let b1 = beta1, b2 = beta2, eps = epsilon
        // The tracked parameter's rows: only the active ones when a step leaves the others as
        // they are (no weight decay on them).
        var skipped = 0..<0
        var rowTasks = 0, rowsPerTask = 1, rowWidth = 0, rowOffset = 0, rowDecay: Float = 1
        if let tracked, let tracking = parameters.tracking, tracking.parameter == tracked.parameter {
            if tracking.dense { allActive = true }
            if !allActive {
                for r in tracking.rows where !active[Int(r)] {
                    active[Int(r)] = true
                    activeRows.append(r)
                }
            }
            rowDecay = tracked.decays ? decayFactor : 1
            if !allActive && rowDecay == 1 {
                skipped = tracked.chunks
                rowWidth = tracked.width
                rowOffset = tracked.parameter.offset
                rowsPerTask = max(1, ParameterSet.chunkSize / rowWidth)
                rowTasks = (activeRows.count + rowsPerTask - 1) / rowsPerTask
            }
        }
        /// Elements `start ..< end`.
        @inline(__always) func advance(_ start: Int, _ end: Int, decay: Float) {
            let whole = start + ((end - start) & ~7)
            var i = start
            while i < whole {
                let gi = RowGradients.load(g, i) * scale
                var pi = RowGradients.load(p, i), mi = RowGradients.load(m, i), vi = RowGradients.load(v, i)
                if decay != 1 { pi *= decay }
                mi += (gi - mi) * (1 - b1)
                vi = vi * b2 + (1 - b2) * gi * gi
                let denominator = vi.squareRoot() * inverseBias2Root + eps
                pi -= stepSize * (mi / denominator)
                RowGradients.store(pi, p, i)
                RowGradients.store(mi, m, i)
                RowGradients.store(vi, v, i)
                i += 8
            }
            while i < end {
                let gi = g[i] * scale
                if decay != 1 { p[i] *= decay }
                // torch: exp_avg.lerp_(grad, 1 − β1), exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2)
                m[i] += (gi - m[i]) * (1 - b1)
                v[i] = v[i] * b2 + (1 - b2) * gi * gi
                let denominator = v[i].squareRoot() * inverseBias2Root + eps
                p[i] -= stepSize * (m[i] / denominator)
                i += 1
            }
        }
        let chunkTasks = chunks.count - skipped.count
        chunks.withUnsafeBufferPointer { chunks in
            activeRows.withUnsafeBufferPointer { activeRows in
                ComputePool.shared.parallelFor(chunkTasks + rowTasks) { task in
                    if task < chunkTasks {
                        let chunk = chunks[task < skipped.lowerBound ? task : task + skipped.count]
                        advance(chunk.start, chunk.start + chunk.count, decay: chunk.decays ? decayFactor : 1)
                    } else {
                        let first = (task - chunkTasks) * rowsPerTask
                        for r in first..<min(first + rowsPerTask, activeRows.count) {
                            let rowStart = rowOffset + Int(activeRows[r]) * rowWidth
                            advance(rowStart, rowStart + rowWidth, decay: rowDecay)
                        }
                    }
                }
            }
        }
    }
}
