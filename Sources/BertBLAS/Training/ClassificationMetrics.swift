import Foundation

/// Accuracy, macro-F1, per-label precision/recall/F1/support and the confusion matrix, with
/// scikit-learn's conventions (`classification_report`, `confusion_matrix`): a ratio whose
/// denominator is 0 counts as 0, and macro-F1 averages the labels that occur in the truth or the
/// predictions.
public struct ClassificationMetrics: Sendable, Equatable, Encodable {
    /// Precision, recall, F1 and support of one label.
    public struct PerLabel: Sendable, Equatable, Codable {
        /// Correct predictions of the label / all predictions of it.
        public var precision: Double
        /// Correct predictions of the label / its true examples.
        public var recall: Double
        /// Harmonic mean of precision and recall.
        public var f1: Double
        /// Number of true examples of the label.
        public var support: Int
    }

    /// The label names, in index order.
    public var labels: [String]
    /// Fraction of examples predicted correctly (0 for no examples).
    public var accuracy: Double
    /// Unweighted mean F1 over the labels present in the truth or the predictions.
    public var macroF1: Double
    /// Per label, in index order.
    public var perLabel: [PerLabel]
    /// `confusion[t][p]`: examples of true label t predicted as p.
    public var confusion: [[Int]]
    /// Number of examples.
    public var count: Int

    /// Computes the metrics.
    /// - Parameters:
    ///   - truth: true label indices.
    ///   - predicted: predicted label indices, same count.
    ///   - labels: the label names; every index must be in `0..<labels.count`.
    /// - Throws: `BertError.shape` when the counts differ or an index is out of range.
    public init(truth: [Int], predicted: [Int], labels: [String]) throws {
        guard truth.count == predicted.count else {
            throw BertError(.shape, "metrics: \(truth.count) true labels but \(predicted.count) predictions")
        }
        let l = labels.count
        if let bad = (truth + predicted).first(where: { $0 < 0 || $0 >= l }) {
            throw BertError(.shape, "metrics: label index \(bad) outside 0..<\(l)")
        }
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: l), count: l)
        for (t, p) in zip(truth, predicted) { confusion[t][p] += 1 }
        var perLabel: [PerLabel] = []
        var f1Sum = 0.0
        var present = 0
        for k in 0..<l {
            let tp = Double(confusion[k][k])
            let support = confusion[k].reduce(0, +)
            let predictedCount = (0..<l).reduce(0) { $0 + confusion[$1][k] }
            let precision = predictedCount > 0 ? tp / Double(predictedCount) : 0
            let recall = support > 0 ? tp / Double(support) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            perLabel.append(PerLabel(precision: precision, recall: recall, f1: f1, support: support))
            if support > 0 || predictedCount > 0 {
                f1Sum += f1
                present += 1
            }
        }
        let correct = (0..<l).reduce(0) { $0 + confusion[$1][$1] }
        self.labels = labels
        self.count = truth.count
        self.accuracy = truth.isEmpty ? 0 : Double(correct) / Double(truth.count)
        self.macroF1 = present > 0 ? f1Sum / Double(present) : 0
        self.perLabel = perLabel
        self.confusion = confusion
    }

    enum CodingKeys: String, CodingKey {
        case accuracy, labels, confusion, count
        case macroF1 = "macro_f1", perLabel = "per_label"
    }

    /// The JSON form: `{"accuracy", "macro_f1", "labels", "per_label": {label: {"precision",
    /// "recall", "f1", "support"}}, "confusion": [[…]], "count"}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(macroF1, forKey: .macroF1)
        try c.encode(labels, forKey: .labels)
        try c.encode(Dictionary(zip(labels, perLabel), uniquingKeysWith: { first, _ in first }), forKey: .perLabel)
        try c.encode(confusion, forKey: .confusion)
        try c.encode(count, forKey: .count)
    }

    /// A plain-text report: accuracy and macro-F1, a per-label table, and the confusion matrix
    /// (rows = true label, columns = predicted).
    public var table: String {
        func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
            let n = s.unicodeScalars.count
            if n >= w { return s }
            let fill = String(repeating: " ", count: w - n)
            return right ? fill + s : s + fill
        }
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        let nameWidth = max(5, labels.map { $0.unicodeScalars.count }.max() ?? 0)
        var out = "examples  \(count)\naccuracy  \(f(accuracy))\nmacro-F1  \(f(macroF1))\n\n"
        out += pad("label", nameWidth) + "  precision     recall         f1    support\n"
        for (name, m) in zip(labels, perLabel) {
            out += pad(name, nameWidth) + "  " + pad(f(m.precision), 9, right: true) + "  "
                + pad(f(m.recall), 9, right: true) + "  " + pad(f(m.f1), 9, right: true) + "  "
                + pad(String(m.support), 9, right: true) + "\n"
        }
        out += "\nconfusion (rows: true label, columns: predicted)\n"
        let cell = max(6, labels.map { $0.unicodeScalars.count }.max() ?? 0, String(count).count)
        out += pad("", nameWidth) + labels.map { "  " + pad($0, cell, right: true) }.joined() + "\n"
        for (t, name) in labels.enumerated() {
            out += pad(name, nameWidth) + confusion[t].map { "  " + pad(String($0), cell, right: true) }.joined() + "\n"
        }
        return out
    }
}
