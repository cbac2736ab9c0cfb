/// GPT-2's byte ↔ character table (tokenizers `pre_tokenizers/byte_level.rs` `bytes_char`):
/// printable bytes map to themselves as scalars, the other 68 to U+0100 upward in byte order, so
/// every byte has a visible character (space is `Ġ` U+0120, newline `Ċ` U+010A).
enum ByteLevel {
    /// Scalar value of each byte's character.
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Byte per character scalar below 256 + 68, -1 for scalars outside the table.
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 256 + 68)
        for b in 0..<256 { table[Int(scalarOfByte[b])] = Int16(b) }
        return table
    }()

    /// The byte a character stands for, or `nil` for a character outside the table.
    @inline(__always)
    static func byte(of s: Unicode.Scalar) -> UInt8? {
        let v = Int(s.value)
        guard v < byteOfScalar.count, byteOfScalar[v] >= 0 else { return nil }
        return UInt8(byteOfScalar[v])
    }

    /// The raw bytes a byte-level token string stands for, or `nil` when some character is
    /// outside the table (an added token such as `<mask>` spelled with its own characters is
    /// still mapped: printable ASCII stands for itself).
    static func bytes(of token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            guard let b = byte(of: s) else { return nil }
            out.append(b)
        }
        return out
    }
}
