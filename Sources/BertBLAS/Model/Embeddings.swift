import Foundation

/// The input embeddings of every family: word + token type (when the family has them) +
/// absolute position, then LayerNorm, then ELECTRA's projection to the hidden size.
///
/// Reference (v4.57.1): transformers `BertEmbeddings.forward` (`inputs_embeds +
/// token_type_embeddings`, then `+= position_embeddings`, then LayerNorm; dropout is identity at
/// inference); DistilBERT `Embeddings` (no token types; `create_sinusoidal_embeddings` when
/// `sinusoidal_pos_embds`); `RobertaEmbeddings` with `create_position_ids_from_input_ids`
/// (positions from `padding_idx + 1`); `ElectraModel.embeddings_project`.
public struct Embeddings: Sendable {
    /// `[V, E]`; also the tied MLM decoder weight.
    public let word: Tensor
    /// `[max_position_embeddings, E]`: the stored table, or the sinusoid computed at load for a
    /// DistilBERT checkpoint with `sinusoidal_pos_embds` that does not store it.
    public let position: Tensor
    /// `[type_vocab_size, E]`; nil when the family has no token types (DistilBERT).
    public let tokenType: Tensor?
    public let layerNorm: LayerNorm
    /// `embeddings_project` `[H, E]` (ELECTRA when E ≠ H); nil otherwise.
    public let projection: Linear?
    /// E.
    let width: Int
    /// RoBERTa's `padding_idx`: positions count from it + 1 over non-padding tokens.
    let paddingIndex: Int32?

    public init(_ weights: WeightStore, config: BertConfig) throws {
        let names = config.tensorNames.embeddings
        let e = config.embeddingSize
        word = try weights.tensor(names.word, shape: [config.vocabSize, e])
        if config.sinusoidalPositionEmbeddings && !weights.contains(names.position) {
            // HF's `_init_weights` fills a missing table with the sinusoid; a stored one wins.
            position = Self.sinusoid(positions: config.maxPositionEmbeddings, width: e, name: names.position.description)
        } else {
            position = try weights.tensor(names.position, shape: [config.maxPositionEmbeddings, e])
        }
        if let typeNames = names.tokenType, config.hasTokenTypes {
            tokenType = try weights.tensor(typeNames, shape: [config.typeVocabSize, e])
        } else {
            tokenType = nil
        }
        layerNorm = try LayerNorm(weights, names.layerNorm, width: e, eps: config.layerNormEps)
        if e != config.hiddenSize {
            guard let projectionNames = names.projection else {
                throw BertError(.config, "\(weights.url.path): embedding size \(e) differs from hidden size \(config.hiddenSize), and \(config.family.rawValue) has no embedding projection")
            }
            projection = try Linear(weights, projectionNames, inFeatures: e, outFeatures: config.hiddenSize)
        } else {
            projection = nil
        }
        width = e
        paddingIndex = config.positionPaddingIndex.map { Int32($0) }
    }

    /// Writes the embeddings of one sequence's tokens into `output` `[T, E]` (before any
    /// projection).
    ///
    /// The ids must already be validated (in range of the tables, and T within the positions).
    func forward(ids: ArraySlice<Int32>, typeIds: ArraySlice<Int32>?, into output: UnsafeMutablePointer<Float>) {
        let e = width
        var counted: Int32 = 0
        for (t, id) in ids.enumerated() {
            let row = output + t * e
            let w = word.pointer + Int(id) * e
            let p = position.pointer + Self.positionId(t, id: id, paddingIndex: paddingIndex, counted: &counted) * e
            if let tokenType {
                let type = tokenType.pointer + Int(typeIds.map { $0[$0.startIndex + t] } ?? 0) * e
                for j in 0..<e { row[j] = (w[j] + type[j]) + p[j] }
            } else {
                for j in 0..<e { row[j] = w[j] + p[j] }
            }
        }
        layerNorm.forward(output, rows: ids.count, into: output)
    }

    /// Embeds a packed batch into `workspace.hidden` `[N, H]`: each sequence at its start row,
    /// through `workspace.embedded` `[N, E]` and the projection when E ≠ H.
    func forward(ids: [[Int32]], typeIds: [[Int32]]?, workspace ws: Workspace, tokens n: Int, kernel: Kernel) {
        let target = projection == nil ? ws.hidden : ws.embedded
        for (b, sequence) in ids.enumerated() {
            forward(ids: sequence[...], typeIds: typeIds?[b][...], into: target + ws.starts[b] * width)
        }
        projection?.forward(ws.embedded, rows: n, into: ws.hidden, kernel: kernel)
    }

    /// The position id of token `t` (id `id`) of a sequence: `t`, or with RoBERTa's
    /// `paddingIndex` `create_position_ids_from_input_ids` (the cumulative count of non-padding
    /// tokens, `counted`, plus padding_idx; a padding token stays at padding_idx). `counted`
    /// starts at 0 for each sequence. The training embeddings use it too.
    @inline(__always)
    static func positionId(_ t: Int, id: Int32, paddingIndex: Int32?, counted: inout Int32) -> Int {
        guard let pad = paddingIndex else { return t }
        if id != pad { counted += 1 }
        return Int(pad + (id == pad ? 0 : counted))
    }

    /// DistilBERT's `_create_sinusoidal_embeddings`: `pos / 10000^(2⌊j/2⌋/E)`, sine on even
    /// columns, cosine on odd ones, computed in double precision as numpy does.
    static func sinusoid(positions: Int, width: Int, name: String) -> Tensor {
        var values = [Float](repeating: 0, count: positions * width)
        for pos in 0..<positions {
            for j in 0..<width {
                let angle = Double(pos) / pow(10_000, Double(2 * (j / 2)) / Double(width))
                values[pos * width + j] = Float(j % 2 == 0 ? sin(angle) : cos(angle))
            }
        }
        return Tensor(name: name + " (sinusoidal)", shape: [positions, width], values: values)
    }
}

/// Memory for a tensor computed at load rather than stored in the checkpoint.
private final class ComputedTensorStorage: @unchecked Sendable {  // Written once in init, then read-only.
    let pointer: UnsafeMutablePointer<Float>

    init(_ values: [Float]) {
        pointer = .allocate(capacity: max(values.count, 1))
        pointer.initialize(repeating: 0, count: max(values.count, 1))
        pointer.update(from: values, count: values.count)
    }

    deinit { pointer.deallocate() }
}

extension Tensor {
    /// A tensor holding `values` (computed at load, e.g. a sinusoidal position table).
    init(name: String, shape: [Int], values: [Float]) {
        let storage = ComputedTensorStorage(values)
        self.init(name: name, shape: shape, pointer: UnsafePointer(storage.pointer), count: values.count, owner: storage)
    }
}
