import Foundation

/// The normalizers of the staged pipeline (tokenizers `normalizers/`), each a transformation of a
/// `NormalizedText` that keeps the alignment to the original text as tokenizers does.
/// (BERT's BertNormalizer is fused into `WordPieceEncoder`.)
enum NormalizerStep: Sendable {
    /// SentencePiece's compiled normalization rules (`Precompiled`, XLM-R and other SentencePiece
    /// conversions).
    case precompiled(PrecompiledCharsMap)
    /// Unicode NFKC (also NFC, NFD, NFKD through `form`).
    case unicode(UnicodeForm)
    /// Remove leading and/or trailing whitespace.
    case strip(left: Bool, right: Bool)
    /// Replace every match of a pattern.
    case replace(ReplacePattern, content: [UInt8])
    /// Lowercase every character (Rust `char::to_lowercase`).
    case lowercase

    /// The `normalizer.type` values this library reads.
    static let supported = "Sequence, Precompiled, NFKC, NFC, NFD, NFKD, Strip, Replace, Lowercase (BertNormalizer with WordPiece)"

    enum UnicodeForm: Sendable {
        case nfc, nfd, nfkc, nfkd
    }

    /// A literal pattern (`{"String": ...}`), or a run of one character repeated at least
    /// `minimum` times (the `{"Regex": "X{n,}"}` transformers writes for SentencePiece).
    struct ReplacePattern: Sendable {
        var literal: [UInt8]
        var minimumRepeats: Int?
    }

    func apply(_ t: inout NormalizedText) {
        switch self {
        case .precompiled(let map): map.normalize(&t)
        case .unicode(let form): Self.unicodeNormalize(&t, form)
        case .strip(let left, let right): Self.strip(&t, left: left, right: right)
        case .replace(let pattern, let content): Self.replace(&t, pattern, content)
        case .lowercase: Self.lowercase(&t)
        }
    }

    static func isWhitespace(_ v: UInt32) -> Bool {
        Unicode.Scalar(v)?.properties.isWhitespace ?? false
    }

    /// `NormalizedString::lrstrip`: the kept characters keep their alignments.
    static func strip(_ t: inout NormalizedText, left: Bool, right: Bool) {
        let s = t.scalars
        var lo = 0, hi = s.count
        if left { while lo < hi && isWhitespace(s[lo].value) { lo += 1 } }
        if right { while hi > lo && isWhitespace(s[hi - 1].value) { hi -= 1 } }
        guard lo > 0 || hi < s.count else { return }
        if lo == hi {
            t = NormalizedText()
            return
        }
        t = t.slice(s[lo].range.lowerBound..<s[hi - 1].range.upperBound)
    }

    /// `NormalizedString::replace`: each match becomes `content`, every new character aligned to
    /// the last character of the match.
    static func replace(_ t: inout NormalizedText, _ p: ReplacePattern, _ content: [UInt8]) {
        guard !p.literal.isEmpty else { return }
        let b = t.bytes
        let n = p.literal.count
        var out = NormalizedText()
        out.bytes.reserveCapacity(b.count)
        out.origin.reserveCapacity(b.count)
        var i = 0, last = 0
        func matches(at i: Int) -> Bool {
            i + n <= b.count && b[i..<(i + n)].elementsEqual(p.literal)
        }
        while i < b.count {
            guard matches(at: i) else {
                i += 1
                continue
            }
            var end = i + n
            if let minimum = p.minimumRepeats {
                var count = 1
                while matches(at: end) {
                    end += n
                    count += 1
                }
                guard count >= minimum else {
                    i = end
                    continue
                }
            }
            out.bytes += b[last..<i]
            out.origin += t.origin[last..<i]
            let align = t.origin[end - 1]
            out.bytes += content
            out.origin += [Int32](repeating: align, count: content.count)
            i = end
            last = end
        }
        guard last > 0 else { return }
        out.bytes += b[last...]
        out.origin += t.origin[last...]
        t = out
    }

    /// Per character: the lowercase mapping, extra characters inserted after the first.
    static func lowercase(_ t: inout NormalizedText) {
        var dest: [(UInt32, Int)] = []
        dest.reserveCapacity(t.bytes.count)
        for (v, _) in t.scalars {
            guard let s = Unicode.Scalar(v) else { continue }
            let lower = s.properties.lowercaseMapping.unicodeScalars
            for (k, l) in lower.enumerated() { dest.append((l.value, k == 0 ? 0 : 1)) }
        }
        t.transform(dest)
    }

    /// Unicode normalization with tokenizers' alignments (the unicode-normalization-alignments
    /// crate behind `NormalizedString::nfkc`): each scalar decomposes (its first scalar replaces
    /// it, the others are insertions), non-starters are put in canonical order carrying their
    /// changes, and composition folds a scalar into its starter, which then consumes one more
    /// original scalar. Decompositions and compositions come from Foundation.
    static func unicodeNormalize(_ t: inout NormalizedText, _ form: UnicodeForm) {
        guard !t.bytes.allSatisfy({ $0 < 0x80 }) else { return }
        let compat = form == .nfkc || form == .nfkd
        let compose = form == .nfc || form == .nfkc
        var items: [(UInt32, Int)] = []
        items.reserveCapacity(t.bytes.count)
        for (v, _) in t.scalars {
            guard v >= 0x80, let s = Unicode.Scalar(v) else {
                items.append((v, 0))
                continue
            }
            let one = String(Character(s))
            let d = compat ? one.decomposedStringWithCompatibilityMapping : one.decomposedStringWithCanonicalMapping
            for (k, x) in d.unicodeScalars.enumerated() { items.append((x.value, k == 0 ? 0 : 1)) }
        }
        func ccc(_ v: UInt32) -> Int {
            Unicode.Scalar(v).map { Int($0.properties.canonicalCombiningClass.rawValue) } ?? 0
        }
        // Canonical ordering: a stable sort by combining class within each run of non-starters.
        var i = 0
        while i < items.count {
            guard ccc(items[i].0) != 0 else {
                i += 1
                continue
            }
            var j = i
            while j < items.count && ccc(items[j].0) != 0 { j += 1 }
            if j - i > 1 {
                let run = items[i..<j].enumerated().sorted { a, b in
                    let ca = ccc(a.element.0), cb = ccc(b.element.0)
                    return ca != cb ? ca < cb : a.offset < b.offset
                }.map(\.element)
                items.replaceSubrange(i..<j, with: run)
            }
            i = j
        }
        if compose {
            var out: [(UInt32, Int)] = []
            out.reserveCapacity(items.count)
            var starter: Int? = nil
            var lastClass = 0
            for item in items {
                let cc = ccc(item.0)
                if let st = starter, out.count - 1 == st || lastClass < cc,
                   let composite = Self.compose(out[st].0, item.0) {
                    out[st].0 = composite
                    out[st].1 += item.1 - 1
                    continue
                }
                if cc == 0 { starter = out.count }
                lastClass = cc
                out.append(item)
            }
            items = out
        }
        t.transform(items)
    }

    /// The primary composite of two scalars, if any: Hangul by the Unicode algorithm, the others
    /// from Foundation's NFC of the pair, kept only when it is canonically equivalent to the pair.
    /// Both guards are needed on Linux, where Foundation's NFC leaves LV + T (`하` + `ᆫ`) apart
    /// and composes a supplementary scalar by its low 16 bits (tag `U+E0041` + `U+0301` → `Á`);
    /// the byte-fallback goldens (unigram_bytes) caught both.
    static func compose(_ a: UInt32, _ b: UInt32) -> UInt32? {
        if let hangul = composeHangul(a, b) { return hangul }
        guard let sa = Unicode.Scalar(a), let sb = Unicode.Scalar(b) else { return nil }
        var pair = String.UnicodeScalarView()
        pair.append(sa)
        pair.append(sb)
        let c = String(pair).precomposedStringWithCanonicalMapping.unicodeScalars
        guard c.count == 1, let v = c.first?.value, v != a, let composite = c.first else { return nil }
        let decomposed = String(Character(composite)).decomposedStringWithCanonicalMapping.unicodeScalars
        guard decomposed.elementsEqual(String(pair).decomposedStringWithCanonicalMapping.unicodeScalars) else { return nil }
        return v
    }

    /// Hangul syllable composition (Unicode 3.12): L + V → LV, LV + T → LVT.
    static func composeHangul(_ a: UInt32, _ b: UInt32) -> UInt32? {
        let sBase: UInt32 = 0xAC00, lBase: UInt32 = 0x1100, vBase: UInt32 = 0x1161, tBase: UInt32 = 0x11A7
        let lCount: UInt32 = 19, vCount: UInt32 = 21, tCount: UInt32 = 28
        let sCount = lCount * vCount * tCount
        if (lBase ..< lBase + lCount).contains(a) && (vBase ..< vBase + vCount).contains(b) {
            return sBase + ((a - lBase) * vCount + (b - vBase)) * tCount
        }
        if (sBase ..< sBase + sCount).contains(a) && (a - sBase) % tCount == 0
            && (tBase + 1 ..< tBase + tCount).contains(b) {
            return a + (b - tBase)
        }
        return nil
    }

    /// tokenizers `normalizers/precompiled.rs` `replace`: the new characters replace the old ones
    /// one to one; extra new ones are insertions; missing ones are removed with the last entry
    /// (which may belong to an earlier replacement when `new` is empty, as in tokenizers).
    static func appendReplacement(_ dest: inout [(UInt32, Int)], old: Int, new: [UInt32]) {
        for v in new { dest.append((v, 0)) }
        let diff = new.count - old
        if diff > 0 {
            for k in (dest.count - diff)..<dest.count { dest[k].1 = 1 }
        } else if diff < 0, !dest.isEmpty {
            dest[dest.count - 1].1 += diff
        }
    }
}

/// SentencePiece's `precompiled_charsmap` (huggingface/spm_precompiled, sentencepiece
/// `normalizer.cc`): a little-endian u32 trie size, a double-array trie of u32 units over UTF-8
/// bytes, then the replacement strings, each ended by a NUL. The trie maps an input prefix to the
/// offset of its replacement.
struct PrecompiledCharsMap: Sendable {
    let units: [UInt32]
    let normalized: [UInt8]

    /// - Throws: `BertError.invalidFile` naming `path` when the blob is malformed.
    init(_ blob: [UInt8], path: String) throws {
        guard blob.count >= 4 else { throw BertError(.invalidFile, "\(path): precompiled_charsmap is too short") }
        let size = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard size % 4 == 0, size > 0, 4 + size <= blob.count else {
            throw BertError(.invalidFile, "\(path): precompiled_charsmap trie size \(size) does not fit its \(blob.count) bytes")
        }
        var units = [UInt32](repeating: 0, count: size / 4)
        for k in 0..<(size / 4) {
            let i = 4 + 4 * k
            units[k] = UInt32(blob[i]) | UInt32(blob[i + 1]) << 8 | UInt32(blob[i + 2]) << 16 | UInt32(blob[i + 3]) << 24
        }
        self.units = units
        self.normalized = Array(blob[(4 + size)...])
    }

    /// The replacement of the shortest prefix of `key` the trie holds (spm_precompiled
    /// `transform`: the first common-prefix result), or `nil`.
    func transform(_ key: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
        guard !units.isEmpty else { return nil }
        var pos = offset(units[0])
        for c in key {
            if c == 0 { break }
            pos ^= Int(c)
            guard pos < units.count else { return nil }
            let unit = units[pos]
            if unit & ((1 << 31) | 0xFF) != UInt32(c) { return nil }
            pos ^= offset(unit)
            guard pos < units.count else { return nil }
            if (unit >> 8) & 1 == 1 {
                let start = Int(units[pos] & ((1 << 31) - 1))
                guard start <= normalized.count else { return nil }
                var end = start
                while end < normalized.count && normalized[end] != 0 { end += 1 }
                return normalized[start..<end]
            }
        }
        return nil
    }

    /// tokenizers `normalizers/precompiled.rs`: per grapheme cluster, the whole cluster's
    /// replacement when it is shorter than 6 bytes and has one, else each character's.
    func normalize(_ t: inout NormalizedText) {
        let text = String(decoding: t.bytes, as: UTF8.self)
        var dest: [(UInt32, Int)] = []
        dest.reserveCapacity(t.bytes.count)
        var modified = false
        func scalars(_ bytes: ArraySlice<UInt8>) -> [UInt32] {
            String(decoding: bytes, as: UTF8.self).unicodeScalars.map(\.value)
        }
        for g in text {
            let bytes = ArraySlice(g.utf8)
            let count = g.unicodeScalars.count
            if bytes.count < 6, let norm = transform(bytes) {
                modified = true
                NormalizerStep.appendReplacement(&dest, old: count, new: scalars(norm))
                continue
            }
            for s in g.unicodeScalars {
                var one: [UInt8] = []
                UTF8Scalars.append(s.value, to: &one)
                if let norm = transform(one[...]) {
                    modified = true
                    NormalizerStep.appendReplacement(&dest, old: 1, new: scalars(norm))
                } else {
                    dest.append((s.value, 0))
                }
            }
        }
        if modified { t.transform(dest) }
    }
}
