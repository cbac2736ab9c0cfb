import Foundation

/// Small numeric helpers for decoding head outputs (a few logits per token, not hot loops).
///
/// They compute in `Float` like the reference pipelines (numpy/torch float32), so scores agree
/// to float rounding.
enum TaskMath {
    /// Softmax of one row, with the max subtracted first (as numpy / torch do).
    static func softmax<C: Collection>(_ logits: C) -> [Float] where C.Element == Float {
        guard let maximum = logits.max() else { return [] }
        var out = logits.map { expf($0 - maximum) }
        var sum: Float = 0
        for v in out { sum += v }
        for i in out.indices { out[i] /= sum }
        return out
    }

    /// Element-wise logistic sigmoid.
    static func sigmoid<C: Collection>(_ logits: C) -> [Float] where C.Element == Float {
        logits.map { 1 / (1 + expf(-$0)) }
    }

    /// Index of the first maximum (numpy `argmax` tie rule); nil for an empty row.
    static func argmax<C: Collection>(_ values: C) -> Int? where C.Element == Float, C.Index == Int {
        var best: Int?
        for i in values.indices where best.map({ values[i] > values[$0] }) ?? true {
            best = i
        }
        return best
    }

    /// Indices of the `k` largest values, largest first; equal values keep index order.
    static func topK(_ values: [Float], _ k: Int) -> [Int] {
        let order = values.indices.sorted { a, b in
            values[a] != values[b] ? values[a] > values[b] : a < b
        }
        return Array(order.prefix(max(0, k)))
    }
}

/// A text addressed by Unicode code points, as Python slices strings and as `Encoding` offsets count.
struct CodePointText {
    let scalars: [Unicode.Scalar]

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    var count: Int { scalars.count }

    /// `text[start:end]` with Python's clamping (an empty string when `start >= end`).
    func slice(_ start: Int, _ end: Int) -> String {
        let lo = min(max(0, start), scalars.count)
        let hi = min(max(0, end), scalars.count)
        guard lo < hi else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[lo..<hi])
        return String(view)
    }
}

/// Joins WordPiece tokens back into text as the `tokenizers` WordPiece decoder does
/// (`convert_tokens_to_string` in transformers): `##` pieces glue to the previous token, other
/// tokens get a leading space, and each token has the decoder's cleanup applied on its own
/// (" ." → ".", " n't" → "n't", ...).
///
/// Reference: huggingface/tokenizers `tokenizers/src/decoders/wordpiece.rs` (v0.22, `decode_chain`).
enum WordPieceText {
    static func join(_ tokens: [String], prefix: String = "##", cleanup: Bool = true) -> String {
        var out = ""
        for (i, token) in tokens.enumerated() {
            var piece = token
            if i != 0 {
                if piece.hasPrefix(prefix) {
                    piece = String(piece.dropFirst(prefix.count))
                } else {
                    piece = " " + piece
                }
            }
            if cleanup { piece = Self.cleanup(piece) }
            out += piece
        }
        return out
    }

    /// The WordPiece decoder's cleanup of tokenization artifacts, in its order.
    static func cleanup(_ text: String) -> String {
        var s = text
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                           (" n't", "n't"), (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"),
                           (" 've", "'ve"), (" 're", "'re")] where s.contains(from) {
            s = s.replacingOccurrences(of: from, with: to)
        }
        return s
    }
}
