/// The stages of `tokenizers` that turn one sequence into tokens: added-token split, normalizer,
/// pre-tokenizer and model. Every tokenizer model (WordPiece, byte-level BPE, Unigram) is one
/// `SequenceEncoder`; `Tokenizer` runs the shared stages after it (post-processor template,
/// truncation, padding) and the decoder.
///
/// Output contract (tokenizers' `Encoding` before `post_process`): `ids`, `offsets` (code points of
/// `text`, start..<end) and `wordIds` (index of the pre-token each token came from, counted over
/// the whole text, added tokens included), one entry per token; type ids and the special-tokens
/// mask are filled by the caller.
protocol SequenceEncoder: Sendable {
    /// One sequence's tokens before post-processing.
    func encode(_ text: String) -> Encoding.Part
}

extension SequenceEncoder {
    /// `encode` with every token given `typeId` and a zero special-tokens mask.
    func encode(_ text: String, typeId: Int32) -> Encoding.Part {
        var part = encode(text)
        part.typeIds = [Int32](repeating: typeId, count: part.ids.count)
        part.specialTokensMask = [Int32](repeating: 0, count: part.ids.count)
        return part
    }
}
