import Foundation

/// One CSV/TSV record: its fields and the 1-based line where it starts.
public struct CSVRecord: Sendable, Equatable {
    /// The fields, unquoted. Invalid UTF-8 is replaced by U+FFFD.
    public var fields: [String]
    /// 1-based line number of the record's first character (a quoted field may span lines).
    public var line: Int
    /// True when some bytes of the record were not valid UTF-8 and were replaced.
    public var repairedUTF8: Bool
}

/// A small RFC 4180 reader working on bytes.
///
/// - Comma-separated (`.csv`): fields may be quoted with `"`, a quote inside a quoted field is
///   written `""`, and quoted fields may hold the delimiter and line breaks (the Rotten Tomatoes
///   corpus has multi-line quoted fields).
/// - Tab-separated (`.tsv`): the IANA TSV format, which has no quoting: a field runs to the next
///   tab or line break, and `"` is an ordinary character.
/// Records end at `\n` or `\r\n` outside quotes; empty lines are skipped.
public enum CSVReader {
    /// Parses `data`.
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - delimiter: `,` or `\t` (any ASCII byte).
    ///   - quoting: whether `"` quotes fields (default: only for non-tab delimiters).
    ///   - source: the file name, for error messages.
    /// - Throws: `BertError.invalidFile` naming `source` and the line when a quoted field never ends.
    public static func parse(_ data: Data, delimiter: UInt8 = UInt8(ascii: ","), quoting: Bool? = nil,
                             source: String) throws -> [CSVRecord] {
        let quotes = quoting ?? (delimiter != UInt8(ascii: "\t"))
        let quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var records: [CSVRecord] = []
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            let n = bytes.count
            var i = 0
            var line = 1
            var fields: [String] = []
            var field: [UInt8] = []
            var repaired = false
            var recordLine = 1
            var inQuotes = false
            var quoteStartLine = 0
            var fieldStarted = false

            func endField() {
                let (text, bad) = field.withUnsafeBufferPointer { TextLines.decode($0) }
                repaired = repaired || bad
                fields.append(text)
                field.removeAll(keepingCapacity: true)
                fieldStarted = false
            }
            func endRecord() {
                endField()
                // A record that is one empty field is an empty line: skip it.
                if !(fields.count == 1 && fields[0].isEmpty) {
                    records.append(CSVRecord(fields: fields, line: recordLine, repairedUTF8: repaired))
                }
                fields.removeAll()
                repaired = false
            }

            while i < n {
                let c = bytes[i]
                if inQuotes {
                    if c == quote {
                        if i + 1 < n && bytes[i + 1] == quote {
                            field.append(quote)
                            i += 2
                            continue
                        }
                        inQuotes = false
                    } else {
                        if c == lf { line += 1 }
                        field.append(c)
                    }
                    i += 1
                    continue
                }
                if c == quote && quotes && !fieldStarted && field.isEmpty {
                    inQuotes = true
                    fieldStarted = true
                    quoteStartLine = line
                } else if c == delimiter {
                    endField()
                } else if c == lf || c == cr {
                    endRecord()
                    if c == cr && i + 1 < n && bytes[i + 1] == lf { i += 1 }
                    line += 1
                    recordLine = line
                } else {
                    field.append(c)
                    fieldStarted = true
                }
                i += 1
            }
            if inQuotes {
                throw BertError(.invalidFile, "\(source):\(quoteStartLine): quoted field is never closed")
            }
            if fieldStarted || !field.isEmpty || !fields.isEmpty { endRecord() }
        }
        return records
    }

    /// The delimiter for a path: tab for `.tsv`/`.tab`, comma otherwise.
    public static func delimiter(forPath path: String) -> UInt8 {
        let ext = (path as NSString).pathExtension.lowercased()
        return ext == "tsv" || ext == "tab" ? UInt8(ascii: "\t") : UInt8(ascii: ",")
    }
}
