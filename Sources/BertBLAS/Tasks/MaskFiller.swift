import Foundation

/// A masked-LM checkpoint (`BertForMaskedLM`, `BertForPreTraining`): fills `[MASK]` tokens as
/// transformers' fill-mask pipeline does.
///
/// Only the hidden states at the masks go through the prediction head, so the `[V, H]` decoder
/// product costs a few rows; its scratch is the workspace's. Immutable and `Sendable`.
public final class MaskFiller: EncoderTask {
    /// A text with one or more mask tokens, and what to return for each mask.
    public struct Input: Sendable {
        public var text: String
        /// Candidates per mask (default 5; capped at the number of targets).
        public var topK: Int
        /// Candidate token ids (from `targetIds`); nil means the whole vocabulary.
        public var targets: [Int]?
        public init(_ text: String, topK: Int = 5, targets: [Int]? = nil) {
            self.text = text
            self.topK = topK
            self.targets = targets
        }
    }

    public let model: LoadedModel
    let head: MaskedLMHead
    let maskId: Int32
    /// The mask token as spelled in the text (e.g. `[MASK]`).
    public let maskToken: String
    /// The longest input in tokens.
    public var maxLength: Int { model.maxLength }

    /// A fill-mask task on a loaded masked-LM folder.
    ///
    /// - Throws: `.missingTensor` naming the absent `cls.predictions` tensors when the checkpoint
    ///   has no MLM head; `.unsupported` when the tokenizer has no mask token.
    public init(model: LoadedModel) throws {
        self.model = model
        head = try MaskedLMHead(model.weights, config: model.config)
        guard let mask = model.tokenizer.specialTokens.mask, let token = model.tokenizer.vocabulary.token(mask) else {
            throw BertError(.unsupported, "\(model.directory.path): the tokenizer has no mask token")
        }
        maskId = mask
        maskToken = token
    }

    /// Loads a folder, then builds the task (see `init(model:)`).
    public convenience init(directory: URL, kernel: Kernel = .blas) throws {
        try self.init(model: LoadedModel(directory: directory, kernel: kernel))
    }

    /// Resolves fill-mask `targets` to token ids as HF does: a target that is a vocabulary token
    /// is used as is; otherwise its first token is used, with a warning (a target that gives no
    /// token is dropped, with a warning).
    ///
    /// - Returns: deduplicated ids, and the warnings.
    /// - Throws: `BertError.invalidInput` when no target gives a token.
    public func targetIds(_ targets: [String]) throws -> (ids: [Int], warnings: [String]) {
        let tokenizer = model.tokenizer
        var ids: [Int] = []
        var warnings: [String] = []
        for target in targets {
            if let id = tokenizer.vocabulary.id(target) {
                if !ids.contains(Int(id)) { ids.append(Int(id)) }
                continue
            }
            guard let first = tokenizer.encode(target, addSpecialTokens: false).ids.first else {
                warnings.append("target \"\(target)\" gives no token; ignored")
                continue
            }
            warnings.append("target \"\(target)\" is not in the vocabulary; using \"\(tokenizer.vocabulary.token(first) ?? "?")\"")
            if !ids.contains(Int(first)) { ids.append(Int(first)) }
        }
        guard !ids.isEmpty else { throw BertError(.invalidInput, "targets: none of \(targets) gives a token") }
        return (ids, warnings)
    }

    /// - Throws: `BertError.invalidInput` when the text has no mask token or is longer than the
    ///   model takes, `topK` is not positive, or a target id is outside the vocabulary.
    public func encode(_ input: Input) throws -> [Encoding] {
        guard input.topK >= 1 else { throw BertError(.invalidInput, "topK must be at least 1, got \(input.topK)") }
        if let bad = input.targets?.first(where: { $0 < 0 || $0 >= head.vocabularySize }) {
            throw BertError(.invalidInput, "targets: token id \(bad) is outside the vocabulary (\(head.vocabularySize) ids)")
        }
        let encoding = model.tokenizer.encode(input.text)
        guard encoding.ids.contains(maskId) else { throw BertError(.invalidInput, "no \(maskToken) token in the input") }
        guard encoding.count <= maxLength else {
            throw BertError(.invalidInput, "the input has \(encoding.count) tokens, more than the model's \(maxLength)")
        }
        return [encoding]
    }

    /// Unsupported: the candidates depend on the input's `topK` and `targets` (see the variant with `input`).
    public func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [[MaskFill]] {
        throw BertError(.unsupported, "MaskFiller reads with the input (its topK and targets): call read(_:sequence:input:encoding:workspace:)")
    }

    public func read(_ output: EncoderOutput, sequence b: Int, input: Input, encoding: Encoding,
                     workspace: Workspace) throws -> [[MaskFill]] {
        let positions = encoding.ids.indices.filter { encoding.ids[$0] == maskId }
        let ids = encoding.ids.map(Int.init)
        let tokenizer = model.tokenizer
        let decoder = MaskDecoder(padId: Int(tokenizer.specialTokens.pad)) { ids, skip in
            tokenizer.decode(ids.map { Int32($0) }, skipSpecialTokens: skip)
        }
        var fills: [[MaskFill]] = []
        try head.forEachLogits(output.hiddenStates(sequence: b), positions: positions, workspace: workspace,
                               kernel: model.kernel) { m, logits in
            fills.append(decoder.candidates(ids: ids, position: positions[m], single: positions.count == 1,
                                            logits: logits, topK: input.topK, targets: input.targets))
        }
        return fills
    }

    public func finish(_ input: Input, encodings: [Encoding], partials: [[[MaskFill]]]) throws -> [[MaskFill]] {
        partials[0]
    }

    /// Fills the masks of `text`: one list of candidates per mask, in text order, best first.
    ///
    /// - Throws: the cases of `encode`.
    public func fill(_ text: String, topK: Int = 5, targets: [Int]? = nil) throws -> [[MaskFill]] {
        try run(Input(text, topK: topK, targets: targets))
    }
}
