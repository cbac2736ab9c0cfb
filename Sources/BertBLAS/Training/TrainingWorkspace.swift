#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The activations a training step keeps for its backward pass, and the backward's scratch,
/// sized once from (config, max batch, max length, max tokens, the head's slices) and reused
/// every step.
///
/// One allocation carved into named slices, like the inference `Workspace` (N = `maxTokens`
/// real tokens, B = `maxBatch`, T = `maxLength`, S the compute slots; sequences packed back to
/// back, no padding). The encoder's slices (`TrainableEncoder`) are fixed; a head declares its
/// own as `HeadSlice`s (rows per sequence, per token or a fixed count, × a width), and they are
/// sized here with the rest, in the same overflow-checked function:
/// ```
/// kept by the forward
///   embeddingSum  [N, H]          word + type + position, before the embeddings' LayerNorm
///   hidden        [Layers+1, N, H] each layer's input; the last one is the encoder output
///   per layer:
///     qkv           [N, 3H+2]     Q at column 0, K at H+1, V at 2H+2 (`qkvColumns`): the layout
///                                 of one product over the arena's [Wq; bq; Wk; bk; Wv] (the
///                                 columns H and 2H+1, from the bias rows, are never read)
///     probabilities [A, N·T]      softmax(QKᵀ/√D) per (sequence, head): sequence b's heads
///                                 start at A·Σ_{b'<b} T_b'² (Σ T_b² ≤ N·T)
///     context       [N, H]        probabilities · V, heads side by side
///     attentionSum  [N, H]        attention output + bias + residual, before LayerNorm
///     attentionNorm [N, H]        its LayerNorm (the feed-forward's input)
///     inner         [N, I]        the activation's derivative at intermediate + bias
///     activated     [N, I]        the activation's output (the dense output's input)
///     outputSum     [N, H]        output + bias + residual, before LayerNorm
///     attentionMask [A, N·T]      dropout masks (0 or 1/(1 − p)) of the probabilities, laid
///                                 out as they are; written only in a step with dropout
///     attentionOutputMask, outputMask [N, H]  dropout masks of the two dense outputs
///   embeddingMask [N, H]          dropout mask of the embeddings' output
/// backward scratch
///   dHidden       [N, H]          the gradient flowing down the layers; a head writes the
///                                 gradient of the encoder output here
///   dQKV          [N, 3H+2]       dQ, dK, dV in the qkv layout; columns H and 2H+1 stay 0
///   dContext      [N, H]
///   dDense        [N, H]          a dense output's gradient under dropout (dOutputSum ⊙ mask)
///   dInner        [N, I]
///   dScores       [S, T, T]       one (sequence, head)'s score gradient per compute slot
/// the head's slices, in its order  [B or N or count, width] each (`head[k]`)
/// ```
/// The sequence classifier's: cls, poolerSum, pooled, dCls, dPooled `[B, H]`, logits and
/// dLogits `[B, L]` (`TrainableSequenceClassifier.Slot`).
public final class TrainingWorkspace {
    public let maxBatch: Int
    public let maxLength: Int
    public let maxTokens: Int
    let hiddenSize: Int
    let intermediateSize: Int
    let layerCount: Int
    let heads: Int
    let slots: Int

    /// One slice a head keeps or uses as scratch: `rows` × `width` floats.
    struct HeadSlice: Sendable, Equatable {
        enum Rows: Sendable, Equatable {
            /// B, one row per sequence.
            case sequences
            /// N, one row per token of the batch.
            case tokens
            /// A fixed number of rows (a chunk, or a bound on selected positions).
            case count(Int)
        }
        let rows: Rows
        let width: Int
    }
    /// The head's slices, as declared (a head checks it was made for it).
    let headSlices: [HeadSlice]

    struct Layer {
        let qkv, probabilities, context, attentionSum, attentionNorm, inner, activated, outputSum: UnsafeMutablePointer<Float>
        let attentionMask, attentionOutputMask, outputMask: UnsafeMutablePointer<Float>
    }

    /// The dropout probabilities the last forward applied (0: no mask was drawn), read by the
    /// backward.
    var hiddenDropout: Float = 0
    var attentionDropout: Float = 0
    /// The embeddings' output mask `[N, H]`.
    let embeddingMask: UnsafeMutablePointer<Float>

    private let storage: UnsafeMutablePointer<Float>
    let count: Int
    let embeddingSum: UnsafeMutablePointer<Float>
    /// `hidden[l]` is layer l's input, `hidden[layerCount]` the encoder output.
    let hidden: [UnsafeMutablePointer<Float>]
    let layers: [Layer]
    let dHidden, dQKV, dContext, dDense, dInner, dScores: UnsafeMutablePointer<Float>
    /// The head's slices, in `headSlices` order.
    let head: [UnsafeMutablePointer<Float>]

    /// The encoder output `[N, H]` of the current batch (the last layer's output).
    var encoderOutput: UnsafeMutablePointer<Float> { hidden[layerCount] }

    /// Per sequence of the current batch: first row, length, and first element of its heads'
    /// probabilities.
    var starts: [Int] = []
    var lengths: [Int] = []
    var probabilityStarts: [Int] = []
    /// N, the current batch's tokens.
    var tokenCount = 0

    /// W, the width of a layer's `qkv`: Q, the query bias row's column, K, the key bias row's
    /// column, V.
    static func qkvWidth(hiddenSize h: Int) -> Int { 3 * h + 2 }

    /// The first columns of Q, K and V in `qkv` and `dQKV`.
    static func qkvColumns(hiddenSize h: Int) -> (query: Int, key: Int, value: Int) { (0, h + 1, 2 * h + 2) }

    /// The slices' sizes in order: the one place they are computed. nil when a size overflows.
    static func sliceSizes(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int, head: [HeadSlice], slots: Int) -> [Int]? {
        func mul(_ values: Int...) -> Int? {
            var r = 1
            for v in values {
                let (p, o) = r.multipliedReportingOverflow(by: v)
                if o || v < 0 { return nil }
                r = p
            }
            return r
        }
        let n = maxTokens, h = config.hiddenSize, i = config.intermediateSize, layers = config.numHiddenLayers
        guard let nh = mul(n, h), let ni = mul(n, i), let probabilities = mul(config.numAttentionHeads, n, maxLength),
              let tt = mul(slots, maxLength, maxLength), h < Int.max / 4, let nqkv = mul(n, qkvWidth(hiddenSize: h)) else { return nil }
        var sizes = [nh]                                       // embeddingSum
        sizes += Array(repeating: nh, count: layers + 1)        // hidden
        for _ in 0..<layers {
            sizes += [nqkv, probabilities, nh, nh, nh, ni, ni, nh, probabilities, nh, nh]
        }
        sizes.append(nh)                                        // embeddingMask
        sizes += [nh, nqkv, nh, nh, ni, tt]                     // backward scratch
        for slice in head {
            let rows: Int
            switch slice.rows {
            case .sequences: rows = maxBatch
            case .tokens: rows = n
            case .count(let count): rows = count
            }
            guard let size = mul(rows, slice.width) else { return nil }
            sizes.append(size)
        }
        return sizes
    }

    /// Total floats for these sizes, or nil on overflow.
    static func floatCount(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int, head: [HeadSlice], slots: Int) -> Int? {
        guard let sizes = sliceSizes(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens,
                                     head: head, slots: slots) else { return nil }
        var total = 0
        for s in sizes {
            let (r, o) = total.addingReportingOverflow(s)
            if o { return nil }
            total = r
        }
        return total <= Int.max / MemoryLayout<Float>.stride ? total : nil
    }

    /// - Throws: `BertError.invalidInput` naming the sizes when they overflow or cannot be
    ///   allocated.
    init(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int, head: [HeadSlice]) throws {
        let slots = ComputePool.shared.capacity
        let what = "training workspace for \(maxBatch) sequences × \(maxLength) tokens, \(maxTokens) tokens in all (hidden \(config.hiddenSize), intermediate \(config.intermediateSize), \(config.numHiddenLayers) layers)"
        guard let sizes = Self.sliceSizes(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens,
                                          head: head, slots: slots),
              let count = Self.floatCount(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens,
                                          head: head, slots: slots) else {
            throw BertError(.invalidInput, "\(what) is too large")
        }
        guard let memory = malloc(max(count, 1) * MemoryLayout<Float>.stride) else {
            throw BertError(.invalidInput, "\(what): cannot allocate \(count) floats")
        }
        storage = memory.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.maxBatch = maxBatch
        self.maxLength = maxLength
        self.maxTokens = maxTokens
        hiddenSize = config.hiddenSize
        intermediateSize = config.intermediateSize
        layerCount = config.numHiddenLayers
        heads = config.numAttentionHeads
        headSlices = head
        self.slots = slots
        // Carve in the order of `sliceSizes`.
        var next = storage
        var index = 0
        func slice() -> UnsafeMutablePointer<Float> {
            defer { next += sizes[index]; index += 1 }
            return next
        }
        embeddingSum = slice()
        hidden = (0...config.numHiddenLayers).map { _ in slice() }
        layers = (0..<config.numHiddenLayers).map { _ in
            Layer(qkv: slice(), probabilities: slice(), context: slice(),
                  attentionSum: slice(), attentionNorm: slice(), inner: slice(), activated: slice(), outputSum: slice(),
                  attentionMask: slice(), attentionOutputMask: slice(), outputMask: slice())
        }
        embeddingMask = slice()
        dHidden = slice(); dQKV = slice(); dContext = slice(); dDense = slice()
        dInner = slice(); dScores = slice()
        // The bias columns of dQKV multiply the bias rows in the backward's one product: 0, and
        // never written.
        dQKV.update(repeating: 0, count: maxTokens * Self.qkvWidth(hiddenSize: config.hiddenSize))
        self.head = head.map { _ in slice() }
        starts.reserveCapacity(maxBatch)
        lengths.reserveCapacity(maxBatch)
        probabilityStarts.reserveCapacity(maxBatch)
    }

    deinit { free(storage) }
}
