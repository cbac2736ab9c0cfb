import Foundation
@testable import BertBLAS

/// The tokenizer facts the pre-training tests need, from all-MiniLM-L6-v2 (bert-base-uncased's
/// vocabulary, 30522 tokens).
struct PretrainTokenizer: Sendable {
    var tokenizer: BertTokenizer
    var vocabulary: MaskingVocabulary
    var cls: Int32, sep: Int32, pad: Int32, mask: Int32

    static func load() throws -> PretrainTokenizer {
        let tokenizer = try BertTokenizer(directory: Paths.miniLM)
        let vocabulary = try MaskingVocabulary(tokenizer: tokenizer)
        let special = tokenizer.specialTokens
        return PretrainTokenizer(tokenizer: tokenizer, vocabulary: vocabulary, cls: special.cls, sep: special.sep,
                                 pad: special.pad, mask: vocabulary.maskId)
    }

    /// Token ids of one line, without special tokens.
    func tokenize(_ text: String) -> [Int32] {
        tokenizer.encode(text, addSpecialTokens: false).ids
    }
}
