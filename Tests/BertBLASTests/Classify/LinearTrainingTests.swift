import Foundation
import Testing
@testable import BertBLAS

/// The LAPACK-backed heads against scikit-learn's solutions on the same fixed data
/// (Tests/Goldens/classify/linear_synthetic.json, from scripts/yardstick_sklearn.py goldens).
@Suite struct LinearTrainingTests {
    struct Case {
        var name: String
        var lambda: Float
        var x: FeatureMatrix
        var labels: [Int]
        var labelCount: Int
        var weights: [Float]?
        var logistic: [String: Any]
        var ridge: [String: Any]
    }

    static func cases() throws -> [Case] {
        let data = try Data(contentsOf: Paths.golden("classify/linear_synthetic.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try #require(root["cases"] as? [[String: Any]])
        return try list.map { c in
            let rows = try #require(c["rows"] as? Int), columns = try #require(c["columns"] as? Int)
            let features = try #require(c["features"] as? [Double]).map(Float.init)
            return Case(name: try #require(c["name"] as? String),
                        lambda: Float(try #require(c["lambda"] as? Double)),
                        x: try FeatureMatrix(rows: rows, columns: columns, values: features),
                        labels: try #require(c["labels"] as? [Int]),
                        labelCount: try #require(c["label_count"] as? Int),
                        weights: (c["weights"] as? [Double])?.map(Float.init),
                        logistic: try #require(c["logistic"] as? [String: Any]),
                        ridge: try #require(c["ridge"] as? [String: Any]))
        }
    }

    static func argmax(_ row: ArraySlice<Float>) -> Int {
        var best = row.startIndex
        for i in row.indices where row[i] > row[best] { best = i }
        return best - row.startIndex
    }

    @Test func logisticMatchesScikitLearn() throws {
        for c in try Self.cases() {
            let (head, report) = try LogisticRegression.fit(
                c.x, labels: c.labels, labelCount: c.labelCount, weights: c.weights,
                options: .init(regularization: c.lambda))
            #expect(report.converged, "\(c.name): \(report)")
            let p = try head.probabilities(c.x)
            let expected = try #require(c.logistic["probabilities"] as? [[Double]])
            var maxDiff: Double = 0
            for i in 0..<c.x.rows {
                for k in 0..<c.labelCount {
                    maxDiff = max(maxDiff, abs(Double(p.values[i * c.labelCount + k]) - expected[i][k]))
                }
            }
            #expect(maxDiff < 1e-4, "\(c.name): max |p - p_sklearn| = \(maxDiff)")
            let predicted = (0..<c.x.rows).map { Self.argmax(p.values[($0 * c.labelCount)..<(($0 + 1) * c.labelCount)]) }
            #expect(predicted == (c.logistic["predicted"] as? [Int]), "\(c.name)")
            // Coefficients: binary → row 1 (row 0 is the zero reference), multinomial → every row.
            // Relative 2e-3: the badly scaled case (features × 10, λ = 0.01) is flat along the
            // bias direction, so Float Newton lands 1e-3 away there while every probability agrees.
            let coef = try #require(c.logistic["coef"] as? [[Double]])
            let intercept = try #require(c.logistic["intercept"] as? [Double])
            for (r, row) in coef.enumerated() {
                let label = c.labelCount == 2 ? 1 : r
                for j in 0..<c.x.columns {
                    let w = Double(head.weight[label * c.x.columns + j])
                    #expect(abs(w - row[j]) <= 2e-3 * max(1, abs(row[j])), "\(c.name) coef[\(r)][\(j)] \(w) vs \(row[j])")
                }
                let b = Double(head.bias[label])
                #expect(abs(b - intercept[r]) <= 2e-3 * max(1, abs(intercept[r])), "\(c.name) intercept[\(r)] \(b) vs \(intercept[r])")
            }
        }
    }

    @Test func ridgeMatchesScikitLearn() throws {
        for c in try Self.cases() {
            let head = try RidgeClassifier.fit(c.x, labels: c.labels, labelCount: c.labelCount, weights: c.weights,
                                               regularization: c.lambda)
            #expect(head.kind == .ridge)
            let z = try head.logits(c.x)
            let decision = try #require(c.ridge["decision"] as? [[Double]])
            var maxDiff: Double = 0
            for i in 0..<c.x.rows {
                if c.labelCount == 2 {
                    // Binary: sklearn's single decision value is logit[1] - logit[0].
                    let ours = Double(z.values[i * 2 + 1] - z.values[i * 2])
                    maxDiff = max(maxDiff, abs(ours - decision[i][0]))
                } else {
                    for k in 0..<c.labelCount {
                        maxDiff = max(maxDiff, abs(Double(z.values[i * c.labelCount + k]) - decision[i][k]))
                    }
                }
            }
            #expect(maxDiff < 1e-3, "\(c.name): max |decision - sklearn| = \(maxDiff)")
            let predicted = (0..<c.x.rows).map { Self.argmax(z.values[($0 * c.labelCount)..<(($0 + 1) * c.labelCount)]) }
            #expect(predicted == (c.ridge["predicted"] as? [Int]), "\(c.name)")
        }
    }

    @Test func separableDataStaysFiniteAndFitsPerfectly() throws {
        // Two far-apart points per class: without λ the optimum is at infinity; with λ it is finite.
        let x = try FeatureMatrix(rows: 4, columns: 2, values: [5, 5, 6, 5, -5, -5, -6, -5])
        let (head, report) = try LogisticRegression.fit(x, labels: [1, 1, 0, 0], labelCount: 2,
                                                        options: .init(regularization: 1e-3))
        #expect(report.converged)
        #expect(head.weight.allSatisfy(\.isFinite) && head.bias.allSatisfy(\.isFinite))
        let p = try head.probabilities(x)
        #expect(p.values[1] > 0.99 && p.values[3] > 0.99 && p.values[4] > 0.99 && p.values[6] > 0.99)
    }

    @Test func deterministic() throws {
        let c = try #require(try Self.cases().first { $0.labelCount > 2 })
        let a = try LogisticRegression.fit(c.x, labels: c.labels, labelCount: c.labelCount).head
        let b = try LogisticRegression.fit(c.x, labels: c.labels, labelCount: c.labelCount).head
        #expect(a == b)
    }

    @Test func rejectsBadShapesAndLabels() throws {
        let x = try FeatureMatrix(rows: 2, columns: 2, values: [1, 2, 3, 4])
        #expect(throws: BertError.self) { try LogisticRegression.fit(x, labels: [0], labelCount: 2) }
        #expect(throws: BertError.self) { try LogisticRegression.fit(x, labels: [0, 2], labelCount: 2) }
        #expect(throws: BertError.self) { try LogisticRegression.fit(x, labels: [0, 0], labelCount: 1) }
        #expect(throws: BertError.self) {
            try LogisticRegression.fit(x, labels: [0, 1], labelCount: 2, options: .init(regularization: 0))
        }
        let nan = try FeatureMatrix(rows: 1, columns: 2, values: [1, .nan])
        #expect(throws: BertError.self) { try RidgeClassifier.fit(nan, labels: [0], labelCount: 2) }
        #expect(throws: BertError.self) { try FeatureMatrix(rows: 2, columns: 2, values: [1]) }
        #expect(throws: BertError.self) { try FeatureMatrix(stacking: [[1, 2], [3]]) }
        let head = try LinearHead(weight: [1, 0, 0, 1], bias: [0, 0], labelCount: 2, inputSize: 2)
        #expect(throws: BertError.self) { try head.logits(FeatureMatrix(rows: 1, columns: 3, values: [1, 2, 3])) }
    }
}
