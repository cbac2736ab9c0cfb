import Foundation

/// One labeled document.
public struct LabeledExample: Sendable, Equatable {
    /// The document text.
    public var text: String
    /// Its label, as written in the data.
    public var label: String
    /// Where it came from: a file path, or `path:line` for a CSV/TSV row.
    public var source: String
}

/// A labeled data set for training or evaluating a classifier head, read from one of three forms:
///
/// 1. a folder with one subfolder per label holding `.txt` files (one document per file);
/// 2. a CSV/TSV file whose header names a text and a label column (default `text` and `label`);
/// 3. headerless `label<TAB>text` lines (a `.tsv` or `.txt` whose first row is not such a header).
///
/// Labels are sorted (byte order), so label indices are the same for every reader and run.
public struct LabeledDataset: Sendable {
    /// The examples in file order (folders: labels sorted, then file names sorted).
    public var examples: [LabeledExample]
    /// The distinct labels, sorted; a label's index is its position here.
    public var labels: [String]
    /// Things the reader skipped or repaired (row without text, invalid UTF-8 …), one per line.
    public var warnings: [String]

    /// Builds a data set; `labels` are the sorted distinct labels of `examples`.
    public init(examples: [LabeledExample], warnings: [String] = []) {
        self.examples = examples
        self.labels = Array(Set(examples.map(\.label))).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        self.warnings = warnings
    }

    /// Column names and filters for reading.
    public struct Options: Sendable {
        /// The text column of a CSV/TSV with a header. Default `text`.
        public var textColumn: String
        /// The label column of a CSV/TSV with a header. Default `label`.
        public var labelColumn: String
        /// Labels whose examples are dropped (e.g. Rotten Tomatoes' `plot`). Default none.
        public var excludedLabels: Set<String>
        /// Folder form: only files whose name matches this `fnmatch` pattern. Default `*.txt`.
        public var glob: String

        /// Creates options; each argument defaults as documented on its property.
        public init(textColumn: String = "text", labelColumn: String = "label",
                    excludedLabels: Set<String> = [], glob: String = "*.txt") {
            self.textColumn = textColumn
            self.labelColumn = labelColumn
            self.excludedLabels = excludedLabels
            self.glob = glob
        }
    }

    /// Reads a data set from a folder or a CSV/TSV file (the form is detected as described on the type).
    /// - Throws: `BertError.io` when the path cannot be read; `BertError.invalidFile` naming the
    ///   file when no form fits (e.g. a CSV whose header lacks the columns: the message lists the
    ///   columns found); `BertError.invalidInput` when no example remains. (Training needs 2
    ///   labels or more; evaluation accepts one.)
    public static func load(path: String, options: Options = Options()) throws -> LabeledDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BertError(.io, "\(path): no such file or directory")
        }
        var data = isDirectory.boolValue ? try loadFolder(path, options: options) : try loadTable(path, options: options)
        if !options.excludedLabels.isEmpty {
            data = LabeledDataset(examples: data.examples.filter { !options.excludedLabels.contains($0.label) },
                                  warnings: data.warnings)
        }
        guard !data.examples.isEmpty else {
            throw BertError(.invalidInput, "\(path): no example left after excluding \(options.excludedLabels.sorted().joined(separator: ", "))")
        }
        return data
    }

    static func loadFolder(_ path: String, options: Options) throws -> LabeledDataset {
        let fm = FileManager.default
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: path) } catch {
            throw BertError(.io, "\(path): cannot list: \(error.localizedDescription)")
        }
        var examples: [LabeledExample] = []
        var warnings: [String] = []
        for label in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) where !label.hasPrefix(".") {
            let folder = (path as NSString).appendingPathComponent(label)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let files = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
            for name in files.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            where !name.hasPrefix(".") && Glob.matches(options.glob, name) {
                let file = (folder as NSString).appendingPathComponent(name)
                let document = DocumentReader.read(path: file)
                if let error = document.error {
                    warnings.append("\(file): skipped: \(error)")
                    continue
                }
                if let warning = document.warning { warnings.append("\(file): \(warning)") }
                examples.append(LabeledExample(text: document.text, label: label, source: file))
            }
        }
        if examples.isEmpty {
            throw BertError(.invalidFile, "\(path): no label subfolder holds a file matching '\(options.glob)'")
        }
        return LabeledDataset(examples: examples, warnings: warnings)
    }

    static func loadTable(_ path: String, options: Options) throws -> LabeledDataset {
        let bytes = try TextLines.readAll(path: path)
        let ext = (path as NSString).pathExtension.lowercased()
        let delimiter = ext == "txt" ? UInt8(ascii: "\t") : CSVReader.delimiter(forPath: path)
        let records = try CSVReader.parse(bytes, delimiter: delimiter, source: path)
        guard let header = records.first else {
            throw BertError(.invalidFile, "\(path): empty file")
        }
        var examples: [LabeledExample] = []
        var warnings: [String] = []
        let textIndex = header.fields.firstIndex(of: options.textColumn)
        let labelIndex = header.fields.firstIndex(of: options.labelColumn)
        if let textIndex, let labelIndex {
            for record in records.dropFirst() {
                if record.repairedUTF8 { warnings.append("\(path):\(record.line): invalid UTF-8 replaced with U+FFFD") }
                guard record.fields.count > max(textIndex, labelIndex) else {
                    warnings.append("\(path):\(record.line): skipped: \(record.fields.count) field(s), the header has \(header.fields.count)")
                    continue
                }
                let text = record.fields[textIndex], label = record.fields[labelIndex]
                if options.excludedLabels.contains(label) { continue }
                if Self.isBlank(text) || label.isEmpty {
                    warnings.append("\(path):\(record.line): skipped: empty \(label.isEmpty ? options.labelColumn : options.textColumn)")
                    continue
                }
                examples.append(LabeledExample(text: text, label: label, source: "\(path):\(record.line)"))
            }
        } else if delimiter == UInt8(ascii: "\t") {
            // Headerless `label<TAB>text`: the text is everything after the first tab.
            for line in TextLines.split(bytes, source: path) {
                if line.text.isEmpty { continue }
                if line.repairedUTF8 { warnings.append("\(path):\(line.number): invalid UTF-8 replaced with U+FFFD") }
                guard let tab = line.text.firstIndex(of: "\t") else {
                    warnings.append("\(path):\(line.number): skipped: no tab between label and text")
                    continue
                }
                let label = String(line.text[..<tab]), text = String(line.text[line.text.index(after: tab)...])
                if options.excludedLabels.contains(label) { continue }
                if label.isEmpty || Self.isBlank(text) {
                    warnings.append("\(path):\(line.number): skipped: empty \(label.isEmpty ? "label" : "text")")
                    continue
                }
                examples.append(LabeledExample(text: text, label: label, source: "\(path):\(line.number)"))
            }
        } else {
            throw BertError(.invalidFile, "\(path): the header has no '\(options.textColumn)' and '\(options.labelColumn)' columns (it has: \(header.fields.joined(separator: ", "))); name them with the textColumn and labelColumn options")
        }
        if examples.isEmpty { throw BertError(.invalidFile, "\(path): no labeled example") }
        return LabeledDataset(examples: examples, warnings: warnings)
    }

    static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.properties.isWhitespace }
    }

    /// Each example's label index (its position in `labels`).
    public var labelIndices: [Int] {
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        return examples.map { index[$0.label] ?? 0 }
    }

    /// A fixed, seeded split: within each label (`stratified`, the default) or over all examples
    /// at once (multi-label and regression data, whose label strings are sets or numbers), the
    /// examples are shuffled (Fisher–Yates driven by SplitMix64 seeded with `seed`) and the first
    /// `round(count × validationFraction)` go to validation.
    /// - Parameters:
    ///   - validationFraction: in [0, 1); 0 puts everything in train.
    ///   - seed: the shuffle seed; the same seed gives the same split on every machine.
    ///   - stratified: split each label apart (default), or all examples as one group.
    /// - Returns: ascending example indices of each part.
    /// - Throws: `BertError.invalidInput` when the fraction is outside [0, 1).
    public func split(validationFraction: Double, seed: UInt64, stratified: Bool = true) throws -> (train: [Int], validation: [Int]) {
        try Self.split(groups: stratified ? labelIndices : [Int](repeating: 0, count: examples.count),
                       groupCount: stratified ? labels.count : 1, validationFraction: validationFraction, seed: seed)
    }

    /// The unstratified split of `count` items (e.g. tagged sentences), as `split(…, stratified: false)`.
    public static func seededSplit(count: Int, validationFraction: Double, seed: UInt64) throws -> (train: [Int], validation: [Int]) {
        try split(groups: [Int](repeating: 0, count: count), groupCount: 1, validationFraction: validationFraction, seed: seed)
    }

    /// Splits each group (item i is in group `groups[i]`) as `split` describes.
    static func split(groups indices: [Int], groupCount: Int, validationFraction: Double, seed: UInt64) throws -> (train: [Int], validation: [Int]) {
        guard validationFraction >= 0, validationFraction < 1 else {
            throw BertError(.invalidInput, "validationFraction must be in [0, 1), got \(validationFraction)")
        }
        var rng = SplitMix64(seed: seed)
        var train: [Int] = [], validation: [Int] = []
        for label in 0..<groupCount {
            var members = indices.indices.filter { indices[$0] == label }
            if members.count > 1 {
                for i in stride(from: members.count - 1, to: 0, by: -1) {
                    let j = Int(rng.next() % UInt64(i + 1))
                    members.swapAt(i, j)
                }
            }
            let take = Int((Double(members.count) * validationFraction).rounded())
            validation += members[..<take]
            train += members[take...]
        }
        return (train.sorted(), validation.sorted())
    }
}

/// What a model learns from a data set's labels: transformers' `problem_type`.
public enum ProblemType: String, Sendable, Codable, CaseIterable {
    /// One label per text (softmax, cross-entropy).
    case singleLabelClassification = "single_label_classification"
    /// Any number of labels per text (sigmoid per label, binary cross-entropy).
    case multiLabelClassification = "multi_label_classification"
    /// One number per text (identity, mean squared error).
    case regression

    /// Single-label data is split within each label; sets and numbers are split as one group.
    public var stratifiedSplit: Bool { self == .singleLabelClassification }
}

/// A data set's label strings read for one problem type: the model's outputs and each example's target.
///
/// - single-label: the label string is one label;
/// - multi-label: the label string lists labels joined by a separator (`;` by default), e.g.
///   `sports;politics`; spaces around each label are dropped and empty pieces ignored; an
///   example with none of the labels is written `-` (`emptySet`);
/// - regression: the label string is a decimal number (`2.25`, `-0.6`, `1e-3`).
public struct LabeledTargets: Sendable, Equatable {
    /// Each example's target.
    public enum Values: Sendable, Equatable {
        /// single-label: class indices into `outputs`.
        case classes([Int])
        /// multi-label: each example's sorted label indices into `outputs`.
        case sets([[Int]])
        /// regression: one number per example.
        case numbers([Double])
    }

    public var problemType: ProblemType
    /// The model's outputs, in order: sorted label names, or (regression) the one target's name.
    public var outputs: [String]
    /// One target per example, in example order.
    public var values: Values

    /// The marker of an example with no label in multi-label data.
    public static let emptySet = "-"

    /// Reads the targets of `data` for `problemType`.
    /// - Parameters:
    ///   - separator: multi-label: what joins the labels of one example (default `;`).
    ///   - targetName: regression: the name of the one output (e.g. the label column's name).
    /// - Throws: `BertError.invalidInput` naming the example's source (`file:line`) when a
    ///   regression label is not a finite number or a multi-label string is empty; when
    ///   single-label or multi-label data has fewer than 2 labels.
    public init(_ data: LabeledDataset, problemType: ProblemType, separator: String = ";", targetName: String = "label") throws {
        self.problemType = problemType
        switch problemType {
        case .singleLabelClassification:
            guard data.labels.count >= 2 else {
                throw BertError(.invalidInput, "classification needs at least two labels, the data has \(data.labels.count) (\(data.labels.joined(separator: ", ")))")
            }
            outputs = data.labels
            values = .classes(data.labelIndices)
        case .multiLabelClassification:
            guard !separator.isEmpty else { throw BertError(.invalidInput, "separator must not be empty") }
            var sets: [[String]] = []
            sets.reserveCapacity(data.examples.count)
            for example in data.examples {
                if example.label.trimmingCharacters(in: .whitespaces) == Self.emptySet { sets.append([]); continue }
                let names = example.label.components(separatedBy: separator)
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard !names.isEmpty else {
                    throw BertError(.invalidInput, "\(example.source): label '\(example.label)' names no label (write '\(Self.emptySet)' for none)")
                }
                sets.append(names)
            }
            let names = Array(Set(sets.joined())).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            guard names.count >= 2 else {
                throw BertError(.invalidInput, "multi-label classification needs at least two labels, the data has \(names.count) (\(names.joined(separator: ", ")))")
            }
            let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            outputs = names
            values = .sets(sets.map { Array(Set($0.compactMap { index[$0] })).sorted() })
        case .regression:
            var numbers: [Double] = []
            numbers.reserveCapacity(data.examples.count)
            for example in data.examples {
                guard let value = Double(example.label.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                    throw BertError(.invalidInput, "\(example.source): label '\(example.label)' is not a number (regression needs one number per text)")
                }
                numbers.append(value)
            }
            outputs = [targetName]
            values = .numbers(numbers)
        }
    }

    /// The loss targets of the examples at `indices` (multi-label: 0/1 per output, row-major).
    public func trainingTargets(_ indices: some Collection<Int>) -> TrainingTargets {
        switch values {
        case .classes(let classes):
            return .classes(indices.map { classes[$0] })
        case .sets(let sets):
            var flat = [Float](repeating: 0, count: indices.count * outputs.count)
            for (row, i) in indices.enumerated() { for k in sets[i] { flat[row * outputs.count + k] = 1 } }
            return .multiLabel(flat)
        case .numbers(let numbers):
            return .values(indices.map { Float(numbers[$0]) })
        }
    }
}
