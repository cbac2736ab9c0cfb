import ArgumentParser
import BertBLAS
import Foundation

/// `bert eval`: accuracy, macro-F1, per-label precision/recall and the confusion matrix of a
/// classifier on labeled data; micro/macro-F1 of a multi-label classifier; Pearson r and RMSE of
/// a regression model.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a classifier (head folder or HF checkpoint) on labeled data.",
        discussion: """
            Classifies every document of --data as 'bert classify' does (long documents: window \
            scores averaged) and compares with the labels, matched to the model's labels by name. \
            --split validation (or train) evaluates one part of the split 'bert train-head' used: \
            by default its recorded --validation-split and --seed. Prints a table, or with --json \
            {"accuracy", "macro_f1", "labels", "per_label": {label: {"precision", "recall", "f1", \
            "support"}}, "confusion": [[…]]} (rows: true label, columns: predicted).

            The model's problem type decides the metrics. A multi-label model (problem_type \
            multi_label_classification): the labels of each text are joined by --label-separator in \
            the data, a label is predicted when its sigmoid score is >= 0.5; micro-F1, macro-F1, \
            subset accuracy and per-label figures. A regression model (problem_type regression, or a \
            train-head --task regression head): the label column is a number; Pearson r, RMSE, MAE, \
            and with --rating-scale the 5-star accuracy. Their splits are seeded but not stratified, \
            as in training.

            A token-classification folder (config.json architectures …ForTokenClassification, e.g. \
            from 'bert finetune --task ner'): --data is a CoNLL-style 'word<TAB>tag' file as \
            finetune reads it, and the figures are those of finetune's NER validation: each word \
            tokenized on its own, sentences cut to --max-length at a word boundary, a word's tag its \
            first sub-token's argmax; entity precision, recall and F1 (conlleval chunks) and word \
            accuracy. --split takes finetune's seeded split of the sentences (not stratified; \
            default fraction 0.2, seed 42).
            """)

    enum Split: String, ExpressibleByArgument, CaseIterable { case all, train, validation }

    @OptionGroup var model: ModelOptions
    @OptionGroup var kernel: KernelOptions
    @OptionGroup var data: DataOptions

    @Option(name: .long, help: ArgumentHelp("Which documents to evaluate: all, or the train or validation part of the split.", valueName: "all|train|validation"))
    var split: Split = .all

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Validation fraction for --split, in [0, 1). (default: the head's training value, else 0.2)", valueName: "fraction"))
    var validationSplit: Double?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Split seed for --split. (default: the head's training value, else 42)", valueName: "n"))
    var seed: UInt64?

    @Option(name: .long, help: ArgumentHelp("chunk: average the scores of overlapping windows; truncate: first window only.", valueName: "chunk|truncate"))
    var longText: LongTextMode = .chunk

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Windows per forward pass.", valueName: "n"))
    var batchSize: Int = 32

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Token-classification folders: tokens per sentence, special tokens included, as in finetune.", valueName: "n"))
    var maxLength: Int = 128

    @Flag(name: .long, help: "Print the metrics as one JSON object. Default: off (a table).")
    var json = false

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if maxLength < 2 { throw ValidationError("--max-length must be at least 2, got \(maxLength)") }
        if let validationSplit, !(0 ..< 1).contains(validationSplit) {
            throw ValidationError("--validation-split must be in [0, 1), got \(validationSplit)")
        }
    }

    func run() throws {
        try Report.stoppingOnError(body)
    }

    /// What the model predicts, from its score function: raw outputs are regression, independent
    /// sigmoids over several labels are multi-label.
    static func problemType(_ classifier: SequenceClassifier) -> ProblemType {
        switch classifier.function {
        case .none: .regression
        case .sigmoid where classifier.labels.count > 1: .multiLabelClassification
        default: .singleLabelClassification
        }
    }

    /// The documents of the selected part, and their predictions (long documents: window scores averaged).
    private func predict(_ classifier: DocumentClassifier, _ dataset: LabeledDataset, stratified: Bool,
                         record: HeadFolder.TrainingRecord?) throws -> (selected: [Int], predictions: [DocumentPrediction]) {
        var selected = Array(dataset.examples.indices)
        if split != .all {
            let parts = try dataset.split(validationFraction: validationSplit ?? record?.validationSplit ?? 0.2,
                                          seed: seed ?? record?.seed ?? 42, stratified: stratified)
            selected = split == .train ? parts.train : parts.validation
        }
        let texts = selected.map { dataset.examples[$0].text }
        let bar = ProgressBar(unit: "documents", total: texts.count)
        var predictions: [DocumentPrediction] = []
        var start = 0
        let step = 256
        while start < texts.count {
            let end = min(start + step, texts.count)
            predictions += try classifier.classify(Array(texts[start..<end]), mode: longText)
            start = end
            bar.update(start)
        }
        bar.finish()
        return (selected, predictions)
    }

    /// Multi-label and regression models.
    private func evaluate(_ classifier: DocumentClassifier, problem: ProblemType, dataset: LabeledDataset,
                          record: HeadFolder.TrainingRecord?, report: Report) throws {
        let targets = try LabeledTargets(dataset, problemType: problem, separator: data.labelSeparator)
        let (selected, predictions) = try predict(classifier, dataset, stratified: false, record: record)
        var text = "data      \(data.data) (\(split.rawValue))\n"
        switch targets.values {
        case .numbers(let numbers):
            let metrics = try RegressionMetrics(truth: selected.map { numbers[$0] },
                                                predicted: predictions.map { Double($0.scores[0]) }, scale: data.ratingScale?.scale)
            if json { JSONLines.write(metrics) } else { text += metrics.table }
        case .sets(let sets):
            let index = Dictionary(uniqueKeysWithValues: classifier.labels.enumerated().map { ($1, $0) })
            let unknown = targets.outputs.filter { index[$0] == nil }
            if !unknown.isEmpty {
                throw BertError(.invalidInput, "\(data.data): label(s) \(unknown.joined(separator: ", ")) are not among the model's labels (\(classifier.labels.joined(separator: ", ")))")
            }
            let truth = selected.map { sets[$0].compactMap { index[targets.outputs[$0]] }.sorted() }
            let predicted = MultiLabelMetrics.predictedSets(scores: Array(predictions.map(\.scores).joined()), labels: classifier.labels.count)
            let metrics = try MultiLabelMetrics(truth: truth, predicted: predicted, labels: classifier.labels)
            if json { JSONLines.write(metrics) } else { text += metrics.table }
        case .classes:
            break
        }
        if !json { Output.write(text) }
        try report.finish()
    }

    /// Whether the folder is a token classifier (`…ForTokenClassification`).
    private var isTokenClassifier: Bool {
        let config = try? BertConfig.load(model.url.appendingPathComponent("config.json"))
        return config?.architectures?.contains { $0.hasSuffix(HeadTask.tokenClassification.rawValue) } ?? false
    }

    /// A token-classification folder on a CoNLL-style file: finetune's NER validation figures.
    private func evaluateTokens(report: Report) throws {
        let dataset = try TaggedDataset.load(path: data.data)
        for w in dataset.warnings.prefix(10) { report.warn(w) }
        var selected = Array(dataset.sentences.indices)
        if split != .all {
            let parts = try LabeledDataset.seededSplit(count: dataset.sentences.count, validationFraction: validationSplit ?? 0.2,
                                                       seed: seed ?? 42)
            selected = split == .train ? parts.train : parts.validation
        }
        let metrics = try SequenceFineTuner.evaluateTokens(directory: model.url, data: dataset, sentences: selected, maxLength: maxLength,
                                                           batchSize: batchSize, kernel: kernel.kernel)
        if json {
            JSONLines.write(TokenReport(metrics, sentences: selected.count))
        } else {
            var text = "data      \(data.data) (\(split.rawValue)): \(selected.count) sentences, \(metrics.words) words, \(metrics.entities) entities\n"
            text += String(format: "entity    precision %.4f   recall %.4f   F1 %.4f\n", metrics.precision, metrics.recall, metrics.f1)
            text += String(format: "words     accuracy %.4f\n", metrics.wordAccuracy)
            Output.write(text)
        }
        try report.finish()
    }

    /// The `--json` record of a token-classification folder.
    struct TokenReport: Encodable {
        var precision, recall, entityF1, wordAccuracy: Double
        var entities, words, sentences: Int

        init(_ m: EntityMetrics, sentences: Int) {
            (precision, recall, entityF1, wordAccuracy) = (m.precision, m.recall, m.f1, m.wordAccuracy)
            (entities, words, self.sentences) = (m.entities, m.words, sentences)
        }

        enum CodingKeys: String, CodingKey {
            case precision, recall, entities, words, sentences
            case entityF1 = "entity_f1", wordAccuracy = "word_accuracy"
        }
    }

    private func body() throws {
        let report = Report()
        if isTokenClassifier { return try evaluateTokens(report: report) }
        let classifier = try DocumentClassifier(directory: model.url, batchSize: batchSize, kernel: kernel.kernel)
        let record = classifier.headConfig?.training
        // Default to the labels the head was trained without (e.g. 'plot'), unless given.
        let excluded = data.excludeLabel.isEmpty ? (record?.excludedLabels ?? []) : data.excludeLabel
        let dataset = try data.load(report: report, excluded: excluded)
        let problem = Self.problemType(classifier.classifier)
        if problem != .singleLabelClassification {
            return try evaluate(classifier, problem: problem, dataset: dataset, record: record, report: report)
        }
        let index = Dictionary(uniqueKeysWithValues: classifier.labels.enumerated().map { ($1, $0) })
        let unknown = dataset.labels.filter { index[$0] == nil }
        if !unknown.isEmpty {
            throw BertError(.invalidInput, "\(data.data): label(s) \(unknown.joined(separator: ", ")) are not among the model's labels (\(classifier.labels.joined(separator: ", ")))")
        }
        let (selected, predictions) = try predict(classifier, dataset, stratified: true, record: record)
        let truth = selected.map { index[dataset.examples[$0].label] ?? 0 }
        let metrics = try ClassificationMetrics(truth: truth, predicted: predictions.map(\.labelIndex), labels: classifier.labels)
        if json {
            JSONLines.write(metrics)
        } else {
            Output.write("data      \(data.data) (\(split.rawValue))\n" + metrics.table)
        }
        try report.finish()
    }
}
