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
        let (train, validation) = try data.split(validationFraction: options.validationSplit, seed: options.seed)
        let labels = data.labelIndices
        let trainLabels = Set(train.map { labels[$0] })
        if let missing = data.labels.indices.first(where: { !trainLabels.contains($0) }) {
            throw BertError(.invalidInput, "\(dataPath): label '\(data.labels[missing])' has no training example")
        }
        let clock = ContinuousClock()
        let (windows, trainRows, weights, embedSeconds) = try embedForTraining(embedder, data: data, train: train,
                                                                                options: options, progress: progress)
        let x = windows.features.selecting(rows: trainRows)
        let y = trainRows.map { labels[windows.document[$0]] }

        // The encoder's kernel runs the solver and the head too (`.naive` reaches every product).
        let kernel = embedder.model.kernel
        let solveStart = clock.now
        let head: LinearHead
        var iterations = 0
        var converged = true
        switch options.solver {
        case .newton:
            let fit = try LogisticRegression.fit(x, labels: y, labelCount: data.labels.count,
                                                 weights: weights,
                                                 options: .init(regularization: options.regularization, kernel: kernel))
            head = fit.head
            iterations = fit.report.iterations
            converged = fit.report.converged
        case .ridge:
            head = try RidgeClassifier.fit(x, labels: y, labelCount: data.labels.count,
                                           weights: weights, regularization: options.regularization,
                                           kernel: kernel)
        }
        let solveSeconds = seconds(clock.now - solveStart)

        let scores = windows.averageByDocument(try head.probabilities(windows.features, kernel: kernel))
        let predictions = DocumentClassifier.predictions(scores, labels: data.labels, windowCounts: windows.windowCounts)
        let trainMetrics = try ClassificationMetrics(truth: train.map { labels[$0] },
                                                     predicted: train.map { predictions[$0].labelIndex }, labels: data.labels)
        let validationMetrics = validation.isEmpty ? nil : try ClassificationMetrics(
            truth: validation.map { labels[$0] }, predicted: validation.map { predictions[$0].labelIndex }, labels: data.labels)
        let record = HeadFolder.TrainingRecord(
            data: dataPath, solver: options.solver.rawValue, regularization: Double(options.regularization),
            validationSplit: options.validationSplit, seed: options.seed, longText: options.longText.rawValue,
            excludedLabels: excludedLabels, trainExamples: train.count, validationExamples: validation.count,
            trainAccuracy: trainMetrics.accuracy, validationAccuracy: validationMetrics?.accuracy,
            validationMacroF1: validationMetrics?.macroF1, iterations: iterations, converged: converged,
            embedSeconds: embedSeconds, solveSeconds: solveSeconds)
        return Result(head: head, record: record, trainMetrics: trainMetrics, validationMetrics: validationMetrics,
                      labels: data.labels, windows: windows, train: train, validation: validation)
    }

    /// Embeds every document (long ones as windows, per `options.longText`) and picks the rows of
    /// the training documents' windows, each weighted 1 / (its document's window count): nil
    /// weights when every document is one window. Also returns the embedding's seconds.
    static func embedForTraining(_ embedder: WindowEmbedder, data: LabeledDataset, train: [Int], options: Options,
                                 progress: ((Int, Int) -> Void)?)
        throws -> (windows: DocumentWindows, trainRows: [Int], weights: [Float]?, seconds: Double) {
        let clock = ContinuousClock()
        let start = clock.now
        let windows = try embedder.embed(documents: data.examples.map(\.text), mode: options.longText, progress: progress)
        let elapsed = seconds(clock.now - start)
        let isTrain = Set(train)
        let trainRows = windows.document.indices.filter { isTrain.contains(windows.document[$0]) }
        let weights = trainRows.map { 1 / Float(windows.windowCounts[windows.document[$0]]) }
        return (windows, trainRows, weights.allSatisfy { $0 == 1 } ? nil : weights, elapsed)
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
        let (train, validation) = try data.split(validationFraction: options.validationSplit, seed: options.seed, stratified: false)
        guard !train.isEmpty else { throw BertError(.invalidInput, "\(dataPath): the training split is empty") }
        let clock = ContinuousClock()
        let (windows, trainRows, weights, embedSeconds) = try embedForTraining(embedder, data: data, train: train,
                                                                                options: options, progress: progress)
        let kernel = embedder.model.kernel
        let solveStart = clock.now
        let head = try RidgeClassifier.fitRegression(
            windows.features.selecting(rows: trainRows), targets: trainRows.map { Float(numbers[windows.document[$0]]) },
            weights: weights, regularization: options.regularization, kernel: kernel)
        let solveSeconds = seconds(clock.now - solveStart)
        let predicted = windows.averageByDocument(try head.logits(windows.features, kernel: kernel)).values.map(Double.init)
        let trainMetrics = try RegressionMetrics(truth: train.map { numbers[$0] }, predicted: train.map { predicted[$0] },
                                                 scale: options.ratingScale)
        let validationMetrics = validation.isEmpty ? nil : try RegressionMetrics(
            truth: validation.map { numbers[$0] }, predicted: validation.map { predicted[$0] }, scale: options.ratingScale)
        let record = HeadFolder.TrainingRecord(
            data: dataPath, solver: options.solver.rawValue, regularization: Double(options.regularization),
            validationSplit: options.validationSplit, seed: options.seed, longText: options.longText.rawValue,
            excludedLabels: excludedLabels, trainExamples: train.count, validationExamples: validation.count,
            trainAccuracy: nil, validationAccuracy: nil, validationMacroF1: nil, iterations: 0, converged: true,
            embedSeconds: embedSeconds, solveSeconds: solveSeconds, trainPearson: trainMetrics.pearson,
            validationPearson: validationMetrics?.pearson, validationRMSE: validationMetrics?.rmse,
            validationStarAccuracy: validationMetrics?.starAccuracy)
        return Result(head: head, record: record, trainRegression: trainMetrics, validationRegression: validationMetrics,
                      labels: targets.outputs, windows: windows, train: train, validation: validation)
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
