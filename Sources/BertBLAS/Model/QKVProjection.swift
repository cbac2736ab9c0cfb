/// A layer's query, key and value projections, run as one product when the checkpoint allows it.
///
/// HF writes a layer's tensors sorted by name, so `key.weight`, `query.bias`, `query.weight`,
/// `value.bias` and `value.weight` lie back to back in the mapped file: read with a row stride of
/// H, `[Wk; bq; Wq; bv; Wv]` is one `[3H + 2, H]` matrix. When the three mapped weights are whole
/// rows apart and span at most `Workspace.qkvWidth(H)` rows, one sgemm over that span computes Q,
/// K and V: each input row is packed once instead of three times, and nothing is copied (the
/// columns from the bias rows in between are computed and never read). Otherwise (F16/BF16
/// weights converted at load, another order in the file) three products write the same layout.
///
/// Layout of the workspace's `qkv` slice `[N, W]` (W = `Workspace.qkvWidth(H)`): Q at column
/// `queryColumn`, K at `keyColumn`, V at `valueColumn`, each H wide.
struct QKVProjection: Sendable {
    let query: Linear
    let key: Linear
    let value: Linear
    let queryColumn: Int
    let keyColumn: Int
    let valueColumn: Int
    /// The products: one over the span of the three weights, or one per weight.
    private let products: [Product]
    let hiddenSize: Int

    /// One sgemm `[rows, columns] = x Wᵀ` whose output starts at `column` of the qkv slice.
    private struct Product: @unchecked Sendable {  // `weight` points into a Linear's tensor, kept alive by it.
        let weight: UnsafePointer<Float>
        let column: Int
        let columns: Int
    }

    /// Whether Q, K and V run as one product (for tests and the benchmark notes).
    var isFused: Bool { products.count == 1 }

    /// - Parameter mapped: whether a weight is read in place from one mapped file (only then is
    ///   the memory between two weights known to be readable).
    init(query: Linear, key: Linear, value: Linear, hiddenSize h: Int, mapped: (Tensor) -> Bool) {
        self.query = query
        self.key = key
        self.value = value
        hiddenSize = h
        let width = Workspace.qkvWidth(hiddenSize: h)
        let linears = [query, key, value]
        let rowBytes = h * MemoryLayout<Float>.stride
        let first = linears.min { $0.weight.pointer < $1.weight.pointer } ?? query
        let start = UnsafeRawPointer(first.weight.pointer)
        // Column of each weight in the span, when each lies a whole number of rows after the first.
        let offsets = linears.map { linear -> Int? in
            let bytes = UnsafeRawPointer(linear.weight.pointer) - start
            return bytes % rowBytes == 0 ? bytes / rowBytes : nil
        }
        if linears.allSatisfy({ mapped($0.weight) }), let q = offsets[0], let k = offsets[1], let v = offsets[2],
           Set([q, k, v]).count == 3, max(q, k, v) + h <= width {
            (queryColumn, keyColumn, valueColumn) = (q, k, v)
            products = [Product(weight: first.weight.pointer, column: 0, columns: max(q, k, v) + h)]
        } else {
            (queryColumn, keyColumn, valueColumn) = (0, h, 2 * h)
            products = [Product(weight: query.weight.pointer, column: 0, columns: h),
                        Product(weight: key.weight.pointer, column: h, columns: h),
                        Product(weight: value.weight.pointer, column: 2 * h, columns: h)]
        }
    }

    /// Tasks of `forward(task:…)` when each product is cut into `blocks` column blocks.
    func tasks(blocks: Int) -> Int { products.count * blocks }

    /// Q, K and V (biases added) of `rows` input rows `x` `[rows, H]` into `qkv` `[rows, ld]`, on
    /// the calling thread.
    func forward(_ x: UnsafePointer<Float>, rows: Int, into qkv: UnsafeMutablePointer<Float>, ld: Int, kernel: Kernel) {
        for task in 0..<products.count {
            forward(task: task, blocks: 1, x, rows: rows, into: qkv, ld: ld, kernel: kernel)
        }
    }

    /// Task `task` of `tasks(blocks:)`: one column block of one product, with its biases, on the
    /// calling thread.
    func forward(task: Int, blocks: Int, _ x: UnsafePointer<Float>, rows: Int,
                 into qkv: UnsafeMutablePointer<Float>, ld: Int, kernel: Kernel) {
        let product = products[task / blocks], block = task % blocks
        let width = (product.columns + blocks - 1) / blocks
        let blockWidth = blocks == 1 ? width : (width + 15) & ~15
        let j0 = block * blockWidth
        guard j0 < product.columns else { return }
        let count = min(blockWidth, product.columns - j0)
        let h = hiddenSize
        let c0 = product.column + j0, c1 = c0 + count
        Gemm.sgemm(kernel, transB: true, m: rows, n: count, k: h, a: x, lda: h,
                   b: product.weight + j0 * h, ldb: h, c: qkv + product.column + j0, ldc: ld, parallel: false)
        // Biases on the columns of this block that belong to Q, K or V.
        addBias(query, at: queryColumn, rows: rows, columns: c0..<c1, qkv, ld: ld)
        addBias(key, at: keyColumn, rows: rows, columns: c0..<c1, qkv, ld: ld)
        addBias(value, at: valueColumn, rows: rows, columns: c0..<c1, qkv, ld: ld)
    }

    /// Q, K and V of `rows` input rows without their biases (`addBiases` adds them), each product
    /// one `cblas_sgemm` call from the calling thread (on OpenBLAS's threads when it has several).
    func product(_ x: UnsafePointer<Float>, rows: Int, into qkv: UnsafeMutablePointer<Float>, ld: Int, kernel: Kernel) {
        let h = hiddenSize
        for product in products {
            Gemm.sgemm(kernel, transB: true, m: rows, n: product.columns, k: h, a: x, lda: h,
                       b: product.weight, ldb: h, c: qkv + product.column, ldc: ld, parallel: false)
        }
    }

    /// Adds the Q, K and V biases to `rows` rows of `qkv` `[rows, ld]`.
    func addBiases(_ qkv: UnsafeMutablePointer<Float>, rows: Int, ld: Int) {
        let all = 0..<ld
        addBias(query, at: queryColumn, rows: rows, columns: all, qkv, ld: ld)
        addBias(key, at: keyColumn, rows: rows, columns: all, qkv, ld: ld)
        addBias(value, at: valueColumn, rows: rows, columns: all, qkv, ld: ld)
    }

    /// Adds `linear`'s bias (its output starting at column `column`) to the columns of `columns`
    /// it covers.
    @inline(__always)
    private func addBias(_ linear: Linear, at column: Int, rows: Int, columns: Range<Int>,
                         _ qkv: UnsafeMutablePointer<Float>, ld: Int) {
        guard let bias = linear.bias else { return }
        let lo = max(columns.lowerBound, column), hi = min(columns.upperBound, column + hiddenSize)
        if lo < hi {
            RowOps.addBias(rows: rows, width: hi - lo, qkv + lo, stride: ld, bias: bias.pointer + (lo - column))
        }
    }
}
