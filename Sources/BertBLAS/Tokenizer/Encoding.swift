/// A token's span in the input text: `start..<end` in Unicode code points (as Python counts
/// string indices), so `text[start:end]` in Python is the token's source. Special and padding
/// tokens get `(0, 0)`.
public struct Offset: Sendable, Hashable, Codable {
    /// Index of the first code point of the token's source.
    public var start: Int
    /// Index one past the last code point of the token's source.
    public var end: Int

    /// A span `start..<end` in code points.
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}

/// The tokenizer's output for one text (or text pair): what the model and the task heads need.
///
/// Matches HuggingFace `tokenizers`' `Encoding`: all arrays have `count` elements.
public struct Encoding: Sendable, Equatable {
    /// Vocabulary ids, special tokens included.
    public var ids: [Int32]
    /// Segment ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]` (as the post-processor's template says).
    public var typeIds: [Int32]
    /// Token strings, as in the vocabulary (`##` continuation pieces keep their prefix).
    public var tokens: [String]
    /// Source span of each token, in code points of the text it came from (A or B).
    public var offsets: [Offset]
    /// 1 for real tokens, 0 for padding.
    public var attentionMask: [Int32]
    /// 1 for tokens added by the post-processor (`[CLS]`, `[SEP]`) and for padding, else 0.
    /// A special token typed in the text itself (e.g. `[MASK]`) gets 0, as in `tokenizers`.
    public var specialTokensMask: [Int32]
    /// Word index within its sequence, `nil` for special tokens and padding.
    public var wordIds: [Int?]
    /// 0 for tokens of the first text, 1 for the pair, `nil` for special tokens and padding.
    public var sequenceIds: [Int?]
    /// Extra windows when truncating with a stride (HF `return_overflowing_tokens`), in
    /// `tokenizers`' order. Each is a complete encoding with special tokens.
    public var overflowing: [Encoding]

    /// Number of tokens.
    public var count: Int { ids.count }

    /// An encoding from its arrays (all of one length); the tokenizer builds these, tests and
    /// callers that slice windows may too.
    public init(ids: [Int32] = [], typeIds: [Int32] = [], tokens: [String] = [], offsets: [Offset] = [],
                attentionMask: [Int32] = [], specialTokensMask: [Int32] = [], wordIds: [Int?] = [],
                sequenceIds: [Int?] = [], overflowing: [Encoding] = []) {
        self.ids = ids
        self.typeIds = typeIds
        self.tokens = tokens
        self.offsets = offsets
        self.attentionMask = attentionMask
        self.specialTokensMask = specialTokensMask
        self.wordIds = wordIds
        self.sequenceIds = sequenceIds
        self.overflowing = overflowing
    }
}

/// How `encode` shortens a text or pair that is longer than `maxLength`
/// (HuggingFace `truncation=` values).
public enum TruncationStrategy: String, Sendable, CaseIterable {
    /// Remove tokens from the longer of the two sequences until it fits (split evenly when both
    /// are long).
    case longestFirst = "longest_first"
    /// Truncate only the first text.
    case onlyFirst = "only_first"
    /// Truncate only the pair text (the QA pipeline's setting, with a stride).
    case onlySecond = "only_second"
}

/// Truncation settings, as HuggingFace `tokenizers`' `TruncationParams` (direction right).
public struct Truncation: Sendable, Equatable {
    /// Maximum number of tokens of the result, special tokens included.
    public var maxLength: Int
    /// Which sequence loses tokens. Default `.longestFirst`.
    public var strategy: TruncationStrategy = .longestFirst
    /// Tokens repeated between consecutive overflow windows. Default 0. Must be smaller than
    /// the room left for the truncated sequence; `encode` clamps it, `checkedEncode` throws.
    public var stride: Int = 0

    /// Truncation to `maxLength` tokens (special tokens included) with `strategy` (default
    /// `.longestFirst`) and `stride` overlapping tokens between overflow windows (default 0).
    public init(maxLength: Int, strategy: TruncationStrategy = .longestFirst, stride: Int = 0) {
        self.maxLength = maxLength
        self.strategy = strategy
        self.stride = stride
    }
}

/// Padding of a batch (HuggingFace `padding=`), always on the right with the `[PAD]` id,
/// type id 0, attention 0.
public enum Padding: Sendable, Equatable {
    /// Pad every encoding to the longest one of the batch.
    case longest
    /// Pad every encoding to this many tokens (longer ones are left as they are).
    case maxLength(Int)
}

// MARK: - Encoding algebra (tokenizers/src/tokenizer/encoding.rs)

extension Encoding {
    /// Encoding of a single sequence before post-processing; `sequenceRanges` follows
    /// `tokenizers`' `sequence_ranges` (needed to compute `sequenceIds` after merging).
    struct Part {
        var ids: [Int32] = []
        var typeIds: [Int32] = []
        var offsets: [Offset] = []
        var wordIds: [Int?] = []
        var specialTokensMask: [Int32] = []
        /// Token strings that differ from the vocabulary's (an added token matched with the spaces
        /// it strips, a Unigram unknown piece keeps its text); empty means none do.
        var texts: [String?] = []
        /// Sequence id → token range; empty means "one sequence, id 0, all tokens".
        var sequenceRanges: [(Int, Range<Int>)] = []
        var overflowing: [Part] = []

        var count: Int { ids.count }

        mutating func setSequenceId(_ id: Int) {
            sequenceRanges.removeAll { $0.0 == id }
            sequenceRanges.append((id, 0..<ids.count))
        }

        func slice(_ r: Range<Int>) -> Part {
            Part(ids: Array(ids[r]), typeIds: Array(typeIds[r]), offsets: Array(offsets[r]),
                 wordIds: Array(wordIds[r]), specialTokensMask: Array(specialTokensMask[r]),
                 texts: texts.isEmpty ? [] : Array(texts[r]))
        }

        /// `Encoding::truncate` with direction right: keeps the first `maxLength` tokens and
        /// moves windows of `maxLength` tokens, `stride` overlapping, into `overflowing`.
        mutating func truncate(_ maxLength: Int, stride: Int) {
            let n = ids.count
            if maxLength >= n { return }
            if maxLength == 0 {
                var moved = self
                moved.overflowing = overflowing
                self = Part()
                self.overflowing = [moved]
                return
            }
            let stride = min(stride, maxLength - 1)
            sequenceRanges.removeAll()
            let step = maxLength - stride
            var ranges: [Range<Int>] = []
            var start = 0
            while start < n {
                let stop = min(start + maxLength, n)
                ranges.append(start..<stop)
                if stop == n { break }
                start += step
            }
            var first = slice(ranges[0])
            for r in ranges.dropFirst() { first.overflowing.append(slice(r)) }
            self = first
        }

        /// Appends one special token: `merge` with a one-token part without overflow, without
        /// building that part (the post-processor's hot path).
        mutating func appendSpecial(_ id: Int32, typeId: Int32) {
            for i in overflowing.indices { overflowing[i].appendSpecial(id, typeId: typeId) }
            if !texts.isEmpty { texts.append(nil) }
            ids.append(id)
            typeIds.append(typeId)
            offsets.append(Offset(start: 0, end: 0))
            wordIds.append(nil)
            specialTokensMask.append(1)
        }

        mutating func reserveCapacity(_ n: Int) {
            ids.reserveCapacity(n)
            typeIds.reserveCapacity(n)
            offsets.reserveCapacity(n)
            wordIds.reserveCapacity(n)
            specialTokensMask.reserveCapacity(n)
        }

        /// `Encoding::merge_with(pair, growing_offsets: false)`, overflowing combinations included.
        mutating func merge(_ pair: Part) {
            var overflowings: [Part] = []
            for selfO in overflowing {
                var n = selfO
                n.merge(pair)
                overflowings.append(n)
                for otherO in pair.overflowing {
                    var m = selfO
                    m.merge(otherO)
                    overflowings.append(m)
                }
            }
            for otherO in pair.overflowing {
                var n = self
                n.merge(otherO)
                overflowings.append(n)
            }
            let base = ids.count
            for (id, r) in pair.sequenceRanges {
                sequenceRanges.removeAll { $0.0 == id }
                sequenceRanges.append((id, (base + r.lowerBound)..<(base + r.upperBound)))
            }
            if !texts.isEmpty || !pair.texts.isEmpty {
                if texts.isEmpty { texts = [String?](repeating: nil, count: ids.count) }
                texts += pair.texts.isEmpty ? [String?](repeating: nil, count: pair.ids.count) : pair.texts
            }
            ids += pair.ids
            typeIds += pair.typeIds
            offsets += pair.offsets
            wordIds += pair.wordIds
            specialTokensMask += pair.specialTokensMask
            overflowing = overflowings
        }

        /// The public encoding, with token strings from `vocabulary`.
        func finish(_ vocabulary: Vocabulary) -> Encoding {
            var sequenceIds = [Int?](repeating: nil, count: ids.count)
            if sequenceRanges.isEmpty {
                for i in 0..<ids.count { sequenceIds[i] = 0 }
            } else {
                for (id, r) in sequenceRanges {
                    for i in r where i < ids.count { sequenceIds[i] = id }
                }
            }
            var tokens = vocabulary.tokenStrings(ids)
            for (i, t) in texts.enumerated() {
                if let t { tokens[i] = t }
            }
            return Encoding(
                ids: ids, typeIds: typeIds, tokens: tokens, offsets: offsets,
                attentionMask: [Int32](repeating: 1, count: ids.count),
                specialTokensMask: specialTokensMask, wordIds: wordIds, sequenceIds: sequenceIds,
                overflowing: overflowing.map { $0.finish(vocabulary) })
        }
    }

    /// Pads on the right to `length` (overflowing windows too), as `Encoding::pad`.
    mutating func pad(to length: Int, id: Int32, token: String) {
        for i in overflowing.indices { overflowing[i].pad(to: length, id: id, token: token) }
        guard length > ids.count else { return }
        let n = length - ids.count
        ids += [Int32](repeating: id, count: n)
        typeIds += [Int32](repeating: 0, count: n)
        tokens += [String](repeating: token, count: n)
        offsets += [Offset](repeating: Offset(start: 0, end: 0), count: n)
        attentionMask += [Int32](repeating: 0, count: n)
        specialTokensMask += [Int32](repeating: 1, count: n)
        wordIds += [Int?](repeating: nil, count: n)
        sequenceIds += [Int?](repeating: nil, count: n)
    }
}

extension Vocabulary {
    /// Token strings for ids (the unknown-token string stays as the vocabulary spells it).
    func tokenStrings(_ ids: [Int32]) -> [String] {
        ids.map { id in
            (id >= 0 && Int(id) < tokens.count) ? tokens[Int(id)] : ""
        }
    }
}
