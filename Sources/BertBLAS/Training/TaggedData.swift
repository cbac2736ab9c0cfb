import Foundation

/// One sentence of token-tagged data: its words and one tag per word.
public struct TaggedSentence: Sendable, Equatable {
    public var words: [String]
    public var tags: [String]
    /// `path:line` of its first word.
    public var source: String
}

/// A sentence ready for token-classification training: ids with special tokens, one label per
/// token (the word's tag index on its first sub-token, `TrainableTokenClassifier.ignoredLabel`
/// on later sub-tokens and special tokens, as transformers' `run_ner` aligns labels), and the
/// token position of each word kept after truncation.
public struct TaggedEncoding: Sendable, Equatable {
    public var ids: [Int32]
    public var labels: [Int]
    /// Token position of each kept word's first sub-token, in word order.
    public var wordStarts: [Int]
}

/// Token-tagged (CoNLL-style) data for token classification, e.g. WNUT-16: one word per line,
/// the word in the first column and its tag (BIO: `B-person`, `I-person`, `O`) in the last,
/// separated by a tab (without a tab: by spaces, as CoNLL-2003's four columns); a line that is
/// empty or whitespace only ends a sentence; `-DOCSTART-` lines are skipped. Tags are sorted
/// (byte order), so tag indices are the same for every run.
public struct TaggedDataset: Sendable {
    public var sentences: [TaggedSentence]
    /// The distinct tags, sorted; a tag's index is its position here.
    public var labels: [String]
    /// Lines the reader skipped or repaired, one per line.
    public var warnings: [String]

    /// Builds a data set; `labels` are the sorted distinct tags of `sentences`.
    public init(sentences: [TaggedSentence], warnings: [String] = []) {
        self.sentences = sentences
        labels = Array(Set(sentences.flatMap(\.tags))).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        self.warnings = warnings
    }

    /// Reads a token-tagged file (see the type).
    /// - Throws: `BertError.io` when it cannot be read; `BertError.invalidFile` naming the file
    ///   when it holds no tagged word.
    public static func load(path: String) throws -> TaggedDataset {
        let bytes = try TextLines.readAll(path: path)
        var sentences: [TaggedSentence] = []
        var warnings: [String] = []
        var words: [String] = [], tags: [String] = [], first = 0
        func close() {
            if !words.isEmpty { sentences.append(TaggedSentence(words: words, tags: tags, source: "\(path):\(first)")) }
            words = []
            tags = []
        }
        for line in TextLines.split(bytes, source: path) {
            if line.repairedUTF8 { warnings.append("\(path):\(line.number): invalid UTF-8 replaced with U+FFFD") }
            let text = line.text.hasSuffix("\r") ? String(line.text.dropLast()) : line.text
            if text.allSatisfy({ $0.isWhitespace }) {
                close()
                continue
            }
            if text.hasPrefix("-DOCSTART-") { continue }
            let columns = text.contains("\t")
                ? text.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                : text.split(separator: " ").map(String.init)
            guard columns.count >= 2, let word = columns.first, let tag = columns.last,
                  !word.isEmpty, !tag.trimmingCharacters(in: .whitespaces).isEmpty else {
                warnings.append("\(path):\(line.number): skipped: expected 'word<TAB>tag'")
                continue
            }
            if words.isEmpty { first = line.number }
            words.append(word)
            tags.append(tag.trimmingCharacters(in: .whitespaces))
        }
        close()
        guard !sentences.isEmpty else { throw BertError(.invalidFile, "\(path): no tagged word (expected 'word<TAB>tag' lines)") }
        return TaggedDataset(sentences: sentences, warnings: warnings)
    }

    /// Encodes sentence `index`: each word on its own (as transformers' `is_split_into_words`),
    /// `[CLS]` words `[SEP]`, cut to `maxLength` tokens at a word boundary (a word that does not
    /// fit whole is dropped with the rest); a word that gives no token is skipped.
    public func encode(_ index: Int, tokenizer: BertTokenizer, maxLength: Int) -> TaggedEncoding {
        let tagIndex = Dictionary(uniqueKeysWithValues: self.labels.enumerated().map { ($1, $0) })
        let sentence = sentences[index]
        let specials = tokenizer.encode("")
        var ids: [Int32] = [specials.ids.first ?? tokenizer.specialTokens.cls]
        var labels: [Int] = [TrainableTokenClassifier.ignoredLabel]
        var starts: [Int] = []
        for (word, tag) in zip(sentence.words, sentence.tags) {
            let pieces = tokenizer.encode(word, addSpecialTokens: false).ids
            if pieces.isEmpty { continue }
            guard ids.count + pieces.count + 1 <= maxLength else { break }
            starts.append(ids.count)
            ids += pieces
            labels.append(tagIndex[tag] ?? 0)
            labels += [Int](repeating: TrainableTokenClassifier.ignoredLabel, count: pieces.count - 1)
        }
        ids.append(specials.ids.last ?? tokenizer.specialTokens.sep)
        labels.append(TrainableTokenClassifier.ignoredLabel)
        return TaggedEncoding(ids: ids, labels: labels, wordStarts: starts)
    }
}

/// Entity-level precision, recall and F1 of BIO tag sequences (conlleval's chunks, as seqeval's
/// default mode): a chunk starts at `B-X`, or at `I-X` after a tag of another type or `O`, and
/// continues over `I-X`; a predicted chunk counts when its type, start and end equal a true one.
/// Also the fraction of words tagged right.
public struct EntityMetrics: Sendable, Equatable, Codable {
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// Fraction of words whose tag is right.
    public var wordAccuracy: Double
    /// True chunks.
    public var entities: Int
    public var words: Int

    /// - Throws: `BertError.shape` when a sentence's tag counts differ.
    public init(truth: [[String]], predicted: [[String]]) throws {
        guard truth.count == predicted.count else {
            throw BertError(.shape, "metrics: \(truth.count) true sentences but \(predicted.count) predictions")
        }
        var correct = 0, trueCount = 0, predictedCount = 0, right = 0, words = 0
        for (t, p) in zip(truth, predicted) {
            guard t.count == p.count else { throw BertError(.shape, "metrics: \(t.count) true tags but \(p.count) predicted") }
            let tc = Set(Self.chunks(t)), pc = Set(Self.chunks(p))
            correct += tc.intersection(pc).count
            trueCount += tc.count
            predictedCount += pc.count
            right += zip(t, p).filter { $0 == $1 }.count
            words += t.count
        }
        precision = predictedCount > 0 ? Double(correct) / Double(predictedCount) : 0
        recall = trueCount > 0 ? Double(correct) / Double(trueCount) : 0
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        wordAccuracy = words > 0 ? Double(right) / Double(words) : 0
        entities = trueCount
        self.words = words
    }

    struct Chunk: Hashable { var type: Substring; var start: Int; var end: Int }

    /// The chunks of one tag sequence.
    static func chunks(_ tags: [String]) -> [Chunk] {
        var out: [Chunk] = []
        var open: Chunk?
        for (i, tag) in tags.enumerated() {
            let prefix = tag.prefix(2), type = tag.count > 2 ? tag.dropFirst(2) : ""
            let inside = prefix == "I-" || prefix == "E-"
            if let current = open, inside, type == current.type {
                open?.end = i
                continue
            }
            if let current = open { out.append(current) }
            open = (prefix == "B-" || prefix == "S-" || inside) ? Chunk(type: type, start: i, end: i) : nil
        }
        if let open { out.append(open) }
        return out
    }

    enum CodingKeys: String, CodingKey {
        case precision, recall, f1, entities, words
        case wordAccuracy = "word_accuracy"
    }
}
