import Foundation

/// What a sequence classifier is trained against, one entry per sequence; it picks the loss
/// as transformers' `BertForSequenceClassification` does from `problem_type`.
public enum TrainingTargets: Sendable, Equatable {
    /// `single_label_classification`: a class index per sequence; cross-entropy.
    case classes([Int])
    /// `multi_label_classification`: `B × L` targets in [0, 1], row-major; BCE with logits.
    case multiLabel([Float])
    /// `regression`: `B × L` values (L = 1 for one rating); mean squared error.
    case values([Float])
}

/// The training losses over logits `[B, L]`: each returns the mean loss (as the
/// `torch.nn` losses' default `reduction="mean"`) and writes its gradient with respect to the
/// logits.
///
/// Reference: `torch.nn.CrossEntropyLoss`, `BCEWithLogitsLoss`, `MSELoss`; losses are summed in
/// Double, gradients in Float.
enum Losses {
    /// Cross-entropy of softmax(logits) against class indices, summed over the counted rows and
    /// divided by `normalizer` (default: the counted rows, the mean): `dLogits = (softmax −
    /// onehot) / normalizer`. A chunk of a larger batch passes the batch's count, so chunks'
    /// results add up to its mean. Rows whose label is `ignoreIndex` (transformers' -100) are not
    /// counted and get a zero gradient (`CrossEntropyLoss(ignore_index=)`); when every row is
    /// ignored the loss is 0 (torch gives NaN) and the gradient zero.
    static func crossEntropy(logits: UnsafePointer<Float>, rows: Int, classes: Int, labels: [Int],
                             ignoreIndex: Int? = nil, gradient: UnsafeMutablePointer<Float>, normalizer: Int? = nil) -> Float {
        gradient.update(from: logits, count: rows * classes)
        RowOps.softmax(rows: rows, width: classes, gradient)
        var total = 0.0
        let counted = ignoreIndex.map { ignored in labels.prefix(rows).filter { $0 != ignored }.count } ?? rows
        let divisor = normalizer ?? counted
        let inverse = divisor > 0 ? 1 / Float(divisor) : 0
        for r in 0..<rows {
            if let ignoreIndex, labels[r] == ignoreIndex {
                (gradient + r * classes).update(repeating: 0, count: classes)
                continue
            }
            let x = logits + r * classes
            // log Σ exp(x) − x[label], max-subtracted.
            var peak = x[0]
            for j in 1..<classes where x[j] > peak { peak = x[j] }
            var sum = 0.0
            for j in 0..<classes { sum += Foundation.exp(Double(x[j] - peak)) }
            total += Foundation.log(sum) + Double(peak) - Double(x[labels[r]])
            let g = gradient + r * classes
            g[labels[r]] -= 1
            for j in 0..<classes { g[j] *= inverse }
        }
        return divisor > 0 ? Float(total / Double(divisor)) : 0
    }

    /// Binary cross-entropy of sigmoid(logits) against targets, mean over all `count` elements:
    /// `max(x, 0) − x·y + log(1 + e^−|x|)`, `dx = (σ(x) − y) / count`.
    static func binaryCrossEntropy(logits: UnsafePointer<Float>, count: Int, targets: [Float],
                                   gradient: UnsafeMutablePointer<Float>) -> Float {
        var total = 0.0
        let inverse = 1 / Float(count)
        for i in 0..<count {
            let x = logits[i], y = targets[i]
            total += Double(max(x, 0) - x * y) + Foundation.log1p(Foundation.exp(-Double(abs(x))))
            let sigmoid = 1 / (1 + Foundation.exp(-x))
            gradient[i] = (sigmoid - y) * inverse
        }
        return Float(total / Double(count))
    }

    /// Mean squared error, `dx = 2 (x − y) / count`.
    static func meanSquaredError(predictions: UnsafePointer<Float>, count: Int, targets: [Float],
                                 gradient: UnsafeMutablePointer<Float>) -> Float {
        var total = 0.0
        let scale = 2 / Float(count)
        for i in 0..<count {
            let d = predictions[i] - targets[i]
            total += Double(d) * Double(d)
            gradient[i] = d * scale
        }
        return Float(total / Double(count))
    }
}
