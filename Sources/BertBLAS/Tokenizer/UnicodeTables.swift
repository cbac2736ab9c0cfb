import Foundation

/// Character classes the BERT normalizer and pre-tokenizer need, per Unicode scalar.
///
/// Mirrors huggingface/tokenizers `normalizers/bert.rs` and `pre_tokenizers/bert.rs`
/// (https://github.com/huggingface/tokenizers/blob/main/tokenizers/src/normalizers/bert.rs):
/// - `removed`: dropped by clean_text: U+0000, U+FFFD, and "other" characters (Cc, Cf, Co, Cs)
///   except `\t \n \r`. Unassigned code points (Cn) are kept, as `tokenizers` does.
/// - `whitespace`: `\t \n \r` or the Unicode White_Space property (Rust `char::is_whitespace`).
/// - `punctuation`: ASCII punctuation or any Unicode P* category.
/// - `chinese`: the CJK ideograph blocks that get spaces around them.
/// - `nonspacingMark`: category Mn, dropped by strip_accents after NFD.
/// - `decomposes` / `lowercases`: the scalar changes under NFD / under lowercasing.
struct ScalarFlags: OptionSet, Sendable {
    let rawValue: UInt8
    static let removed = ScalarFlags(rawValue: 1 << 0)
    static let whitespace = ScalarFlags(rawValue: 1 << 1)
    static let punctuation = ScalarFlags(rawValue: 1 << 2)
    static let chinese = ScalarFlags(rawValue: 1 << 3)
    static let nonspacingMark = ScalarFlags(rawValue: 1 << 4)
    static let decomposes = ScalarFlags(rawValue: 1 << 5)
    static let lowercases = ScalarFlags(rawValue: 1 << 6)
}

enum UnicodeTables {
    /// Scalars below this get a table entry; the rest (planes 3–16: mostly unassigned,
    /// tags, private use) are classified on the fly.
    static let tableLimit: UInt32 = 0x30000

    /// Flags for every scalar below `tableLimit`; built once, lazily and thread-safely
    /// (Swift global initialisation).
    static let flags: [UInt8] = {
        var table = [UInt8](repeating: 0, count: Int(tableLimit))
        for v in 0..<tableLimit {
            table[Int(v)] = computeFlags(v).rawValue
        }
        return table
    }()

    /// Canonical decompositions (NFD) of the scalars that have one, scalar by scalar.
    static let decompositions: [UInt32: [UInt32]] = buildDecompositions()

    @inline(__always)
    static func flags(of v: UInt32) -> ScalarFlags {
        if v < tableLimit { return ScalarFlags(rawValue: flags[Int(v)]) }
        return computeFlags(v)
    }

    static func isChinese(_ v: UInt32) -> Bool {
        switch v {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// The Unicode version of the category tables `tokenizers` uses (see `computeFlags`).
    static let categoriesVersion = (major: 8, minor: 0)

    /// Scalars whose general category changed after Unicode 8.0 in a way the tokenizer sees
    /// (punctuation, Mn), with their Unicode 8.0 category; found by the every-code-point parity
    /// test against `tokenizers`.
    static func unicode8Category(_ v: UInt32) -> Unicode.GeneralCategory? {
        switch v {
        case 0x166D, 0x111C9: return .otherPunctuation   // now So / Mn
        case 0x1734, 0x1171E: return .nonspacingMark     // now Mc
        case 0x1885, 0x1886: return .otherLetter         // now Mn
        case 0xA9BD: return .spacingMark                 // now Mn
        default: return nil
        }
    }

    /// The Unicode version of Rust's lowercase tables in the `tokenizers` build.
    static let lowercaseVersion = (major: 16, minor: 0)

    static func computeFlags(_ v: UInt32) -> ScalarFlags {
        guard let scalar = Unicode.Scalar(v) else {
            // Surrogate code points never reach us from a Swift String.
            return [.removed]
        }
        var f: ScalarFlags = []
        let p = scalar.properties
        var category = p.generalCategory
        // `tokenizers` takes categories (other, punctuation, Mn) from the `unicode_categories`
        // crate, whose tables are Unicode 8.0: a scalar assigned later is "unassigned" there, and
        // a few changed category since. The age is looked up only where the category matters.
        if let old = unicode8Category(v) {
            category = old
        } else {
            switch category {
            case .control, .format, .privateUse, .surrogate, .nonspacingMark, .connectorPunctuation,
                 .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
                 .finalPunctuation, .otherPunctuation:
                if let age = p.age, age.major < categoriesVersion.major
                    || (age.major == categoriesVersion.major && age.minor <= categoriesVersion.minor) {
                    break
                }
                category = .unassigned
            default:
                break
            }
        }
        switch category {
        case .control, .format, .privateUse, .surrogate:
            if v != 0x09 && v != 0x0A && v != 0x0D { f.insert(.removed) }
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            f.insert(.punctuation)
        case .nonspacingMark:
            f.insert(.nonspacingMark)
        default:
            break
        }
        if v == 0 || v == 0xFFFD { f.insert(.removed) }
        if v < 0x80 && ((v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96)
                        || (v >= 123 && v <= 126)) {
            f.insert(.punctuation)
        }
        // White_Space scalars are all Cc, Zs, Zl or Zp.
        switch p.generalCategory {
        case .control, .spaceSeparator, .lineSeparator, .paragraphSeparator:
            if v == 0x09 || v == 0x0A || v == 0x0D || p.isWhitespace { f.insert(.whitespace) }
        default:
            break
        }
        if isChinese(v) { f.insert(.chinese) }
        if v >= 0xC0 && hasDecomposition(v) { f.insert(.decomposes) }
        // Scalars with a lowercase mapping are Lu, Lt, Nl or So. Rust's `char::to_lowercase` in
        // the `tokenizers` build has Unicode 16 tables: later case pairs are left alone.
        switch p.generalCategory {
        case .uppercaseLetter, .titlecaseLetter, .letterNumber, .otherSymbol:
            if p.changesWhenLowercased, let age = p.age, age.major <= lowercaseVersion.major {
                f.insert(.lowercases)
            }
        default:
            break
        }
        return f
    }

    /// Hangul syllables decompose algorithmically (Unicode §3.12).
    static let hangulBase: UInt32 = 0xAC00
    static let hangulCount: UInt32 = 11172

    static func hasDecomposition(_ v: UInt32) -> Bool {
        if v >= hangulBase && v < hangulBase + hangulCount { return true }
        return decompositions[v] != nil
    }

    /// The NFD of one scalar (itself when it has no decomposition).
    static func decompose(_ v: UInt32, into out: inout [UInt32]) {
        if v >= hangulBase && v < hangulBase + hangulCount {
            let s = v - hangulBase
            out.append(0x1100 + s / 588)
            out.append(0x1161 + (s % 588) / 28)
            let t = s % 28
            if t != 0 { out.append(0x11A7 + t) }
            return
        }
        if let d = decompositions[v] {
            out.append(contentsOf: d)
        } else {
            out.append(v)
        }
    }

    /// The blocks that hold every canonical decomposition outside Hangul. Foundation decomposes
    /// them once, in one call, with U+0001 between scalars (a starter that stops reordering).
    private static let decomposableRanges: [ClosedRange<UInt32>] = [
        0x00C0...0x30FF, 0xF900...0xFB4F, 0x10000...0x1DFFF, 0x2F800...0x2FA1F,
    ]

    private static func buildDecompositions() -> [UInt32: [UInt32]] {
        var view = String.UnicodeScalarView()
        var order: [UInt32] = []
        for range in decomposableRanges {
            for v in range {
                guard let s = Unicode.Scalar(v) else { continue }
                view.append(s)
                view.append(Unicode.Scalar(UInt8(1)))
                order.append(v)
            }
        }
        let decomposed = String(view).decomposedStringWithCanonicalMapping
        var result: [UInt32: [UInt32]] = [:]
        var index = 0
        var current: [UInt32] = []
        for s in decomposed.unicodeScalars {
            if s.value == 1 {
                if index < order.count, current != [order[index]] {
                    result[order[index]] = current
                }
                index += 1
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(s.value)
            }
        }
        return result
    }

    /// The full lowercase mapping of one scalar (Rust `char::to_lowercase`, no context).
    static func lowercase(_ v: UInt32, into out: inout [UInt32]) {
        guard let s = Unicode.Scalar(v) else {
            out.append(v)
            return
        }
        for l in s.properties.lowercaseMapping.unicodeScalars { out.append(l.value) }
    }
}
