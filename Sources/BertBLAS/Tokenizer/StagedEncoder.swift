/// The `SequenceEncoder` of the byte-level BPE and Unigram tokenizers, stage by stage as
/// tokenizers' `TokenizerImpl::encode_single_sequence` runs them: added tokens in the raw text,
/// normalizer, added tokens in the normalized text, pre-tokenizer, model. Offsets come from the
/// alignments every stage keeps (`NormalizedText`).
struct StagedEncoder: SequenceEncoder {
    let rawAdded: AddedVocabulary
    let normalizedAdded: AddedVocabulary
    let normalizers: [NormalizerStep]
    let preTokenizers: [PreTokenizerStep]
    let model: SubwordModel

    func encode(_ text: String) -> Encoding.Part {
        var part = Encoding.Part()
        var text = text
        let original = text.withUTF8 { NormalizedText($0, firstCodePoint: 0) }
        // 1. Added tokens that match the raw text.
        var raw: [(NormalizedText, Int32?)] = []
        rawAdded.split(original, into: &raw)
        // 2. Normalize the rest, then the added tokens that match normalized text.
        var pieces: [(NormalizedText, Int32?)] = []
        for (piece, id) in raw {
            if id != nil {
                pieces.append((piece, id))
                continue
            }
            var p = piece
            for n in normalizers { n.apply(&p) }
            normalizedAdded.split(p, into: &pieces)
        }
        // 3. Pre-tokenize the text pieces; 4. the model on each word.
        var wordIndex = 0
        var words: [NormalizedText] = []
        var next: [NormalizedText] = []
        for (piece, id) in pieces {
            if let id {
                // The token's string is the text it matched (spaces it strips included).
                if part.texts.isEmpty { part.texts = [String?](repeating: nil, count: part.ids.count) }
                part.texts.append(String(decoding: piece.bytes, as: UTF8.self))
                part.ids.append(id)
                part.offsets.append(piece.offsets(0..<piece.bytes.count))
                part.wordIds.append(wordIndex)
                wordIndex += 1
                continue
            }
            words.removeAll(keepingCapacity: true)
            words.append(piece)
            for step in preTokenizers {
                next.removeAll(keepingCapacity: true)
                for w in words { step.apply(w, isFirst: (w.origin.first ?? 1) <= 0, into: &next) }
                swap(&words, &next)
            }
            for w in words where !w.isEmpty {
                let mark = part.ids.count
                model.tokenize(w.bytes) { id, range, keepText in
                    if keepText || !part.texts.isEmpty {
                        if part.texts.isEmpty { part.texts = [String?](repeating: nil, count: part.ids.count) }
                        part.texts.append(keepText ? String(decoding: w.bytes[range], as: UTF8.self) : nil)
                    }
                    part.ids.append(id)
                    part.offsets.append(w.offsets(range))
                }
                for _ in mark..<part.ids.count { part.wordIds.append(wordIndex) }
                wordIndex += 1
            }
        }
        return part
    }
}

/// The tokenizer models of the staged pipeline.
enum SubwordModel: Sendable {
    case bpe(BPEModel)
    case unigram(UnigramModel)

    /// Calls `emit(id, byte range in word, keepText)` for each token of `word`, in order;
    /// `keepText`: the token's string is its text, not the vocabulary's (a Unigram unknown piece).
    @inline(__always)
    func tokenize(_ word: [UInt8], _ emit: (Int32, Range<Int>, Bool) -> Void) {
        switch self {
        case .bpe(let m): m.tokenize(word, emit)
        case .unigram(let m): m.tokenize(word, emit)
        }
    }
}
