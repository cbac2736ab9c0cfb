/// The activation buffers of a forward pass, sized once from (config, max batch, max length)
/// and reused across calls.
///
/// One allocation is carved into named slices (N = maxBatch × maxLength tokens at most):
/// ```
/// hidden       [N, H]   the running hidden state; after the last layer, the output
/// query        [N, H]   Q, then reused for the attention and FFN output projections
/// key          [N, H]
/// value        [N, H]
/// context      [N, H]   attention output, heads side by side
/// intermediate [N, I]   FFN inner activations
/// scores       [T, T]   one head's attention probabilities for one sequence
/// clsRows      [B, H]   the [CLS] rows gathered for the pooler
/// pooled       [B, H]   pooler output
/// ```
/// There is no padding: sequences are packed back to back, and attention runs per sequence over
/// its own length. A workspace belongs to one caller at a time (it is not `Sendable`); make one
/// per thread. An `EncoderOutput` points into it and is valid until its next forward pass.
public final class Workspace {
    /// Largest number of sequences per forward pass.
    public let maxBatch: Int
    /// Largest sequence length (tokens, special tokens included).
    public let maxLength: Int
    /// Largest total of real tokens per forward pass (`maxBatch × maxLength`).
    public let maxTokens: Int
    let hiddenSize: Int
    let intermediateSize: Int

    private let storage: UnsafeMutableBufferPointer<Float>
    let hidden: UnsafeMutablePointer<Float>
    let query: UnsafeMutablePointer<Float>
    let key: UnsafeMutablePointer<Float>
    let value: UnsafeMutablePointer<Float>
    let context: UnsafeMutablePointer<Float>
    let intermediate: UnsafeMutablePointer<Float>
    let scores: UnsafeMutablePointer<Float>
    let clsRows: UnsafeMutablePointer<Float>
    let pooled: UnsafeMutablePointer<Float>
    /// Per sequence: first row in the packed buffers, and length.
    var starts: [Int]
    var lengths: [Int]

    /// The number of floats a workspace holds for these sizes: the one place sizes are computed.
    public static func floatCount(config: BertConfig, maxBatch: Int, maxLength: Int) -> Int {
        let n = maxBatch * maxLength, h = config.hiddenSize, i = config.intermediateSize
        return 5 * n * h + n * i + maxLength * maxLength + 2 * maxBatch * h
    }

    /// Allocates the buffers; use `BertModel.makeWorkspace(maxBatch:maxLength:)`.
    init(config: BertConfig, maxBatch: Int, maxLength: Int) {
        self.maxBatch = maxBatch
        self.maxLength = maxLength
        maxTokens = maxBatch * maxLength
        hiddenSize = config.hiddenSize
        intermediateSize = config.intermediateSize
        let n = maxTokens, h = hiddenSize, i = intermediateSize
        storage = .allocate(capacity: Workspace.floatCount(config: config, maxBatch: maxBatch, maxLength: maxLength))
        // Not zeroed: every slice is written before it is read, and untouched pages stay unmapped.
        var next = storage.baseAddress ?? UnsafeMutablePointer<Float>.allocate(capacity: 1)
        func slice(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        hidden = slice(n * h)
        query = slice(n * h)
        key = slice(n * h)
        value = slice(n * h)
        context = slice(n * h)
        intermediate = slice(n * i)
        scores = slice(maxLength * maxLength)
        clsRows = slice(maxBatch * h)
        pooled = slice(maxBatch * h)
        starts = []
        starts.reserveCapacity(maxBatch)
        lengths = []
        lengths.reserveCapacity(maxBatch)
    }

    deinit { storage.deallocate() }
}
