import Foundation

/// One line of input text, with where it came from.
public struct TextLine: Sendable, Equatable {
    /// The file path as given (`-` for standard input).
    public var source: String
    /// 1-based line number within `source`.
    public var number: Int
    /// The line without its terminator (`\n` or `\r\n`). Invalid UTF-8 is replaced by U+FFFD.
    public var text: String
    /// True when the raw bytes were not valid UTF-8 and some were replaced.
    public var repairedUTF8: Bool
}

/// Reads text files (or standard input) line by line, repairing invalid UTF-8 instead of failing.
///
/// The reader works on bytes: lines split on `\n` (a trailing `\r` is dropped), and each line is
/// decoded on its own, so one bad byte costs one warning on one line, not the whole file.
public enum TextLines {
    /// Reads every line of `path` (`-` means standard input).
    /// - Throws: `BertError.io` naming the path when it cannot be read, or is a directory.
    public static func read(path: String) throws -> [TextLine] {
        let data = try readAll(path: path)
        return split(data, source: path)
    }

    /// Reads the whole file (or stdin for `-`) as bytes.
    /// - Throws: `BertError.io` naming the path.
    public static func readAll(path: String) throws -> Data {
        if path == "-" {
            return FileHandle.standardInput.readDataToEndOfFile()
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BertError(.io, "\(path): no such file")
        }
        if isDirectory.boolValue {
            throw BertError(.io, "\(path): is a directory")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BertError(.io, "\(path): cannot open for reading")
        }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw BertError(.io, "\(path): read failed: \(error.localizedDescription)")
        }
    }

    /// Splits bytes into lines, decoding each as UTF-8 with replacement.
    public static func split(_ data: Data, source: String) -> [TextLine] {
        var lines: [TextLine] = []
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            var number = 0
            let n = bytes.count
            while start < n {
                var end = start
                while end < n && bytes[end] != 0x0A { end += 1 }
                number += 1
                var stop = end
                if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
                let (text, repaired) = decode(UnsafeBufferPointer(rebasing: bytes[start..<stop]))
                lines.append(TextLine(source: source, number: number, text: text, repairedUTF8: repaired))
                start = end + 1
            }
        }
        return lines
    }

    /// Decodes UTF-8 with U+FFFD replacement and says whether anything was replaced.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> (String, Bool) {
        if let valid = String(validating: bytes, as: UTF8.self) {
            return (valid, false)
        }
        return (String(decoding: bytes, as: UTF8.self), true)
    }

    /// Decodes a whole file's bytes as UTF-8 with replacement.
    public static func decode(_ data: Data) -> (String, Bool) {
        data.withUnsafeBytes { raw in decode(raw.bindMemory(to: UInt8.self)) }
    }
}
