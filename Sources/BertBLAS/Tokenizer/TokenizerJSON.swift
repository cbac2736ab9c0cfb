/// A minimal JSON reader for tokenizer.json that keeps object members as an ordered list.
///
/// Why not `JSONSerialization`: it returns `[String: Any]`, and Swift `String` keys compare by
/// canonical equivalence, so a vocabulary holding both `"école"` precomposed and decomposed
/// (distinct tokens for `tokenizers`) would silently lose one. Here every string keeps its exact
/// scalars and duplicate keys survive.
enum TokenizerJSON {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([TokenizerJSON])
    /// Members in file order (parallel arrays; duplicates kept).
    case object(keys: [String], values: [TokenizerJSON])

    /// The first member named `key` of an object (ASCII keys; `nil` otherwise).
    subscript(key: String) -> TokenizerJSON? {
        guard case .object(let keys, let values) = self else { return nil }
        for (k, v) in zip(keys, values) where k.utf8.elementsEqual(key.utf8) { return v }
        return nil
    }

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var array: [TokenizerJSON]? { if case .array(let a) = self { return a } else { return nil } }
    var members: [(String, TokenizerJSON)]? {
        if case .object(let keys, let values) = self { return Array(zip(keys, values)) } else { return nil }
    }
    var int: Int? {
        if case .number(let d) = self, d.rounded() == d, abs(d) < 9e15 { return Int(d) }
        return nil
    }
    var isNull: Bool { if case .null = self { return true } else { return false } }

    /// Parses UTF-8 JSON text.
    /// - Throws: `BertError.invalidFile` naming `path` and the byte offset of the problem.
    static func parse(_ bytes: [UInt8], path: String) throws -> TokenizerJSON {
        var parser = Parser(bytes: bytes, path: path)
        let value = try parser.value()
        parser.skipSpace()
        if parser.i != bytes.count { throw parser.error("trailing characters") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        let path: String
        var i = 0
        /// Open arrays and objects around the current value.
        var depth = 0
        /// Deepest nesting accepted, as serde_json's default recursion limit (what `tokenizers`
        /// parses tokenizer.json with); a real tokenizer.json nests about 6 deep. Bounds the
        /// recursion so a hostile file cannot overflow the stack.
        static let maxDepth = 128

        init(bytes: [UInt8], path: String) {
            self.bytes = bytes
            self.path = path
        }

        func error(_ what: String) -> BertError {
            BertError(.invalidFile, "\(path): invalid JSON at byte \(i): \(what)")
        }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func value() throws -> TokenizerJSON {
            skipSpace()
            guard i < bytes.count else { throw error("unexpected end") }
            let opens = bytes[i] == UInt8(ascii: "{") || bytes[i] == UInt8(ascii: "[")
            if opens {
                guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
                depth += 1
            }
            defer { if opens { depth -= 1 } }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var keys: [String] = []
                var values: [TokenizerJSON] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(keys: keys, values: values)
                }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    i += 1
                    keys.append(key)
                    values.append(try value())
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(keys: keys, values: values) }
                    throw error("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [TokenizerJSON] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(items)
                }
                while true {
                    items.append(try value())
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw error("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default:
                return .number(try number())
            }
        }

        mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw error("expected \(word)") }
            i += w.count
        }

        mutating func number() throws -> Double {
            let start = i
            while i < bytes.count, let c = Optional(bytes[i]),
                  (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
                    || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                i += 1
            }
            guard i > start, let d = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else {
                throw error("expected a value")
            }
            return d
        }

        mutating func hex4() throws -> UInt32 {
            // Exactly four hex digits (UInt32(_:radix:) would also take a sign, as in \u+041).
            guard i + 4 <= bytes.count else { throw error("bad \\u escape") }
            var v: UInt32 = 0
            for c in bytes[i..<(i + 4)] {
                let digit: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
                default: throw error("bad \\u escape")
                }
                v = v << 4 | UInt32(digit)
            }
            i += 4
            return v
        }

        /// A string starting at the opening quote; exact scalars, no normalization.
        mutating func string() throws -> String {
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw error("unterminated string") }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    i += 1
                    continue
                }
                i += 1
                guard i < bytes.count else { throw error("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if v >= 0xD800 && v < 0xDC00, i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"),
                       bytes[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        let low = try hex4()
                        if low >= 0xDC00 && low < 0xE000 {
                            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            i = save
                        }
                    }
                    let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(scalar).utf8))
                default:
                    throw error("bad escape")
                }
            }
        }
    }
}
