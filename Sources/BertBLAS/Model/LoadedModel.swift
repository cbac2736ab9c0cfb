import Foundation

/// One model folder, loaded once: config, mmap'd weights, encoder and tokenizer, plus a pool of
/// workspaces. Every task is built from it, so a server that embeds and classifies maps the
/// weights once and shares them.
///
/// Immutable and `Sendable`: share one value across every task and thread. Heads look up their
/// tensors in `weights` when a task is built (a lookup, never a copy).
public final class LoadedModel: Sendable {
    /// The folder it was loaded from.
    public let directory: URL
    /// The encoder (embeddings, layers, pooler) and its config and weights.
    public let encoder: BertModel
    public let tokenizer: BertTokenizer
    /// Workspaces for task calls made without one.
    public let workspaces: WorkspacePool

    public var config: BertConfig { encoder.config }
    public var weights: WeightStore { encoder.weights }
    public var kernel: Kernel { encoder.kernel }

    /// The longest sequence the model takes: the tokenizer's `model_max_length`, capped by
    /// the positions (`max_position_embeddings`, less RoBERTa's offset).
    public var maxLength: Int { min(tokenizer.modelMaxLength, config.maxSequenceLength) }

    /// Loads `config.json`, `model.safetensors` and the tokenizer files of a model folder.
    ///
    /// - Parameters:
    ///   - directory: a HuggingFace model folder.
    ///   - kernel: `.blas` (default) or `.naive`, for every matrix product.
    /// - Throws: `BertError` naming the file and tensor (see `BertModel.init(directory:kernel:)`
    ///   and `BertTokenizer.init(directory:)`).
    public convenience init(directory: URL, kernel: Kernel = .blas) throws {
        try self.init(encoder: BertModel(directory: directory, kernel: kernel),
                      tokenizer: BertTokenizer(directory: directory))
    }

    /// A model from an encoder and tokenizer already loaded.
    public init(encoder: BertModel, tokenizer: BertTokenizer) {
        directory = encoder.directory
        self.encoder = encoder
        self.tokenizer = tokenizer
        workspaces = WorkspacePool { [encoder] maxBatch, maxLength in
            try encoder.makeWorkspace(maxBatch: maxBatch, maxLength: maxLength)
        }
    }
}
