import Foundation

/// One candidate for a `[MASK]`: the token, its probability and the text with it filled in.
public struct MaskFill: Sendable, Equatable {
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
}

/// Top-k decoding of masked-LM logits, exactly as transformers' fill-mask pipeline.
///
/// Reference: transformers v4.57.1 `src/transformers/pipelines/fill_mask.py` (`postprocess`).
struct MaskDecoder {
    let padId: Int?
    /// `decode(ids, skipSpecialTokens)` as the tokenizer's decode.
    let decode: ([Int], Bool) -> String

    /// - Parameters:
    ///   - ids: the input ids of the whole sequence.
    ///   - maskPositions: positions of the masks in `ids`, in order.
    ///   - logits: `[maskPositions.count, V]` row-major vocabulary logits.
    ///   - topK: candidates per mask (capped at the number of targets).
    ///   - targets: when given, the only candidate ids (deduplicated).
    func decode(ids: [Int], maskPositions: [Int], logits: [Float], vocabularySize: Int, topK: Int,
                targets: [Int]?) -> [[MaskFill]] {
        let single = maskPositions.count == 1
        var result: [[MaskFill]] = []
        for (m, position) in maskPositions.enumerated() {
            let probabilities = TaskMath.softmax(logits[(m * vocabularySize)..<((m + 1) * vocabularySize)])
            let candidates: [Int]
            if let targets {
                let chosen = TaskMath.topK(targets.map { probabilities[$0] }, min(topK, targets.count))
                candidates = chosen.map { targets[$0] }
            } else {
                candidates = TaskMath.topK(probabilities, topK)
            }
            result.append(candidates.map { token in
                var filled = ids
                filled[position] = token
                if let padId { filled.removeAll { $0 == padId } }
                return MaskFill(score: probabilities[token], token: token, tokenStr: decode([token], false),
                                sequence: decode(filled, single))
            })
        }
        return result
    }
}

/// How a sequence classifier turns logits into scores.
public enum ClassificationFunction: String, Sendable {
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
