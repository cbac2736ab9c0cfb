/// A piece of text on its way through the normalizer and pre-tokenizer (tokenizers'
/// `NormalizedString`): UTF-8 bytes and, per byte, the code point of the original text the byte
/// stands for (`-1` for an inserted character aligned to nothing, tokenizers' `(0, 0)`).
///
/// The origins of a character's bytes are always equal: every transformation maps whole
/// characters to whole characters, as `NormalizedString::transform_range` does.
struct NormalizedText {
    var bytes: [UInt8] = []
    var origin: [Int32] = []

    var isEmpty: Bool { bytes.isEmpty }

    /// The text of `utf8` whose first scalar is code point `firstCodePoint` of the original text.
    init(_ utf8: UnsafeBufferPointer<UInt8>, firstCodePoint: Int) {
        bytes = Array(utf8)
        origin = [Int32](repeating: 0, count: utf8.count)
        var cp = Int32(firstCodePoint) - 1
        for i in 0..<utf8.count {
            if utf8[i] & 0xC0 != 0x80 { cp += 1 }
            origin[i] = cp
        }
    }

    init(bytes: [UInt8] = [], origin: [Int32] = []) {
        self.bytes = bytes
        self.origin = origin
    }

    /// Bytes `r` (on character boundaries) as their own text.
    func slice(_ r: Range<Int>) -> NormalizedText {
        NormalizedText(bytes: Array(bytes[r]), origin: Array(origin[r]))
    }

    /// Offsets in code points of the original text for bytes `r` (tokenizers takes the first
    /// byte's alignment start and the last byte's alignment end).
    func offsets(_ r: Range<Int>) -> Offset {
        guard !r.isEmpty else { return Offset(start: 0, end: 0) }
        let first = origin[r.lowerBound], last = origin[r.upperBound - 1]
        return Offset(start: first < 0 ? 0 : Int(first), end: last < 0 ? 0 : Int(last) + 1)
    }

    /// The scalars of the text with their byte ranges.
    var scalars: [(value: UInt32, range: Range<Int>)] {
        var out: [(UInt32, Range<Int>)] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let (v, n) = UTF8Scalars.decode(bytes, at: i)
            out.append((v, i..<(i + n)))
            i += n
        }
        return out
    }

    /// `NormalizedString::transform` over the whole text: `dest` lists the new characters, each
    /// with its change (0 replaces the next old character, n > 0 inserts, n < 0 replaces and then
    /// removes n more old characters); `initialOffset` old characters are removed first. A
    /// replacing character keeps the alignment of the old one it replaces; an inserted one takes
    /// the alignment of the old byte before the current position.
    mutating func transform(_ dest: [(UInt32, Int)], initialOffset: Int = 0) {
        var pos = 0  // byte position in the old text
        func skipChar() {
            if pos < bytes.count { pos += UTF8Scalars.length(bytes[pos]) }
        }
        for _ in 0..<initialOffset { skipChar() }
        var newBytes: [UInt8] = []
        var newOrigin: [Int32] = []
        newBytes.reserveCapacity(bytes.count)
        newOrigin.reserveCapacity(bytes.count)
        for (c, change) in dest {
            let align: Int32
            if change > 0 {
                align = pos < 1 ? -1 : origin[pos - 1]
            } else {
                align = pos < origin.count ? origin[pos] : (origin.last ?? -1)
                skipChar()
                if change < 0 { for _ in 0..<(-change) { skipChar() } }
            }
            let n = UTF8Scalars.append(c, to: &newBytes)
            for _ in 0..<n { newOrigin.append(align) }
        }
        bytes = newBytes
        origin = newOrigin
    }

    /// `NormalizedString::prepend`: `s` takes the first character's alignment.
    mutating func prepend(_ s: [UInt8]) {
        guard let first = origin.first else { return }
        bytes.insert(contentsOf: s, at: 0)
        origin.insert(contentsOf: [Int32](repeating: first, count: s.count), at: 0)
    }
}

/// UTF-8 helpers over bytes (the texts here are valid UTF-8: they come from Strings).
enum UTF8Scalars {
    /// Length of the sequence a lead byte starts.
    @inline(__always)
    static func length(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    /// The scalar at `i` and its length in bytes.
    @inline(__always)
    static func decode(_ b: [UInt8], at i: Int) -> (UInt32, Int) {
        let lead = b[i]
        let n = length(lead)
        if n == 1 { return (UInt32(lead), 1) }
        var v = UInt32(lead) & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)
        for k in 1..<n where i + k < b.count { v = (v << 6) | UInt32(b[i + k] & 0x3F) }
        return (v, n)
    }

    /// Appends the UTF-8 bytes of `v`; returns their count.
    @discardableResult
    static func append(_ v: UInt32, to out: inout [UInt8]) -> Int {
        if v < 0x80 {
            out.append(UInt8(v))
            return 1
        } else if v < 0x800 {
            out.append(UInt8(0xC0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3F)))
            return 2
        } else if v < 0x10000 {
            out.append(UInt8(0xE0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
            return 3
        } else {
            out.append(UInt8(0xF0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
            return 4
        }
    }
}
