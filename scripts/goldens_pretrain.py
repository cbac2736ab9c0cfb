#!/usr/bin/env python3
"""Goldens for `bert mlm-score` (issue 5): HF transformers 4.57 BertForPreTraining /
BertForMaskedLM losses and accuracies on committed masked examples.

Writes into Tests/Goldens/pretrain/:
  models/tiny-pretraining/  a tiny random BertForPreTraining (hidden 32, 2 layers, seeded; MLM and
                            NSP heads) with the heads goldens' small WordPiece vocabulary.
  score_tiny.jsonl          24 sentence pairs masked by DataCollatorForLanguageModeling (p 0.3,
                            seed 7), with next_sentence_label; even lines padded (attention_mask
                            with zeros), odd lines unpadded.
  score_tiny.json           HF per-example and total masked-LM / NSP cross-entropy and accuracy.
  score_splade.jsonl        64 Rotten Tomatoes review snippets masked by the collator (p 0.15,
                            seed 11) with the SPLADE-tiny tokenizer, padded as one batch.
  score_splade.json         HF BertForMaskedLM (SPLADE-tiny, .cache/models) loss and accuracy.

Run: HF_HUB_OFFLINE=1 $PYTHON scripts/goldens_pretrain.py   (PYTHON=.venv-goldens/bin/python)
Deterministic: fixed seeds, one thread, no network.
"""
import csv
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
import transformers
from transformers import (BertConfig, BertForMaskedLM, BertForPreTraining, BertTokenizerFast,
                          DataCollatorForLanguageModeling)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Goldens" / "pretrain"
TOKENIZER_SOURCE = ROOT / "Tests" / "Goldens" / "heads" / "models" / "nsp"
CACHE = Path(os.environ.get("BERTBLAS_CACHE", ROOT / ".cache"))
SPLADE = CACHE / "models" / "splade-tiny-mlm"
ROTTEN = CACHE / "data" / "rotten-tomatoes" / "rotten_tomatoes_corpus_full.csv"

assert transformers.__version__.startswith("4.57"), transformers.__version__
torch.set_num_threads(1)

PAIRS = [
    ("john smith lived in london.", "he worked at a bank in the city."),
    ("mary read a book in paris.", "the museum was closed."),
    ("the president of france is emmanuel macron.", "angela merkel worked in berlin."),
    ("tokyo is the capital of japan.", "the river runs through the city."),
    ("google and microsoft are companies.", "apple is a company in america."),
    ("anna was playing in the park.", "she played the first game."),
    ("the university is in london.", "students are reading books."),
    ("jose garcia was born in sao paulo.", "he lived in zurich."),
    ("the player walked to the river.", "running is a long walk."),
    ("china and japan are in asia.", "germany is in europe."),
    ("the first question was short.", "the second answer was long."),
    ("mary smith works at google.", "john works at microsoft."),
]


def records_from(tok, collator, pairs, pad_even):
    enc = [tok(a, b, return_special_tokens_mask=True) for a, b in pairs]
    examples = [{k: e[k] for k in ["input_ids", "token_type_ids", "attention_mask", "special_tokens_mask"]} for e in enc]
    batch = collator(examples)
    out = []
    for i in range(len(examples)):
        n = int(batch["attention_mask"][i].sum())
        rec = {"input_ids": batch["input_ids"][i].tolist(), "token_type_ids": batch["token_type_ids"][i].tolist(),
               "attention_mask": batch["attention_mask"][i].tolist(), "labels": batch["labels"][i].tolist()}
        if not (pad_even and i % 2 == 0):
            rec = {k: v[:n] for k, v in rec.items()}
        out.append(rec)
    return batch, out


def per_example(pred, labels):
    """Cross-entropy sum, count and correct count at labelled positions of one example."""
    mask = labels != -100
    if mask.sum() == 0:
        return {"masked_tokens": 0, "mlm_loss_sum": 0.0, "mlm_correct": 0}
    logits = pred[mask]
    target = labels[mask]
    ce = torch.nn.functional.cross_entropy(logits.double(), target, reduction="sum")
    return {"masked_tokens": int(mask.sum()), "mlm_loss_sum": float(ce),
            "mlm_correct": int((logits.argmax(-1) == target).sum())}


def tiny():
    folder = OUT / "models" / "tiny-pretraining"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in ["vocab.txt", "tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(TOKENIZER_SOURCE / name, folder / name)
    tok = BertTokenizerFast.from_pretrained(str(folder))
    torch.manual_seed(1234)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=128, type_vocab_size=2, hidden_act="gelu",
                     initializer_range=0.3, pad_token_id=0)
    BertForPreTraining(cfg).eval().save_pretrained(str(folder), safe_serialization=True)
    for extra in ["special_tokens_map.json", "generation_config.json"]:
        (folder / extra).unlink(missing_ok=True)
    model = BertForPreTraining.from_pretrained(str(folder)).eval()

    # Pairs in order (IsNext, label 0) and with B from another pair (NotNext, label 1).
    pairs, nsp = [], []
    for i, (a, b) in enumerate(PAIRS):
        pairs.append((a, b)); nsp.append(0)
        pairs.append((a, PAIRS[(i + 5) % len(PAIRS)][1])); nsp.append(1)
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.3, seed=7, return_tensors="pt")
    batch, records = records_from(tok, collator, pairs, pad_even=True)
    for rec, label in zip(records, nsp):
        rec["next_sentence_label"] = label
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                    attention_mask=batch["attention_mask"])
    pred, seq = out.prediction_logits, out.seq_relationship_logits
    labels = batch["labels"]
    nsp_labels = torch.tensor(nsp)
    examples = []
    for i in range(len(pairs)):
        e = per_example(pred[i], labels[i])
        p = torch.softmax(seq[i].double(), -1)
        e.update({"nsp_loss": float(-torch.log(p[nsp[i]])), "nsp_correct": bool(seq[i].argmax() == nsp[i]),
                  "is_next_probability": float(p[0])})
        examples.append(e)
    v = pred.shape[-1]
    total = {
        # HF's own losses, as BertForPreTraining computes them (mean over labelled tokens / examples).
        "mlm_loss": float(torch.nn.CrossEntropyLoss()(pred.view(-1, v), labels.view(-1))),
        "nsp_loss": float(torch.nn.CrossEntropyLoss()(seq.view(-1, 2), nsp_labels)),
        "masked_tokens": int((labels != -100).sum()),
        "mlm_correct": sum(e["mlm_correct"] for e in examples),
        "nsp_correct": sum(int(e["nsp_correct"]) for e in examples),
        "examples": len(pairs),
    }
    with torch.no_grad():
        full = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                     attention_mask=batch["attention_mask"], labels=labels, next_sentence_label=nsp_labels)
    total["hf_total_loss"] = float(full.loss)  # mlm_loss + nsp_loss
    write_jsonl("score_tiny.jsonl", records)
    dump("score_tiny.json", {"model": "models/tiny-pretraining", "examples": examples, "total": total})


def splade():
    if not (SPLADE / "model.safetensors").exists() or not ROTTEN.exists():
        print("skipping SPLADE goldens: run `make models data`", file=sys.stderr)
        return
    tok = transformers.AutoTokenizer.from_pretrained(str(SPLADE))
    model, info = BertForMaskedLM.from_pretrained(str(SPLADE), output_loading_info=True)
    assert not info["missing_keys"], info
    model.eval()
    texts = []
    with open(ROTTEN, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["category"] != "plot" and 20 <= len(row["text"]) <= 200:
                texts.append(row["text"])
            if len(texts) == 64:
                break
    enc = [tok(t, return_special_tokens_mask=True) for t in texts]
    examples = [{k: e[k] for k in ["input_ids", "token_type_ids", "attention_mask", "special_tokens_mask"]} for e in enc]
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, seed=11, return_tensors="pt")
    batch = collator(examples)
    records = [{"input_ids": batch["input_ids"][i].tolist(), "attention_mask": batch["attention_mask"][i].tolist(),
                "labels": batch["labels"][i].tolist()} for i in range(len(texts))]
    with torch.no_grad():
        pred = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"]
    examples = [per_example(pred[i], labels[i]) for i in range(len(texts))]
    v = pred.shape[-1]
    total = {"mlm_loss": float(torch.nn.CrossEntropyLoss()(pred.view(-1, v), labels.view(-1))),
             "masked_tokens": int((labels != -100).sum()),
             "mlm_correct": sum(e["mlm_correct"] for e in examples), "examples": len(texts)}
    write_jsonl("score_splade.jsonl", records)
    dump("score_splade.json", {"model": "splade-tiny-mlm", "examples": examples, "total": total})


def write_jsonl(name, records):
    path = OUT / name
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def dump(name, obj):
    path = OUT / name
    path.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    tiny()
    splade()
