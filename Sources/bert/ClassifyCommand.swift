import ArgumentParser
import BertBLAS
import Foundation

/// `bert classify`: label text files (or lines, or CSV cells) with a trained head folder or an HF
/// sequence-classification checkpoint.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Classify documents: files, folders, lines or CSV cells.",
        discussion: """
            --model takes a head folder from 'bert train-head' or a HuggingFace \
            BertForSequenceClassification checkpoint. PATH arguments are files, folders (walked \
            recursively, names in byte order, hidden names skipped; --glob filters file names) or \
            '-' for standard input; none means '-'. Each file is one document, unless --lines \
            (one per line) or --csv-column NAME (one per CSV/TSV record). Long documents are split \
            into overlapping windows within the model's max length and the window scores are \
            averaged (--long-text chunk), or cut to the first window (--long-text truncate).

            Output, in input order: one record per document with path (and line), label, score, \
            scores and windows. Scores are the model's: softmax probabilities, a sigmoid per label \
            for a multi-label model (whose record also lists "labels", those scored >= 0.5), the \
            number itself for a regression model (label: the target's name); --raw-scores gives \
            the logits (averaged over windows). An input that gives no document (missing, unreadable, binary, empty, \
            a symlink loop, over --max-bytes) gets one record with "error"; invalid UTF-8 is \
            replaced by U+FFFD with a "warning". The exit status is non-zero at the end if any \
            input failed.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case jsonl, csv, table }

    @OptionGroup var model: ModelOptions
    @OptionGroup var kernel: KernelOptions

    @Argument(help: ArgumentHelp("Files, folders, or '-' for standard input.", valueName: "path"))
    var paths: [String] = []

    @Flag(name: .long, help: "Each line of each file is a document (blank lines get an error record). Default: off (each file is one document).")
    var lines = false

    @Option(name: .long, help: ArgumentHelp("Each record of each CSV/TSV file is a document: the text of this header column. Default: none (each file is one document).", valueName: "name"))
    var csvColumn: String?

    @Option(name: .long, help: ArgumentHelp("Inside folders, only files whose name matches this pattern, e.g. '*.txt'. (default: every file)", valueName: "pattern"))
    var glob: String?

    @Option(name: .long, help: ArgumentHelp("chunk: average the scores of overlapping windows; truncate: first window only.", valueName: "chunk|truncate"))
    var longText: LongTextMode = .chunk

    @Option(name: .long, help: ArgumentHelp("Output format. (default: table when stdout is a terminal, else jsonl)", valueName: "jsonl|csv|table"))
    var format: Format?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Keep only the k best labels in \"scores\". (default: every label)", valueName: "k"))
    var topK: Int?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Windows per forward pass.", valueName: "n"))
    var batchSize: Int = 32

    @Flag(name: .long, help: "Scores are the logits, before softmax or sigmoid. Default: off (the model's scores).")
    var rawScores = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Files larger than this many bytes get an error record.", valueName: "bytes"))
    var maxBytes: Int = DocumentReader.defaultMaxBytes

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Documents classified per step; each step's results are written before the next starts.", valueName: "n"))
    var step: Int = 64

    func validate() throws {
        if lines && csvColumn != nil { throw ValidationError("--lines and --csv-column exclude each other") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if step < 1 { throw ValidationError("--step must be at least 1") }
        if maxBytes < 1 { throw ValidationError("--max-bytes must be at least 1") }
    }

    func run() throws {
        try Report.stoppingOnError(body)
    }

    private func body() throws {
        let report = Report()
        let classifier = try DocumentClassifier(directory: model.url, batchSize: batchSize, kernel: kernel.kernel,
                                                function: rawScores ? ClassificationFunction.none : nil)
        let mode: DocumentWalker.Mode = lines ? .lines : csvColumn.map { .csvColumn($0) } ?? .file
        let entries = DocumentWalker.expand(paths.isEmpty ? ["-"] : paths, glob: glob)
        let format = self.format ?? (Terminal.stdoutIsTTY ? .table : .jsonl)
        let multiLabel = !rawScores && classifier.classifier.function == .sigmoid && classifier.labels.count > 1
        let writer = RecordWriter(format: format, labels: classifier.labels, topK: topK, multiLabel: multiLabel,
                                  pathWidth: min(60, max(4, entries.map { $0.path.unicodeScalars.count + (mode == .file ? 0 : 6) }.max() ?? 4)))
        writer.header()
        let progress = ProgressBar(unit: "files", total: entries.count)
        var pending: [DocumentInput] = []
        var valid = 0

        func flush() {
            let documents = pending.filter { $0.error == nil }
            // One result per document: a document that fails gets its own error record.
            let results: [Result<DocumentPrediction, any Error>]
            do {
                results = try classifier.results(documents.map(\.text), mode: longText)
            } catch {
                results = documents.map { _ in .failure(error) }
            }
            var next = 0
            for var document in pending {
                var prediction: DocumentPrediction?
                if document.error == nil {
                    switch results[next] {
                    case .success(let p): prediction = p
                    case .failure(let error): document.error = HeadCommand.message(error)
                    }
                    next += 1
                }
                if let error = document.error {
                    report.fail("\(document.path)\(document.line.map { ":\($0)" } ?? ""): \(error)")
                } else if let warning = document.warning {
                    report.warn("\(document.path)\(document.line.map { ":\($0)" } ?? ""): \(warning)")
                }
                writer.write(document, prediction)
            }
            pending.removeAll(keepingCapacity: true)
            valid = 0
        }

        for (i, entry) in entries.enumerated() {
            for document in DocumentWalker.documents(of: entry, mode: mode, maxBytes: maxBytes) {
                pending.append(document)
                if document.error == nil { valid += 1 }
                if valid >= step { flush() }
            }
            // Errors alone do not wait for a full step: keep the stream moving.
            if valid == 0 && !pending.isEmpty { flush() }
            progress.update(i + 1)
        }
        flush()
        progress.finish()
        try report.finish()
    }
}

/// Renders classification records as JSON lines, CSV or an aligned table.
final class RecordWriter {
    /// One JSON line: where the document came from, then its prediction or its error.
    struct Record: Encodable {
        var path: String
        var line: Int?
        var label: String?
        var score: Float?
        /// The best `--top-k` labels' scores (every label by default).
        var scores: [String: Float]?
        /// Multi-label models: the labels scored ≥ 0.5, in label order.
        var labels: [String]?
        var windows: Int?
        var error: String?
        var warning: String?
    }

    let format: ClassifyCommand.Format
    let labels: [String]
    let topK: Int?
    let multiLabel: Bool
    let pathWidth: Int
    let labelWidth: Int

    init(format: ClassifyCommand.Format, labels: [String], topK: Int?, multiLabel: Bool = false, pathWidth: Int) {
        self.format = format
        self.labels = labels
        self.topK = topK
        self.multiLabel = multiLabel
        self.pathWidth = pathWidth
        self.labelWidth = max(5, min(30, labels.map { $0.unicodeScalars.count }.max() ?? 5))
    }

    func header() {
        switch format {
        case .jsonl: break
        case .csv: Output.write("path,line,label,score,windows,error\n")
        case .table:
            Output.write(Output.cell("PATH", pathWidth) + "  " + Output.cell("LABEL", labelWidth) + "   SCORE  WINDOWS\n")
        }
    }

    func write(_ document: DocumentInput, _ prediction: DocumentPrediction?) {
        switch format {
        case .jsonl:
            var record = Record(path: document.path, line: document.line)
            if let error = document.error {
                record.error = error
            } else if let p = prediction {
                record.label = p.label
                record.score = p.score
                record.scores = Dictionary(uniqueKeysWithValues: p.ranked.prefix(topK ?? labels.count).map { (labels[$0], p.scores[$0]) })
                record.windows = p.windows
                record.warning = document.warning
                if multiLabel { record.labels = MultiLabelMetrics.predictedSets(scores: p.scores, labels: labels.count)[0].map { labels[$0] } }
            }
            JSONLines.write(record)
        case .csv:
            let fields = [document.path, document.line.map(String.init) ?? "", prediction?.label ?? "",
                          prediction.map { String(format: "%.6f", $0.score) } ?? "",
                          prediction.map { String($0.windows) } ?? "", document.error ?? ""]
            Output.write(fields.map(Output.csvField).joined(separator: ",") + "\n")
        case .table:
            let path = document.path + (document.line.map { ":\($0)" } ?? "")
            if let error = document.error {
                Output.write(Output.cell(path, pathWidth) + "  error: " + error + "\n")
            } else if let p = prediction {
                Output.write(Output.cell(path, pathWidth) + "  " + Output.cell(p.label, labelWidth) + "  "
                             + String(format: "%6.3f", p.score) + "  " + Output.cell(String(p.windows), 7, right: true) + "\n")
            }
        }
    }
}
