/// The post-processor stage (tokenizers `processors/`): adds the special tokens around one
/// sequence or a pair, sets type ids and sequence ids, and (RoBERTa, ByteLevel) trims the spaces
/// byte-level tokens carry out of their offsets. Shared by every tokenizer model.
///
/// `TemplateProcessing`, `BertProcessing` and `RobertaProcessing` are all templates here:
/// BERT `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`, RoBERTa `<s> A </s>` / `<s> A </s> </s> B </s>`.
struct PostProcessor: Sendable {
    enum Step: Sendable {
        case special(Int32, typeId: Int32)
        case sequence(Int, typeId: Int32)
    }

    /// The template for one sequence and for a pair.
    var single: [Step]
    var pair: [Step]
    /// Trim leading/trailing spaces (`Ġ`) out of each token's offsets before adding the specials
    /// (RobertaProcessing / ByteLevel `trim_offsets`), keeping a prefix space the pre-tokenizer
    /// added when `addPrefixSpace` (tokenizers `byte_level.rs` `process_offsets`).
    var trimOffsets = false
    var addPrefixSpace = false
    /// RobertaProcessing: all type ids 0, in the overflow windows too.
    var zeroTypeIds = false

    /// Number of special tokens added (2 for a BERT single text, 3 for a pair; 4 for a RoBERTa pair).
    func addedTokens(pair isPair: Bool) -> Int {
        (isPair ? pair : single).reduce(0) { n, s in
            if case .special = s { return n + 1 }
            return n
        }
    }

    /// `PostProcessor::process`: sequence ids, offset trimming, then the template.
    func process(_ a: consuming Encoding.Part, _ b: consuming Encoding.Part?, addSpecialTokens: Bool,
                 vocabulary: Vocabulary) -> Encoding.Part {
        if zeroTypeIds {
            // roberta.rs: every type id 0, overflow windows included.
            a.setTypeIds(0)
            b?.setTypeIds(0)
        }
        if trimOffsets {
            a.trimByteLevelOffsets(vocabulary, addPrefixSpace: addPrefixSpace)
            b?.trimByteLevelOffsets(vocabulary, addPrefixSpace: addPrefixSpace)
        }
        a.setSequenceId(0)
        for i in a.overflowing.indices { a.overflowing[i].setSequenceId(0) }
        if b != nil {
            b?.setSequenceId(1)
            if let n = b?.overflowing.count { for i in 0..<n { b?.overflowing[i].setSequenceId(1) } }
        }
        let template = b == nil ? single : pair
        var merged = Encoding.Part()
        merged.reserveCapacity(a.count + (b?.count ?? 0) + template.count)
        for step in template {
            switch step {
            case .special(let id, let typeId):
                guard addSpecialTokens else { continue }
                merged.appendSpecial(id, typeId: typeId)
            case .sequence(let s, let typeId):
                guard var part = s == 0 ? a : b else { continue }
                // The template types the sequence's own tokens; its overflow windows keep theirs
                // (tokenizers `template.rs`).
                part.typeIds = [Int32](repeating: typeId, count: part.count)
                part.setSequenceId(s)
                merged.merge(part)
            }
        }
        return merged
    }
}

extension Encoding.Part {
    /// Every token's type id, overflow windows included (the template's type id for the sequence).
    mutating func setTypeIds(_ typeId: Int32) {
        typeIds = [Int32](repeating: typeId, count: ids.count)
        for i in overflowing.indices { overflowing[i].setTypeIds(typeId) }
    }

    /// tokenizers `pre_tokenizers/byte_level.rs` `process_offsets`: per token, leading and
    /// trailing `Ġ` (or whitespace) characters of its token string leave its offsets, except the
    /// one prefix space a first token got from `add_prefix_space`. Overflow windows too.
    mutating func trimByteLevelOffsets(_ vocabulary: Vocabulary, addPrefixSpace: Bool) {
        for i in overflowing.indices { overflowing[i].trimByteLevelOffsets(vocabulary, addPrefixSpace: addPrefixSpace) }
        for i in ids.indices {
            guard let token = (texts.isEmpty ? nil : texts[i]) ?? vocabulary.token(ids[i]) else { continue }
            let scalars = token.unicodeScalars
            func isSpace(_ s: Unicode.Scalar) -> Bool { s.value == 0x120 || s.properties.isWhitespace }
            var leading = 0
            for s in scalars {
                guard isSpace(s) else { break }
                leading += 1
            }
            var trailing = 0
            for s in scalars.reversed() {
                guard isSpace(s) else { break }
                trailing += 1
            }
            guard leading > 0 || trailing > 0 else { continue }
            var o = offsets[i]
            if leading > 0 {
                let isFirst = i == 0 || o.start == 0
                if !(isFirst && addPrefixSpace && leading == 1) {
                    o.start = min(o.start + leading, o.end)
                }
            }
            if trailing > 0 && o.end >= trailing {
                o.end = max(o.end - trailing, o.start)
            }
            offsets[i] = o
        }
    }
}
