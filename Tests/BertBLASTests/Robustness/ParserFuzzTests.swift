import Foundation
import Testing
@testable import BertBLAS

/// Seeded mutation fuzzing of the two parsers that read untrusted files byte by byte: the
/// safetensors header (through `WeightStore` and `BertModel`) and tokenizer.json (through
/// `BertTokenizer`). Every mutant must either load or throw a `BertError`; a crash (trap, bad
/// read, stack overflow) kills the test process, so this suite fails loudly if one slips through.
@Suite struct ParserFuzzTests {
    static let tiny = Paths.golden("encoder/tiny-gelu-uncased")

    /// Numbers that stress integer conversion and overflow checks.
    static let hostileNumbers = [
        "-1", "0", "1.5", "-0", "1e400", "-1e400", "1e-400", "4611686018427387904", "9223372036854775807",
        "9223372036854775808", "18446744073709551615", "18446744073709551616", "2147483647", "2147483648",
        "4294967296", "99999999999999999999999", "1e30", "3e9", "9007199254740993", "65535", "1e15", "8e15",
    ]

    /// Byte ranges of JSON number tokens in `bytes[range]`.
    static func numberTokens(_ bytes: [UInt8], in range: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = range.lowerBound
        var inString = false
        while i < range.upperBound {
            let c = bytes[i]
            if inString {
                if c == UInt8(ascii: "\\") { i += 2; continue }
                if c == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if c == UInt8(ascii: "\"") { inString = true; i += 1; continue }
            if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") {
                let start = i
                while i < range.upperBound, (bytes[i] >= 0x30 && bytes[i] <= 0x39) || bytes[i] == UInt8(ascii: "-")
                        || bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") { i += 1 }
                out.append(start..<i)
                continue
            }
            i += 1
        }
        return out
    }

    static func random(_ rng: inout SplitMix64, _ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }

    /// One deterministic mutation of a JSON text (shared by both parsers).
    static func mutateJSON(_ json: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var out = json
        switch random(&rng, 8) {
        case 0, 1:  // A number replaced by a hostile one.
            let numbers = numberTokens(out, in: 0..<out.count)
            if let r = numbers.isEmpty ? nil : numbers[random(&rng, numbers.count)] {
                out.replaceSubrange(r, with: Array(hostileNumbers[random(&rng, hostileNumbers.count)].utf8))
            }
        case 2:  // Byte flips.
            for _ in 0...random(&rng, 3) where !out.isEmpty {
                out[random(&rng, out.count)] ^= UInt8(truncatingIfNeeded: 1 << random(&rng, 8))
            }
        case 3:  // A random byte.
            if !out.isEmpty { out[random(&rng, out.count)] = UInt8(truncatingIfNeeded: rng.next()) }
        case 4:  // Truncation.
            out.removeSubrange(random(&rng, out.count + 1)..<out.count)
        case 5:  // Hostile string content or escape.
            let pieces = ["\\ud800", "\\udc00", "\\ud800\\u0041", "\\u12", "\\x", "\\", "\"", "\u{0}", "\\uD83D\\uDE00",
                          "\\u+FFF", "\\u-001", "\u{FF}\u{FE}"]
            let piece = Array(pieces[random(&rng, pieces.count)].utf8)
            out.insert(contentsOf: piece, at: random(&rng, out.count + 1))
        case 6:  // Deep nesting in place of a value.
            let depth = [100, 1_000, 100_000][random(&rng, 3)]
            let numbers = numberTokens(out, in: 0..<out.count)
            let open = random(&rng, 2) == 0 ? UInt8(ascii: "[") : UInt8(ascii: "{")
            var nest = [UInt8](repeating: open, count: depth)
            if open == UInt8(ascii: "{") { nest = Array(String(repeating: "{\"a\":", count: depth).utf8) }
            if let r = numbers.isEmpty ? nil : numbers[random(&rng, numbers.count)] {
                out.replaceSubrange(r, with: nest)
            } else {
                out = nest
            }
        default:  // A value swapped for another type.
            let numbers = numberTokens(out, in: 0..<out.count)
            let replacements = ["null", "true", "\"x\"", "[]", "{}", "[1,2,3]", "[-5]"]
            if let r = numbers.isEmpty ? nil : numbers[random(&rng, numbers.count)] {
                out.replaceSubrange(r, with: Array(replacements[random(&rng, replacements.count)].utf8))
            }
        }
        return out
    }

    static func headerLength(_ bytes: [UInt8]) -> Int {
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        return n
    }

    static func withLength(_ header: [UInt8], data: ArraySlice<UInt8>, length: UInt64? = nil) -> [UInt8] {
        var n = length ?? UInt64(header.count)
        var out: [UInt8] = []
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        return out + header + data
    }

    /// Loads a mutated weights file as a store and a model; returns whether it loaded.
    static func loadWeights(_ bytes: [UInt8], at url: URL, config: BertConfig) throws -> Bool {
        try Data(bytes).write(to: url)
        do {
            let store = try WeightStore(url: url)
            for entry in store.entries.values {
                if let tensor = try? store.tensor(TensorName([entry.name])) {
                    _ = tensor.buffer.reduce(0, +)
                }
            }
            let model = try BertModel(directory: url.deletingLastPathComponent(), config: config, weights: store)
            let ws = try model.makeWorkspace(maxBatch: 1, maxLength: 8)
            _ = try model.forward(ids: [[2, 5, 3]], workspace: ws)
            return true
        } catch is BertError {
            return false
        }
    }

    @Test func mutatedSafetensorsLoadOrThrowBertError() throws {
        let original = [UInt8](try Data(contentsOf: Self.tiny.appendingPathComponent("model.safetensors")))
        let config = try BertConfig.load(Self.tiny)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        #expect(try Self.loadWeights(original, at: url, config: config))

        let headerEnd = 8 + Self.headerLength(original)
        let header = Array(original[8..<headerEnd])
        let data = original[headerEnd...]
        var rng = SplitMix64(seed: 0x5AFE_7E45)
        var loaded = 0, rejected = 0
        for round in 0..<1_500 {
            let mutant: [UInt8]
            switch round % 5 {
            case 0, 1:  // Header JSON mutated, length kept consistent.
                mutant = Self.withLength(Self.mutateJSON(header, &rng), data: data)
            case 2:  // Header JSON mutated, stale length.
                mutant = Self.withLength(Self.mutateJSON(header, &rng), data: data, length: UInt64(header.count))
            case 3:  // Header length edited.
                let choices: [UInt64] = [0, 1, 2, UInt64(header.count) - 1, UInt64(header.count) + 1,
                                         UInt64(original.count - 8), UInt64(original.count - 7), 1 << 62, 1 << 63,
                                         UInt64.max, UInt64(Int.max), UInt64(rng.next() % UInt64(original.count))]
                mutant = Self.withLength(header, data: data, length: choices[Self.random(&rng, choices.count)])
            default:  // Truncation at every offset class, or byte flips anywhere.
                if Self.random(&rng, 2) == 0 {
                    let cuts = [0, 1, 7, 8, 9, headerEnd - 1, headerEnd, headerEnd + 1, original.count - 1,
                                8 + Self.random(&rng, header.count), headerEnd + Self.random(&rng, data.count)]
                    mutant = Array(original[..<cuts[Self.random(&rng, cuts.count)]])
                } else {
                    var m = original
                    for _ in 0...Self.random(&rng, 4) { m[Self.random(&rng, m.count)] ^= UInt8(1 << Self.random(&rng, 8)) }
                    mutant = m
                }
            }
            if try Self.loadWeights(mutant, at: url, config: config) { loaded += 1 } else { rejected += 1 }
        }
        // Both outcomes happen: the mutations are neither all harmless nor all fatal.
        #expect(loaded > 0)
        #expect(rejected > 500)
    }

    @Test func mutatedTokenizerJSONLoadsOrThrowsBertError() throws {
        let original = [UInt8](try Data(contentsOf: Self.tiny.appendingPathComponent("tokenizer.json")))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tokenizer.json")
        var rng = SplitMix64(seed: 0x70CE_15E2)
        var loaded = 0, rejected = 0
        for round in 0..<1_500 {
            var mutant = Self.mutateJSON(original, &rng)
            if round % 4 == 0 { mutant = Self.mutateJSON(mutant, &rng) }
            try Data(mutant).write(to: url)
            do {
                let tokenizer = try BertTokenizer(directory: dir)
                let texts = ["Hello, world! héllo [MASK] 日本 the end", "", "a b c d e f g h"]
                for text in texts {
                    _ = tokenizer.encode(text, pair: "second part")
                    _ = tokenizer.decode(tokenizer.encode(text).ids)
                }
                _ = tokenizer.encodeBatch(texts, truncation: Truncation(maxLength: 6, stride: 2), padding: .longest)
                loaded += 1
            } catch is BertError {
                rejected += 1
            }
        }
        #expect(loaded > 0)
        #expect(rejected > 300)
    }
}
