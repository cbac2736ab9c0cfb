#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The activation buffers of a forward pass, sized once from (config, max batch, max length,
/// max tokens) and reused across calls.
///
/// One allocation is carved into named slices (N = `maxTokens` real tokens at most, by default
/// maxBatch × maxLength; a batching engine sizes it by its token budget instead):
/// ```
/// hidden       [N, H]   the running hidden state; after the last layer, the output
/// qkv          [N, W]   Q, K and V side by side (W = 3H + 16, `qkvWidth`; where each starts
///                       depends on the checkpoint: `QKVProjection`); attention writes its context
///                       over Q (head by head), the attention and FFN output projections go over K
/// intermediate [R, I]   FFN inner activations of the row panels in flight: R = min(N, S × 512)
///                       (S = `ComputePool.shared.capacity`; a panel has at most 512 rows)
/// scores       [S, T, T] one head's attention probabilities for one sequence, per compute slot
///                       (S = `ComputePool.shared.capacity`: one per thread running attention)
/// clsRows      [B, H]   the [CLS] rows gathered for the pooler
/// pooled       [B, H]   pooler output
/// embedded     [N, E]   embeddings before the projection to H (only when E ≠ H, ELECTRA)
/// headRows     [T, H + max(H, E)]  heads' scratch: one sequence's rows gathered, and their transform
/// headLogits   [R, V]   heads' scratch: vocabulary logits of R = `headLogitRows` rows at a time
/// ```
/// There is no padding: sequences are packed back to back, and attention runs per sequence over
/// its own length. A workspace belongs to one caller at a time (it is not `Sendable`); make one
/// per thread. An `EncoderOutput` points into it and is valid until its next forward pass.
public final class Workspace {
    /// Largest number of sequences per forward pass.
    public let maxBatch: Int
    /// Largest sequence length (tokens, special tokens included).
    public let maxLength: Int
    /// Largest total of real tokens per forward pass (default `maxBatch × maxLength`).
    public let maxTokens: Int
    let hiddenSize: Int
    let intermediateSize: Int
    /// E of the `embedded` slice (0 when the model does not project its embeddings).
    let embeddedWidth: Int

    private let storage: UnsafeMutableBufferPointer<Float>
    let hidden: UnsafeMutablePointer<Float>
    let qkv: UnsafeMutablePointer<Float>
    /// W, the row stride of `qkv`.
    let qkvWidth: Int
    let intermediate: UnsafeMutablePointer<Float>
    let scores: UnsafeMutablePointer<Float>
    let clsRows: UnsafeMutablePointer<Float>
    let pooled: UnsafeMutablePointer<Float>
    let embedded: UnsafeMutablePointer<Float>
    let headRows: UnsafeMutablePointer<Float>
    let headLogits: UnsafeMutablePointer<Float>
    /// Rows of `headLogits`: masked-LM heads decode this many positions per product.
    static let headLogitRows = 8
    /// Per sequence: first row in the packed buffers, and length.
    var starts: [Int]
    var lengths: [Int]

    /// The number of floats a workspace holds for these sizes: the one place sizes are computed.
    /// `Int.max` when the sizes overflow (no workspace that large can be allocated).
    /// `maxTokens` nil means maxBatch × maxLength.
    public static func floatCount(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int? = nil) -> Int {
        checkedFloatCount(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens) ?? .max
    }

    /// `floatCount`, or nil when a product or the sum overflows `Int`.
    static func checkedFloatCount(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int? = nil) -> Int? {
        func mul(_ a: Int, _ b: Int) -> Int? {
            let (r, o) = a.multipliedReportingOverflow(by: b)
            return o ? nil : r
        }
        let h = config.hiddenSize, i = config.intermediateSize
        guard let n = maxTokens ?? mul(maxBatch, maxLength), let nh = mul(n, h), let nw = mul(n, qkvWidth(hiddenSize: h)), let ni = mul(intermediateRows(tokens: n), i),
              let tt = mul(maxLength, maxLength).flatMap({ mul($0, ComputePool.shared.capacity) }),
              let bh = mul(maxBatch, h), let bh2 = mul(bh, 2),
              let ne = mul(n, embeddedWidth(config)),
              let th2 = mul(maxLength, h + max(h, config.embeddingSize)), let rv = mul(headLogitRows, config.vocabSize) else { return nil }
        var total = 0
        for part in [nh, nw, ni, tt, bh2, ne, th2, rv] {
            let (r, o) = total.addingReportingOverflow(part)
            if o { return nil }
            total = r
        }
        return total
    }

    /// W, the row stride of the `qkv` slice: Q, K and V (3H) plus up to 16 columns between them
    /// (`QKVProjection` computes the three in one product when their weights lie that close).
    /// `Int.max` when that overflows.
    static func qkvWidth(hiddenSize h: Int) -> Int {
        let (r, o) = h.multipliedReportingOverflow(by: 3)
        return o || r > Int.max - 16 ? .max : r + 16
    }

    /// Rows of the `intermediate` slice: the encoder runs the feed-forward block in row panels
    /// of at most `panelRowLimit` rows, one panel per compute slot at a time.
    static func intermediateRows(tokens n: Int) -> Int {
        min(n, ComputePool.shared.capacity * panelRowLimit)
    }

    /// The most rows a panel of the dense parts has (`EncoderLayer.panelRows`).
    static let panelRowLimit = 512

    /// E when the embeddings are projected to H (ELECTRA), else 0: no `embedded` slice.
    static func embeddedWidth(_ config: BertConfig) -> Int {
        config.embeddingSize == config.hiddenSize ? 0 : config.embeddingSize
    }

    /// Allocates the buffers; use `BertModel.makeWorkspace(maxBatch:maxLength:)`.
    ///
    /// - Throws: `BertError.invalidInput` naming the batch and length when the buffers overflow
    ///   `Int` or cannot be allocated.
    init(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int? = nil) throws {
        let tokens = maxTokens.map { ", \($0) tokens in all" } ?? ""
        let what = "workspace for \(maxBatch) sequences × \(maxLength) tokens\(tokens) (hidden \(config.hiddenSize), intermediate \(config.intermediateSize))"
        guard let count = Workspace.checkedFloatCount(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens),
              count <= Int.max / MemoryLayout<Float>.stride else {
            throw BertError(.invalidInput, "\(what) is too large")
        }
        // malloc rather than `.allocate`, which traps when memory is refused: a huge batch size
        // from a caller becomes an error, not a crash.
        guard let memory = malloc(max(count, 1) * MemoryLayout<Float>.stride) else {
            throw BertError(.invalidInput, "\(what): cannot allocate \(count) floats")
        }
        self.maxBatch = maxBatch
        self.maxLength = maxLength
        self.maxTokens = maxTokens ?? maxBatch * maxLength
        hiddenSize = config.hiddenSize
        intermediateSize = config.intermediateSize
        embeddedWidth = Workspace.embeddedWidth(config)
        let n = self.maxTokens, h = hiddenSize, i = intermediateSize
        storage = UnsafeMutableBufferPointer(start: memory.bindMemory(to: Float.self, capacity: max(count, 1)), count: count)
        // Not zeroed: every slice is written before it is read, and untouched pages stay unmapped.
        var next = memory.assumingMemoryBound(to: Float.self)
        func slice(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        hidden = slice(n * h)
        qkvWidth = Workspace.qkvWidth(hiddenSize: h)
        qkv = slice(n * qkvWidth)
        intermediate = slice(Workspace.intermediateRows(tokens: n) * i)
        scores = slice(maxLength * maxLength * ComputePool.shared.capacity)
        clsRows = slice(maxBatch * h)
        pooled = slice(maxBatch * h)
        embedded = slice(n * Workspace.embeddedWidth(config))
        headRows = slice(maxLength * (h + max(h, config.embeddingSize)))
        headLogits = slice(Workspace.headLogitRows * config.vocabSize)
        starts = []
        starts.reserveCapacity(min(maxBatch, 4096))
        lengths = []
        lengths.reserveCapacity(min(maxBatch, 4096))
    }

    deinit { free(storage.baseAddress) }
}
