import ArgumentParser
import BertBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension LongTextMode: ExpressibleByArgument {}
extension HeadTrainer.Solver: ExpressibleByArgument {}

/// `--data PATH` and how to read it: shared by train-head, finetune and eval.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Labeled data: a folder with one subfolder of .txt files per label, a CSV/TSV with a header, or headerless 'label<TAB>text' lines. Required.",
        valueName: "path"))
    var data: String

    @Option(name: .long, help: ArgumentHelp("The text column of a CSV/TSV with a header.", valueName: "name"))
    var textColumn: String = "text"

    @Option(name: .long, help: ArgumentHelp("The label column of a CSV/TSV with a header.", valueName: "name"))
    var labelColumn: String = "label"

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp(
        "Drop the examples with this label (repeatable), e.g. Rotten Tomatoes' 'plot'. Default: none (eval: the head's training exclusions).",
        valueName: "label"))
    var excludeLabel: [String] = []

    @Option(name: .long, help: ArgumentHelp("Folder data: only files matching this glob.", valueName: "pattern"))
    var dataGlob: String = "*.txt"

    @Option(name: .long, help: ArgumentHelp(
        "Multi-label data: what joins the labels of one text in the label column or field, e.g. 'sports;politics'; a text with none of the labels has the label '-'.",
        valueName: "separator"))
    var labelSeparator: String = ";"

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Regression data that is a rating: its range, cut into 5 equal-width star classes (a value on a boundary goes to the upper class) to report 5-star accuracy next to Pearson r, e.g. -4:4 for the VADER ratings. Default: none (no star accuracy).",
        valueName: "min:max"))
    var ratingScale: RatingScaleArgument?

    func validate() throws {
        if labelSeparator.isEmpty { throw ValidationError("--label-separator must not be empty") }
    }

    func load(report: Report, excluded: [String]? = nil) throws -> LabeledDataset {
        let data = try LabeledDataset.load(path: self.data, options: .init(
            textColumn: textColumn, labelColumn: labelColumn,
            excludedLabels: Set(excluded ?? excludeLabel), glob: dataGlob))
        // Skipped rows are warnings, not failures: the data set is still usable.
        let shown = data.warnings.prefix(10)
        for w in shown { report.warn(w) }
        if data.warnings.count > shown.count { report.warn("… and \(data.warnings.count - shown.count) more skipped or repaired rows") }
        return data
    }
}

/// `--rating-scale MIN:MAX`.
struct RatingScaleArgument: ExpressibleByArgument {
    var scale: RatingScale

    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = Double(parts[0]), let high = Double(parts[1]),
              let scale = try? RatingScale(minimum: low, maximum: high) else { return nil }
        self.scale = scale
    }
}

/// What `--task` trains: shared by train-head and finetune.
enum TrainingTask: String, ExpressibleByArgument, CaseIterable {
    case classification
    case multiLabel = "multi-label"
    case regression
    case ner

    /// The sequence tasks' problem type (nil for ner).
    var problemType: ProblemType? {
        switch self {
        case .classification: .singleLabelClassification
        case .multiLabel: .multiLabelClassification
        case .regression: .regression
        case .ner: nil
        }
    }
}

/// The split options of the training commands (train-head, finetune).
struct SplitOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Fraction held out for validation, in [0, 1): of each label for classification (stratified), of all texts for multi-label and regression.",
        valueName: "fraction"))
    var validationSplit: Double = 0.2

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Seed of the split (finetune: also of a new classifier and of the shuffling).", valueName: "n"))
    var seed: UInt64 = 42

    func validate() throws {
        if !(0 ..< 1).contains(validationSplit) { throw ValidationError("--validation-split must be in [0, 1), got \(validationSplit)") }
    }
}

/// Writes text to stdout, unbuffered so records stream.
enum Output {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// A CSV field, quoted when needed (RFC 4180).
    static func csvField(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    /// Pads (or cuts, with …) to `width` unicode scalars.
    static func cell(_ s: String, _ width: Int, right: Bool = false) -> String {
        let scalars = Array(s.unicodeScalars)
        if scalars.count > width {
            var cut = String.UnicodeScalarView()
            cut.append(contentsOf: scalars.prefix(max(0, width - 1)))
            return String(cut) + "…"
        }
        let fill = String(repeating: " ", count: width - scalars.count)
        return right ? fill + s : s + fill
    }
}
