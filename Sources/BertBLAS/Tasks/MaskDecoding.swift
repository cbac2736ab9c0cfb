import Foundation

/// One candidate for a `[MASK]`: the token, its probability and the text with it filled in.
public struct MaskFill: Sendable, Equatable, Codable {
    /// Softmax probability of the token at the mask position (over the whole vocabulary, also
    /// when `targets` restrict the candidates).
    public var score: Float
    /// The token id.
    public var token: Int
    /// The token decoded on its own (`decode([token])`).
    public var tokenStr: String
    /// The input with this token in place of the mask, decoded. With one mask, special tokens are
    /// skipped; with several, they are kept (so the other `[MASK]`s stay visible), as HF does.
    public var sequence: String

    enum CodingKeys: String, CodingKey {
        case score, token, sequence
        case tokenStr = "token_str"
    }
}

/// Top-k decoding of masked-LM logits, exactly as transformers' fill-mask pipeline.
///
/// Reference: transformers v4.57.1 `src/transformers/pipelines/fill_mask.py` (`postprocess`).
struct MaskDecoder {
    let padId: Int?
    /// `decode(ids, skipSpecialTokens)` as the tokenizer's decode.
    let decode: ([Int], Bool) -> String

    /// The candidates of one mask.
    /// - Parameters:
    ///   - ids: the input ids of the whole sequence.
    ///   - position: the mask's position in `ids`.
    ///   - single: whether the sequence has one mask (then special tokens are skipped in `sequence`).
    ///   - logits: the mask's vocabulary logits `[V]`, turned into probabilities in place.
    ///   - topK: candidates (capped at the number of targets).
    ///   - targets: when given, the only candidate ids (deduplicated, inside the vocabulary).
    func candidates(ids: [Int], position: Int, single: Bool, logits: UnsafeMutableBufferPointer<Float>,
                    topK: Int, targets: [Int]?) -> [MaskFill] {
        TaskMath.softmax(inPlace: logits)
        let probabilities = UnsafeBufferPointer(logits)
        let chosen: [Int]
        if let targets {
            chosen = Ranking.top(min(topK, targets.count), of: targets.map { probabilities[$0] }).map { targets[$0] }
        } else {
            chosen = Ranking.top(topK, of: probabilities)
        }
        return chosen.map { token in
            var filled = ids
            filled[position] = token
            if let padId { filled.removeAll { $0 == padId } }
            return MaskFill(score: probabilities[token], token: token, tokenStr: decode([token], false),
                            sequence: decode(filled, single))
        }
    }
}

/// How a sequence classifier turns logits into scores.
public enum ClassificationFunction: String, Sendable, Codable {
    /// Exclusive labels: probabilities summing to 1 (single-label classification).
    case softmax
    /// Independent labels: one probability per label (multi-label, or a single label).
    case sigmoid
    /// Raw logits (regression).
    case none

    /// The pipeline's default for a checkpoint: `none` for `regression`, `sigmoid` for
    /// `multi_label_classification` or a single label, `softmax` otherwise.
    ///
    /// Reference: transformers v4.57.1 `pipelines/text_classification.py` (`postprocess`).
    public static func `default`(problemType: String?, labelCount: Int) -> ClassificationFunction {
        if problemType == "regression" { return .none }
        if problemType == "multi_label_classification" || labelCount == 1 { return .sigmoid }
        return .softmax
    }

    /// Applies the function to one row of logits.
    public func apply(_ logits: [Float]) -> [Float] {
        switch self {
        case .softmax: return TaskMath.softmax(logits)
        case .sigmoid: return TaskMath.sigmoid(logits)
        case .none: return logits
        }
    }
}
