#!/usr/bin/env python3
"""Goldens for the encoder (Tests/Goldens/encoder/), from HuggingFace transformers and
sentence-transformers. Deterministic (fixed seeds). Run:

    PYTHON=.venv-goldens/bin/python; HF_HUB_OFFLINE=1 $PYTHON scripts/goldens_encoder.py

1. Tiny random BertModel checkpoints (hidden 32, 2 layers, 4 heads), each a model folder with
   config.json, model.safetensors and tokenizer files, plus expected.json holding, for a padded
   batch of sequences of different lengths (some sentence pairs), the unpadded input ids and type
   ids, the last hidden state of the real tokens [N, H] and the pooler output [B, H].
   Variants: activations gelu / gelu_new / relu; cased and uncased vocabularies; unprefixed and
   `bert.`-prefixed names; legacy LayerNorm gamma/beta; F16 and BF16 storage.
2. all-MiniLM-L6-v2 sentence embeddings (sentence-transformers `encode`) for real sentences:
   Rotten Tomatoes snippets (short) and BBC articles (longer than 256 tokens):
   minilm_texts.jsonl (one {"text", "tokens"} per line) and minilm_embeddings.f32
   (float32 little-endian, [count, 384], row i for line i).
"""
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, BertTokenizerFast

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/Goldens/encoder"
CACHE = Path(os.environ.get("BERTBLAS_CACHE", ROOT / ".cache"))

WORDS = """the a an of to and in is was it for on with as by at from that this be are were not
film movie story plot good bad great best worst funny dull boring actor actress director scene
music love life time world city man woman people day night year new old first last long short
bank manager market price company government minister election team game match player goal
phone computer software internet data model language token embedding layer attention
run running runs ran play playing played make making made go going went see seeing saw
un ##able ##ity ##ness ##ing ##ed ##s ##er ##ly ##est re pre ##ful ##less naive café tokyo
paris london berlin . , ! ? ' " - : ; ( ) 1 2 3 4 5 6 7 8 9 0 ##0 ##1 ##2 ##5
""".split()

SENTENCES = [
    "The film was good.",
    "A long, boring story about a bank manager in the old city!",
    "Attention is the best layer: the model makes a new embedding for each token.",
    "Running runs ran; playing played.",
    "The government minister went to London and Paris in 2025 to see the new market.",
    "Unable to make the game, the team played a dull match at night.",
    "Tokyo",
    "The actor and actress love the music of this movie, the best of the year!",
]
PAIRS = [
    ("Is the film good?", "The film was great, the actor was funny."),
    ("Who runs the bank?", "A new manager runs the bank."),
]


def vocab_for(cased: bool) -> list:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = []
    for w in WORDS:
        words.append(w)
        if cased and w.isalpha():
            words.append(w.capitalize())
    seen, out = set(), []
    for w in specials + words:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def make_tokenizer(folder: Path, cased: bool) -> BertTokenizerFast:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab_for(cased)) + "\n")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=not cased,
                            model_max_length=64)
    tok.save_pretrained(str(folder))
    return tok


def randomize(model: BertModel, seed: int, scale: float = 0.15):
    """Every parameter random (LayerNorm scales around 1), so swapped or missing tensors show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * scale
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + noise)
            else:
                p.copy_(noise)


def build(name: str, *, act: str, cased: bool, seed: int, prefix: str = "", legacy: bool = False,
          dtype: str = "F32", max_len: int = 64):
    folder = OUT / name
    tok = make_tokenizer(folder, cased)
    config = BertConfig(vocab_size=len(tok.vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64, hidden_act=act,
                        max_position_embeddings=max_len, type_vocab_size=2,
                        layer_norm_eps=1e-12, attn_implementation="eager")
    torch.manual_seed(seed)
    model = BertModel(config, add_pooling_layer=True).eval()
    randomize(model, seed)
    storage = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[dtype]
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(storage).to(torch.float32))  # goldens use the weights as stored
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith("position_ids"):
            continue
        if legacy and "LayerNorm" in key:
            key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        state[prefix + key] = value.to(storage).contiguous()
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    cfg = config.to_dict()
    cfg["architectures"] = ["BertModel"]
    for k in ("_attn_implementation_autoset", "attn_implementation", "_attn_implementation", "torch_dtype", "dtype"):
        cfg.pop(k, None)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")

    texts = SENTENCES[seed % 3:] + SENTENCES[:seed % 3]
    enc_single = tok(texts, padding=False)
    enc_pair = tok([a for a, _ in PAIRS], [b for _, b in PAIRS], padding=False)
    ids = enc_single["input_ids"] + enc_pair["input_ids"]
    types = enc_single["token_type_ids"] + enc_pair["token_type_ids"]
    T = max(len(x) for x in ids)
    input_ids = torch.tensor([x + [0] * (T - len(x)) for x in ids])
    token_type_ids = torch.tensor([x + [0] * (T - len(x)) for x in types])
    mask = torch.tensor([[1] * len(x) + [0] * (T - len(x)) for x in ids])
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=mask, token_type_ids=token_type_ids)
    hidden = [out.last_hidden_state[b, :len(x)].reshape(-1).tolist() for b, x in enumerate(ids)]
    expected = {
        "source": f"transformers {__import__('transformers').__version__} BertModel (eager), padded batch of {len(ids)} x {T}",
        "texts": texts + [f"{a} [SEP] {b}" for a, b in PAIRS],
        "input_ids": ids,
        "token_type_ids": types,
        "last_hidden_state": [[round(v, 7) for v in row] for row in hidden],
        "pooler_output": [[round(v, 7) for v in row] for row in out.pooler_output.tolist()],
    }
    (folder / "expected.json").write_text(json.dumps(expected) + "\n")
    print(f"{name}: vocab {len(tok.vocab)}, batch {len(ids)} x {T}, {dtype}, prefix {prefix!r}, legacy {legacy}")


def minilm():
    from sentence_transformers import SentenceTransformer
    import csv
    folder = CACHE / "models/all-MiniLM-L6-v2"
    model = SentenceTransformer(str(folder), device="cpu")
    rng = random.Random(1234)
    with open(CACHE / "data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["category"] in ("fresh", "rotten") and r["text"].strip()]
    short = [r["text"].strip().replace("\n", " ") for r in rng.sample(rows, 256)]
    articles = []
    for label in sorted(os.listdir(CACHE / "data/bbcnews")):
        d = CACHE / "data/bbcnews" / label
        if not d.is_dir():
            continue
        files = sorted(p for p in d.iterdir() if p.suffix == ".txt")
        for p in rng.sample(files, 9):
            text = " ".join(p.read_text(encoding="utf-8", errors="replace").split())
            articles.append(text[:2400])  # still well over 256 tokens; keeps the golden small
    texts = short + articles
    emb = model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
    tokens = [len(model.tokenizer(t)["input_ids"]) for t in texts]
    with open(OUT / "minilm_texts.jsonl", "w", encoding="utf-8") as f:
        for t, n in zip(texts, tokens):
            f.write(json.dumps({"text": t, "tokens": n}, ensure_ascii=False) + "\n")
    np.asarray(emb, dtype="<f4").tofile(OUT / "minilm_embeddings.f32")
    print(f"minilm: {len(texts)} texts ({sum(n > 256 for n in tokens)} over 256 tokens), dim {emb.shape[1]}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    build("tiny-gelu-uncased", act="gelu", cased=False, seed=1)
    build("tiny-gelu_new-cased", act="gelu_new", cased=True, seed=2, prefix="bert.")
    build("tiny-relu-legacy", act="relu", cased=False, seed=3, prefix="bert.", legacy=True)
    build("tiny-gelu-f16", act="gelu", cased=True, seed=4, dtype="F16")
    build("tiny-gelu-bf16", act="gelu_new", cased=False, seed=5, dtype="BF16")
    if "--no-minilm" not in sys.argv:
        minilm()


if __name__ == "__main__":
    main()
