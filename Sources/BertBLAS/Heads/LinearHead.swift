import Foundation

/// A dense row-major matrix of `Float` features, one row per example: `[rows, columns]`.
///
/// Sentence embeddings for a batch of documents are `[B, H]`; a trained head maps them to `[B, L]`.
public struct FeatureMatrix: Sendable, Equatable {
    /// Number of rows (examples).
    public let rows: Int
    /// Number of columns (features per example).
    public let columns: Int
    /// The values, row-major: element (i, j) is `values[i * columns + j]`.
    public internal(set) var values: [Float]

    /// Wraps row-major values.
    /// - Throws: `BertError.shape` when `values.count != rows * columns` or a size is negative.
    public init(rows: Int, columns: Int, values: [Float]) throws {
        guard rows >= 0, columns >= 0, values.count == rows * columns else {
            throw BertError(.shape, "feature matrix: \(values.count) values for shape [\(rows), \(columns)]")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Stacks vectors of equal length into a matrix (an empty list gives `[0, columns]`).
    /// - Parameters:
    ///   - vectors: one feature vector per row.
    ///   - columns: the expected length, required when `vectors` may be empty; by default the
    ///     length of the first vector.
    /// - Throws: `BertError.shape` naming the first row whose length differs.
    public init(stacking vectors: [[Float]], columns: Int? = nil) throws {
        let width = columns ?? vectors.first?.count ?? 0
        var values: [Float] = []
        values.reserveCapacity(vectors.count * width)
        for (i, v) in vectors.enumerated() {
            guard v.count == width else {
                throw BertError(.shape, "feature matrix: row \(i) has \(v.count) values, expected \(width)")
            }
            values.append(contentsOf: v)
        }
        try self.init(rows: vectors.count, columns: width, values: values)
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> [Float] {
        Array(values[(i * columns)..<((i + 1) * columns)])
    }

    /// The rows at `indices`, in that order.
    public func selecting(rows indices: [Int]) -> FeatureMatrix {
        var out: [Float] = []
        out.reserveCapacity(indices.count * columns)
        for i in indices { out.append(contentsOf: values[(i * columns)..<((i + 1) * columns)]) }
        return FeatureMatrix(unchecked: indices.count, columns, out)
    }

    init(unchecked rows: Int, _ columns: Int, _ values: [Float]) {
        self.rows = rows
        self.columns = columns
        self.values = values
    }
}

/// A linear classifier over features: `logits = x · Wᵀ + b`, with `W` `[L, H]` and `b` `[L]`,
/// scored by softmax. This is the layout of HF's `classifier.weight` / `classifier.bias`.
///
/// A two-label logistic head learned as a binary model is stored as row 0 = 0 and row 1 = w, so
/// `softmax([0, z]) = sigmoid(z)` reproduces the binary probabilities exactly.
public struct LinearHead: Sendable, Equatable {
    /// How the head was learned; it decides what `scores` mean.
    public enum Kind: String, Sendable, Codable {
        /// Multinomial (or, for two labels, binary) logistic regression: softmax gives probabilities.
        case logistic
        /// Ridge classifier on ±1 targets: the logits are decision values; their softmax only ranks.
        case ridge
        /// Ridge regression: one output, the predicted number itself (no softmax).
        case regression
    }

    /// L, the number of labels.
    public let labelCount: Int
    /// H, the feature size the head expects.
    public let inputSize: Int
    /// `[L, H]`, row-major.
    public let weight: [Float]
    /// `[L]`.
    public let bias: [Float]
    /// How the head was learned.
    public let kind: Kind

    /// Creates a head from its weights.
    /// - Throws: `BertError.shape` when `weight` is not `[labelCount, inputSize]` or `bias` not
    ///   `[labelCount]`, or when `labelCount < 2` (a classifier) or not 1 (`.regression`).
    public init(weight: [Float], bias: [Float], labelCount: Int, inputSize: Int, kind: Kind = .logistic) throws {
        if kind == .regression {
            guard labelCount == 1 else {
                throw BertError(.shape, "linear head: a regression head has 1 output, got \(labelCount)")
            }
        } else {
            guard labelCount >= 2 else {
                throw BertError(.shape, "linear head: needs at least 2 labels, got \(labelCount)")
            }
        }
        let (size, overflow) = labelCount.multipliedReportingOverflow(by: inputSize)
        guard inputSize > 0, !overflow, weight.count == size else {
            throw BertError(.shape, "linear head: weight has \(weight.count) values, expected [\(labelCount), \(inputSize)]")
        }
        guard bias.count == labelCount else {
            throw BertError(.shape, "linear head: bias has \(bias.count) values, expected [\(labelCount)]")
        }
        self.labelCount = labelCount
        self.inputSize = inputSize
        self.weight = weight
        self.bias = bias
        self.kind = kind
    }

    /// `x · Wᵀ + b` for every row: `[B, H]` → `[B, L]`, one GEMM.
    /// - Parameter kernel: `.blas` (default) or the `.naive` reference.
    /// - Throws: `BertError.shape` when `x.columns != inputSize`.
    public func logits(_ x: FeatureMatrix, kernel: Kernel = .blas) throws -> FeatureMatrix {
        guard x.columns == inputSize else {
            throw BertError(.shape, "linear head: features have \(x.columns) columns, the head expects \(inputSize)")
        }
        let b = x.rows, h = inputSize, l = labelCount
        var out = [Float](repeating: 0, count: b * l)
        if b == 0 { return FeatureMatrix(unchecked: 0, l, out) }
        for i in 0..<b { for k in 0..<l { out[i * l + k] = bias[k] } }
        x.values.withUnsafeBufferPointer { xp in
            weight.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    guard let xb = xp.baseAddress, let wb = wp.baseAddress, let ob = op.baseAddress else { return }
                    Gemm.sgemm(kernel, transB: true, m: b, n: l, k: h, a: xb, lda: h, b: wb, ldb: h, beta: 1, c: ob, ldc: l)
                }
            }
        }
        return FeatureMatrix(unchecked: b, l, out)
    }

    /// Softmax of the logits, row by row: `[B, H]` → `[B, L]`, each row summing to 1.
    /// - Throws: `BertError.shape` when `x.columns != inputSize`.
    public func probabilities(_ x: FeatureMatrix, kernel: Kernel = .blas) throws -> FeatureMatrix {
        var z = try logits(x, kernel: kernel)
        let l = labelCount
        z.values.withUnsafeMutableBufferPointer { v in
            if let base = v.baseAddress { RowOps.softmax(rows: v.count / l, width: l, base) }
        }
        return z
    }
}
