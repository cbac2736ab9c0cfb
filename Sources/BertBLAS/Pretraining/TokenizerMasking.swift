extension MaskingVocabulary {
    /// The masking facts of a loaded tokenizer: its vocabulary size, `[MASK]`, `[PAD]` and its
    /// `##` continuation pieces.
    ///
    /// - Parameter tokenizer: a loaded BERT tokenizer.
    /// - Throws: `BertError.unsupported` when the vocabulary has no `[MASK]` token.
    public init(tokenizer: BertTokenizer) throws {
        guard let mask = tokenizer.specialTokens.mask else {
            throw BertError(.unsupported, "the tokenizer has no [MASK] token: masked-LM data needs one")
        }
        try self.init(size: tokenizer.vocabulary.count, maskId: mask, padId: tokenizer.specialTokens.pad) { id in
            tokenizer.vocabulary.isContinuation(id)
        }
    }
}
