import Foundation

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
    /// Q, K and V as one product where the checkpoint's layout allows (see `QKVProjection`).
    let qkv: QKVProjection
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
        qkv = QKVProjection(query: query, key: key, value: value, hiddenSize: h, mapped: weights.isMapped)
        heads = config.numAttentionHeads
    }

    /// Runs the layer in place on `workspace.hidden` `[N, H]` (N = the batch's real tokens).
    ///
    /// Q, K and V go to the workspace's `qkv` slice; attention writes each head's context over
    /// its Q, and the two output projections (before their LayerNorm) go over K.
    ///
    /// Work is split on `ComputePool.shared`, every task on one thread with single-threaded
    /// products. Attention is one task per (sequence, head). The dense parts are split two ways:
    /// - many tokens: in row panels, each panel running everything after attention while it
    ///   stays in cache (output projection, bias + residual + LayerNorm, intermediate, bias +
    ///   activation, output, bias + residual + LayerNorm: every step is row-local);
    /// - few tokens (a short batch, one sequence): in column blocks of each product, so that each
    ///   weight is read and packed once in all, not once per thin panel; the bias (and activation)
    ///   is applied to each block by the task that computed it.
    ///
    /// `split` (default `BLASRuntime.productSplit`) chooses the cut; column blocks run only when
    /// the workspace's intermediate slice holds every row (`Workspace.intermediateRows`).
    func forward(_ ws: Workspace, tokens n: Int, kernel: Kernel, split: ProductSplit = BLASRuntime.productSplit) {
        let threads = ComputePool.shared.threads
        if split.openBLASThreads, threads > 1, kernel == .blas {
            forwardOnOpenBLASThreads(ws, tokens: n, kernel: kernel, threads: threads)
        } else if n >= split.rowPanelTokensPerThread * threads || threads == 1 || n > Workspace.intermediateRows(tokens: n) {
            forwardInRowPanels(ws, tokens: n, kernel: kernel, threads: threads, rows: split.rowsPerPanel(tokens: n, threads: threads))
        } else {
            forwardInColumnBlocks(ws, tokens: n, kernel: kernel, threads: threads, perThread: split.columnBlocksPerThread)
        }
    }

    private func forwardInRowPanels(_ ws: Workspace, tokens n: Int, kernel: Kernel, threads: Int, rows: Int) {
        let pool = ComputePool.shared
        let x = ws.hidden
        let h = ws.hiddenSize, inner = intermediate.outFeatures
        let ld = ws.qkvWidth
        let panels = (n + rows - 1) / rows
        pool.parallelFor(panels) { p in
            let r0 = p * rows, count = min(rows, n - r0)
            qkv.forward(x + r0 * h, rows: count, into: ws.qkv + r0 * ld, ld: ld, kernel: kernel)
        }
        attention(ws, kernel: kernel)
        // The intermediate slice holds every row when it can, else one panel per slot.
        let perSlot = n > Workspace.intermediateRows(tokens: n)
        pool.parallelFor(panels) { p, slot in
            let r0 = p * rows, count = min(rows, n - r0)
            let hidden = x + r0 * h
            let context = ws.qkv + r0 * ld + qkv.queryColumn     // attention wrote the context over Q
            let projection = ws.qkv + r0 * ld + qkv.keyColumn    // K is dead after attention
            let inner = ws.intermediate + (perSlot ? slot * Workspace.panelRowLimit : r0) * inner
            attentionOutput.product(context, rows: count, into: projection, kernel: kernel, xStride: ld, yStride: ld)
            attentionNorm.forward(projection, rows: count, inputStride: ld, residual: hidden,
                                  inputBias: attentionOutput.bias?.pointer, into: hidden)
            intermediate.product(hidden, rows: count, into: inner, kernel: kernel)
            if let bias = intermediate.bias {
                activation.apply(rows: count, width: intermediate.outFeatures, inner, bias: bias.pointer)
            } else {
                activation.apply(UnsafeMutableBufferPointer(start: inner, count: count * intermediate.outFeatures))
            }
            output.product(inner, rows: count, into: projection, kernel: kernel, yStride: ld)
            outputNorm.forward(projection, rows: count, inputStride: ld, residual: hidden,
                               inputBias: output.bias?.pointer, into: hidden)
        }
    }

    private func forwardInColumnBlocks(_ ws: Workspace, tokens n: Int, kernel: Kernel, threads: Int, perThread: Int) {
        let pool = ComputePool.shared
        let x = ws.hidden
        let ld = ws.qkvWidth
        let context = ws.qkv + qkv.queryColumn     // attention wrote the context over Q
        let projection = ws.qkv + qkv.keyColumn    // K is dead after attention
        let qkvBlocks = perThread * threads
        pool.parallelFor(qkv.tasks(blocks: qkvBlocks)) { task in
            qkv.forward(task: task, blocks: qkvBlocks, x, rows: n, into: ws.qkv, ld: ld, kernel: kernel)
        }
        attention(ws, kernel: kernel)
        let blocks = Self.columnBlocks(ws.hiddenSize, blocks: perThread * threads)
        pool.parallelFor(blocks) { block in
            attentionOutput.productBlock(context, rows: n, block: block, of: blocks, into: projection,
                                         kernel: kernel, activation: nil, bias: false, xStride: ld, yStride: ld)
        }
        norm(attentionNorm, projection, stride: ld, bias: attentionOutput.bias, rows: n, threads: threads, ws)
        let innerBlocks = Self.columnBlocks(intermediate.outFeatures, blocks: perThread * threads)
        pool.parallelFor(innerBlocks) { block in
            intermediate.productBlock(x, rows: n, block: block, of: innerBlocks, into: ws.intermediate,
                                      kernel: kernel, activation: activation)
        }
        pool.parallelFor(blocks) { block in
            output.productBlock(ws.intermediate, rows: n, block: block, of: blocks, into: projection,
                                kernel: kernel, activation: nil, bias: false, yStride: ld)
        }
        norm(outputNorm, projection, stride: ld, bias: output.bias, rows: n, threads: threads, ws)
    }

    /// Every dense product one `cblas_sgemm` on OpenBLAS's own `threads` threads (called from
    /// this thread, with BertBLAS's threads idle), the element-wise steps on BertBLAS's threads.
    private func forwardOnOpenBLASThreads(_ ws: Workspace, tokens n: Int, kernel: Kernel, threads: Int) {
        let pool = ComputePool.shared
        let x = ws.hidden
        let h = ws.hiddenSize, inner = intermediate.outFeatures
        let ld = ws.qkvWidth
        let context = ws.qkv + qkv.queryColumn
        let projection = ws.qkv + qkv.keyColumn
        let chunk = max(32, (n + 4 * threads - 1) / (4 * threads))
        let chunks = (n + chunk - 1) / chunk
        BLASRuntime.withOpenBLASThreads(threads) {
            qkv.product(x, rows: n, into: ws.qkv, ld: ld, kernel: kernel)
        }
        pool.parallelFor(chunks) { c in
            let r0 = c * chunk, count = min(chunk, n - r0)
            qkv.addBiases(ws.qkv + r0 * ld, rows: count, ld: ld)
        }
        attention(ws, kernel: kernel)
        BLASRuntime.withOpenBLASThreads(threads) {
            attentionOutput.product(context, rows: n, into: projection, kernel: kernel, xStride: ld, yStride: ld)
        }
        norm(attentionNorm, projection, stride: ld, bias: attentionOutput.bias, rows: n, threads: threads, ws)
        let slab = Workspace.intermediateRows(tokens: n)
        for s0 in stride(from: 0, to: n, by: slab) {
            let rows = min(slab, n - s0)
            BLASRuntime.withOpenBLASThreads(threads) {
                intermediate.product(x + s0 * h, rows: rows, into: ws.intermediate, kernel: kernel)
            }
            let part = max(8, (rows + 4 * threads - 1) / (4 * threads))
            pool.parallelFor((rows + part - 1) / part) { c in
                let r0 = c * part, count = min(part, rows - r0)
                let y = ws.intermediate + r0 * inner
                if let bias = intermediate.bias {
                    activation.apply(rows: count, width: inner, y, bias: bias.pointer)
                } else {
                    activation.apply(UnsafeMutableBufferPointer(start: y, count: count * inner))
                }
            }
            BLASRuntime.withOpenBLASThreads(threads) {
                output.product(ws.intermediate, rows: rows, into: projection + s0 * ld, kernel: kernel, yStride: ld)
            }
        }
        norm(outputNorm, projection, stride: ld, bias: output.bias, rows: n, threads: threads, ws)
    }

    /// `hidden = LayerNorm(projection + bias + hidden)` in row chunks (`projection`'s row stride
    /// is `stride`).
    private func norm(_ layerNorm: LayerNorm, _ projection: UnsafeMutablePointer<Float>, stride: Int, bias: Tensor?,
                      rows n: Int, threads: Int, _ ws: Workspace) {
        let h = ws.hiddenSize
        let chunk = max(32, (n + threads - 1) / threads)
        ComputePool.shared.parallelFor((n + chunk - 1) / chunk) { c in
            let r0 = c * chunk, count = min(chunk, n - r0)
            layerNorm.forward(projection + r0 * stride, rows: count, inputStride: stride, residual: ws.hidden + r0 * h,
                              inputBias: bias?.pointer, into: ws.hidden + r0 * h)
        }
    }

    /// Column blocks of a product cut into about `blocks`, each a multiple of 16 columns.
    static func columnBlocks(_ columns: Int, blocks: Int) -> Int {
        let width = max(16, (columns / blocks + 15) & ~15)
        return (columns + width - 1) / width
    }

    /// Rows per panel of the dense parts: about 4 panels per thread, a multiple of 8 between 128
    /// and 512.
    ///
    /// Measured on Sapphire Rapids (docs/BENCHMARKS.md): one single-threaded sgemm on MiniLM's
    /// shapes runs at 53 GFLOP/s with 16 rows, 130 with 128 and 150 with 256-512 (each call packs
    /// the whole weight again), and thr32x128 ran at 49.6 / 54.1 / 67.7 / 72.2 seq/s with panels
    /// of 64 / 128 / 256 / 512 rows.
    static func panelRows(tokens n: Int, threads: Int) -> Int {
        let target = (n + 4 * threads - 1) / (4 * threads)
        return min(Workspace.panelRowLimit, max(128, (target + 7) & ~7))
    }

    /// `context = softmax(Q Kᵀ / √D) V`, one task per (sequence, head), over the sequence's own
    /// tokens.
    ///
    /// HF adds the dtype's minimum to padded keys, which makes their probabilities exactly 0 in
    /// float32; attending over the real tokens only gives the same result with no padding at all.
    private func attention(_ ws: Workspace, kernel: Kernel) {
        let heads = self.heads
        let h = ws.hiddenSize, d = h / heads, ld = ws.qkvWidth
        let (q, k, v) = (ws.qkv + qkv.queryColumn, ws.qkv + qkv.keyColumn, ws.qkv + qkv.valueColumn)
        let scale = 1 / Float(d).squareRoot()
        let tt = ws.maxLength * ws.maxLength
        ws.starts.withUnsafeBufferPointer { starts in
            ws.lengths.withUnsafeBufferPointer { lengths in
                ComputePool.shared.parallelFor(starts.count * heads) { task, slot in
                    let b = task / heads, head = task % heads
                    let t = lengths[b]
                    let column = starts[b] * ld + head * d
                    let scores = ws.scores + slot * tt
                    // scores[T, T] = scale · Q_h[T, D] · K_h[T, D]ᵀ
                    Gemm.sgemm(kernel, transB: true, m: t, n: t, k: d, alpha: scale,
                               a: q + column, lda: ld, b: k + column, ldb: ld,
                               c: scores, ldc: t, parallel: false)
                    RowOps.softmax(rows: t, width: t, scores)
                    // context_h[T, D] = scores[T, T] · V_h[T, D], over Q_h: only this task reads
                    // this sequence's Q_h, and it is done with it.
                    Gemm.sgemm(kernel, m: t, n: d, k: t, a: scores, lda: t,
                               b: v + column, ldb: ld, c: q + column, ldc: ld, parallel: false)
                }
            }
        }
    }
}
