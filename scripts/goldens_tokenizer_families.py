#!/usr/bin/env python3
"""Tokenizer parity goldens for the non-WordPiece families (byte-level BPE, Unigram), from
HuggingFace `tokenizers` 0.22.1 / `transformers` 4.57.1.

Usage: $PYTHON scripts/goldens_tokenizer_families.py [--cache .cache] [--out Tests/Goldens/tokenizer]

There is no model hub here, so the tokenizers are trained on this machine, small, and saved the way
transformers saves the real ones:
  roberta_bpe/   a byte-level BPE (tokenizers' ByteLevelBPETokenizer) loaded into
                 transformers' RobertaTokenizerFast (RobertaProcessing `<s> A </s></s> B </s>`,
                 trim_offsets, `<mask>` with lstrip) and saved: tokenizer.json, vocab.json,
                 merges.txt, tokenizer_config.json, special_tokens_map.json
  roberta_prefix/  the same with add_prefix_space=True (tokenizer.json only)
  xlmr_unigram/  a SentencePiece Unigram model (nmt_nfkc rules) converted by transformers'
                 XLMRobertaTokenizerFast: Precompiled + Strip + Replace normalizer, Metaspace
                 pre-tokenizer (prepend_scheme always), XLM-R template (tokenizer.json only)
  unigram_nfkc/  that Unigram model with the older layout many hub folders still have: an NFKC
                 normalizer and Sequence[WhitespaceSplit, Metaspace(add_prefix_space)]
  unigram_bytes/ that Unigram model with byte_fallback and the 256 <0xXX> pieces, NFKC normalizer
                 (tokenizer.json only)

For each family of FAMILIES, `<family>_single.jsonl` (every corpus line), `<family>_fuzz.jsonl`
(random strings glued from tricky pieces, single and paired) and, for the main families,
`<family>_pairs.jsonl` (pairs and single texts with each truncation strategy, stride and overflow
windows) hold what `tokenizers` returns: ids, type ids, offsets, word ids, special-tokens mask,
sequence ids (tokens in the fuzz singles). The RoBERTa folder's vocab.json + merges.txt, converted
by transformers, are checked to give the same encodings as its tokenizer.json. The corpus is the one the
WordPiece goldens use (corpus.txt, written by scripts/goldens_tokenizer.py). Adding a family is one
entry of FAMILIES (a function that writes the folder) plus one line in the Swift test.

Deterministic pieces (sampling, fuzz) use fixed seeds; training the tokenizers may differ across
library versions, so the folders are committed with the goldens. Needs tokenizers==0.22.1,
transformers==4.57.1, sentencepiece, protobuf.
"""
import argparse
import csv
import json
import os
import random
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from goldens_tokenizer import enc_record, write_jsonl, plain, pair_cases  # noqa: E402
from tokenizers import Tokenizer, ByteLevelBPETokenizer  # noqa: E402

SEED = 20261201


def training_text(cache, corpus):
    """The corpus lines plus a few thousand Rotten Tomatoes and BBC lines (English mostly: rare
    scripts then get few merges/pieces, so unknown and byte pieces occur)."""
    rng = random.Random(SEED)
    lines = [c for c in corpus if c]
    with open(os.path.join(cache, "data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv"), newline="",
              encoding="utf-8") as f:
        rows = [r["text"].replace("\n", " ") for r in csv.DictReader(f)]
    lines += rng.sample(rows, 3000)
    bbc = os.path.join(cache, "data/bbcnews")
    for label in sorted(os.listdir(bbc)):
        folder = os.path.join(bbc, label)
        if os.path.isdir(folder):
            for name in sorted(os.listdir(folder))[:40]:
                with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                    lines += [p for p in f.read().split("\n") if p.strip()]
    # The hand-written multilingual lines several times, so their scripts get pieces too.
    lines += [c for c in corpus[:80] if c] * 5
    return lines


def build_roberta(out, train, tmp):
    from transformers import RobertaTokenizerFast
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(train, vocab_size=3000, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(tmp)
    tok = RobertaTokenizerFast(vocab_file=os.path.join(tmp, "vocab.json"),
                               merges_file=os.path.join(tmp, "merges.txt"), model_max_length=512)
    tok.save_pretrained(out)


def build_roberta_prefix(out, train, tmp):
    from transformers import RobertaTokenizerFast
    tok = RobertaTokenizerFast.from_pretrained(os.path.join(OUT, "roberta_bpe"), add_prefix_space=True)
    tok.save_pretrained(tmp)
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(tmp, "tokenizer.json"), out)


def spm_model(train, tmp):
    import sentencepiece as spm
    path = os.path.join(tmp, "train.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(train) + "\n")
    spm.SentencePieceTrainer.train(
        input=path, model_prefix=os.path.join(tmp, "spm"), vocab_size=3000, model_type="unigram",
        character_coverage=0.995, normalization_rule_name="nmt_nfkc", num_threads=1, seed_sentencepiece_size=100000,
        minloglevel=2)
    return os.path.join(tmp, "spm.model")


def build_xlmr(out, train, tmp):
    from transformers import XLMRobertaTokenizerFast
    tok = XLMRobertaTokenizerFast(vocab_file=spm_model(train, tmp), model_max_length=512)
    tok.save_pretrained(tmp)
    os.makedirs(out, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(tmp, name), out)


def build_unigram_nfkc(out, train, tmp):
    with open(os.path.join(OUT, "xlmr_unigram", "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    j["normalizer"] = {"type": "NFKC"}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)


def build_unigram_bytes(out, train, tmp):
    """xlmr_unigram's model with byte_fallback: the 256 `<0xXX>` pieces appended to its vocabulary
    (scored below every other piece), so characters outside it become their UTF-8 bytes, not <unk>."""
    with open(os.path.join(OUT, "xlmr_unigram", "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    vocab = j["model"]["vocab"]
    floor = min(score for _, score in vocab) - 1.0
    vocab += [[f"<0x{b:02X}>", floor] for b in range(256)]
    j["model"]["byte_fallback"] = True
    j["normalizer"] = {"type": "NFKC"}  # not the Precompiled charsmap: it would add 240 kB here
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)


# name → (builder, which goldens). A builder writes the family's folder under --out; the variants
# of a family get the corpus and fuzz goldens, the main ones the truncation cases too.
FAMILIES = {
    "roberta_bpe": (build_roberta, ("single", "fuzz", "pairs", "decode")),
    "roberta_prefix": (build_roberta_prefix, ("single", "fuzz")),
    "xlmr_unigram": (build_xlmr, ("single", "fuzz", "pairs", "decode")),
    "unigram_nfkc": (build_unigram_nfkc, ("single", "fuzz")),
    "unigram_bytes": (build_unigram_bytes, ("single", "fuzz")),
}

FUZZ_PIECES = [
    "<s>", "</s>", "<pad>", "<unk>", "<mask>", " <mask>", "<mask> ", "<s", "mask>", "\u2581", "\u2581\u2581",
    "\u0120", "\u010a", "'s", "'t", "'re", "'ll", "n't", "'", "''", "``",
    "\u0301", "\u0308\u0323", "e\u0301", "\u00e9", "\u0130", "\u03a3", "\u00df", "\ufb01", "\u2460",
    "\uff21", "\uff76", "\u3000", "\u00bd", "\u2126",
    "\u6771", "\u4eac", "\U00020000", "\uf900", "\u3042", "\uac00", "\u1100\u1161",
    "\U0001f600", "\U0001f44d\U0001f3fd", "\u200d", "\ufe0f", "\u200b", "\ufeff", "\u00ad",
    "\u0000", "\u0001", "\u001f", "\u007f", "\u0085", "\ufffd", "\ue000", "\U000e0041",
    " ", "  ", "   ", "\t", "\n", "\r\n", "\u00a0", "\u2028", "\u000b",
    ".", ",", "!", "-", "\u2014", "\u00bf", "\u3002", "$", "^", "`", "~", "...",
    "the", "The", " the", "un", "affable", "Hello", " world", "running", "xyzzy", "q" * 40, "Z" * 30,
    "0", "123", " 4.5", "\u0661\u0662", "\u0645\u064e", "\u05e9\u05c1", "\u0928\u094d",
]


def fuzz_cases(t, rng):
    out = []
    for i in range(240):
        text = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randrange(0, 14)))
        if i % 3 == 2:
            pair = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randrange(0, 10)))
            out.append(dict(text=text, pair=pair, **record(t.encode(text, pair), tokens=False)))
        else:
            out.append(dict(text=text, **record(t.encode(text), tokens=True)))
    return out


def record(e, tokens):
    """ids, type ids, offsets, word ids, special-tokens mask and sequence ids (+ tokens); the
    attention mask is all ones without padding, so it is left out to keep the goldens small."""
    r = enc_record(e, tokens=tokens, full=True)
    r.pop("attention_mask", None)
    return r


def singles(t, corpus):
    return [dict(text=line, **record(t.encode(line), tokens=False)) for line in corpus]


def decode_cases(folder, corpus):
    """transformers' tokenizer.decode of encoded corpus lines and of random id lists, with and
    without skip_special_tokens."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(folder)
    rng = random.Random(SEED + 4)
    id_lists = [tok(text)["input_ids"] for text in [c for c in corpus if c][:60]]
    id_lists.append(tok("<mask> and <s> typed, then a <mask>.")["input_ids"])
    for _ in range(20):
        id_lists.append([rng.randrange(len(tok)) for _ in range(rng.randrange(1, 16))])
    return [{"ids": ids, "skip": tok.decode(ids, skip_special_tokens=True),
             "keep": tok.decode(ids, skip_special_tokens=False)} for ids in id_lists]


OUT = "Tests/Goldens/tokenizer"


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=".cache")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--only", nargs="*", help="families to rebuild (default: all)")
    args = ap.parse_args()
    OUT = args.out
    with open(os.path.join(args.out, "corpus.txt"), encoding="utf-8", newline="\n") as f:
        corpus = f.read().split("\n")[:-1]
    train = training_text(args.cache, corpus)
    for name, (build, goldens) in FAMILIES.items():
        if args.only and name not in args.only:
            continue
        folder = os.path.join(args.out, name)
        shutil.rmtree(folder, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            build(folder, train, tmp)
        t = plain(os.path.join(folder, "tokenizer.json"))
        if "single" in goldens:
            write_jsonl(os.path.join(args.out, f"{name}_single.jsonl"), singles(t, corpus))
        if "fuzz" in goldens:
            write_jsonl(os.path.join(args.out, f"{name}_fuzz.jsonl"), fuzz_cases(t, random.Random(SEED + 2)))
        if "pairs" in goldens:
            # Every other truncation case (and every case HF rejects), to keep the goldens small.
            pairs = pair_cases(t, corpus, random.Random(SEED + 3))
            pairs = [r for i, r in enumerate(pairs) if i % 2 == 0 or "error" in r]
            write_jsonl(os.path.join(args.out, f"{name}_pairs.jsonl"), pairs)
        if "decode" in goldens:
            write_jsonl(os.path.join(args.out, f"{name}_decode.jsonl"), decode_cases(folder, corpus))

    # The slow-tokenizer files of the BPE folder (no tokenizer.json), converted by transformers,
    # must give what tokenizer.json gives: the Swift test then checks that folder against
    # roberta_bpe_single.jsonl.
    if not args.only or "roberta_bpe" in args.only:
        from transformers import RobertaTokenizerFast
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
                shutil.copy(os.path.join(args.out, "roberta_bpe", name), tmp)
            t = RobertaTokenizerFast.from_pretrained(tmp).backend_tokenizer
            t.no_padding()
            t.no_truncation()
            with open(os.path.join(args.out, "roberta_bpe_single.jsonl"), encoding="utf-8") as f:
                expected = [json.loads(line) for line in f]
            assert singles(t, corpus) == expected, "vocab.json + merges.txt differ from tokenizer.json"
            print("roberta_bpe from vocab.json + merges.txt: same encodings as tokenizer.json")


if __name__ == "__main__":
    sys.exit(main())
