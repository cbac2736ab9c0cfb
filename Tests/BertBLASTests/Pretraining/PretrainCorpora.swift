import Foundation
@testable import BertBLAS

/// Real corpora for the pre-training tests, read from the data cache (`make data`).
enum PretrainCorpora {
    /// BBC News articles in google-research/bert's format: per article, the title and then every
    /// sentence of its paragraphs on its own line, and a blank line after the article.
    ///
    /// - Parameter perCategory: how many articles of each of the 5 categories (in file order).
    static func bbcLines(perCategory: Int) throws -> [String] {
        var lines: [String] = []
        for category in ["business", "entertainment", "politics", "sports", "tech"] {
            let folder = Paths.bbcNews.appendingPathComponent(category)
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
                .filter { $0.hasSuffix(".txt") }.sorted().prefix(perCategory)
            for file in files {
                let data = try Data(contentsOf: folder.appendingPathComponent(file))
                let (text, _) = TextLines.decode(data)
                for paragraph in text.split(separator: "\n", omittingEmptySubsequences: true) {
                    lines.append(contentsOf: SentenceSplitter.split(String(paragraph)))
                }
                lines.append("")
            }
        }
        return lines
    }

    /// The `text` column of the Rotten Tomatoes CSV (RFC 4180 quoting, fields may span lines).
    static func rottenTomatoesTexts() throws -> [String] {
        let (csv, _) = TextLines.decode(try Data(contentsOf: Paths.rottenTomatoesCSV))
        var rows: [[String]] = []
        var row: [String] = []
        var field = String.UnicodeScalarView()
        var quoted = false
        var scalars = csv.unicodeScalars.makeIterator()
        var pending = scalars.next()
        while let c = pending {
            pending = scalars.next()
            if quoted {
                if c == "\"" {
                    if pending == "\"" { field.append("\""); pending = scalars.next() } else { quoted = false }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(String(field)); field = String.UnicodeScalarView()
            } else if c == "\n" {
                row.append(String(field)); field = String.UnicodeScalarView()
                rows.append(row); row = []
            } else if c != "\r" {
                field.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(String(field)); rows.append(row) }
        guard let header = rows.first, let column = header.firstIndex(of: "text") else { return [] }
        return rows.dropFirst().compactMap { $0.count > column ? $0[column] : nil }
    }
}
