import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One document to classify, or why an input could not give one.
public struct DocumentInput: Sendable, Equatable {
    /// The file path as given or found (`-` for standard input).
    public var path: String
    /// The 1-based line (`--lines`) or CSV record line (`--csv-column`); nil for a whole file.
    public var line: Int?
    /// The text (empty when `error` is set). Invalid UTF-8 has been replaced by U+FFFD.
    public var text: String
    /// Why this input gives no document (unreadable, binary, empty, missing …), or nil.
    public var error: String?
    /// Something repaired on the way (invalid UTF-8), or nil.
    public var warning: String?

    /// Creates an input record.
    public init(path: String, line: Int? = nil, text: String = "", error: String? = nil, warning: String? = nil) {
        self.path = path
        self.line = line
        self.text = text
        self.error = error
        self.warning = warning
    }
}

/// One input path after expansion: a file to read (or `-`), or an error for that path.
public struct InputPath: Sendable, Equatable {
    /// The path.
    public var path: String
    /// Why it cannot be read (missing, symlink loop, not a regular file …), or nil.
    public var error: String?
}

/// `fnmatch(3)` patterns (`*.txt`, `report-??.md`, `[a-c]*`).
public enum Glob {
    /// True when `name` matches `pattern` (a nil or empty pattern matches everything).
    public static func matches(_ pattern: String?, _ name: String) -> Bool {
        guard let pattern, !pattern.isEmpty else { return true }
        return fnmatch(pattern, name, 0) == 0
    }
}

/// Reads whole files as documents, turning every failure into a per-input error.
public enum DocumentReader {
    /// The default size limit of one file: 1 MiB (about 250,000 tokens, 1,000 windows of 256).
    public static let defaultMaxBytes = 1 << 20

    /// Reads `path` (or standard input for `-`) as one document.
    ///
    /// Never throws: a missing, unreadable, non-regular, oversized (`> maxBytes`), binary (a NUL
    /// byte in the first 8,000 bytes, git's test) or empty (only whitespace) input gives a record
    /// with `error`; invalid UTF-8 is replaced by U+FFFD and noted in `warning`.
    public static func read(path: String, maxBytes: Int = defaultMaxBytes) -> DocumentInput {
        switch readBytes(path: path, maxBytes: maxBytes) {
        case .failure(let error):
            return DocumentInput(path: path, error: error.message)
        case .success(let data):
            return document(from: data, path: path)
        }
    }

    /// Turns a file's bytes into one document (the checks of `read`, without the I/O).
    public static func document(from data: Data, path: String) -> DocumentInput {
        if let offset = binaryOffset(data) {
            return DocumentInput(path: path, error: "binary file (NUL byte at offset \(offset))")
        }
        let (text, repaired) = TextLines.decode(data)
        if text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) {
            return DocumentInput(path: path, error: data.isEmpty ? "empty file" : "empty file (only whitespace)")
        }
        return DocumentInput(path: path, text: text, warning: repaired ? "invalid UTF-8 replaced with U+FFFD" : nil)
    }

    /// The offset of a NUL byte in the first 8,000 bytes, if any.
    static func binaryOffset(_ data: Data) -> Int? {
        let prefix = data.prefix(8000)
        return prefix.firstIndex(of: 0).map { $0 - prefix.startIndex }
    }

    /// Reads the bytes of a regular file (or stdin for `-`), refusing files over `maxBytes`.
    public static func readBytes(path: String, maxBytes: Int = defaultMaxBytes) -> Result<Data, BertError> {
        if path == "-" {
            return .success(FileHandle.standardInput.readDataToEndOfFile())
        }
        var info = stat()
        if stat(path, &info) != 0 {
            return .failure(BertError(.io, "\(path): \(describe(errno: errno, path: path))"))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            return .failure(BertError(.io, "\(path): is a directory"))
        }
        if (info.st_mode & S_IFMT) != S_IFREG {
            return .failure(BertError(.io, "\(path): not a regular file (\(kind(info.st_mode)))"))
        }
        if Int(info.st_size) > maxBytes {
            return .failure(BertError(.invalidInput, "\(path): file is \(Int(info.st_size)) bytes, over the limit of maxBytes \(maxBytes)"))
        }
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            return .failure(BertError(.io, "\(path): cannot open: \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var data = Data(count: Int(info.st_size))
        var total = 0
        var failure: Int32 = 0
        data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            while total < raw.count, let base = raw.baseAddress {
                let got = Glibc.read(fd, base + total, raw.count - total)
                if got < 0 { if errno == EINTR { continue }; failure = errno; return }
                if got == 0 { break }
                total += got
            }
        }
        if failure != 0 {
            return .failure(BertError(.io, "\(path): read failed: \(String(cString: strerror(failure)))"))
        }
        data.count = total
        return .success(data)
    }

    static func describe(errno code: Int32, path: String) -> String {
        switch code {
        case ELOOP: return "symlink loop (too many levels of symbolic links)"
        case ENOENT:
            var link = stat()
            return lstat(path, &link) == 0 ? "broken symlink (its target does not exist)" : "no such file or directory"
        default: return String(cString: strerror(code))
        }
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "named pipe"
        case S_IFSOCK: return "socket"
        case S_IFCHR: return "character device"
        case S_IFBLK: return "block device"
        default: return "special file"
        }
    }
}

/// Expands PATH arguments into the ordered list of inputs `bert classify` reads.
public enum DocumentWalker {
    /// Expands paths in order: `-` stays, a file stays, a directory becomes its files
    /// (recursively, names in byte order, hidden names skipped, `glob` applied to file names;
    /// a symlink to a directory already on the walk is reported as a loop rather than followed).
    /// Missing paths, symlink loops and special files become entries with `error` (a directory
    /// loop is reported whatever the glob, since it might have held matching files).
    /// - Parameters:
    ///   - paths: the arguments as given.
    ///   - glob: an `fnmatch` pattern for files found inside directories (nil: every file).
    /// - Returns: one entry per input, in input order.
    public static func expand(_ paths: [String], glob: String? = nil) -> [InputPath] {
        var out: [InputPath] = []
        for path in paths {
            if path == "-" { out.append(InputPath(path: path)); continue }
            var info = stat()
            if stat(path, &info) != 0 {
                out.append(InputPath(path: path, error: DocumentReader.describe(errno: errno, path: path)))
                continue
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                var visited: Set<[UInt64]> = [[UInt64(info.st_dev), UInt64(info.st_ino)]]
                walk(path, glob: glob, visited: &visited, into: &out)
            } else {
                out.append(entry(path, info))
            }
        }
        return out
    }

    static func entry(_ path: String, _ info: stat) -> InputPath {
        (info.st_mode & S_IFMT) == S_IFREG
            ? InputPath(path: path)
            : InputPath(path: path, error: "not a regular file (\(DocumentReader.kind(info.st_mode)))")
    }

    static func walk(_ directory: String, glob: String?, visited: inout Set<[UInt64]>, into out: inout [InputPath]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            out.append(InputPath(path: directory, error: "cannot list directory: \(error.localizedDescription)"))
            return
        }
        for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) where !name.hasPrefix(".") {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var info = stat()
            if stat(path, &info) != 0 {
                if Glob.matches(glob, name) {
                    out.append(InputPath(path: path, error: DocumentReader.describe(errno: errno, path: path)))
                }
                continue
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                let key = [UInt64(info.st_dev), UInt64(info.st_ino)]
                if visited.contains(key) {
                    out.append(InputPath(path: path, error: "symlink loop (a directory already on this walk)"))
                    continue
                }
                visited.insert(key)
                walk(path, glob: glob, visited: &visited, into: &out)
                visited.remove(key)
            } else if Glob.matches(glob, name) {
                out.append(entry(path, info))
            }
        }
    }

    /// How each input file is cut into documents.
    public enum Mode: Sendable, Equatable {
        /// One document per file (the default).
        case file
        /// One document per line (`--lines`).
        case lines
        /// One document per CSV/TSV record, from the named column of the header (`--csv-column`).
        case csvColumn(String)
    }

    /// The documents of one input: one for `.file`, one per line or record otherwise.
    /// Never throws; failures are records with `error` (a blank line is an error record too,
    /// so every input line has exactly one output record).
    public static func documents(of input: InputPath, mode: Mode, maxBytes: Int = DocumentReader.defaultMaxBytes) -> [DocumentInput] {
        if let error = input.error { return [DocumentInput(path: input.path, error: error)] }
        switch mode {
        case .file:
            return [DocumentReader.read(path: input.path, maxBytes: maxBytes)]
        case .lines:
            let data: Data
            switch DocumentReader.readBytes(path: input.path, maxBytes: maxBytes) {
            case .failure(let error): return [DocumentInput(path: input.path, error: error.message)]
            case .success(let bytes): data = bytes
            }
            if let offset = DocumentReader.binaryOffset(data) {
                return [DocumentInput(path: input.path, error: "binary file (NUL byte at offset \(offset))")]
            }
            let lines = TextLines.split(data, source: input.path)
            if lines.isEmpty { return [DocumentInput(path: input.path, error: "empty file")] }
            return lines.map { line in
                if line.text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) {
                    return DocumentInput(path: input.path, line: line.number, error: "empty line")
                }
                return DocumentInput(path: input.path, line: line.number, text: line.text,
                                     warning: line.repairedUTF8 ? "invalid UTF-8 replaced with U+FFFD" : nil)
            }
        case .csvColumn(let column):
            let data: Data
            switch DocumentReader.readBytes(path: input.path, maxBytes: maxBytes) {
            case .failure(let error): return [DocumentInput(path: input.path, error: error.message)]
            case .success(let bytes): data = bytes
            }
            let records: [CSVRecord]
            do {
                records = try CSVReader.parse(data, delimiter: CSVReader.delimiter(forPath: input.path), source: input.path)
            } catch {
                return [DocumentInput(path: input.path, error: "\(error)")]
            }
            guard let header = records.first else { return [DocumentInput(path: input.path, error: "empty file")] }
            guard let index = header.fields.firstIndex(of: column) else {
                return [DocumentInput(path: input.path, error: "no column '\(column)' in the header (it has: \(header.fields.joined(separator: ", ")))")]
            }
            return records.dropFirst().map { record in
                guard index < record.fields.count else {
                    return DocumentInput(path: input.path, line: record.line, error: "record has \(record.fields.count) field(s), no '\(column)'")
                }
                let text = record.fields[index]
                if text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) {
                    return DocumentInput(path: input.path, line: record.line, error: "empty '\(column)'")
                }
                return DocumentInput(path: input.path, line: record.line, text: text,
                                     warning: record.repairedUTF8 ? "invalid UTF-8 replaced with U+FFFD" : nil)
            }
        }
    }
}
