import Foundation

/// Small numeric helpers for decoding head outputs.
///
/// They compute in `Float` like the reference pipelines (numpy/torch float32), so scores agree
/// to float rounding.
enum TaskMath {
    /// Softmax of one row: the encoder's one softmax (`RowOps.softmax`, max subtracted first as
    /// numpy / torch do), on a copy.
    static func softmax<C: Collection>(_ logits: C) -> [Float] where C.Element == Float {
        var out = Array(logits)
        out.withUnsafeMutableBufferPointer { softmax(inPlace: $0) }
        return out
    }

    /// Softmax of one row in place.
    static func softmax(inPlace row: UnsafeMutableBufferPointer<Float>) {
        if let base = row.baseAddress { RowOps.softmax(rows: 1, width: row.count, base) }
    }

    /// Element-wise logistic sigmoid.
    static func sigmoid<C: Collection>(_ logits: C) -> [Float] where C.Element == Float {
        logits.map { 1 / (1 + expf(-$0)) }
    }

    /// Index of the first maximum (numpy `argmax` tie rule); nil for an empty row.
    static func argmax<C: Collection>(_ values: C) -> Int? where C.Element == Float, C.Index == Int {
        Ranking.top(1, of: values).first
    }
}

/// The one stable ranking: indices of values, largest first, equal values in index order (as
/// Python's stable `sorted(..., reverse=True)` and numpy's first-argmax tie rule). Public so
/// that servers rank (reranking, predictions) the same way.
public enum Ranking {
    /// Every index of `values`, best first.
    public static func descending<C: Collection>(_ values: C) -> [C.Index] where C.Element: Comparable, C.Index: Comparable {
        values.indices.sorted { a, b in values[a] != values[b] ? values[a] > values[b] : a < b }
    }

    /// The `k` best indices of `values`, best first (fewer when `values` is shorter). A small `k`
    /// over a long row (fill-mask over the vocabulary) is a selection, not a sort.
    static func top<C: Collection>(_ k: Int, of values: C) -> [C.Index] where C.Element: Comparable, C.Index: Comparable {
        let k = min(max(0, k), values.count)
        guard k > 0 else { return [] }
        if k * 16 >= values.count { return Array(descending(values).prefix(k)) }
        var best: [C.Index] = []
        best.reserveCapacity(k + 1)
        for i in values.indices {
            let v = values[i]
            if best.count == k, let last = best.last, !(v > values[last]) { continue }
            // After every kept value >= v: earlier indices win ties.
            var at = best.count
            while at > 0 && v > values[best[at - 1]] { at -= 1 }
            best.insert(i, at: at)
            if best.count > k { best.removeLast() }
        }
        return best
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
