import Foundation

/// How the token-classification pipeline merges per-token predictions into entities.
///
/// The semantics are those of transformers' `TokenClassificationPipeline` (4.x):
/// - `none`: one entity per (non-special) token, labelled by its argmax.
/// - `simple`: tokens labelled by their argmax, then adjacent tokens of the same entity type are
///   grouped (a `B-` tag always starts a new group); the group score is the mean.
/// - `first`, `average`, `max`: each *word* first takes one label, from its first sub-token, from
///   the mean of its sub-tokens' score vectors, or from its most confident sub-token; then words
///   are grouped as in `simple`.
public enum AggregationStrategy: String, Sendable, CaseIterable, Codable {
    case none, simple, first, average, max
}

/// One entity (or, for ``AggregationStrategy/none``, one token) found in a text.
///
/// `Codable` as the HF pipeline's records: `{"entity", "score", "index", "word", "start", "end"}`
/// for a token (`index` set), `{"entity_group", "score", "word", "start", "end"}` for a group.
public struct Entity: Sendable, Equatable, Codable {
    /// The label: the full tag (`B-PER`) for `none`, the entity type (`PER`) otherwise.
    public var label: String
    /// The probability of `label` (for groups, the mean over the grouped tokens or words).
    public var score: Float
    /// The token's position in the encoding (only for `none`).
    public var index: Int?
    /// The entity's text as the tokenizer's decoder renders its tokens (lowercased for uncased models).
    public var word: String
    /// Start of the entity in the input text, in Unicode code points.
    public var start: Int
    /// End (exclusive) of the entity in the input text, in Unicode code points.
    public var end: Int

    public init(label: String, score: Float, index: Int?, word: String, start: Int, end: Int) {
        self.label = label
        self.score = score
        self.index = index
        self.word = word
        self.start = start
        self.end = end
    }

    enum CodingKeys: String, CodingKey {
        case entity, entityGroup = "entity_group", score, index, word, start, end
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        index = try c.decodeIfPresent(Int.self, forKey: .index)
        label = try c.decodeIfPresent(String.self, forKey: .entity) ?? c.decode(String.self, forKey: .entityGroup)
        score = try c.decode(Float.self, forKey: .score)
        word = try c.decode(String.self, forKey: .word)
        start = try c.decode(Int.self, forKey: .start)
        end = try c.decode(Int.self, forKey: .end)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let index {
            try c.encode(label, forKey: .entity)
            try c.encode(index, forKey: .index)
        } else {
            try c.encode(label, forKey: .entityGroup)
        }
        try c.encode(score, forKey: .score)
        try c.encode(word, forKey: .word)
        try c.encode(start, forKey: .start)
        try c.encode(end, forKey: .end)
    }
}

/// The fields of an encoded text that entity decoding needs (one row per token).
struct TokenRows {
    var ids: [Int]
    var tokens: [String]
    var offsets: [(start: Int, end: Int)]
    var special: [Bool]
}

/// Turns per-token logits into entities exactly as transformers' token-classification pipeline.
///
/// Reference: transformers v4.57.1 `src/transformers/pipelines/token_classification.py`
/// (`gather_pre_entities`, `aggregate`, `aggregate_words`, `group_entities`). Words and groups are
/// rendered by the tokenizer's decoder, as `convert_tokens_to_string` of a fast tokenizer; a group
/// of words decodes the already-decoded words once more, as transformers does (so byte-level BPE
/// turns "Zürich" into "Z\u{FFFD}rich" there, exactly as the pipeline).
struct EntityDecoder {
    let labels: [String]
    let unknownId: Int?
    /// The tokenizer's decoder: it renders an entity's tokens as transformers'
    /// `convert_tokens_to_string` (" Smith" from byte-level BPE's "ĠSmith", "smith" from WordPiece).
    let decoder: TokenDecoder
    /// True when the tokenizer marks continuations with a prefix (WordPiece's `##`): a token is then
    /// a sub-word exactly when its text differs in length from its span. Otherwise (byte-level BPE,
    /// Unigram) transformers falls back to "no space before the token's start".
    let wordAware: Bool

    /// A decoder for a tokenizer's labels and rendering (WordPiece's by default).
    init(labels: [String], unknownId: Int?, decoder: TokenDecoder = .wordPiece(prefix: "##", cleanup: true),
         wordAware: Bool = true) {
        self.labels = labels
        self.unknownId = unknownId
        self.decoder = decoder
        self.wordAware = wordAware
    }

    /// The decoding of `tokenizer`'s encodings.
    init(labels: [String], tokenizer: Tokenizer) {
        self.init(labels: labels, unknownId: Int(tokenizer.specialTokens.unk), decoder: tokenizer.decoder,
                  wordAware: tokenizer.hasContinuingSubwordPrefix)
    }

    private struct PreEntity {
        var word: String
        var scores: [Float]
        var start: Int
        var end: Int
        var index: Int
        var isSubword: Bool
    }

    private struct Tagged {
        var label: String
        var score: Float
        var index: Int?
        var word: String
        var start: Int
        var end: Int
    }

    /// Decodes one text.
    /// - Parameters:
    ///   - logits: `[T, L]` row-major per-token logits.
    ///   - rows: the encoding of `text` (T tokens).
    ///   - text: the original text (offsets index it in code points).
    ///   - strategy: the aggregation strategy.
    ///   - ignoreLabels: labels (or entity groups) dropped from the result.
    func decode(logits: [Float], rows: TokenRows, text: String, strategy: AggregationStrategy,
                ignoreLabels: Set<String>) -> [Entity] {
        let width = labels.count
        let source = CodePointText(text)
        var pre: [PreEntity] = []
        for t in rows.ids.indices where !rows.special[t] {
            let scores = TaskMath.softmax(logits[(t * width)..<((t + 1) * width)])
            let (start, end) = rows.offsets[t]
            let reference = source.slice(start, end)
            var word = rows.tokens[t]
            var isSubword: Bool
            if wordAware {
                // WordPiece: a token is a sub-word exactly when its text differs in length from
                // the span it covers ("##ing" vs "ing").
                isSubword = word.unicodeScalars.count != reference.unicodeScalars.count
            } else {
                // transformers' fallback for tokenizers that do not know words: a sub-word starts
                // after the text's start with no U+0020 in text[start-1 ..< start+1].
                isSubword = start > 0 && !source.slice(start - 1, start + 1).unicodeScalars.contains(" ")
            }
            if let unknownId, rows.ids[t] == unknownId {
                word = reference
                isSubword = false
            }
            pre.append(PreEntity(word: word, scores: scores, start: start, end: end, index: t,
                                 isSubword: isSubword))
        }

        var tagged: [Tagged] = []
        switch strategy {
        case .none, .simple:
            for p in pre {
                let best = TaskMath.argmax(p.scores) ?? 0
                tagged.append(Tagged(label: labels[best], score: p.scores[best], index: p.index,
                                     word: p.word, start: p.start, end: p.end))
            }
        case .first, .average, .max:
            var group: [PreEntity] = []
            for p in pre {
                if !group.isEmpty && !p.isSubword {
                    tagged.append(aggregateWord(group, strategy))
                    group = []
                }
                group.append(p)
            }
            if !group.isEmpty { tagged.append(aggregateWord(group, strategy)) }
        }

        let entities: [Entity]
        if strategy == .none {
            entities = tagged.map {
                Entity(label: $0.label, score: $0.score, index: $0.index, word: $0.word,
                       start: $0.start, end: $0.end)
            }
        } else {
            entities = groupEntities(tagged)
        }
        return entities.filter { !ignoreLabels.contains($0.label) }
    }

    private func aggregateWord(_ group: [PreEntity], _ strategy: AggregationStrategy) -> Tagged {
        let word = decoder.decode(group.map(\.word))
        var label = labels[0]
        var score: Float = 0
        switch strategy {
        case .first:
            let scores = group[0].scores
            let best = TaskMath.argmax(scores) ?? 0
            (label, score) = (labels[best], scores[best])
        case .max:
            // Python's max() keeps the first of equal maxima.
            var chosen = group[0]
            var chosenMax = group[0].scores.max() ?? 0
            for p in group.dropFirst() {
                let m = p.scores.max() ?? 0
                if m > chosenMax { (chosen, chosenMax) = (p, m) }
            }
            let best = TaskMath.argmax(chosen.scores) ?? 0
            (label, score) = (labels[best], chosen.scores[best])
        default:
            var mean = [Float](repeating: 0, count: labels.count)
            for p in group {
                for j in mean.indices { mean[j] += p.scores[j] }
            }
            for j in mean.indices { mean[j] /= Float(group.count) }
            let best = TaskMath.argmax(mean) ?? 0
            (label, score) = (labels[best], mean[best])
        }
        return Tagged(label: label, score: score, index: nil, word: word,
                      start: group[0].start, end: group[group.count - 1].end)
    }

    /// Splits a tag into (`B`/`I`, type); a tag without a `B-`/`I-` prefix continues (`I`).
    private static func tag(_ label: String) -> (bi: Character, type: Substring) {
        if label.hasPrefix("B-") { return ("B", label.dropFirst(2)) }
        if label.hasPrefix("I-") { return ("I", label.dropFirst(2)) }
        return ("I", label[...])
    }

    private func groupEntities(_ tagged: [Tagged]) -> [Entity] {
        var groups: [Entity] = []
        var current: [Tagged] = []
        func flush() {
            guard let first = current.first, let last = current.last else { return }
            // The group's type is the first member's label after its first "-" (Python's split("-", 1)[-1]).
            let type: String
            if let dash = first.label.firstIndex(of: "-") {
                type = String(first.label[first.label.index(after: dash)...])
            } else {
                type = first.label
            }
            var sum: Float = 0
            for t in current { sum += t.score }
            groups.append(Entity(label: type, score: sum / Float(current.count), index: nil,
                                 word: decoder.decode(current.map(\.word)),
                                 start: first.start, end: last.end))
        }
        for t in tagged {
            guard let previous = current.last else {
                current = [t]
                continue
            }
            let (bi, type) = Self.tag(t.label)
            let (_, previousType) = Self.tag(previous.label)
            if type == previousType && bi != "B" {
                current.append(t)
            } else {
                flush()
                current = [t]
            }
        }
        flush()
        return groups
    }
}
