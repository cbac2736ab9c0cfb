/// A dense layer `y = x Wᵀ + b` on the weight `[out, in]` as stored: one sgemm (NoTrans, Trans).
///
/// Reference: `torch.nn.Linear`. Shared by the encoder and every head.
public struct Linear: Sendable {
    /// `[out, in]`.
    public let weight: Tensor
    /// `[out]`, or nil for a layer without bias.
    public let bias: Tensor?
    public let inFeatures: Int
    public let outFeatures: Int

    /// Loads a Linear layer by name, checking its shape.
    ///
    /// - Parameters:
    ///   - weights: the checkpoint.
    ///   - names: its weight and bias names.
    ///   - inFeatures, outFeatures: the expected sizes.
    ///   - hasBias: whether a bias is required (true for every BERT layer).
    /// - Throws: `BertError.missingTensor` listing the names tried, `BertError.shape` when a
    ///   stored shape differs.
    public init(_ weights: WeightStore, _ names: LinearNames, inFeatures: Int, outFeatures: Int,
                hasBias: Bool = true) throws {
        let weight = try weights.tensor(names.weight, shape: [outFeatures, inFeatures])
        let bias = hasBias ? try weights.tensor(names.bias, shape: [outFeatures]) : nil
        try self.init(weight: weight, bias: bias)
    }

    /// A Linear layer from tensors already looked up (e.g. a decoder tied to the word embeddings).
    ///
    /// - Throws: `BertError.shape` unless `weight` is 2-D and `bias` holds one value per row.
    public init(weight: Tensor, bias: Tensor?) throws {
        guard weight.shape.count == 2 else {
            throw BertError(.shape, "tensor \(weight.name): a Linear weight must be 2-D [out, in], got \(weight.shape)")
        }
        if let bias, bias.shape != [weight.shape[0]] {
            throw BertError(.shape, "tensor \(bias.name): bias shape \(bias.shape) does not match weight \(weight.name) \(weight.shape)")
        }
        self.weight = weight
        self.bias = bias
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
    }

    /// Computes `y[rows, out] = x[rows, in] Wᵀ + b`.
    ///
    /// - Parameters:
    ///   - x: the input rows, `[rows, in]` with row stride `xStride` (default `in`).
    ///   - rows: how many rows (tokens); 0 does nothing.
    ///   - y: the output `[rows, out]` with row stride `yStride` (default `out`); must not alias `x`.
    ///   - kernel: BLAS or the naive reference.
    ///   - parallel: false keeps the product on the calling thread (see `Gemm.sgemm`).
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>,
                        kernel: Kernel, xStride: Int? = nil, yStride: Int? = nil, parallel: Bool = true) {
        let ldy = yStride ?? outFeatures
        if let bias {
            for r in 0..<rows { (y + r * ldy).update(from: bias.pointer, count: outFeatures) }
        }
        Gemm.sgemm(kernel, transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                   a: x, lda: xStride ?? inFeatures, b: weight.pointer, ldb: inFeatures,
                   beta: bias == nil ? 0 : 1, c: y, ldc: ldy, parallel: parallel)
    }

    /// `y[rows, out] = x[rows, in] Wᵀ` without the bias, on the calling thread: the first half
    /// of a Linear whose bias goes into a fused epilogue (bias + GELU, bias + residual + LayerNorm).
    /// Row strides are `xStride` (default `in`) and `yStride` (default `out`).
    func product(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, kernel: Kernel,
                 xStride: Int? = nil, yStride: Int? = nil) {
        Gemm.sgemm(kernel, transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                   a: x, lda: xStride ?? inFeatures, b: weight.pointer, ldb: inFeatures, beta: 0, c: y,
                   ldc: yStride ?? outFeatures, parallel: false)
    }

    /// Block `block` of `blocks` equal column blocks of `y[rows, out] = x[rows, in] Wᵀ` (+ bias,
    /// then `activation`), on the calling thread: one task of a product split by output columns.
    /// Row strides are `xStride` (default `in`) for `x` and `yStride` (default `out`) for `y`.
    func productBlock(_ x: UnsafePointer<Float>, rows: Int, block: Int, of blocks: Int,
                      into y: UnsafeMutablePointer<Float>, kernel: Kernel, activation: Activation?, bias: Bool = true,
                      xStride: Int? = nil, yStride: Int? = nil) {
        let width = (outFeatures + blocks - 1) / blocks
        let j0 = block * width
        guard j0 < outFeatures else { return }
        let count = min(width, outFeatures - j0)
        let ldy = yStride ?? outFeatures
        Gemm.sgemm(kernel, transA: false, transB: true, m: rows, n: count, k: inFeatures,
                   a: x, lda: xStride ?? inFeatures, b: weight.pointer + j0 * inFeatures, ldb: inFeatures,
                   beta: 0, c: y + j0, ldc: ldy, parallel: false)
        let b = bias ? self.bias.map { $0.pointer + j0 } : nil
        switch (b, activation) {
        case let (b?, activation?): activation.apply(rows: rows, width: count, y + j0, stride: ldy, bias: b)
        case let (b?, nil): RowOps.addBias(rows: rows, width: count, y + j0, stride: ldy, bias: b)
        case let (nil, activation?):
            for r in 0..<rows { activation.apply(UnsafeMutableBufferPointer(start: y + r * ldy + j0, count: count)) }
        case (nil, nil): break
        }
    }
}

/// LayerNorm with learned scale and shift: `y = (x - mean) / sqrt(var + eps) * weight + bias`.
///
/// Reference: `torch.nn.LayerNorm` (biased variance), eps from `layer_norm_eps`.
public struct LayerNorm: Sendable {
    /// `[width]` (HF `weight`, legacy `gamma`).
    public let weight: Tensor
    /// `[width]` (HF `bias`, legacy `beta`).
    public let bias: Tensor
    public let eps: Float
    public var width: Int { weight.count }

    /// Loads a LayerNorm by name.
    ///
    /// - Throws: `BertError.missingTensor` listing the names tried (including gamma/beta),
    ///   `BertError.shape` when a tensor is not `[width]`.
    public init(_ weights: WeightStore, _ names: LayerNormNames, width: Int, eps: Float) throws {
        weight = try weights.tensor(names.weight, shape: [width])
        bias = try weights.tensor(names.bias, shape: [width])
        self.eps = eps
    }

    /// `output = LayerNorm(input + inputBias + residual)` over `rows` rows; `output` may alias
    /// `input` or `residual`. `input`'s row stride is `inputStride` (default `width`).
    public func forward(_ input: UnsafePointer<Float>, rows: Int, inputStride: Int? = nil,
                        residual: UnsafePointer<Float>? = nil,
                        inputBias: UnsafePointer<Float>? = nil, into output: UnsafeMutablePointer<Float>) {
        RowOps.layerNorm(rows: rows, width: width, input: input, inputStride: inputStride, inputBias: inputBias,
                         residual: residual, weight: weight.pointer, bias: bias.pointer, eps: eps, output: output)
    }
}
