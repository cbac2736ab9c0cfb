import Foundation

/// A rating scale `[minimum, maximum]` cut into equal-width star classes, so that a regression
/// model can be scored as a star classifier ("5-star accuracy").
///
/// Class k (0-based) holds the values in `[minimum + k·w, minimum + (k+1)·w)` with
/// `w = (maximum − minimum) / classes`; a value on a boundary goes to the upper class, values
/// below the scale to class 0 and at or above its top to the last class. (A value less than
/// `boundaryTolerance` class widths below a boundary counts as on it.) For the VADER
/// ratings (−4…4, 5 classes): 1 star below −2.4, 2 stars up to −0.8, 3 up to 0.8, 4 up to 2.4,
/// 5 from 2.4.
public struct RatingScale: Sendable, Equatable, Codable {
    public var minimum: Double
    public var maximum: Double
    /// Number of star classes (default 5).
    public var classes: Int

    /// - Throws: `BertError.invalidInput` unless `minimum < maximum` (both finite) and `classes ≥ 2`.
    public init(minimum: Double, maximum: Double, classes: Int = 5) throws {
        guard minimum.isFinite, maximum.isFinite, minimum < maximum else {
            throw BertError(.invalidInput, "rating scale needs minimum < maximum, got \(minimum) and \(maximum)")
        }
        guard classes >= 2 else { throw BertError(.invalidInput, "rating scale needs at least 2 classes, got \(classes)") }
        self.minimum = minimum
        self.maximum = maximum
        self.classes = classes
    }

    /// Added to a value's position (in class widths) before rounding down, so that a decimal
    /// rating on a boundary (0.8 is 2.9999999999999996 widths above −4) lands in the upper class.
    public static let boundaryTolerance = 1e-9

    /// The 0-based star class of a value.
    public func bucket(_ value: Double) -> Int {
        let position = ((value - minimum) / ((maximum - minimum) / Double(classes)) + Self.boundaryTolerance).rounded(.down)
        guard position.isFinite else { return 0 }
        return Int(min(max(position, 0), Double(classes - 1)))
    }
}

/// How well predicted numbers match true ones: Pearson r, RMSE, MAE, and (with a rating scale)
/// the fraction of examples whose predicted star class equals the true one.
public struct RegressionMetrics: Sendable, Equatable, Codable {
    /// Number of examples.
    public var count: Int
    /// Pearson correlation of predictions and truth (0 when either is constant).
    public var pearson: Double
    /// Root mean squared error.
    public var rmse: Double
    /// Mean absolute error.
    public var mae: Double
    /// Star-class accuracy under `scale` (nil without a scale).
    public var starAccuracy: Double?
    /// The scale of `starAccuracy`.
    public var scale: RatingScale?

    /// - Throws: `BertError.shape` when the counts differ.
    public init(truth: [Double], predicted: [Double], scale: RatingScale? = nil) throws {
        guard truth.count == predicted.count else {
            throw BertError(.shape, "metrics: \(truth.count) true values but \(predicted.count) predictions")
        }
        let n = Double(truth.count)
        count = truth.count
        self.scale = scale
        guard !truth.isEmpty else {
            pearson = 0; rmse = 0; mae = 0
            starAccuracy = scale.map { _ in 0 }
            return
        }
        let meanT = truth.reduce(0, +) / n, meanP = predicted.reduce(0, +) / n
        var stt = 0.0, spp = 0.0, stp = 0.0, se = 0.0, ae = 0.0
        for (t, p) in zip(truth, predicted) {
            stt += (t - meanT) * (t - meanT)
            spp += (p - meanP) * (p - meanP)
            stp += (t - meanT) * (p - meanP)
            se += (p - t) * (p - t)
            ae += abs(p - t)
        }
        pearson = stt > 0 && spp > 0 ? stp / (stt * spp).squareRoot() : 0
        rmse = (se / n).squareRoot()
        mae = ae / n
        starAccuracy = scale.map { s in
            Double(zip(truth, predicted).filter { s.bucket($0) == s.bucket($1) }.count) / n
        }
    }

    enum CodingKeys: String, CodingKey {
        case count, pearson, rmse, mae, scale
        case starAccuracy = "star_accuracy"
    }

    /// A plain-text report.
    public var table: String {
        var out = "examples  \(count)\n" + String(format: "pearson   %.4f\nrmse      %.4f\nmae       %.4f\n", pearson, rmse, mae)
        if let starAccuracy, let scale {
            out += String(format: "stars     %.4f  (%d classes of %g…%g)\n", starAccuracy, scale.classes, scale.minimum, scale.maximum)
        }
        return out
    }
}
