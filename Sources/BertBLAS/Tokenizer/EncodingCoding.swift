import Foundation

/// `Encoding` as JSON, with the field names of HuggingFace's tokenizer output (`input_ids`,
/// `token_type_ids`, `attention_mask`, `special_tokens_mask`, `offsets` as `[start, end]` pairs,
/// `word_ids`, `sequence_ids`) and `tokens`, as `bert tokenize` prints them. `overflowing` is
/// written only when there are overflow windows.
///
/// Decoding needs `input_ids` only: a missing `token_type_ids` is all 0, `attention_mask` all 1,
/// `tokens` empty strings, `offsets` `(0, 0)`, the masks and id lists as for tokens without
/// words. An array of another length than `input_ids` is refused, naming its key.
extension Encoding: Codable {
    enum CodingKeys: String, CodingKey {
        case ids = "input_ids"
        case typeIds = "token_type_ids"
        case attentionMask = "attention_mask"
        case specialTokensMask = "special_tokens_mask"
        case tokens, offsets
        case wordIds = "word_ids"
        case sequenceIds = "sequence_ids"
        case overflowing
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ids, forKey: .ids)
        try c.encode(typeIds, forKey: .typeIds)
        try c.encode(attentionMask, forKey: .attentionMask)
        try c.encode(specialTokensMask, forKey: .specialTokensMask)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(offsets.map { [$0.start, $0.end] }, forKey: .offsets)
        try c.encode(wordIds, forKey: .wordIds)
        try c.encode(sequenceIds, forKey: .sequenceIds)
        if !overflowing.isEmpty { try c.encode(overflowing, forKey: .overflowing) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let ids = try c.decode([Int32].self, forKey: .ids)
        let n = ids.count
        func array<T: Decodable>(_ key: CodingKeys, _ type: T.Type, default value: T) throws -> [T] {
            guard let decoded = try c.decodeIfPresent([T].self, forKey: key) else {
                return Array(repeating: value, count: n)
            }
            guard decoded.count == n else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: c,
                    debugDescription: "\(key.stringValue) has \(decoded.count) elements for \(n) input_ids")
            }
            return decoded
        }
        let pairs = try array(.offsets, [Int].self, default: [0, 0])
        var offsets: [Offset] = []
        offsets.reserveCapacity(n)
        for (i, pair) in pairs.enumerated() {
            guard pair.count == 2, pair[0] >= 0, pair[0] <= pair[1] else {
                throw DecodingError.dataCorruptedError(
                    forKey: .offsets, in: c,
                    debugDescription: "offsets[\(i)] is \(pair), not a [start, end] pair with 0 <= start <= end")
            }
            offsets.append(Offset(start: pair[0], end: pair[1]))
        }
        self.init(ids: ids,
                  typeIds: try array(.typeIds, Int32.self, default: 0),
                  tokens: try array(.tokens, String.self, default: ""),
                  offsets: offsets,
                  attentionMask: try array(.attentionMask, Int32.self, default: 1),
                  specialTokensMask: try array(.specialTokensMask, Int32.self, default: 0),
                  wordIds: try array(.wordIds, Int?.self, default: nil),
                  sequenceIds: try array(.sequenceIds, Int?.self, default: nil),
                  overflowing: try c.decodeIfPresent([Encoding].self, forKey: .overflowing) ?? [])
    }
}
