/// One post-LN transformer layer with its backward pass, on packed batches (no padding):
/// `a = LN(x + Wo·attention(x) + bo)`, `y = LN(a + W2·act(W1·a + b1) + b2)`.
///
/// The forward runs the same kernels as `EncoderLayer` (Gemm, `RowOps.softmax`,
/// `RowOps.layerNorm`, `Activation`) in the same arithmetic order, and keeps in the
/// `TrainingWorkspace` what the backward needs: Q, K, V, the attention probabilities, the
/// context, the inputs of both LayerNorms, the activation's output and its derivative.
///
/// Q, K and V are one product, as `QKVProjection` computes them in inference: the layer's
/// parameters lie in the arena as `[Wq; bq; Wk; bk; Wv]`, one `[3H + 2, H]` matrix with a row
/// stride of H, so `x` times its transpose is Q, K and V side by side (`TrainingWorkspace.qkv`,
/// two columns from the bias rows unread). The backward runs dW and dX as one product each over
/// the same span: `dQKV`'s two bias columns are 0, so the bias rows' gradients get 0 added and
/// the bias rows add 0 to dX.
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
    /// H.
    let width: Int

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
        width = h
        // The one-product layout: each Linear adds its weight then its bias, so the three follow
        // each other (H + 1 rows apart).
        let columns = TrainingWorkspace.qkvColumns(hiddenSize: h)
        guard key.weight.offset == query.weight.offset + columns.key * h,
              value.weight.offset == query.weight.offset + columns.value * h else {
            throw BertError(.invalidInput, "layer \(index): the query, key and value parameters are not [Wq; bq; Wk; bk; Wv] in the parameter set")
        }
    }

    /// Forward from `ws.hidden[l]` to `ws.hidden[l + 1]` over `n` tokens, keeping activations in
    /// `ws.layers[l]`. `dropoutKeys` (train mode) are the mask keys of the attention
    /// probabilities, the attention output and the feed-forward output, with the probabilities
    /// `ws.attentionDropout` / `ws.hiddenDropout`; nil drops nothing.
    func forward(_ p: ParameterSet, _ ws: TrainingWorkspace, layer l: Int, tokens n: Int, kernel: Kernel,
                 dropoutKeys: [UInt64]? = nil) {
        let x = ws.hidden[l], y = ws.hidden[l + 1], kept = ws.layers[l]
        let h = ws.hiddenSize, inner = intermediate.outFeatures
        projectQKV(p, x, rows: n, into: kept.qkv, kernel: kernel)
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

    /// `qkv` `[rows, 3H + 2]` = x `[Wq; bq; Wk; bk; Wv]ᵀ`, each row's biases written first (as
    /// `TrainableLinear.forward`, then the product with beta 1), on the compute threads.
    private func projectQKV(_ p: ParameterSet, _ x: UnsafePointer<Float>, rows n: Int,
                            into qkv: UnsafeMutablePointer<Float>, kernel: Kernel) {
        let h = width, w = TrainingWorkspace.qkvWidth(hiddenSize: h), columns = TrainingWorkspace.qkvColumns(hiddenSize: h)
        let bq = p.value(query.bias), bk = p.value(key.bias), bv = p.value(value.bias)
        RowGradients.rowPanels(rows: n, width: w) { r0, rows in
            for r in r0..<(r0 + rows) {
                let row = qkv + r * w
                (row + columns.query).update(from: bq, count: h)
                row[columns.key - 1] = 0
                (row + columns.key).update(from: bk, count: h)
                row[columns.value - 1] = 0
                (row + columns.value).update(from: bv, count: h)
            }
        }
        TrainableLinear.sgemm(kernel, transB: true, m: n, n: w, k: h, a: x, lda: h, b: p.value(query.weight), ldb: h,
                              beta: 1, c: qkv, ldc: w)
    }

    /// `context = dropout(softmax(Q Kᵀ / √D)) V` per (sequence, head), keeping the probabilities
    /// (before dropout) and, with `dropoutKey`, the mask; the dropped probabilities live only in
    /// the slot's scratch.
    private func attention(_ ws: TrainingWorkspace, _ kept: TrainingWorkspace.Layer, kernel: Kernel, dropoutKey: UInt64?) {
        let p = ws.attentionDropout, tt = ws.maxLength * ws.maxLength
        let heads = self.heads, h = ws.hiddenSize, d = h / heads
        let w = TrainingWorkspace.qkvWidth(hiddenSize: h), columns = TrainingWorkspace.qkvColumns(hiddenSize: h)
        let scale = 1 / Float(d).squareRoot()
        ws.starts.withUnsafeBufferPointer { starts in
            ws.lengths.withUnsafeBufferPointer { lengths in
                ws.probabilityStarts.withUnsafeBufferPointer { probabilityStarts in
                    ComputePool.shared.parallelFor(starts.count * heads) { task, slot in
                        let b = task / heads, head = task % heads
                        let t = lengths[b]
                        let column = starts[b] * h + head * d, qkv = kept.qkv + starts[b] * w + head * d
                        let offset = probabilityStarts[b] + head * t * t
                        let probabilities = kept.probabilities + offset
                        // scores[T, T] = scale · Q_h Kᵀ_h, then softmax per row (kept).
                        Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, alpha: scale,
                                   a: qkv + columns.query, lda: w, b: qkv + columns.key, ldb: w,
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
                                   b: qkv + columns.value, ldb: w, c: kept.context + column, ldc: h, parallel: false)
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
        // The dense output's gradient: dOutputSum ⊙ mask with dropout, dOutputSum itself without.
        var dDense = UnsafePointer(dy)
        if dropout {
            RowGradients.multiply(dy, kept.outputMask, into: ws.dDense, rows: n, width: h)
            dDense = UnsafePointer(ws.dDense)
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
        // The same for the attention output.
        var dAttentionDense = UnsafePointer(dy)
        if dropout {
            RowGradients.multiply(dy, kept.attentionOutputMask, into: ws.dDense, rows: n, width: h)
            dAttentionDense = UnsafePointer(ws.dDense)
        }
        attentionOutput.backward(p, dY: dAttentionDense, x: kept.context, rows: n, dX: ws.dContext, kernel: kernel)
        attentionBackward(ws, kept, kernel: kernel)
        // [dWq; 0; dWk; 0; dWv] += dQKVᵀ x (the bias rows get the zero columns' 0), the biases'
        // column sums, and dx = dAttentionSum (residual) + dQKV [Wq; bq; Wk; bk; Wv]
        // (= dQ Wq + dK Wk + dV Wv: the zero columns meet the bias rows).
        let w = TrainingWorkspace.qkvWidth(hiddenSize: h), columns = TrainingWorkspace.qkvColumns(hiddenSize: h)
        TrainableLinear.sgemm(kernel, transA: true, m: w, n: h, k: n, a: ws.dQKV, lda: w, b: x, ldb: h,
                              beta: 1, c: p.gradient(query.weight), ldc: h)
        RowGradients.addColumnSums(rows: n, width: h, stride: w, ws.dQKV + columns.query, into: p.gradient(query.bias))
        RowGradients.addColumnSums(rows: n, width: h, stride: w, ws.dQKV + columns.key, into: p.gradient(key.bias))
        RowGradients.addColumnSums(rows: n, width: h, stride: w, ws.dQKV + columns.value, into: p.gradient(value.bias))
        TrainableLinear.sgemm(kernel, m: n, n: h, k: w, a: ws.dQKV, lda: w, b: p.value(query.weight), ldb: h,
                              beta: 1, c: dy, ldc: h)
    }

    /// From `ws.dContext`, the gradients of Q, K and V per (sequence, head):
    /// `dP = dC Vᵀ`, `dV = Pᵀ dC`, `dS = softmaxᵀ(dP)`, `dQ = s·dS K`, `dK = s·dSᵀ Q`.
    /// Each task writes its own (rows, head columns) of `ws.dQKV`; `dS` is per-slot scratch.
    private func attentionBackward(_ ws: TrainingWorkspace, _ kept: TrainingWorkspace.Layer, kernel: Kernel) {
        let heads = self.heads, h = ws.hiddenSize, d = h / heads
        let w = TrainingWorkspace.qkvWidth(hiddenSize: h), columns = TrainingWorkspace.qkvColumns(hiddenSize: h)
        let scale = 1 / Float(d).squareRoot()
        let tt = ws.maxLength * ws.maxLength
        let dropout = ws.attentionDropout > 0
        ws.starts.withUnsafeBufferPointer { starts in
            ws.lengths.withUnsafeBufferPointer { lengths in
                ws.probabilityStarts.withUnsafeBufferPointer { probabilityStarts in
                    ComputePool.shared.parallelFor(starts.count * heads) { task, slot in
                        let b = task / heads, head = task % heads
                        let t = lengths[b]
                        let column = starts[b] * h + head * d, qkvColumn = starts[b] * w + head * d
                        let q = kept.qkv + qkvColumn + columns.query, k = kept.qkv + qkvColumn + columns.key
                        let v = kept.qkv + qkvColumn + columns.value
                        let dQ = ws.dQKV + qkvColumn + columns.query, dK = ws.dQKV + qkvColumn + columns.key
                        let dV = ws.dQKV + qkvColumn + columns.value
                        let offset = probabilityStarts[b] + head * t * t
                        let probabilities = kept.probabilities + offset
                        let dScores = ws.dScores + slot * tt
                        if dropout {
                            // dV_h = (P ⊙ mask)ᵀ · dC_h, the dropped probabilities rebuilt in the scratch.
                            let mask = kept.attentionMask + offset
                            dScores.update(from: probabilities, count: t * t)
                            RowGradients.multiply(dScores, by: mask, count: t * t)
                            Gemm.sgemm(kernel, transA: true, m: t, n: d, k: t, a: dScores, lda: t,
                                       b: ws.dContext + column, ldb: h, c: dV, ldc: w, parallel: false)
                            // dP = (dC_h · V_hᵀ) ⊙ mask
                            Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, a: ws.dContext + column, lda: h,
                                       b: v, ldb: w, c: dScores, ldc: t, parallel: false)
                            RowGradients.multiply(dScores, by: mask, count: t * t)
                        } else {
                            // dP[T, T] = dC_h · V_hᵀ
                            Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, a: ws.dContext + column, lda: h,
                                       b: v, ldb: w, c: dScores, ldc: t, parallel: false)
                            // dV_h[T, D] = Pᵀ · dC_h
                            Gemm.sgemm(kernel, transA: true, m: t, n: d, k: t, a: probabilities, lda: t,
                                       b: ws.dContext + column, ldb: h, c: dV, ldc: w, parallel: false)
                        }
                        RowGradients.softmax(rows: t, width: t, probabilities: probabilities, dScores)
                        // dQ_h = scale · dS · K_h ; dK_h = scale · dSᵀ · Q_h
                        Gemm.sgemm(kernel, m: t, n: d, k: t, alpha: scale, a: dScores, lda: t,
                                   b: k, ldb: w, c: dQ, ldc: w, parallel: false)
                        Gemm.sgemm(kernel, transA: true, m: t, n: d, k: t, alpha: scale, a: dScores, lda: t,
                                   b: q, ldb: w, c: dK, ldc: w, parallel: false)
                    }
                }
            }
        }
    }
}
