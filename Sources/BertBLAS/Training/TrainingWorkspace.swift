#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The activations a training step keeps for its backward pass, and the backward's scratch,
/// sized once from (config, max batch, max length, max tokens, labels) and reused every step.
///
/// One allocation carved into named slices, like the inference `Workspace` (N = `maxTokens`
/// real tokens, B = `maxBatch`, T = `maxLength`, L the labels, S the compute slots; sequences
/// packed back to back, no padding):
/// ```
/// kept by the forward
///   embeddingSum  [N, H]          word + type + position, before the embeddings' LayerNorm
///   hidden        [Layers+1, N, H] each layer's input; the last one is the encoder output
///   per layer:
///     query, key, value [N, H]
///     probabilities [A, N·T]      softmax(QKᵀ/√D) per (sequence, head): sequence b's heads
///                                 start at A·Σ_{b'<b} T_b'² (Σ T_b² ≤ N·T)
///     context       [N, H]        probabilities · V, heads side by side
///     attentionSum  [N, H]        attention output + bias + residual, before LayerNorm
///     attentionNorm [N, H]        its LayerNorm (the feed-forward's input)
///     inner         [N, I]        intermediate + bias, before the activation
///     outputSum     [N, H]        output + bias + residual, before LayerNorm
///   cls           [B, H]          the [CLS] rows, the pooler's input
///   poolerSum     [B, H]          pooler dense + bias, before tanh
///   pooled        [B, H]
///   logits        [B, L]
/// backward scratch
///   dHidden       [N, H]          the gradient flowing down the layers
///   dQuery, dKey, dValue, dContext [N, H]
///   dInner        [N, I]          also the forward's activation output
///   dScores       [S, T, T]       one (sequence, head)'s score gradient per compute slot
///   dCls, dPooled [B, H]
///   dLogits       [B, L]
/// ```
public final class TrainingWorkspace {
    public let maxBatch: Int
    public let maxLength: Int
    public let maxTokens: Int
    let hiddenSize: Int
    let intermediateSize: Int
    let layerCount: Int
    let heads: Int
    let labels: Int
    let slots: Int

    struct Layer {
        let query, key, value, probabilities, context, attentionSum, attentionNorm, inner, outputSum: UnsafeMutablePointer<Float>
    }

    private let storage: UnsafeMutablePointer<Float>
    let count: Int
    let embeddingSum: UnsafeMutablePointer<Float>
    /// `hidden[l]` is layer l's input, `hidden[layerCount]` the encoder output.
    let hidden: [UnsafeMutablePointer<Float>]
    let layers: [Layer]
    let cls, poolerSum, pooled, logits: UnsafeMutablePointer<Float>
    let dHidden, dQuery, dKey, dValue, dContext, dInner, dScores, dCls, dPooled, dLogits: UnsafeMutablePointer<Float>

    /// Per sequence of the current batch: first row, length, and first element of its heads'
    /// probabilities.
    var starts: [Int] = []
    var lengths: [Int] = []
    var probabilityStarts: [Int] = []

    /// The slices' sizes in order: the one place they are computed. nil when a size overflows.
    static func sliceSizes(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int, labels: Int, slots: Int) -> [Int]? {
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
              let bh = mul(maxBatch, h), let bl = mul(maxBatch, labels), let tt = mul(slots, maxLength, maxLength) else { return nil }
        var sizes = [nh]                                       // embeddingSum
        sizes += Array(repeating: nh, count: layers + 1)        // hidden
        for _ in 0..<layers {
            sizes += [nh, nh, nh, probabilities, nh, nh, nh, ni, nh]
        }
        sizes += [bh, bh, bh, bl]                               // cls, poolerSum, pooled, logits
        sizes += [nh, nh, nh, nh, nh, ni, tt, bh, bh, bl]       // backward scratch
        return sizes
    }

    /// Total floats for these sizes, or nil on overflow.
    static func floatCount(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int, labels: Int, slots: Int) -> Int? {
        guard let sizes = sliceSizes(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens,
                                     labels: labels, slots: slots) else { return nil }
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
    init(config: BertConfig, maxBatch: Int, maxLength: Int, maxTokens: Int, labels: Int) throws {
        let slots = ComputePool.shared.capacity
        let what = "training workspace for \(maxBatch) sequences × \(maxLength) tokens, \(maxTokens) tokens in all (hidden \(config.hiddenSize), intermediate \(config.intermediateSize), \(config.numHiddenLayers) layers)"
        guard let sizes = Self.sliceSizes(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens,
                                          labels: labels, slots: slots),
              let count = Self.floatCount(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens,
                                          labels: labels, slots: slots) else {
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
        self.labels = labels
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
            Layer(query: slice(), key: slice(), value: slice(), probabilities: slice(), context: slice(),
                  attentionSum: slice(), attentionNorm: slice(), inner: slice(), outputSum: slice())
        }
        cls = slice(); poolerSum = slice(); pooled = slice(); logits = slice()
        dHidden = slice(); dQuery = slice(); dKey = slice(); dValue = slice(); dContext = slice()
        dInner = slice(); dScores = slice(); dCls = slice(); dPooled = slice(); dLogits = slice()
        starts.reserveCapacity(maxBatch)
        lengths.reserveCapacity(maxBatch)
        probabilityStarts.reserveCapacity(maxBatch)
    }

    deinit { free(storage) }
}
