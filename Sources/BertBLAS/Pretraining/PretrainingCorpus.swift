/// A tokenized pre-training corpus: documents, each a list of sentences, each a list of token ids
/// (without special tokens).
///
/// The text format is google-research/bert's: one sentence per line, and a blank (or
/// whitespace-only) line between documents, so that next-sentence pairs never span documents.
public struct PretrainingCorpus: Sendable, Equatable {
    /// `documents[d][s]` is sentence `s` of document `d`; no document and no sentence is empty.
    public private(set) var documents: [[[Int32]]]

    /// Creates a corpus, dropping empty sentences and then empty documents.
    ///
    /// - Parameter documents: documents of sentences of token ids.
    public init(documents: [[[Int32]]]) {
        self.documents = documents.map { $0.filter { !$0.isEmpty } }.filter { !$0.isEmpty }
    }

    /// Reads the google-research/bert format: a whitespace-only line ends the current document;
    /// any other line is trimmed and tokenized into one sentence. A line whose tokens come out
    /// empty is skipped without ending the document; empty documents are dropped.
    ///
    /// - Parameters:
    ///   - lines: the corpus lines, in order (several files may simply be concatenated; put a
    ///     blank line between them to keep their documents apart).
    ///   - tokenize: turns one trimmed line into token ids, without special tokens.
    ///   - progress: called now and then with (lines done, total lines).
    /// - Returns: the corpus; it may be empty (check `documents.isEmpty`).
    /// - Throws: whatever `tokenize` throws.
    public static func parse(lines: [String], tokenize: (String) throws -> [Int32],
                             progress: ((Int, Int) -> Void)? = nil) rethrows -> PretrainingCorpus {
        var documents: [[[Int32]]] = [[]]
        for (index, line) in lines.enumerated() {
            if let progress, index % 1024 == 0 { progress(index, lines.count) }
            let text = trimmed(line)
            if text.isEmpty {
                if !(documents[documents.count - 1].isEmpty) { documents.append([]) }
                continue
            }
            let ids = try tokenize(text)
            if !ids.isEmpty { documents[documents.count - 1].append(ids) }
        }
        progress?(lines.count, lines.count)
        return PretrainingCorpus(documents: documents)
    }

    /// The number of sentences over all documents.
    public var sentenceCount: Int { documents.reduce(0) { $0 + $1.count } }

    /// The number of tokens over all documents.
    public var tokenCount: Int { documents.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } } }

    /// Strips leading and trailing Unicode whitespace (Python's `str.strip()`), on scalars.
    static func trimmed(_ line: String) -> String {
        let scalars = line.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first ... last])
    }
}

/// Splits running text into sentences, for preparing a one-sentence-per-line corpus from
/// paragraphs (such as the BBC News articles). Rule-based and deliberately simple: a sentence
/// ends after `.`, `!` or `?` (plus any closing quotes or brackets) when whitespace follows and
/// the next word starts with an uppercase letter, a digit or an opening quote. Abbreviations
/// such as "Mr. Smith" are split too; that only shortens some sentences.
public enum SentenceSplitter {
    /// The sentences of `paragraph`, trimmed, in order; empty for blank text.
    ///
    /// - Parameter paragraph: one paragraph of running text.
    public static func split(_ paragraph: String) -> [String] {
        let scalars = Array(paragraph.unicodeScalars)
        var sentences: [String] = []
        var start = 0
        var i = 0
        func emit(_ end: Int) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[start ..< end])
            let text = PretrainingCorpus.trimmed(String(view))
            if !text.isEmpty { sentences.append(text) }
        }
        while i < scalars.count {
            let c = scalars[i]
            if c == "." || c == "!" || c == "?" {
                var end = i + 1
                while end < scalars.count, "\"'”’)]".unicodeScalars.contains(scalars[end]) { end += 1 }
                var next = end
                while next < scalars.count, scalars[next].properties.isWhitespace { next += 1 }
                if next > end, next < scalars.count {
                    let s = scalars[next]
                    if s.properties.isUppercase || ("0" ... "9").contains(s) || "\"'“‘(".unicodeScalars.contains(s) {
                        emit(end)
                        start = next
                        i = next
                        continue
                    }
                }
                i = end
                continue
            }
            i += 1
        }
        emit(scalars.count)
        return sentences
    }
}
