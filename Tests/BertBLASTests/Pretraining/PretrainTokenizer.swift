import Foundation
@testable import BertBLAS

/// The tokenizer facts the pre-training tests need, from all-MiniLM-L6-v2's vocabulary.
struct PretrainTokenizer: Sendable {
    var vocabulary: MaskingVocabulary
    var cls: Int32, sep: Int32, pad: Int32, mask: Int32
    var tokenize: @Sendable (String) -> [Int32]

    /// TEMPORARY: a minimal lowercase WordPiece until the tokenizer lands.
    static func load() throws -> PretrainTokenizer {
        let text = try String(contentsOf: Paths.miniLM.appendingPathComponent("vocab.txt"), encoding: .utf8)
        let tokens = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast()
        var ids: [String: Int32] = [:]
        for (i, t) in tokens.enumerated() { ids[t] = Int32(i) }
        let table = ids
        guard let cls = table["[CLS]"], let sep = table["[SEP]"], let pad = table["[PAD]"], let mask = table["[MASK]"],
              let unk = table["[UNK]"] else { throw BertError(.invalidFile, "vocab.txt lacks special tokens") }
        let vocabulary = try MaskingVocabulary(tokens: Array(tokens), maskId: mask, padId: pad)
        return PretrainTokenizer(vocabulary: vocabulary, cls: cls, sep: sep, pad: pad, mask: mask) { line in
            var words: [String] = []
            var current = ""
            for c in line.lowercased() {
                if c.isWhitespace { if !current.isEmpty { words.append(current); current = "" } }
                else if c.isPunctuation || c.isSymbol { if !current.isEmpty { words.append(current); current = "" }; words.append(String(c)) }
                else { current.append(c) }
            }
            if !current.isEmpty { words.append(current) }
            var out: [Int32] = []
            for w in words {
                let chars = Array(w)
                var start = 0
                var pieces: [Int32] = []
                while start < chars.count {
                    var end = chars.count
                    var found: Int32?
                    while end > start {
                        let piece = (start > 0 ? "##" : "") + String(chars[start ..< end])
                        if let id = table[piece] { found = id; break }
                        end -= 1
                    }
                    guard let id = found else { pieces = [unk]; break }
                    pieces.append(id)
                    start = end
                }
                out.append(contentsOf: pieces)
            }
            return out
        }
    }
}
