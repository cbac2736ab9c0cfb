/// The truncation stage (tokenizers `utils/truncation.rs` `truncate_encodings`, direction
/// right), shared by every tokenizer model: runs on the sequences before the post-processor.
enum TruncationStage {
    /// Truncates `a` (and `b`) so that they fit `truncation.maxLength` minus `added` special
    /// tokens. Returns the error HF would raise; `a` and `b` are then left untouched, or (a stride
    /// too large) truncated with the stride clamped.
    static func apply(_ truncation: Truncation, added: Int, _ a: inout Encoding.Part,
                      _ b: inout Encoding.Part?) -> BertError? {
        if truncation.maxLength < added {
            return BertError(.invalidInput,
                             "truncation maxLength \(truncation.maxLength) is smaller than the \(added) special tokens")
        }
        if truncation.stride < 0 {
            // tokenizers' stride is a usize: a negative one is rejected, not applied.
            return BertError(.invalidInput, "truncation stride must not be negative, got \(truncation.stride)")
        }
        var params = truncation
        params.maxLength -= added
        return truncate(&a, &b, params)
    }

    /// `truncate_encodings` with the room left for the sequences (special tokens excluded).
    static func truncate(_ a: inout Encoding.Part, _ b: inout Encoding.Part?, _ p: Truncation) -> BertError? {
        let maxLength = p.maxLength
        var strideError: BertError?
        func cut(_ part: inout Encoding.Part, _ length: Int) {
            if length < part.count && length > 0 && p.stride >= length {
                strideError = BertError(.invalidInput,
                    "truncation stride \(p.stride) must be smaller than the \(length) tokens left for the truncated text")
            }
            part.truncate(length, stride: p.stride)
        }
        if maxLength == 0 {
            cut(&a, 0)
            if var other = b {
                cut(&other, 0)
                b = other
            }
            return strideError
        }
        let total = a.count + (b?.count ?? 0)
        guard total > maxLength else { return nil }
        let toRemove = total - maxLength
        switch p.strategy {
        case .longestFirst:
            if var other = b {
                var n1 = a.count, n2 = other.count
                let swapped = n1 > n2
                if swapped { swap(&n1, &n2) }
                n2 = n1 > maxLength ? n1 : max(n1, maxLength - n1)
                if n1 + n2 > maxLength {
                    n1 = maxLength / 2
                    n2 = n1 + maxLength % 2
                }
                if swapped { swap(&n1, &n2) }
                cut(&a, n1)
                cut(&other, n2)
                b = other
            } else {
                cut(&a, total - toRemove)
            }
        case .onlyFirst, .onlySecond:
            if p.strategy == .onlySecond {
                guard var other = b else {
                    return BertError(.invalidInput, "truncation strategy onlySecond needs a text pair")
                }
                guard other.count > toRemove else {
                    return BertError(.invalidInput,
                        "truncation strategy onlySecond: the second text has \(other.count) tokens, \(toRemove) must go; use longestFirst")
                }
                cut(&other, other.count - toRemove)
                b = other
            } else {
                guard a.count > toRemove else {
                    return BertError(.invalidInput,
                        "truncation strategy onlyFirst: the first text has \(a.count) tokens, \(toRemove) must go; use longestFirst")
                }
                cut(&a, a.count - toRemove)
            }
        }
        return strideError
    }
}
