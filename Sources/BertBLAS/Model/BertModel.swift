import Foundation

/// The BERT encoder of a HuggingFace model folder: embeddings, N layers, and the pooler when the
/// checkpoint has one.
///
/// Immutable after loading and `Sendable`: share one model across threads, each with its own
/// `Workspace`. Weights are `mmap`'d, never copied (F16/BF16 are converted once at load).
/// Reference: transformers `BertModel` (v4.57.1).
public final class BertModel: Sendable {
    /// The folder it was loaded from.
    public let directory: URL
    public let config: BertConfig
    /// The checkpoint; heads look up their own tensors here (see `TensorNames`).
    public let weights: WeightStore
    /// BLAS or the naive reference, for every matrix product.
    public let kernel: Kernel
    public let embeddings: Embeddings
    public let layers: [EncoderLayer]
    /// `pooler.dense` (followed by tanh over [CLS]), nil when the checkpoint has none.
    public let pooler: Linear?

    /// Loads `config.json` and `model.safetensors` from a model folder.
    ///
    /// - Parameters:
    ///   - directory: a HuggingFace BERT folder (BertModel, a `BertFor…` task checkpoint, or a
    ///     sentence-transformers folder).
    ///   - kernel: `.blas` (default) or `.naive`.
    /// - Throws: `BertError` naming the file and tensor: `.io`, `.invalidFile` (malformed
    ///   safetensors), `.config` (missing key, unsupported value), `.missingTensor` (listing the
    ///   names tried), `.shape` (a tensor disagrees with the config).
    public convenience init(directory: URL, kernel: Kernel = .blas) throws {
        let config = try BertConfig.load(directory.appendingPathComponent("config.json"))
        let weights = try WeightStore(url: directory.appendingPathComponent("model.safetensors"))
        try self.init(directory: directory, config: config, weights: weights, kernel: kernel)
    }

    /// Builds the encoder from an already loaded config and weights.
    public init(directory: URL, config: BertConfig, weights: WeightStore, kernel: Kernel = .blas) throws {
        try config.validate(file: directory.appendingPathComponent("config.json").path)
        self.directory = directory
        self.config = config
        self.weights = weights
        self.kernel = kernel
        embeddings = try Embeddings(weights, config: config)
        layers = try (0..<config.numHiddenLayers).map { try EncoderLayer(weights, index: $0, config: config) }
        let h = config.hiddenSize
        if let names = config.tensorNames.pooler, weights.contains(names.weight) {
            pooler = try Linear(weights, names, inFeatures: h, outFeatures: h)
        } else {
            pooler = nil
        }
    }

    /// Allocates the buffers for forward passes of up to `maxBatch` sequences of up to
    /// `maxLength` tokens each, and up to `maxTokens` tokens in all (default maxBatch × maxLength;
    /// a batching engine passes its token budget).
    ///
    /// - Throws: `BertError.invalidInput` unless all are positive, `maxLength` is at most
    ///   `max_position_embeddings` and `maxTokens` at least `maxLength`, or when the buffers are
    ///   too large to allocate (a huge `maxBatch`).
    public func makeWorkspace(maxBatch: Int, maxLength: Int, maxTokens: Int? = nil) throws -> Workspace {
        guard maxBatch > 0, maxLength > 0 else {
            throw BertError(.invalidInput, "workspace needs a positive batch and length, got \(maxBatch) × \(maxLength)")
        }
        guard maxLength <= config.maxSequenceLength else {
            throw BertError(.invalidInput, "max length \(maxLength) exceeds the model's \(config.maxSequenceLength) positions (max_position_embeddings \(config.maxPositionEmbeddings)\(config.positionOffset > 0 ? ", starting at \(config.positionOffset)" : ""))")
        }
        if let maxTokens, maxTokens < maxLength {
            throw BertError(.invalidInput, "workspace of \(maxTokens) tokens cannot hold one sequence of max length \(maxLength)")
        }
        return try Workspace(config: config, maxBatch: maxBatch, maxLength: maxLength, maxTokens: maxTokens)
    }

    /// Runs the encoder on a batch of token sequences of any lengths.
    ///
    /// Sequences are packed back to back with no padding: dense layers run on the real tokens
    /// only, and attention runs per sequence, which equals HF's padded and masked result.
    /// - Parameters:
    ///   - ids: token ids per sequence, special tokens included, no padding; each non-empty.
    ///   - typeIds: token type (segment) ids per sequence, same lengths; nil means all 0. Ignored
    ///     when the family reads no type ids (`BertConfig.readsTokenTypeIds`: RoBERTa, DistilBERT).
    ///   - workspace: from `makeWorkspace`; the output points into it.
    /// - Returns: the last hidden state `[N, H]` and the pooled output `[B, H]`, valid until the
    ///   workspace's next forward pass.
    /// - Throws: `BertError.invalidInput` when the batch or a sequence exceeds the workspace, a
    ///   sequence is empty, an id is outside the vocabulary or a type id outside `type_vocab_size`.
    public func forward(ids: [[Int32]], typeIds: [[Int32]]? = nil, workspace ws: Workspace) throws -> EncoderOutput {
        guard ws.hiddenSize == config.hiddenSize, ws.intermediateSize == config.intermediateSize,
              ws.embeddedWidth == Workspace.embeddedWidth(config) else {
            throw BertError(.invalidInput, "the workspace was made for another model")
        }
        guard ids.count <= ws.maxBatch else {
            throw BertError(.invalidInput, "batch of \(ids.count) sequences exceeds the workspace's \(ws.maxBatch)")
        }
        // Families whose tokenizers return no type ids (RoBERTa) run every token as type 0, as
        // HF's pipelines do; DistilBERT has no token types at all.
        let typeIds = config.readsTokenTypeIds && config.hasTokenTypes ? typeIds : nil
        if let typeIds, typeIds.count != ids.count {
            throw BertError(.invalidInput, "\(typeIds.count) type-id sequences for \(ids.count) id sequences")
        }
        ws.starts.removeAll(keepingCapacity: true)
        ws.lengths.removeAll(keepingCapacity: true)
        var n = 0
        for (b, sequence) in ids.enumerated() {
            try config.checkSequence(sequence, types: typeIds?[b], index: b, maxLength: ws.maxLength, in: "the workspace")
            ws.starts.append(n)
            ws.lengths.append(sequence.count)
            n += sequence.count
        }
        guard n <= ws.maxTokens else {
            throw BertError(.invalidInput, "batch of \(n) tokens exceeds the workspace's \(ws.maxTokens)")
        }
        let h = config.hiddenSize
        embeddings.forward(ids: ids, typeIds: typeIds, workspace: ws, tokens: n, kernel: kernel)
        for layer in layers {
            layer.forward(ws, tokens: n, kernel: kernel)
        }
        var pooled: UnsafeBufferPointer<Float>?
        if let pooler, !ids.isEmpty {
            for (b, start) in ws.starts.enumerated() {
                (ws.clsRows + b * h).update(from: ws.hidden + start * h, count: h)
            }
            pooler.forward(ws.clsRows, rows: ids.count, into: ws.pooled, kernel: kernel)
            Activation.tanh.apply(UnsafeMutableBufferPointer(start: ws.pooled, count: ids.count * h))
            pooled = UnsafeBufferPointer(start: ws.pooled, count: ids.count * h)
        }
        return EncoderOutput(hiddenSize: h, starts: ws.starts, lengths: ws.lengths,
                             lastHiddenState: UnsafeBufferPointer(start: ws.hidden, count: n * h),
                             pooledOutput: pooled, workspace: ws)
    }
}

extension BertModel {
    /// Real tokens of an encoding: its length before right padding (attention mask 0).
    public static func realTokens(_ encoding: Encoding) -> Int {
        let mask = encoding.attentionMask
        if mask.count == encoding.ids.count, let firstPad = mask.firstIndex(of: 0) { return firstPad }
        return encoding.ids.count
    }

    /// The one check of a sequence's length, for every caller that batches encodings (the direct
    /// task loop and the batching engine): at least one real token, at most the model's positions.
    /// - Parameters:
    ///   - encoding: tokenizer output, padded or not.
    ///   - input: the 0-based index of the caller's input it came from, named in the error.
    /// - Returns: its real token count.
    /// - Throws: `BertError.invalidInput` naming the input, the count and the model's positions.
    public func checkFits(_ encoding: Encoding, input: Int) throws -> Int {
        let count = Self.realTokens(encoding)
        guard count >= 1 else {
            throw BertError(.invalidInput, "input \(input + 1): a sequence has no tokens")
        }
        guard count <= config.maxSequenceLength else {
            throw BertError(.invalidInput, "input \(input + 1): a sequence of \(count) tokens exceeds the model's \(config.maxSequenceLength) positions")
        }
        return count
    }

    /// Runs the encoder on tokenizer output.
    ///
    /// Padding added by the tokenizer (`attentionMask` 0 at the end) is dropped: each encoding
    /// contributes its leading real tokens only, which equals HF's masked result for them.
    /// - Parameters:
    ///   - batch: encodings (padded or not), each with at least one real token.
    ///   - workspace: from `makeWorkspace`; the output points into it.
    /// - Returns: as `forward(ids:typeIds:workspace:)`: rows for the real tokens only.
    /// - Throws: `BertError.invalidInput` when an attention mask has a real token after padding
    ///   (left padding is not supported), and the cases of `forward(ids:typeIds:workspace:)`.
    public func forward(_ batch: [Encoding], workspace: Workspace) throws -> EncoderOutput {
        var ids: [[Int32]] = []
        var typeIds: [[Int32]] = []
        ids.reserveCapacity(batch.count)
        typeIds.reserveCapacity(batch.count)
        for (b, encoding) in batch.enumerated() {
            let length = Self.realTokens(encoding)
            guard length == encoding.ids.count || !encoding.attentionMask[length...].contains(where: { $0 != 0 }) else {
                throw BertError(.invalidInput, "encoding \(b): attention mask has real tokens after padding (only right padding is supported)")
            }
            ids.append(Array(encoding.ids[0..<length]))
            typeIds.append(encoding.typeIds.count >= length ? Array(encoding.typeIds[0..<length]) : [Int32](repeating: 0, count: length))
        }
        return try forward(ids: ids, typeIds: typeIds, workspace: workspace)
    }
}

extension BertConfig {
    /// The checks of one packed sequence, for every forward pass (inference and training): not
    /// empty, at most `maxLength` tokens, ids inside the vocabulary, and type ids (when given) one
    /// per token and inside `type_vocab_size`.
    /// - Parameters:
    ///   - index: the sequence's position in its batch, named in the error.
    ///   - holder: what `maxLength` belongs to, named in the error (e.g. "the workspace").
    func checkSequence(_ sequence: [Int32], types: [Int32]?, index b: Int, maxLength: Int, in holder: String) throws {
        guard !sequence.isEmpty else {
            throw BertError(.invalidInput, "sequence \(b) is empty")
        }
        guard sequence.count <= maxLength else {
            throw BertError(.invalidInput, "sequence \(b) has \(sequence.count) tokens, more than \(holder)'s \(maxLength)")
        }
        if let bad = sequence.first(where: { $0 < 0 || Int($0) >= vocabSize }) {
            throw BertError(.invalidInput, "sequence \(b): token id \(bad) is outside the vocabulary (\(vocabSize))")
        }
        if let types {
            guard types.count == sequence.count else {
                throw BertError(.invalidInput, "sequence \(b): \(types.count) type ids for \(sequence.count) tokens")
            }
            if let bad = types.first(where: { $0 < 0 || Int($0) >= typeVocabSize }) {
                throw BertError(.invalidInput, "sequence \(b): token type id \(bad) is outside type_vocab_size \(typeVocabSize)")
            }
        }
    }
}

/// What the encoder produces for a batch: packed hidden states and the pooled output.
///
/// It points into the `Workspace` of the forward pass (keeping it alive) and is valid until that
/// workspace's next forward pass; copy what you need to keep.
public struct EncoderOutput {
    public let hiddenSize: Int
    /// First row of each sequence in `lastHiddenState`.
    public let starts: [Int]
    /// Number of tokens of each sequence.
    public let lengths: [Int]
    /// The last hidden state of every real token, sequences back to back: `[N, H]`, no padding.
    public let lastHiddenState: UnsafeBufferPointer<Float>
    /// `tanh(W h[CLS] + b)` per sequence, `[B, H]`; nil when the checkpoint has no pooler.
    public let pooledOutput: UnsafeBufferPointer<Float>?
    private let workspace: Workspace

    init(hiddenSize: Int, starts: [Int], lengths: [Int], lastHiddenState: UnsafeBufferPointer<Float>,
         pooledOutput: UnsafeBufferPointer<Float>?, workspace: Workspace) {
        self.hiddenSize = hiddenSize
        self.starts = starts
        self.lengths = lengths
        self.lastHiddenState = lastHiddenState
        self.pooledOutput = pooledOutput
        self.workspace = workspace
    }

    /// Number of sequences B.
    public var batchSize: Int { starts.count }
    /// Number of real tokens N in the batch.
    public var tokenCount: Int { lastHiddenState.count / max(hiddenSize, 1) }

    /// The hidden states of sequence `b`: `[T_b, H]`.
    public func hiddenStates(sequence b: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: lastHiddenState[(starts[b] * hiddenSize)..<((starts[b] + lengths[b]) * hiddenSize)])
    }

    /// The pooled output of sequence `b`: `[H]`.
    ///
    /// - Throws: `BertError.missingTensor` when the checkpoint has no pooler.
    public func pooled(sequence b: Int) throws -> UnsafeBufferPointer<Float> {
        guard let pooledOutput else {
            throw BertError(.missingTensor, "the checkpoint has no pooler (pooler.dense)")
        }
        return UnsafeBufferPointer(rebasing: pooledOutput[(b * hiddenSize)..<((b + 1) * hiddenSize)])
    }
}
