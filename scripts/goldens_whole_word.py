#!/usr/bin/env python3
"""Word boundaries for whole-word masking with byte-level BPE and Unigram tokenizers (issue 11),
from HuggingFace `tokenizers` 0.22.1 / `transformers` 4.57.1.

Usage: .venv-goldens/bin/python scripts/goldens_whole_word.py   (deterministic, offline)

For each committed tokenizer folder below and the first LINES lines of Tests/Goldens/tokenizer/corpus.txt,
Tests/Goldens/pretrain/whole_word_<name>.jsonl holds the encoding (ids, special-tokens mask, the
tokens that start inside the previous token's span) and two references for "this token starts a word":

  collator   transformers 4.57.1 DataCollatorForLanguageModeling(whole_word_mask=True): its
             _calc_word_ids_and_prob_mask (a non-special token starts a word when its offset start
             differs from the previous token's end, or the previous token is special);
  word_ids   tokenizers' word ids (the pre-tokenizer's words): a token starts a word when its word
             id differs from the previous token's, or the previous token is special.

BertBLAS's rule is per id, as fairseq's is_beginning_of_word for these tokenizers: a token starts a
word when it begins with the byte-level space (Ġ) or the Metaspace replacement (▁). The Swift test
(WholeWordTests) compares it with the collator for byte-level BPE and with the word ids for Unigram
(Metaspace offsets include the ▁ space, so the collator's offset rule joins every word to the one
before it there).
"""
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import tokenizers
import transformers
from transformers import AutoTokenizer, DataCollatorForLanguageModeling

assert transformers.__version__ == "4.57.1", transformers.__version__
assert tokenizers.__version__ == "0.22.1", tokenizers.__version__

ROOT = Path(__file__).resolve().parent.parent
GOLDENS = ROOT / "Tests" / "Goldens"
LINES = 120  # the first lines of the corpus: English, punctuation, 20+ scripts, emoji, odd spaces
FOLDERS = {
    "roberta_bpe": GOLDENS / "tokenizer" / "roberta_bpe",
    "xlmr_unigram": GOLDENS / "tokenizer" / "xlmr_unigram",
    # XLM-R's converter over sentencepiece's own Unigram model (scripts/goldens_families.py).
    "xlmr_spm": GOLDENS / "families" / "models" / "xlm-roberta-cls",
}


def main():
    lines = [l for l in (GOLDENS / "tokenizer" / "corpus.txt").read_text(encoding="utf-8").split("\n") if l.strip()]
    lines = lines[:LINES]
    for name, folder in FOLDERS.items():
        tok = AutoTokenizer.from_pretrained(str(folder))
        assert tok.is_fast
        out = GOLDENS / "pretrain" / f"whole_word_{name}.jsonl"
        records = []
        for line in lines:
            enc = tok(line, return_offsets_mapping=True, return_special_tokens_mask=True)
            offsets = np.array([enc["offset_mapping"]])
            special = np.array([enc["special_tokens_mask"]])
            # prob_mask is ~is_new_word: False exactly where the collator starts a word.
            _, prob_mask = DataCollatorForLanguageModeling._calc_word_ids_and_prob_mask(offsets, special)
            collator = [not bool(p) for p in prob_mask[0]]
            words = enc.word_ids()
            by_words = [bool(s == 0 and (i == 0 or enc["special_tokens_mask"][i - 1] == 1 or words[i] != words[i - 1]))
                        for i, s in enumerate(enc["special_tokens_mask"])]
            spans = enc["offset_mapping"]
            # Tokens that start inside the previous token's span: byte pieces of one character.
            inside = [i for i in range(1, len(spans)) if enc["special_tokens_mask"][i] == 0
                      and enc["special_tokens_mask"][i - 1] == 0 and spans[i][0] < spans[i - 1][1]]
            records.append({"text": line, "ids": enc["input_ids"], "special": enc["special_tokens_mask"],
                            "inside_character": inside,
                            "collator_starts": [i for i, b in enumerate(collator) if b],
                            "word_id_starts": [i for i, b in enumerate(by_words) if b]})
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        print(f"wrote {out.relative_to(ROOT)}: {len(records)} lines, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
