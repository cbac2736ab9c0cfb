/// One post-LN transformer layer with its backward pass, on packed batches (no padding):
/// `a = LN(x + Wo·attention(x) + bo)`, `y = LN(a + W2·act(W1·a + b1) + b2)`.
///
/// The forward runs the same kernels as `EncoderLayer` (Gemm, `RowOps.softmax`,
/// `RowOps.layerNorm`, `Activation`) in the same arithmetic order, and keeps in the
/// `TrainingWorkspace` what the backward needs: Q, K, V, the attention probabilities, the
/// context, the inputs of both LayerNorms, the activation's output and its derivative.
/// Reference: transformers `BertLayer` / `BertSelfAttention` (eager) / `BertSelfOutput` /
/// `BertIntermediate` / `BertOutput` (v4.57.1), with `Dropout` in train mode.
struct TrainableEncoderLayer: Sendable {
    let query: TrainableLinear
    let key: TrainableLinear
    let value: TrainableLinear
    let attentionOutput: TrainableLinear
    let attentionNorm: TrainableLayerNorm
    let intermediate: TrainableLinear
    let output: TrainableLinear
    let outputNorm: TrainableLayerNorm
    let activation: Activation
    let heads: Int

    /// - Throws: `BertError.missingTensor` / `.shape` from the checkpoint lookup, `.config` for an
    ///   unsupported `hidden_act`.
    init(_ weights: WeightStore, index: Int, config: BertConfig, into builder: inout ParameterSet.Builder) throws {
        let names = config.tensorNames.layer(index)
        let h = config.hiddenSize, i = config.intermediateSize, eps = config.layerNormEps
        query = try TrainableLinear(weights, names.query, inFeatures: h, outFeatures: h, into: &builder)
        key = try TrainableLinear(weights, names.key, inFeatures: h, outFeatures: h, into: &builder)
        value = try TrainableLinear(weights, names.value, inFeatures: h, outFeatures: h, into: &builder)
        attentionOutput = try TrainableLinear(weights, names.attentionOutput, inFeatures: h, outFeatures: h, into: &builder)
        attentionNorm = try TrainableLayerNorm(weights, names.attentionLayerNorm, width: h, eps: eps, into: &builder)
        intermediate = try TrainableLinear(weights, names.intermediate, inFeatures: h, outFeatures: i, into: &builder)
        output = try TrainableLinear(weights, names.output, inFeatures: i, outFeatures: h, into: &builder)
        outputNorm = try TrainableLayerNorm(weights, names.outputLayerNorm, width: h, eps: eps, into: &builder)
        activation = try Activation(hiddenAct: config.hiddenAct)
        heads = config.numAttentionHeads
    }

    /// Forward from `ws.hidden[l]` to `ws.hidden[l + 1]` over `n` tokens, keeping activations in
    /// `ws.layers[l]`. `dropoutKeys` (train mode) are the mask keys of the attention
    /// probabilities, the attention output and the feed-forward output, with the probabilities
    /// `ws.attentionDropout` / `ws.hiddenDropout`; nil drops nothing.
    func forward(_ p: ParameterSet, _ ws: TrainingWorkspace, layer l: Int, tokens n: Int, kernel: Kernel,
                 dropoutKeys: [UInt64]? = nil) {
        let x = ws.hidden[l], y = ws.hidden[l + 1], kept = ws.layers[l]
        let h = ws.hiddenSize, inner = intermediate.outFeatures
        query.forward(p, x, rows: n, into: kept.query, kernel: kernel)
        key.forward(p, x, rows: n, into: kept.key, kernel: kernel)
        value.forward(p, x, rows: n, into: kept.value, kernel: kernel)
        let hiddenDropout = dropoutKeys == nil ? 0 : ws.hiddenDropout
        attention(ws, kept, kernel: kernel, dropoutKey: ws.attentionDropout > 0 ? dropoutKeys?[0] : nil)
        // attentionSum = dropout(context Woᵀ + bo) + x, summed as RowOps.layerNorm sums its inputs.
        attentionOutput.product(p, kept.context, rows: n, into: kept.attentionSum, kernel: kernel)
        RowOps.addBias(rows: n, width: h, kept.attentionSum, bias: p.value(attentionOutput.bias))
        if hiddenDropout > 0, let keys = dropoutKeys {
            Dropout.draw(kept.attentionOutputMask, rows: n, width: h, probability: hiddenDropout, key: keys[1],
                         applyTo: kept.attentionSum)
        }
        RowGradients.add(x, to: kept.attentionSum, count: n * h)
        attentionNorm.forward(p, kept.attentionSum, rows: n, into: kept.attentionNorm)
        // inner = a W1ᵀ + b1; its activation (kept for dW2) and, over `inner`, the activation's
        // derivative (kept for dInner), one erf for both, in row panels on the compute threads.
        intermediate.product(p, kept.attentionNorm, rows: n, into: kept.inner, kernel: kernel)
        let activation = self.activation, b1 = p.value(intermediate.bias), activated = kept.activated
        RowGradients.rowPanels(rows: n, width: inner) { r0, rows in
            let x = kept.inner + r0 * inner
            RowOps.addBias(rows: rows, width: inner, x, bias: b1)
            RowGradients.activationAndDerivative(activation, x, output: activated + r0 * inner, count: rows * inner)
        }
        output.product(p, activated, rows: n, into: kept.outputSum, kernel: kernel)
        RowOps.addBias(rows: n, width: h, kept.outputSum, bias: p.value(output.bias))
        if hiddenDropout > 0, let keys = dropoutKeys {
            Dropout.draw(kept.outputMask, rows: n, width: h, probability: hiddenDropout, key: keys[2], applyTo: kept.outputSum)
        }
        RowGradients.add(kept.attentionNorm, to: kept.outputSum, count: n * h)
        outputNorm.forward(p, kept.outputSum, rows: n, into: y)
    }

    /// `context = dropout(softmax(Q Kᵀ / √D)) V` per (sequence, head), keeping the probabilities
    /// (before dropout) and, with `dropoutKey`, the mask; the dropped probabilities live only in
    /// the slot's scratch.
    private func attention(_ ws: TrainingWorkspace, _ kept: TrainingWorkspace.Layer, kernel: Kernel, dropoutKey: UInt64?) {
        let p = ws.attentionDropout, tt = ws.maxLength * ws.maxLength
        let heads = self.heads, h = ws.hiddenSize, d = h / heads
        let scale = 1 / Float(d).squareRoot()
        ws.starts.withUnsafeBufferPointer { starts in
            ws.lengths.withUnsafeBufferPointer { lengths in
                ws.probabilityStarts.withUnsafeBufferPointer { probabilityStarts in
                    ComputePool.shared.parallelFor(starts.count * heads) { task, slot in
                        let b = task / heads, head = task % heads
                        let t = lengths[b]
                        let column = starts[b] * h + head * d
                        let offset = probabilityStarts[b] + head * t * t
                        let probabilities = kept.probabilities + offset
                        // scores[T, T] = scale · Q_h Kᵀ_h, then softmax per row (kept).
                        Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, alpha: scale,
                                   a: kept.query + column, lda: h, b: kept.key + column, ldb: h,
                                   c: probabilities, ldc: t, parallel: false)
                        RowOps.softmax(rows: t, width: t, probabilities)
                        var used = UnsafePointer(probabilities)
                        if let dropoutKey {
                            // The mask at the probabilities' own indices; P ⊙ mask in the slot's scratch.
                            let mask = kept.attentionMask + offset, dropped = ws.dScores + slot * tt
                            Dropout.fill(mask, count: t * t, first: offset, probability: p, key: dropoutKey)
                            dropped.update(from: probabilities, count: t * t)
                            RowGradients.multiply(dropped, by: mask, count: t * t)
                            used = UnsafePointer(dropped)
                        }
                        // context_h[T, D] = P · V_h
                        Gemm.sgemm(kernel, m: t, n: d, k: t, a: used, lda: t,
                                   b: kept.value + column, ldb: h, c: kept.context + column, ldc: h, parallel: false)
                    }
                }
            }
        }
    }

    /// Backward from `ws.dHidden` (the gradient of `hidden[l + 1]`) to the gradient of
    /// `hidden[l]`, written back into `ws.dHidden`; parameter gradients are accumulated.
    func backward(_ p: ParameterSet, _ ws: TrainingWorkspace, layer l: Int, tokens n: Int, kernel: Kernel) {
        let x = ws.hidden[l], kept = ws.layers[l]
        let h = ws.hiddenSize, inner = intermediate.outFeatures
        let dy = ws.dHidden, dropout = ws.hiddenDropout > 0
        // dOutputSum = LN2ᵀ(dy), in place.
        outputNorm.backward(p, input: kept.outputSum, rows: n, dOutput: dy, into: dy)
        // The dense output's gradient: dOutputSum ⊙ mask with dropout (dKey is free until the
        // attention backward), dOutputSum itself without.
        var dDense = UnsafePointer(dy)
        if dropout {
            RowGradients.multiply(dy, kept.outputMask, into: ws.dKey, rows: n, width: h)
            dDense = UnsafePointer(ws.dKey)
        }
        // dW2 from the kept activation; dInner = (dOutputSum W2) ⊙ act'(inner), the derivative
        // kept by the forward.
        let dInner = ws.dInner
        output.backward(p, dY: dDense, x: kept.activated, rows: n, dX: dInner, kernel: kernel)
        RowGradients.rowPanels(rows: n, width: inner) { r0, rows in
            RowGradients.multiply(dInner + r0 * inner, by: kept.inner + r0 * inner, count: rows * inner)
        }
        // dAttentionNorm = dOutputSum (residual) + dInner W1.
        intermediate.backward(p, dY: ws.dInner, x: kept.attentionNorm, rows: n, dX: dy, accumulate: true, kernel: kernel)
        // dAttentionSum = LN1ᵀ(dAttentionNorm), in place.
        attentionNorm.backward(p, input: kept.attentionSum, rows: n, dOutput: dy, into: dy)
        // The same for the attention output (dQuery is free until the attention backward).
        var dAttentionDense = UnsafePointer(dy)
        if dropout {
            RowGradients.multiply(dy, kept.attentionOutputMask, into: ws.dQuery, rows: n, width: h)
            dAttentionDense = UnsafePointer(ws.dQuery)
        }
        attentionOutput.backward(p, dY: dAttentionDense, x: kept.context, rows: n, dX: ws.dContext, kernel: kernel)
        attentionBackward(ws, kept, kernel: kernel)
        // dx = dAttentionSum (residual) + dQ Wq + dK Wk + dV Wv.
        query.backward(p, dY: ws.dQuery, x: x, rows: n, dX: dy, accumulate: true, kernel: kernel)
        key.backward(p, dY: ws.dKey, x: x, rows: n, dX: dy, accumulate: true, kernel: kernel)
        value.backward(p, dY: ws.dValue, x: x, rows: n, dX: dy, accumulate: true, kernel: kernel)
    }

    /// From `ws.dContext`, the gradients of Q, K and V per (sequence, head):
    /// `dP = dC Vᵀ`, `dV = Pᵀ dC`, `dS = softmaxᵀ(dP)`, `dQ = s·dS K`, `dK = s·dSᵀ Q`.
    /// Each task writes its own (rows, head columns) of dQ/dK/dV; `dS` is per-slot scratch.
    private func attentionBackward(_ ws: TrainingWorkspace, _ kept: TrainingWorkspace.Layer, kernel: Kernel) {
        let heads = self.heads, h = ws.hiddenSize, d = h / heads
        let scale = 1 / Float(d).squareRoot()
        let tt = ws.maxLength * ws.maxLength
        let dropout = ws.attentionDropout > 0
        ws.starts.withUnsafeBufferPointer { starts in
            ws.lengths.withUnsafeBufferPointer { lengths in
                ws.probabilityStarts.withUnsafeBufferPointer { probabilityStarts in
                    ComputePool.shared.parallelFor(starts.count * heads) { task, slot in
                        let b = task / heads, head = task % heads
                        let t = lengths[b]
                        let column = starts[b] * h + head * d
                        let offset = probabilityStarts[b] + head * t * t
                        let probabilities = kept.probabilities + offset
                        let dScores = ws.dScores + slot * tt
                        if dropout {
                            // dV_h = (P ⊙ mask)ᵀ · dC_h, the dropped probabilities rebuilt in the scratch.
                            let mask = kept.attentionMask + offset
                            dScores.update(from: probabilities, count: t * t)
                            RowGradients.multiply(dScores, by: mask, count: t * t)
                            Gemm.sgemm(kernel, transA: true, m: t, n: d, k: t, a: dScores, lda: t,
                                       b: ws.dContext + column, ldb: h, c: ws.dValue + column, ldc: h, parallel: false)
                            // dP = (dC_h · V_hᵀ) ⊙ mask
                            Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, a: ws.dContext + column, lda: h,
                                       b: kept.value + column, ldb: h, c: dScores, ldc: t, parallel: false)
                            RowGradients.multiply(dScores, by: mask, count: t * t)
                        } else {
                            // dP[T, T] = dC_h · V_hᵀ
                            Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, a: ws.dContext + column, lda: h,
                                       b: kept.value + column, ldb: h, c: dScores, ldc: t, parallel: false)
                            // dV_h[T, D] = Pᵀ · dC_h
                            Gemm.sgemm(kernel, transA: true, m: t, n: d, k: t, a: probabilities, lda: t,
                                       b: ws.dContext + column, ldb: h, c: ws.dValue + column, ldc: h, parallel: false)
                        }
                        RowGradients.softmax(rows: t, width: t, probabilities: probabilities, dScores)
                        // dQ_h = scale · dS · K_h ; dK_h = scale · dSᵀ · Q_h
                        Gemm.sgemm(kernel, m: t, n: d, k: t, alpha: scale, a: dScores, lda: t,
                                   b: kept.key + column, ldb: h, c: ws.dQuery + column, ldc: h, parallel: false)
                        Gemm.sgemm(kernel, transA: true, m: t, n: d, k: t, alpha: scale, a: dScores, lda: t,
                                   b: kept.query + column, ldb: h, c: ws.dKey + column, ldc: h, parallel: false)
                    }
                }
            }
        }
    }
}
