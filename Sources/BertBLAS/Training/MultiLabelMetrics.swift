import Foundation

/// Multi-label metrics with scikit-learn's conventions (`f1_score` with `average="micro"` and
/// `"macro"` on indicator matrices; a ratio whose denominator is 0 counts as 0): micro-F1 pools
/// every (example, label) decision, macro-F1 averages the labels that occur in the truth or the
/// predictions, subset accuracy counts examples whose whole label set is right.
public struct MultiLabelMetrics: Sendable, Equatable, Encodable {
    /// The label names, in index order.
    public var labels: [String]
    /// Number of examples.
    public var count: Int
    public var microF1: Double
    public var macroF1: Double
    /// Fraction of examples whose predicted set equals the true set.
    public var subsetAccuracy: Double
    /// Per label, in index order.
    public var perLabel: [ClassificationMetrics.PerLabel]

    /// - Parameters:
    ///   - truth: each example's true label indices.
    ///   - predicted: each example's predicted label indices (e.g. the labels scored ≥ 0.5).
    ///   - labels: the label names; every index must be in `0..<labels.count`.
    /// - Throws: `BertError.shape` when the counts differ or an index is out of range.
    public init(truth: [[Int]], predicted: [[Int]], labels: [String]) throws {
        guard truth.count == predicted.count else {
            throw BertError(.shape, "metrics: \(truth.count) true label sets but \(predicted.count) predictions")
        }
        let l = labels.count
        if let bad = (truth + predicted).joined().first(where: { $0 < 0 || $0 >= l }) {
            throw BertError(.shape, "metrics: label index \(bad) outside 0..<\(l)")
        }
        var tp = [Int](repeating: 0, count: l), fp = tp, fn = tp
        var exact = 0
        for (t, p) in zip(truth, predicted) {
            let ts = Set(t), ps = Set(p)
            if ts == ps { exact += 1 }
            for k in ts.intersection(ps) { tp[k] += 1 }
            for k in ps.subtracting(ts) { fp[k] += 1 }
            for k in ts.subtracting(ps) { fn[k] += 1 }
        }
        func f1(_ tp: Int, _ fp: Int, _ fn: Int) -> Double {
            2 * tp + fp + fn > 0 ? Double(2 * tp) / Double(2 * tp + fp + fn) : 0
        }
        var perLabel: [ClassificationMetrics.PerLabel] = []
        var f1Sum = 0.0, present = 0
        for k in 0..<l {
            let precision = tp[k] + fp[k] > 0 ? Double(tp[k]) / Double(tp[k] + fp[k]) : 0
            let recall = tp[k] + fn[k] > 0 ? Double(tp[k]) / Double(tp[k] + fn[k]) : 0
            let score = f1(tp[k], fp[k], fn[k])
            perLabel.append(.init(precision: precision, recall: recall, f1: score, support: tp[k] + fn[k]))
            if tp[k] + fp[k] + fn[k] > 0 {
                f1Sum += score
                present += 1
            }
        }
        self.labels = labels
        count = truth.count
        microF1 = f1(tp.reduce(0, +), fp.reduce(0, +), fn.reduce(0, +))
        macroF1 = present > 0 ? f1Sum / Double(present) : 0
        subsetAccuracy = truth.isEmpty ? 0 : Double(exact) / Double(truth.count)
        self.perLabel = perLabel
    }

    /// The labels whose score reaches `threshold` (0.5 of a sigmoid, as a logit of 0), per row of
    /// `scores` `[N, L]`.
    public static func predictedSets(scores: [Float], labels l: Int, threshold: Float = 0.5) -> [[Int]] {
        guard l > 0 else { return [] }
        return stride(from: 0, to: scores.count, by: l).map { start in
            (0..<l).filter { scores[start + $0] >= threshold }
        }
    }

    enum CodingKeys: String, CodingKey {
        case labels, count
        case microF1 = "micro_f1", macroF1 = "macro_f1", subsetAccuracy = "subset_accuracy", perLabel = "per_label"
    }

    /// The JSON form: `{"micro_f1", "macro_f1", "subset_accuracy", "labels", "count",
    /// "per_label": {label: {"precision", "recall", "f1", "support"}}}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(labels, forKey: .labels)
        try c.encode(count, forKey: .count)
        try c.encode(microF1, forKey: .microF1)
        try c.encode(macroF1, forKey: .macroF1)
        try c.encode(subsetAccuracy, forKey: .subsetAccuracy)
        try c.encode(Dictionary(zip(labels, perLabel), uniquingKeysWith: { first, _ in first }), forKey: .perLabel)
    }

    /// A plain-text report: micro/macro-F1, subset accuracy and a per-label table.
    public var table: String {
        let width = max(5, labels.map { $0.unicodeScalars.count }.max() ?? 0)
        func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
            let n = s.unicodeScalars.count
            if n >= w { return s }
            return right ? String(repeating: " ", count: w - n) + s : s + String(repeating: " ", count: w - n)
        }
        var out = "examples  \(count)\n" + String(format: "micro-F1  %.4f\nmacro-F1  %.4f\nsubset accuracy  %.4f\n\n", microF1, macroF1, subsetAccuracy)
        out += pad("label", width) + "  precision     recall         f1    support\n"
        for (name, m) in zip(labels, perLabel) {
            out += pad(name, width) + [m.precision, m.recall, m.f1].map { "  " + pad(String(format: "%.4f", $0), 9, right: true) }.joined()
                + "  " + pad(String(m.support), 9, right: true) + "\n"
        }
        return out
    }
}
