/// One post-LN transformer layer with its backward pass, on packed batches (no padding):
/// `a = LN(x + Wo·attention(x) + bo)`, `y = LN(a + W2·act(W1·a + b1) + b2)`.
///
/// The forward runs the same kernels as `EncoderLayer` (Gemm, `RowOps.softmax`,
/// `RowOps.layerNorm`, `Activation`) in the same arithmetic order, and keeps in the
/// `TrainingWorkspace` what the backward needs: Q, K, V, the attention probabilities, the
/// context, the inputs of both LayerNorms and of the activation.
/// Reference: transformers `BertLayer` / `BertSelfAttention` (eager) / `BertSelfOutput` /
/// `BertIntermediate` / `BertOutput` (v4.57.1), dropout off.
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
    /// `ws.layers[l]`.
    func forward(_ p: ParameterSet, _ ws: TrainingWorkspace, layer l: Int, tokens n: Int, kernel: Kernel) {
        let x = ws.hidden[l], y = ws.hidden[l + 1], kept = ws.layers[l]
        let h = ws.hiddenSize, inner = intermediate.outFeatures
        query.forward(p, x, rows: n, into: kept.query, kernel: kernel)
        key.forward(p, x, rows: n, into: kept.key, kernel: kernel)
        value.forward(p, x, rows: n, into: kept.value, kernel: kernel)
        attention(ws, kept, kernel: kernel)
        // attentionSum = (context Woᵀ + bo) + x, summed as RowOps.layerNorm sums its inputs.
        attentionOutput.product(p, kept.context, rows: n, into: kept.attentionSum, kernel: kernel)
        RowOps.addBias(rows: n, width: h, kept.attentionSum, bias: p.value(attentionOutput.bias))
        RowGradients.add(x, to: kept.attentionSum, count: n * h)
        attentionNorm.forward(p, kept.attentionSum, rows: n, into: kept.attentionNorm)
        // inner = a W1ᵀ + b1 (kept); its activation goes to the dInner scratch (row panels on
        // the compute threads).
        intermediate.product(p, kept.attentionNorm, rows: n, into: kept.inner, kernel: kernel)
        let activation = self.activation, b1 = p.value(intermediate.bias), activated = ws.dInner
        RowGradients.rowPanels(rows: n, width: inner) { r0, rows in
            let x = kept.inner + r0 * inner, y = activated + r0 * inner
            RowOps.addBias(rows: rows, width: inner, x, bias: b1)
            y.update(from: x, count: rows * inner)
            activation.apply(UnsafeMutableBufferPointer(start: y, count: rows * inner))
        }
        output.product(p, ws.dInner, rows: n, into: kept.outputSum, kernel: kernel)
        RowOps.addBias(rows: n, width: h, kept.outputSum, bias: p.value(output.bias))
        RowGradients.add(kept.attentionNorm, to: kept.outputSum, count: n * h)
        outputNorm.forward(p, kept.outputSum, rows: n, into: y)
    }

    /// `context = softmax(Q Kᵀ / √D) V` per (sequence, head), keeping the probabilities.
    private func attention(_ ws: TrainingWorkspace, _ kept: TrainingWorkspace.Layer, kernel: Kernel) {
        let heads = self.heads, h = ws.hiddenSize, d = h / heads
        let scale = 1 / Float(d).squareRoot()
        ws.starts.withUnsafeBufferPointer { starts in
            ws.lengths.withUnsafeBufferPointer { lengths in
                ws.probabilityStarts.withUnsafeBufferPointer { probabilityStarts in
                    ComputePool.shared.parallelFor(starts.count * heads) { task, _ in
                        let b = task / heads, head = task % heads
                        let t = lengths[b]
                        let column = starts[b] * h + head * d
                        let probabilities = kept.probabilities + probabilityStarts[b] + head * t * t
                        // scores[T, T] = scale · Q_h Kᵀ_h, then softmax per row (kept).
                        Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, alpha: scale,
                                   a: kept.query + column, lda: h, b: kept.key + column, ldb: h,
                                   c: probabilities, ldc: t, parallel: false)
                        RowOps.softmax(rows: t, width: t, probabilities)
                        // context_h[T, D] = P · V_h
                        Gemm.sgemm(kernel, m: t, n: d, k: t, a: probabilities, lda: t,
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
        let dy = ws.dHidden
        // dOutputSum = LN2ᵀ(dy), in place.
        outputNorm.backward(p, input: kept.outputSum, rows: n, dOutput: dy, into: dy)
        // The activation's output (recomputed) into dInner, for dW2, and its derivative over the
        // kept `inner` (not read again this step), in one pass; then
        // dInner = (dOutputSum W2) ⊙ act'(inner).
        let activation = self.activation, dInner = ws.dInner
        RowGradients.rowPanels(rows: n, width: inner) { r0, rows in
            RowGradients.activationAndDerivative(activation, kept.inner + r0 * inner, output: dInner + r0 * inner,
                                                 count: rows * inner)
        }
        output.backward(p, dY: dy, x: ws.dInner, rows: n, dX: nil, kernel: kernel)
        Gemm.sgemm(kernel, m: n, n: inner, k: h, a: dy, lda: h, b: p.value(output.weight), ldb: inner,
                   beta: 0, c: ws.dInner, ldc: inner)
        RowGradients.rowPanels(rows: n, width: inner) { r0, rows in
            RowGradients.multiply(dInner + r0 * inner, by: kept.inner + r0 * inner, count: rows * inner)
        }
        // dAttentionNorm = dOutputSum (residual) + dInner W1.
        intermediate.backward(p, dY: ws.dInner, x: kept.attentionNorm, rows: n, dX: dy, accumulate: true, kernel: kernel)
        // dAttentionSum = LN1ᵀ(dAttentionNorm), in place.
        attentionNorm.backward(p, input: kept.attentionSum, rows: n, dOutput: dy, into: dy)
        attentionOutput.backward(p, dY: dy, x: kept.context, rows: n, dX: ws.dContext, kernel: kernel)
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
        ws.starts.withUnsafeBufferPointer { starts in
            ws.lengths.withUnsafeBufferPointer { lengths in
                ws.probabilityStarts.withUnsafeBufferPointer { probabilityStarts in
                    ComputePool.shared.parallelFor(starts.count * heads) { task, slot in
                        let b = task / heads, head = task % heads
                        let t = lengths[b]
                        let column = starts[b] * h + head * d
                        let probabilities = kept.probabilities + probabilityStarts[b] + head * t * t
                        let dScores = ws.dScores + slot * tt
                        // dP[T, T] = dC_h · V_hᵀ
                        Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, a: ws.dContext + column, lda: h,
                                   b: kept.value + column, ldb: h, c: dScores, ldc: t, parallel: false)
                        // dV_h[T, D] = Pᵀ · dC_h
                        Gemm.sgemm(kernel, transA: true, m: t, n: d, k: t, a: probabilities, lda: t,
                                   b: ws.dContext + column, ldb: h, c: ws.dValue + column, ldc: h, parallel: false)
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
