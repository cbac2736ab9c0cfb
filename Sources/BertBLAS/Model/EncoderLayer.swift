/// One post-LN transformer layer: self-attention, output projection + residual + LayerNorm,
/// then the feed-forward block + residual + LayerNorm.
///
/// Reference: transformers `BertLayer` / `BertSelfAttention` / `BertSelfOutput` /
/// `BertIntermediate` / `BertOutput` (v4.57.1).
public struct EncoderLayer: Sendable {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let attentionOutput: Linear
    public let attentionNorm: LayerNorm
    public let intermediate: Linear
    public let output: Linear
    public let outputNorm: LayerNorm
    public let activation: Activation
    let heads: Int

    public init(_ weights: WeightStore, index: Int, config: BertConfig) throws {
        let names = config.tensorNames.layer(index)
        let h = config.hiddenSize, i = config.intermediateSize, eps = config.layerNormEps
        query = try Linear(weights, names.query, inFeatures: h, outFeatures: h)
        key = try Linear(weights, names.key, inFeatures: h, outFeatures: h)
        value = try Linear(weights, names.value, inFeatures: h, outFeatures: h)
        attentionOutput = try Linear(weights, names.attentionOutput, inFeatures: h, outFeatures: h)
        attentionNorm = try LayerNorm(weights, names.attentionLayerNorm, width: h, eps: eps)
        intermediate = try Linear(weights, names.intermediate, inFeatures: h, outFeatures: i)
        output = try Linear(weights, names.output, inFeatures: i, outFeatures: h)
        outputNorm = try LayerNorm(weights, names.outputLayerNorm, width: h, eps: eps)
        activation = try Activation(hiddenAct: config.hiddenAct)
        heads = config.numAttentionHeads
    }

    /// Runs the layer in place on `workspace.hidden` `[N, H]` (N = the batch's real tokens).
    func forward(_ ws: Workspace, tokens n: Int, kernel: Kernel) {
        let x = ws.hidden
        // Dense projections run on all N real tokens at once.
        query.forward(x, rows: n, into: ws.query, kernel: kernel)
        key.forward(x, rows: n, into: ws.key, kernel: kernel)
        value.forward(x, rows: n, into: ws.value, kernel: kernel)
        attention(ws, kernel: kernel)
        let projection = ws.query  // Q is dead after attention.
        attentionOutput.forward(ws.context, rows: n, into: projection, kernel: kernel)
        attentionNorm.forward(projection, rows: n, residual: x, into: x)
        intermediate.forward(x, rows: n, into: ws.intermediate, kernel: kernel)
        activation.apply(UnsafeMutableBufferPointer(start: ws.intermediate, count: n * intermediate.outFeatures))
        output.forward(ws.intermediate, rows: n, into: projection, kernel: kernel)
        outputNorm.forward(projection, rows: n, residual: x, into: x)
    }

    /// `context = softmax(Q Kᵀ / √D) V`, per sequence and head, over the sequence's own tokens.
    ///
    /// HF adds the dtype's minimum to padded keys, which makes their probabilities exactly 0 in
    /// float32; attending over the real tokens only gives the same result with no padding at all.
    private func attention(_ ws: Workspace, kernel: Kernel) {
        let h = ws.hiddenSize, d = h / heads
        let scale = 1 / Float(d).squareRoot()
        for (start, t) in zip(ws.starts, ws.lengths) {
            let rowOffset = start * h
            for head in 0..<heads {
                let column = rowOffset + head * d
                // scores[T, T] = scale · Q_h[T, D] · K_h[T, D]ᵀ
                Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, alpha: scale,
                           a: ws.query + column, lda: h, b: ws.key + column, ldb: h,
                           c: ws.scores, ldc: t)
                RowOps.softmax(rows: t, width: t, ws.scores)
                // context_h[T, D] = scores[T, T] · V_h[T, D]
                Gemm.sgemm(kernel, m: t, n: d, k: t, a: ws.scores, lda: t,
                           b: ws.value + column, ldb: h, c: ws.context + column, ldc: h)
            }
        }
    }
}
