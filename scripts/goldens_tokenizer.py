#!/usr/bin/env python3
"""Tokenizer parity goldens for BertBLAS, from HuggingFace `tokenizers` / `transformers`.

Usage: $PYTHON scripts/goldens_tokenizer.py [--cache .cache] [--out Tests/Goldens/tokenizer]

Writes (all JSONL unless noted, each record self-describing):
  corpus.txt            the text corpus, one text per line (hand-written lines covering every
                        Unicode category the issue lists, then Rotten Tomatoes and BBC lines)
  minilm_single.jsonl   all-MiniLM-L6-v2 tokenizer.json (tokenizers, no padding/truncation):
                        ids, type ids, tokens, offsets, word ids, special-tokens mask per line
  minilm_fuzz.jsonl     random strings glued from tricky pieces (literal special tokens, ##,
                        combining marks, CJK, emoji, controls, odd spaces, long runs), single and
                        paired, for interactions the corpus may miss
  minilm_pairs.jsonl    pairs with each truncation strategy, max lengths and strides, with the
                        overflowing windows (tokenizers `Encoding.overflowing`, recursively)
  minilm_qa.jsonl       transformers BertTokenizerFast QA windows: truncation="only_second",
                        max_length, stride, return_overflowing_tokens, return_offsets_mapping
  minilm_batches.jsonl  encode_batch with padding (longest / fixed)
  minilm_vocab_txt.jsonl  BertTokenizerFast built from MiniLM's vocab.txt + tokenizer_config.json
                        only (no tokenizer.json), single lines
  decode.jsonl          transformers tokenizer.decode (MiniLM: clean-up off; SPLADE: clean-up on;
                        vocab.txt folder) with and without skip_special_tokens
  cased/                a small cased WordPiece vocabulary derived from the corpus, saved by
                        BertTokenizerFast(do_lower_case=False).save_pretrained (tokenizer.json,
                        vocab.txt, tokenizer_config.json)
  cased_single.jsonl    that cased tokenizer.json, single lines and some pairs
  cased_strip/          vocab.txt + tokenizer_config.json only: do_lower_case=False,
                        strip_accents=True, tokenize_chinese_chars=False
  cased_strip_single.jsonl  BertTokenizerFast loaded from cased_strip/ (converted from vocab.txt)
  codepoints_<config>.json  for every code point c (no surrogates), the pre-tokens of
                        normalize("a" + c + "b") under that normalizer, run-length encoded

Deterministic: fixed seed, sorted file lists. Needs tokenizers==0.22.1, transformers==4.57.1.
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

from tokenizers import Tokenizer, normalizers, pre_tokenizers  # noqa: E402
from transformers import BertTokenizerFast, AutoTokenizer  # noqa: E402

SEED = 20261126

HAND_WRITTEN = [
    # English prose, punctuation, numbers, contractions.
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you today?!?",
    "I don't think it's going to rain; we'll see, won't we?",
    "Prices rose 3.5% to $1,234.56 on 2024-01-15 (a record), said Dr. O'Neill.",
    "E-mail me at first.last+tag@example.co.uk or visit https://example.org/a/b?c=d&e=f#g.",
    "She said: \"Unbelievable!\" -- and then... silence.",
    "BERT uses WordPiece: un##aff##able, isn't it?",
    "Tokenizers [CLS] and [SEP] typed in the text, plus [MASK] and [UNK] and [PAD].",
    "lowercase [mask] and [Cls] are not special tokens",
    "Hello[MASK]world and [MASK][MASK] back to back, [[MASK]] bracketed.",
    "Unaffable naïveté, résumé, café, São Paulo, Zürich, Ångström, façade, coöperate.",
    "ALL CAPS SENTENCE WITH SOME NUMBERS 1234567890 AND SYMBOLS #@!",
    "Tabs\there\tand\tthere, and a carriage\rreturn inside.",
    "   leading and trailing spaces   ",
    "multiple     spaces    between   words",
    # Chinese / Japanese / Korean.
    "東京は日本の首都です。",
    "北京欢迎你！我爱自然语言处理。",
    "漢字とひらがなとカタカナが混ざった文章です。",
    "한국어 문장도 토큰화합니다. 서울특별시",
    "Mixed 中文 and English 文本 together, 𠀋𠂉 (CJK extension B) and 丽 (compatibility).",
    "全角ＡＢＣ１２３と半角ｶﾀｶﾅ",
    # Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai.
    "Γειά σου Κόσμε! Η ελληνική γλώσσα έχει τόνους: ά έ ή ί ό ύ ώ ΐ ΰ.",
    "ΣΊΣΥΦΟΣ and final sigma: ὀδυσσεύς ΟΔΥΣΣΕΥΣ",
    "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ёлка, йогурт, Україна, Беларусь, Србија.",
    "مرحبا بالعالم! هذه جملة باللغة العربية مع تشكيل: مُحَمَّد.",
    "שלום עולם, עִבְרִית עם ניקוד.",
    "नमस्ते दुनिया, हिन्दी भाषा।",
    "สวัสดีชาวโลก ภาษาไทย",
    # Accents and combining marks (precomposed and decomposed).
    "e\u0301cole, n\u0303, a\u0308, o\u0302, precomposed école ñ ä ô",
    "Zalgo t\u0336\u0321e\u0337\u0322x\u0334t\u0335 with stacked marks \u0300\u0301\u0302",
    "Vietnamese: Tiếng Việt có nhiều dấu: ặ ẫ ử ỡ ự.",
    "İstanbul, ıişğüçö, DŽ dž ǅ, ﬁ ﬂ ligatures, ẞ ß, Å Ω K (signs).",
    "Turkish dotted İ at start and end İ",
    # Emoji and symbols.
    "Emoji: 😀 😂 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🥲 🫠 ✔︎",
    "Math: ∑ x² ≤ ∞, √2 ≈ 1.414, α+β=γ, ∂f/∂x, ℝⁿ, ½ ¼ ¾",
    "Currency: € £ ¥ ₹ ₿ ¢ and arrows ← → ↑ ↓ ⇒",
    "Box ─│┌┐ and dingbats ✂ ✈ ☎ ☺ ♥ ♪",
    # Control and zero-width characters.
    "zero\u200bwidth\u200cjoiners\u200dand\ufeffBOM",
    "soft\u00adhyphen and word\u2060joiner",
    "controls\u0001\u0002\u0007\u001b[0m escape and \u007f delete and \u0085 next line",
    "vertical\u000btab and form\u000cfeed and \u001c\u001d\u001e\u001f separators",
    "bidi \u202aembedding\u202c \u2066isolate\u2069 \u200emark\u200f",
    "replacement \ufffd char and private use \ue000\uf8ff and tag \U000e0041",
    "null\u0000byte inside",
    "unassigned \u0378 \u0530 \U0001fbff code points",
    # Unicode spaces.
    "no\u00a0break\u2002en\u2003em\u2009thin\u200ahair\u3000ideographic\u202fnarrow\u205fmath\u1680ogham",
    "line\u2028separator and paragraph\u2029separator",
    # Long words (> 100 characters) and unmatched words.
    "Pneumonoultramicroscopicsilicovolcanoconiosis is long but fine.",
    "a" * 100 + " exactly one hundred",
    "b" * 101 + " one hundred and one",
    "x" * 99 + "é is ninety-nine plus an accent",
    "Supercalifragilisticexpialidocious" * 4,
    "http://" + "verylongdomainname" * 7 + ".com",
    "😀" * 101,
    "ab😀cd unmatched piece in the middle",
    "Hyphen-ated and under_scored and dotted.words and slash/words",
    "#hashtag @mention $TICKER %percent ^caret &amp *star ~tilde `backtick` |pipe| \\backslash",
    "Quotes: ‘single’ “double” «guillemets» „low“ ‹angle›",
    "Dashes: en–dash em—dash minus−sign ‐ hyphen ‒ figure",
    "Ellipsis… and middle·dot and bullet• and section§ and pilcrow¶",
    "Numbers: ①②③ Ⅻ ٣٤٥ ๓๔ ３４",
    "x",
    ".",
    "",
    " ",
    "\t",
    "\u200b",
    "[MASK]",
    "[CLS] [SEP]",
]


def read_corpus(cache):
    rng = random.Random(SEED)
    lines = list(HAND_WRITTEN)
    # Rotten Tomatoes snippets: a fixed random sample of 150 rows (reviews and plots).
    path = os.path.join(cache, "data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r["text"] for r in csv.DictReader(f)]
    sample = rng.sample(rows, 110)
    for text in sample:
        # One text per line: the CSV field may span lines.
        lines.append(" ".join(text.split("\n"))[:600])
    # BBC News: the title and first paragraph of 6 articles per topic.
    bbc = os.path.join(cache, "data/bbcnews")
    for label in sorted(os.listdir(bbc)):
        folder = os.path.join(bbc, label)
        if not os.path.isdir(folder):
            continue
        files = sorted(f for f in os.listdir(folder) if f.endswith(".txt"))
        for name in rng.sample(files, 6):
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                paragraphs = [p for p in f.read().split("\n") if p.strip()]
            lines.append(paragraphs[0])                     # the title
            lines.append(paragraphs[1] if len(paragraphs) > 1 else "")
    for line in lines:
        assert "\n" not in line and "\r\n" not in line, repr(line)
    return lines


def enc_record(e, tokens=True, full=True):
    """ids, type ids, offsets, word ids (and tokens); `full` adds the masks and sequence ids."""
    r = {
        "ids": e.ids,
        "type_ids": e.type_ids,
        "offsets": [list(o) for o in e.offsets],
        "word_ids": e.word_ids,
    }
    if full:
        r["special_tokens_mask"] = e.special_tokens_mask
        r["attention_mask"] = e.attention_mask
        r["sequence_ids"] = e.sequence_ids
    if tokens:
        r["tokens"] = e.tokens
    if e.overflowing:
        r["overflowing"] = [enc_record(o, tokens, full) for o in e.overflowing]
    return r


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{path}: {len(records)} records, {os.path.getsize(path) // 1024} KB")


def plain(tok_json_path):
    t = Tokenizer.from_file(tok_json_path)
    t.no_padding()
    t.no_truncation()
    return t


def singles(t, corpus, tokens=True):
    return [dict(text=line, **enc_record(t.encode(line), tokens, full=False)) for line in corpus]


def count_windows(record):
    return 1 + sum(count_windows(o) for o in record.get("overflowing", []))


def pair_cases(t, corpus, rng):
    out = []
    # Texts up to 200 characters, so tiny windows stay few (the goldens stay small).
    texts = [c for c in corpus if c and len(c) <= 200]
    settings = [
        ("longest_first", 16, 0), ("longest_first", 32, 4), ("longest_first", 64, 0), ("longest_first", 9, 2),
        ("only_first", 24, 0), ("only_first", 32, 8), ("only_second", 24, 0), ("only_second", 40, 10),
        ("only_second", 64, 16), ("longest_first", 3, 0), ("longest_first", 4, 0), ("longest_first", 5, 1),
        ("longest_first", 2, 0), ("only_second", 1, 0), ("only_first", 6, 1),
    ]
    for i in range(120):
        a = rng.choice(texts)
        b = rng.choice(texts)
        strategy, max_length, stride = settings[i % len(settings)]
        t.no_truncation()
        # Every fourth pair without special tokens (truncation then keeps max_length as is).
        special = i % 4 != 3
        record = {"text": a, "pair": b, "truncation": None, "add_special_tokens": special}
        if i % 5 != 4:  # every fifth pair untruncated
            record["truncation"] = {"max_length": max_length, "strategy": strategy, "stride": stride}
            t.enable_truncation(max_length, stride=stride, strategy=strategy, direction="right")
        try:
            e = t.encode(a, b, add_special_tokens=special)
            record.update(enc_record(e, tokens=False))
            while count_windows(record) > 12:  # shorten both texts until the windows are few
                a, b = a[:len(a) * 2 // 3], b[:len(b) * 2 // 3]
                record = {"text": a, "pair": b, "truncation": record["truncation"], "add_special_tokens": special}
                record.update(enc_record(t.encode(a, b, add_special_tokens=special), tokens=False))
        except BaseException as exc:  # tokenizers panics on a too-large stride  # HF rejects the setting (e.g. sequence too short)
            record["error"] = str(exc).split("\n")[0]
        out.append(record)
    # Single texts with truncation and stride (overflowing windows of one sequence).
    for i in range(40):
        a = rng.choice(texts)
        max_length, stride = [(8, 0), (12, 3), (20, 5), (2, 0), (3, 1)][i % 5]
        t.enable_truncation(max_length, stride=stride, strategy="longest_first", direction="right")
        record = {"text": a, "pair": None,
                  "truncation": {"max_length": max_length, "strategy": "longest_first", "stride": stride}}
        try:
            record.update(enc_record(t.encode(a), tokens=False))
        except BaseException as exc:  # tokenizers panics on a too-large stride
            record["error"] = str(exc).split("\n")[0]
        out.append(record)
    # only_second without a pair: an error in tokenizers.
    t.enable_truncation(8, stride=0, strategy="only_second", direction="right")
    record = {"text": texts[0] + " " + texts[1], "pair": None,
              "truncation": {"max_length": 8, "strategy": "only_second", "stride": 0}}
    try:
        record.update(enc_record(t.encode(record["text"]), tokens=False))
    except BaseException as exc:  # tokenizers panics on a too-large stride
        record["error"] = str(exc).split("\n")[0]
    out.append(record)
    t.no_truncation()
    return out


def qa_cases(model_dir, corpus, rng):
    tok = BertTokenizerFast.from_pretrained(model_dir)
    long_texts = [c for c in corpus if len(c) > 200]
    short = [c for c in corpus if 10 < len(c) < 120]
    out = []
    for i in range(12):
        question = rng.choice(short)
        context = rng.choice(long_texts)
        max_length, stride = [(64, 16), (128, 32), (48, 8), (96, 40)][i % 4]
        enc = tok(question, context, truncation="only_second", max_length=max_length, stride=stride,
                  return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
        windows = []
        for w in range(len(enc["input_ids"])):
            windows.append({
                "ids": enc["input_ids"][w],
                "type_ids": enc["token_type_ids"][w],
                "offsets": [list(o) for o in enc["offset_mapping"][w]],
                "sequence_ids": enc.sequence_ids(w),
            })
        out.append({"question": question, "context": context, "max_length": max_length, "stride": stride,
                    "windows": windows})
    return out


def batch_cases(t, corpus, rng):
    texts = [c for c in corpus if c]
    out = []
    for i in range(8):
        batch = rng.sample(texts, 3)
        pairs = rng.sample(texts, 3) if i % 2 else None
        padding = ["longest", 48, "longest", 8][i % 4]
        t.no_truncation()
        if i >= 4:
            t.enable_truncation(24, stride=0, strategy="longest_first", direction="right")
        if padding == "longest":
            t.enable_padding(pad_id=0, pad_token="[PAD]")
        else:
            t.enable_padding(pad_id=0, pad_token="[PAD]", length=padding)
        inputs = list(zip(batch, pairs)) if pairs else batch
        encs = t.encode_batch(inputs)
        out.append({"texts": batch, "pairs": pairs, "padding": padding,
                    "truncation": {"max_length": 24, "strategy": "longest_first", "stride": 0} if i >= 4 else None,
                    "encodings": [enc_record(e, tokens=True) for e in encs]})
    t.no_padding()
    t.no_truncation()
    return out


def decode_cases(folders, corpus, rng):
    out = []
    for name, folder in folders:
        tok = AutoTokenizer.from_pretrained(folder)
        texts = [c for c in corpus if c][:80] + ["I do n't know , it 's ok . [MASK] do not , what ' s up ?"]
        id_lists = [tok(text)["input_ids"] for text in texts]
        # Arbitrary id sequences: continuation pieces first, specials in the middle.
        vocab_size = len(tok)
        for _ in range(10):
            id_lists.append([rng.randrange(vocab_size) for _ in range(rng.randrange(1, 20))])
        id_lists.append([tok.convert_tokens_to_ids("##ing"), 101, 7592, 100, 1005, 1055, 102, 0, 0])
        for ids in id_lists:
            out.append({"folder": name, "ids": ids,
                        "skip": tok.decode(ids, skip_special_tokens=True),
                        "keep": tok.decode(ids, skip_special_tokens=False)})
    return out


FUZZ_PIECES = [
    "[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK", "MASK]", "[", "]", "##", "#", "##ing", "ing",
    "\u0301", "\u0308\u0323", "e\u0301", "\u00e9", "\u0130", "\u03a3", "\u00df", "\ufb01",
    "\u6771", "\u4eac", "\U00020000", "\uf900", "\u3042", "\uac00", "\u1100\u1161",
    "\U0001f600", "\U0001f44d\U0001f3fd", "\u200d", "\ufe0f", "\u200b", "\ufeff", "\u00ad",
    "\u0000", "\u0001", "\u001f", "\u007f", "\u0085", "\ufffd", "\ue000", "\U000e0041",
    " ", "  ", "\t", "\u00a0", "\u3000", "\u2028", "\u000b",
    ".", ",", "!", "'", "-", "\u2014", "\u00bf", "\u3002", "$", "^", "`", "~",
    "the", "The", "un", "affable", "Hello", "world", "running", "xyzzy", "q" * 60, "Z" * 101,
    "0", "123", "4.5", "\u0661\u0662", "\u0645\u064e", "\u05e9\u05c1", "\u0928\u094d",
]


def fuzz_cases(t, rng):
    out = []
    for i in range(240):
        text = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randrange(0, 14)))
        if i % 3 == 2:
            pair = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randrange(0, 10)))
            out.append(dict(text=text, pair=pair, **enc_record(t.encode(text, pair), tokens=False, full=True)))
        else:
            out.append(dict(text=text, **enc_record(t.encode(text), tokens=True, full=False)))
    return out


def derive_cased_vocab(corpus, rng):
    """A small cased WordPiece vocabulary: specials, every character of the corpus (as a word
    start and as a ## piece), and the frequent cased words and their lowercase forms."""
    pre = pre_tokenizers.BertPreTokenizer()
    norm = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    counts = {}
    chars = set()
    for line in corpus:
        for word, _ in pre.pre_tokenize_str(norm.normalize_str(line)):
            counts[word] = counts.get(word, 0) + 1
            chars.update(word)
    # Leave some characters out so unmatched words ([UNK]) occur.
    chars = sorted(chars)
    dropped = set(rng.sample(chars, len(chars) // 20))
    words = sorted(counts, key=lambda w: (-counts[w], w))[:2500]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    seen = set(vocab)
    for c in chars:
        if c in dropped:
            continue
        for t in (c, "##" + c):
            if t not in seen:
                seen.add(t)
                vocab.append(t)
    for w in words:
        for t in (w, w.lower(), "##" + w.lower()[1:] if len(w) > 3 else None):
            if t and t not in seen and not any(ch in dropped for ch in t.replace("##", "")):
                seen.add(t)
                vocab.append(t)
    return vocab


def codepoint_table(normalizer, pre_tokenizer):
    """For every code point c, the pre-tokens of normalize("a" + c + "b"), run-length encoded.

    Each code point gets a code: "W" the pre-tokens are ["a" + c + "b"] (c joins the word
    unchanged), "P" ["a", c, "b"] (c is a word of its own), "S" ["a", "b"] (c splits and is
    dropped), "R" ["ab"] (c removed); anything else ("X") is stored in `explicit` as
    [code point - previous explicit code point, m] where m is the string c became when the
    pre-tokens are ["a" + m + "b"], else the list of pre-tokens.
    """
    runs = []  # [first code point, count, code]
    explicit = []
    previous = 0
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            code = "-"
        else:
            c = chr(cp)
            words = [w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str("a" + c + "b"))]
            if words == ["a" + c + "b"]:
                code = "W"
            elif words == ["a", c, "b"]:
                code = "P"
            elif words == ["a", "b"]:
                code = "S"
            elif words == ["ab"]:
                code = "R"
            else:
                code = "X"
                if len(words) == 1 and words[0].startswith("a") and words[0].endswith("b"):
                    explicit.append([cp - previous, words[0][1:-1]])
                else:
                    explicit.append([cp - previous, words])
                previous = cp
        if runs and runs[-1][2] == code and runs[-1][0] + runs[-1][1] == cp:
            runs[-1][1] += 1
        else:
            runs.append([cp, 1, code])
    return {"runs": runs, "explicit": explicit}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=".cache")
    ap.add_argument("--out", default="Tests/Goldens/tokenizer")
    ap.add_argument("--skip-codepoints", action="store_true")
    args = ap.parse_args()
    rng = random.Random(SEED)
    os.makedirs(args.out, exist_ok=True)
    minilm = os.path.join(args.cache, "models/all-MiniLM-L6-v2")
    splade = os.path.join(args.cache, "models/splade-tiny-mlm")

    corpus = read_corpus(args.cache)
    with open(os.path.join(args.out, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        for line in corpus:
            f.write(line + "\n")

    t = plain(os.path.join(minilm, "tokenizer.json"))
    write_jsonl(os.path.join(args.out, "minilm_single.jsonl"), singles(t, corpus))
    write_jsonl(os.path.join(args.out, "minilm_pairs.jsonl"), pair_cases(t, corpus, rng))
    write_jsonl(os.path.join(args.out, "minilm_fuzz.jsonl"), fuzz_cases(t, random.Random(SEED + 2)))
    write_jsonl(os.path.join(args.out, "minilm_qa.jsonl"), qa_cases(minilm, corpus, rng))
    write_jsonl(os.path.join(args.out, "minilm_batches.jsonl"), batch_cases(t, corpus, rng))

    # The vocab.txt + tokenizer_config.json path (no tokenizer.json): transformers converts it.
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(minilm, name), tmp)
        fast = BertTokenizerFast.from_pretrained(tmp)
        vt = fast.backend_tokenizer
        vt.no_padding()
        vt.no_truncation()
        write_jsonl(os.path.join(args.out, "minilm_vocab_txt.jsonl"), singles(vt, corpus, tokens=False))
        folders = [("minilm", minilm), ("splade", splade), ("minilm_vocab_txt", tmp)]
        write_jsonl(os.path.join(args.out, "decode.jsonl"), decode_cases(folders, corpus, rng))

    # A cased vocabulary (lowercase=False), saved as a full HF folder (tokenizer.json is used).
    vocab = derive_cased_vocab(corpus, rng)
    cased_dir = os.path.join(args.out, "cased")
    shutil.rmtree(cased_dir, ignore_errors=True)
    os.makedirs(cased_dir)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = os.path.join(tmp, "vocab.txt")
        with open(vocab_file, "w", encoding="utf-8") as f:
            f.write("\n".join(vocab) + "\n")
        cased = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=False, model_max_length=64)
        cased.save_pretrained(cased_dir)
    for extra in ("special_tokens_map.json",):
        p = os.path.join(cased_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    ct = plain(os.path.join(cased_dir, "tokenizer.json"))
    records = singles(ct, corpus, tokens=False)
    pr = random.Random(SEED + 1)
    for i in range(30):
        a, b = pr.choice(corpus), pr.choice(corpus)
        ct.no_truncation()
        trunc = None
        if i % 2:
            trunc = {"max_length": 20, "strategy": "longest_first", "stride": 3}
            ct.enable_truncation(20, stride=3, strategy="longest_first", direction="right")
        records.append(dict(text=a, pair=b, truncation=trunc, **enc_record(ct.encode(a, b), tokens=False)))
    ct.no_truncation()
    write_jsonl(os.path.join(args.out, "cased_single.jsonl"), records)

    # Cased + strip_accents + no CJK spacing, from vocab.txt + tokenizer_config.json only.
    strip_dir = os.path.join(args.out, "cased_strip")
    shutil.rmtree(strip_dir, ignore_errors=True)
    os.makedirs(strip_dir)
    shutil.copy(os.path.join(cased_dir, "vocab.txt"), strip_dir)
    with open(os.path.join(strip_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False, "strip_accents": True, "tokenize_chinese_chars": False,
                   "model_max_length": 64, "tokenizer_class": "BertTokenizer"}, f, indent=1)
    st = BertTokenizerFast.from_pretrained(strip_dir).backend_tokenizer
    st.no_padding()
    st.no_truncation()
    write_jsonl(os.path.join(args.out, "cased_strip_single.jsonl"), singles(st, corpus, tokens=False))

    if not args.skip_codepoints:
        configs = {
            "uncased": normalizers.BertNormalizer(),  # MiniLM: lowercase, strip_accents follows it
            "cased": normalizers.BertNormalizer(lowercase=False),
            "strip_only": normalizers.BertNormalizer(lowercase=False, strip_accents=True,
                                                     handle_chinese_chars=False),
        }
        pre = pre_tokenizers.BertPreTokenizer()
        for name, norm in configs.items():
            path = os.path.join(args.out, f"codepoints_{name}.json")
            table = codepoint_table(norm, pre)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(table, f, ensure_ascii=False, separators=(",", ":"))
            print(f"{path}: {len(table['runs'])} runs, {len(table['explicit'])} explicit, "
                  f"{os.path.getsize(path) // 1024} KB")


if __name__ == "__main__":
    sys.exit(main())
