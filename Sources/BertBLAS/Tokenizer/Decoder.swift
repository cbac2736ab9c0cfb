/// The decoder stage (tokenizers `decoders/`): token strings back to text.
enum TokenDecoder: Sendable {
    /// WordPiece: continuation pieces (`##`) join the previous token, others get a space;
    /// `cleanup` applies the per-token clean-up (` .` → `.` ...).
    case wordPiece(prefix: String, cleanup: Bool)
    /// ByteLevel: every token's characters map back to the bytes they stand for (GPT-2's table);
    /// the bytes are decoded as UTF-8, invalid sequences becoming U+FFFD.
    case byteLevel
    /// Metaspace: the replacement character becomes a space, and the first token loses the space
    /// the pre-tokenizer prepended (unless `prependScheme` is never).
    case metaspace(replacement: String, stripFirstSpace: Bool)

    /// The mark a word's first token starts with, when this decoder turns it back into a space:
    /// the byte-level image of U+0020 (`Ġ`), or the Metaspace replacement (`▁`); empty for WordPiece,
    /// whose words are marked on their continuations (`##`) instead.
    var wordStartMarker: String {
        switch self {
        case .wordPiece: return ""
        case .byteLevel: return Unicode.Scalar(ByteLevel.scalarOfByte[0x20]).map { String(Character($0)) } ?? ""
        case .metaspace(let replacement, _): return replacement
        }
    }

    /// Decodes token strings, as `Decoder::decode`.
    func decode(_ tokens: [String]) -> String {
        switch self {
        case .wordPiece(let prefix, let cleanup):
            var out = ""
            for (i, token) in tokens.enumerated() {
                var piece: String
                if i == 0 {
                    piece = token
                } else if !prefix.isEmpty && token.utf8.starts(with: prefix.utf8) {
                    // Compare bytes, not Characters: "##" + a combining mark is one grapheme.
                    piece = String(decoding: token.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                } else {
                    piece = " " + token
                }
                if cleanup { piece = Self.cleanup(piece, dontRule: true) }
                out += piece
            }
            return out
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                let start = bytes.count
                var mapped = true
                for s in token.unicodeScalars {
                    guard let b = ByteLevel.byte(of: s) else {
                        mapped = false
                        break
                    }
                    bytes.append(b)
                }
                if !mapped {
                    bytes.removeSubrange(start...)
                    bytes += token.utf8
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        case .metaspace(let replacement, let stripFirstSpace):
            var out = ""
            for (i, token) in tokens.enumerated() {
                var piece = token.replacingAll(replacement, with: " ")
                if i == 0 && stripFirstSpace && piece.utf8.first == 0x20 { piece = String(piece.dropFirst()) }
                out += piece
            }
            return out
        }
    }

    /// The WordPiece decoder's `cleanup` (tokenizers decoders/wordpiece.rs) and, without the
    /// `do not` rule, transformers' `clean_up_tokenization`.
    static func cleanup(_ s: String, dontRule: Bool) -> String {
        var bytes = Array(s.utf8)
        guard bytes.contains(0x20) else { return s }
        let rules: [(String, String)] = [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ]
        for (from, to) in rules where dontRule || from != " do not" {
            bytes = replace(bytes, Array(from.utf8), Array(to.utf8))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces every non-overlapping occurrence, left to right (Rust/Python `str.replace`).
    static func replace(_ s: [UInt8], _ from: [UInt8], _ to: [UInt8]) -> [UInt8] {
        guard !from.isEmpty, s.count >= from.count else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + from.count <= s.count && s[i] == from[0] && s[i..<(i + from.count)].elementsEqual(from) {
                out += to
                i += from.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}

extension String {
    /// Every occurrence of `from` replaced by `to`, comparing UTF-8 bytes (not Characters).
    func replacingAll(_ from: String, with to: String) -> String {
        String(decoding: TokenDecoder.replace(Array(utf8), Array(from.utf8), Array(to.utf8)), as: UTF8.self)
    }
}
