import Foundation

/// A masked-LM checkpoint (`BertForMaskedLM`, `BertForPreTraining`): fills `[MASK]` tokens as
/// transformers' fill-mask pipeline does.
///
/// Only the hidden states at the masks go through the prediction head, so the `[V, H]` decoder
/// product costs a few rows. Immutable and `Sendable`.
public final class MaskFiller: Sendable {
    let backbone: TaskBackbone
    let head: MaskedLMHead
    let maskId: Int32

    /// The mask token as spelled in the text (e.g. `[MASK]`).
    public let maskToken: String
    /// The longest input in tokens.
    public var maxLength: Int { backbone.maxLength }

    /// Loads a masked-LM folder.
    ///
    /// - Throws: `BertError` from loading; `.missingTensor` naming the absent `cls.predictions`
    ///   tensors when the checkpoint has no MLM head; `.unsupported` when the tokenizer has no
    ///   mask token.
    public init(directory: URL, kernel: Kernel = .blas) throws {
        backbone = try TaskBackbone(directory: directory, kernel: kernel)
        head = try MaskedLMHead(backbone.model.weights, config: backbone.config)
        guard let mask = backbone.tokenizer.specialTokens.mask, let token = backbone.tokenizer.vocabulary.token(mask) else {
            throw BertError(.unsupported, "\(directory.path): the tokenizer has no mask token")
        }
        maskId = mask
        maskToken = token
    }

    /// Resolves fill-mask `targets` to token ids as HF does: a target that is a vocabulary token
    /// is used as is; otherwise its first token is used (`unresolved` lists the targets that
    /// changed, or that give no token and are dropped).
    ///
    /// - Returns: deduplicated ids, and warnings for targets that were not vocabulary tokens.
    /// - Throws: `BertError.invalidInput` when no target gives a token.
    public func targetIds(_ targets: [String]) throws -> (ids: [Int], warnings: [String]) {
        var ids: [Int] = []
        var warnings: [String] = []
        for target in targets {
            if let id = backbone.tokenizer.vocabulary.id(target) {
                if !ids.contains(Int(id)) { ids.append(Int(id)) }
                continue
            }
            guard let first = backbone.tokenizer.encode(target, addSpecialTokens: false).ids.first else {
                warnings.append("target \"\(target)\" gives no token; ignored")
                continue
            }
            let token = backbone.tokenizer.vocabulary.token(first) ?? "?"
            warnings.append("target \"\(target)\" is not in the vocabulary; using \"\(token)\"")
            if !ids.contains(Int(first)) { ids.append(Int(first)) }
        }
        guard !ids.isEmpty else {
            throw BertError(.invalidInput, "--targets: none of \(targets) gives a token")
        }
        return (ids, warnings)
    }

    /// Fills the masks of `text`.
    ///
    /// - Parameters:
    ///   - text: a text with one or more mask tokens.
    ///   - topK: candidates per mask (default 5; capped at the number of targets).
    ///   - targets: candidate token ids (from `targetIds`); nil (default) means the whole vocabulary.
    /// - Returns: one list of candidates per mask, in text order, best first.
    /// - Throws: `BertError.invalidInput` when `text` has no mask token, is longer than the model
    ///   takes, `topK` is not positive, or a target id is outside the vocabulary.
    public func fill(_ text: String, topK: Int = 5, targets: [Int]? = nil) throws -> [[MaskFill]] {
        guard topK >= 1 else { throw BertError(.invalidInput, "--top-k must be at least 1, got \(topK)") }
        if let bad = targets?.first(where: { $0 < 0 || $0 >= head.vocabularySize }) {
            throw BertError(.invalidInput, "--targets: token id \(bad) is outside the vocabulary (\(head.vocabularySize) ids)")
        }
        let encoding = backbone.tokenizer.encode(text)
        let positions = encoding.ids.indices.filter { encoding.ids[$0] == maskId }
        guard !positions.isEmpty else {
            throw BertError(.invalidInput, "no \(maskToken) token in the input")
        }
        guard encoding.count <= maxLength else {
            throw BertError(.invalidInput, "the input has \(encoding.count) tokens, more than the model's \(maxLength)")
        }
        let h = backbone.config.hiddenSize
        var logits: [Float] = []
        try backbone.forEachBatch([encoding]) { _, output in
            let states = output.hiddenStates(sequence: 0)
            var rows = [Float](repeating: 0, count: positions.count * h)
            for (r, p) in positions.enumerated() {
                for j in 0..<h { rows[r * h + j] = states[p * h + j] }
            }
            logits = rows.withUnsafeBufferPointer { buffer in
                buffer.baseAddress.map { head.forward($0, rows: positions.count, kernel: backbone.model.kernel) } ?? []
            }
        }
        let tokenizer = backbone.tokenizer
        let decoder = MaskDecoder(padId: Int(tokenizer.specialTokens.pad)) { ids, skip in
            tokenizer.decode(ids.map { Int32($0) }, skipSpecialTokens: skip)
        }
        return decoder.decode(ids: encoding.ids.map(Int.init), maskPositions: positions, logits: logits,
                              vocabularySize: head.vocabularySize, topK: topK, targets: targets)
    }
}
