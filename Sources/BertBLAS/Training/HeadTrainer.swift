import Foundation

/// Trains a classifier head on frozen sentence embeddings: split, embed, solve, measure.
///
/// Every document is embedded window by window (`LongTextMode.chunk`, or its first window with
/// `.truncate`). Each window is a training example with its document's label and weight
/// 1/windows, so every document counts once; a document's prediction averages its windows'
/// probabilities, exactly as `DocumentClassifier` does at classification time.
///
/// Regression (`ProblemType.regression`): each label is a number, the head is ridge regression
/// (`RidgeClassifier.fitRegression`) on the same windows and weights, a document's prediction is
/// its windows' mean output, and the metrics are Pearson r, RMSE (and star accuracy on a
/// `RatingScale`).
public enum HeadTrainer {
    /// Which model to fit.
    public enum Solver: String, Sendable, CaseIterable, Codable {
        /// Multinomial / binary logistic regression by Newton–IRLS (`LogisticRegression`).
        case newton
        /// The closed-form ridge classifier (`RidgeClassifier`).
        case ridge
    }

    /// Training settings.
    public struct Options: Sendable {
        /// Default `.newton`.
        public var solver: Solver
        /// λ (C = 1/λ). Default 1.
        public var regularization: Float
        /// Fraction held out for validation, in [0, 1). Default 0.2.
        public var validationSplit: Double
        /// Split seed. Default 42.
        public var seed: UInt64
        /// Default `.chunk`.
        public var longText: LongTextMode
        /// Single-label classification (default) or regression (needs `.ridge`); multi-label is
        /// not supported by the head trainer.
        public var problemType: ProblemType
        /// Regression: the target's name, the head's one label (default `label`).
        public var targetName: String
        /// Regression: the scale of the star accuracy (default none).
        public var ratingScale: RatingScale?

        /// Creates options; each argument defaults as documented on its property.
        public init(solver: Solver = .newton, regularization: Float = 1, validationSplit: Double = 0.2,
                    seed: UInt64 = 42, longText: LongTextMode = .chunk,
                    problemType: ProblemType = .singleLabelClassification, targetName: String = "label",
                    ratingScale: RatingScale? = nil) {
            self.solver = solver
            self.regularization = regularization
            self.validationSplit = validationSplit
            self.seed = seed
            self.longText = longText
            self.problemType = problemType
            self.targetName = targetName
            self.ratingScale = ratingScale
        }
    }

    /// What training produced.
    public struct Result: Sendable {
        /// The fitted head.
        public var head: LinearHead
        /// The training report (also stored in the head folder).
        public var record: HeadFolder.TrainingRecord
        /// Metrics on the training documents (nil for regression).
        public var trainMetrics: ClassificationMetrics?
        /// Metrics on the validation documents (nil when the split is 0, or for regression).
        public var validationMetrics: ClassificationMetrics?
        /// Regression: metrics on the training documents.
        public var trainRegression: RegressionMetrics?
        /// Regression: metrics on the validation documents (nil when the split is 0).
        public var validationRegression: RegressionMetrics?
        /// The head's labels: the data's labels, or the regression target's name.
        public var labels: [String]
        /// Every window's features (all documents), with their documents.
        public var windows: DocumentWindows
        /// Ascending document indices of each part.
        public var train: [Int]
        /// See `train`.
        public var validation: [Int]
    }

    /// Splits, embeds every document, fits the head on the training windows and measures both parts.
    /// - Parameters:
    ///   - embedder: the encoder with its pooling settings.
    ///   - data: the labeled documents.
    ///   - dataPath: the data path as given, for the report.
    ///   - excludedLabels: labels removed from the data, for the report.
    ///   - options: settings.
    ///   - progress: called with (windows embedded, windows total).
    /// - Throws: `BertError` from splitting, embedding or solving (e.g. `.invalidInput` when a
    ///   label has no training example).
    public static func train(embedder: WindowEmbedder, data: LabeledDataset, dataPath: String,
                             excludedLabels: [String] = [], options: Options = Options(),
                             progress: ((Int, Int) -> Void)? = nil) throws -> Result {
        switch options.problemType {
        case .singleLabelClassification: break
        case .regression:
            return try trainRegression(embedder: embedder, data: data, dataPath: dataPath, excludedLabels: excludedLabels,
                                       options: options, progress: progress)
        case .multiLabelClassification:
            throw BertError(.unsupported, "\(dataPath): the head trainer fits single-label classifiers and regression, not multi-label classification")
        }
        guard data.labels.count >= 2 else {
            throw BertError(.invalidInput, "\(dataPath): a classifier needs at least 2 labels, found \(data.labels.count) (\(data.labels.joined(separator: ", ")))")
        }
        let labels = data.labelIndices
        let fit = try fitHead(embedder: embedder, data: data, options: options, stratified: true, progress: progress,
                              check: { train in
            let trainLabels = Set(train.map { labels[$0] })
            if let missing = data.labels.indices.first(where: { !trainLabels.contains($0) }) {
                throw BertError(.invalidInput, "\(dataPath): label '\(data.labels[missing])' has no training example")
            }
        }, solve: { x, documents, weights, kernel in
            let y = documents.map { labels[$0] }
            switch options.solver {
            case .newton:
                let fit = try LogisticRegression.fit(x, labels: y, labelCount: data.labels.count, weights: weights,
                                                     options: .init(regularization: options.regularization, kernel: kernel))
                return (fit.head, fit.report.iterations, fit.report.converged)
            case .ridge:
                let head = try RidgeClassifier.fit(x, labels: y, labelCount: data.labels.count, weights: weights,
                                                   regularization: options.regularization, kernel: kernel)
                return (head, 0, true)
            }
        })
        let (train, validation, windows, kernel) = (fit.train, fit.validation, fit.windows, embedder.model.kernel)
        let scores = windows.averageByDocument(try fit.head.probabilities(windows.features, kernel: kernel))
        let predictions = DocumentClassifier.predictions(scores, labels: data.labels, windowCounts: windows.windowCounts)
        let trainMetrics = try ClassificationMetrics(truth: train.map { labels[$0] },
                                                     predicted: train.map { predictions[$0].labelIndex }, labels: data.labels)
        let validationMetrics = validation.isEmpty ? nil : try ClassificationMetrics(
            truth: validation.map { labels[$0] }, predicted: validation.map { predictions[$0].labelIndex }, labels: data.labels)
        var record = fit.record(dataPath: dataPath, excludedLabels: excludedLabels, options: options)
        record.trainAccuracy = trainMetrics.accuracy
        record.validationAccuracy = validationMetrics?.accuracy
        record.validationMacroF1 = validationMetrics?.macroF1
        return Result(head: fit.head, record: record, trainMetrics: trainMetrics, validationMetrics: validationMetrics,
                      labels: data.labels, windows: windows, train: train, validation: validation)
    }

    /// The regression branch of `train`: ridge regression on the windows' features.
    static func trainRegression(embedder: WindowEmbedder, data: LabeledDataset, dataPath: String,
                                excludedLabels: [String], options: Options,
                                progress: ((Int, Int) -> Void)?) throws -> Result {
        guard options.solver == .ridge else {
            throw BertError(.invalidInput, "\(dataPath): regression is fitted by the ridge solver, not \(options.solver.rawValue)")
        }
        let targets = try LabeledTargets(data, problemType: .regression, targetName: options.targetName)
        guard case .numbers(let numbers) = targets.values else {
            throw BertError(.invalidInput, "\(dataPath): regression targets are not numbers")
        }
        let fit = try fitHead(embedder: embedder, data: data, options: options, stratified: false, progress: progress,
                              check: { train in
            guard !train.isEmpty else { throw BertError(.invalidInput, "\(dataPath): the training split is empty") }
        }, solve: { x, documents, weights, kernel in
            (try RidgeClassifier.fitRegression(x, targets: documents.map { Float(numbers[$0]) }, weights: weights,
                                               regularization: options.regularization, kernel: kernel), 0, true)
        })
        let (train, validation, windows) = (fit.train, fit.validation, fit.windows)
        let predicted = windows.averageByDocument(try fit.head.logits(windows.features, kernel: embedder.model.kernel)).values.map(Double.init)
        let trainMetrics = try RegressionMetrics(truth: train.map { numbers[$0] }, predicted: train.map { predicted[$0] },
                                                 scale: options.ratingScale)
        let validationMetrics = validation.isEmpty ? nil : try RegressionMetrics(
            truth: validation.map { numbers[$0] }, predicted: validation.map { predicted[$0] }, scale: options.ratingScale)
        var record = fit.record(dataPath: dataPath, excludedLabels: excludedLabels, options: options)
        record.trainPearson = trainMetrics.pearson
        record.validationPearson = validationMetrics?.pearson
        record.validationRMSE = validationMetrics?.rmse
        record.validationStarAccuracy = validationMetrics?.starAccuracy
        return Result(head: fit.head, record: record, trainRegression: trainMetrics, validationRegression: validationMetrics,
                      labels: targets.outputs, windows: windows, train: train, validation: validation)
    }

    /// What classification and regression share: the split, every window, the fitted head and
    /// the solver's report.
    struct Fit {
        var train, validation: [Int]
        var windows: DocumentWindows
        var head: LinearHead
        var iterations: Int, converged: Bool
        var embedSeconds, solveSeconds: Double

        /// The training report without metrics (each problem type adds its own).
        func record(dataPath: String, excludedLabels: [String], options: Options) -> HeadFolder.TrainingRecord {
            HeadFolder.TrainingRecord(
                data: dataPath, solver: options.solver.rawValue, regularization: Double(options.regularization),
                validationSplit: options.validationSplit, seed: options.seed, longText: options.longText.rawValue,
                excludedLabels: excludedLabels, trainExamples: train.count, validationExamples: validation.count,
                trainAccuracy: nil, validationAccuracy: nil, validationMacroF1: nil, iterations: iterations, converged: converged,
                embedSeconds: embedSeconds, solveSeconds: solveSeconds)
        }
    }

    /// Splits the documents (`stratified` by label or not), lets `check` refuse the training
    /// part before anything is embedded, embeds every document (long ones as windows, per
    /// `options.longText`) and fits `solve` on the training documents' windows: their features,
    /// each window's document, its weight 1 / (its document's window count; nil when every
    /// document is one window) and the encoder's kernel, which runs the solver and the head too
    /// (`.naive` reaches every product). `solve` returns the head, its iterations and whether it
    /// converged.
    static func fitHead(embedder: WindowEmbedder, data: LabeledDataset, options: Options, stratified: Bool,
                        progress: ((Int, Int) -> Void)?, check: ([Int]) throws -> Void,
                        solve: (FeatureMatrix, [Int], [Float]?, Kernel) throws -> (LinearHead, Int, Bool)) throws -> Fit {
        let (train, validation) = try data.split(validationFraction: options.validationSplit, seed: options.seed, stratified: stratified)
        try check(train)
        let clock = ContinuousClock()
        let embedStart = clock.now
        let windows = try embedder.embed(documents: data.examples.map(\.text), mode: options.longText, progress: progress)
        let embedSeconds = seconds(clock.now - embedStart)
        let isTrain = Set(train)
        let trainRows = windows.document.indices.filter { isTrain.contains(windows.document[$0]) }
        let weights = trainRows.map { 1 / Float(windows.windowCounts[windows.document[$0]]) }
        let solveStart = clock.now
        let (head, iterations, converged) = try solve(windows.features.selecting(rows: trainRows), trainRows.map { windows.document[$0] },
                                                      weights.allSatisfy { $0 == 1 } ? nil : weights, embedder.model.kernel)
        return Fit(train: train, validation: validation, windows: windows, head: head, iterations: iterations, converged: converged,
                   embedSeconds: embedSeconds, solveSeconds: seconds(clock.now - solveStart))
    }

    /// The head folder config for a result: labels, the embedder's settings, and the encoder
    /// path relative to `output`.
    public static func config(for result: Result, labels: [String], embedder: WindowEmbedder, output: URL) -> HeadFolder.Config {
        let encoder = embedder.sentence.model.directory
        return HeadFolder.Config(
            kind: result.head.kind, labels: labels,
            encoder: HeadFolder.relativePath(from: output, to: encoder),
            encoderAbsolute: encoder.standardizedFileURL.resolvingSymlinksInPath().path,
            pooling: embedder.poolingName, normalize: embedder.sentence.normalize,
            maxLength: embedder.maxLength, hiddenSize: embedder.dimension, training: result.record)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
