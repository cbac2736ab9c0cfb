#!/usr/bin/env python3
"""Time the reference engines (PyTorch eager and ONNX Runtime) on the workloads `bench encoder` uses.

Usage: $PYTHON scripts/bench_reference.py [--model .cache/models/all-MiniLM-L6-v2] [--threads 2] [--json]

Workloads (the same definitions as `swift run -c release bench encoder`):
  fixed-32x128  32 sequences of 128 tokens, no padding (ids drawn with a fixed seed)
  rotten-1024   the first 1,024 texts of the Rotten Tomatoes CSV, batches of 32 in file order,
                truncated to 256 tokens and padded to the longest of each batch (as HF/TEI do)
Both report sequences/s and real (non-padding) tokens/s of the encoder's last hidden state.
Needs torch, transformers, onnxruntime, onnx (scripts/requirements-goldens.txt).
"""
import argparse
import csv
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
import torch
from transformers import AutoTokenizer, BertModel


def fixed_batch(vocab, b=32, t=128, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, vocab, size=(b, t), dtype=np.int64)
    ids[:, 0] = 101
    ids[:, -1] = 102
    return [{"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}]


def rotten_batches(tok, path, n=1024, b=32, max_len=256):
    csv.field_size_limit(1 << 24)
    with open(path, newline="", encoding="utf-8") as f:
        texts = [row["text"] for _, row in zip(range(n), csv.DictReader(f))]
    out = []
    for i in range(0, len(texts), b):
        enc = tok(texts[i:i + b], truncation=True, max_length=max_len, padding="longest", return_tensors="np")
        out.append({k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")})
    return out


def timed(fn, batches, repeat):
    fn(batches[0])  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for batch in batches:
            fn(batch)
        best = min(best, time.perf_counter() - t0)
    seqs = sum(b["input_ids"].shape[0] for b in batches)
    toks = int(sum(b["attention_mask"].sum() for b in batches))
    return {"seconds": best, "sequences_per_s": seqs / best, "tokens_per_s": toks / best, "sequences": seqs, "tokens": toks}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=".cache/models/all-MiniLM-L6-v2")
    p.add_argument("--data", default=".cache/data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--onnx", default=".cache/onnx/model.onnx")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = BertModel.from_pretrained(args.model).eval()
    workloads = {
        "fixed-32x128": fixed_batch(model.config.vocab_size),
        "rotten-1024": rotten_batches(tok, args.data),
    }

    def run_torch(batch):
        with torch.inference_mode():
            model(**{k: torch.from_numpy(v) for k, v in batch.items()}).last_hidden_state

    os.makedirs(os.path.dirname(args.onnx), exist_ok=True)
    if not os.path.exists(args.onnx):
        sample = {k: torch.from_numpy(v) for k, v in workloads["rotten-1024"][0].items()}
        torch.onnx.export(
            model, (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]), args.onnx,
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
            opset_version=17, dynamo=False)
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])

    def run_ort(batch):
        sess.run(["last_hidden_state"], batch)

    # Correctness of the export, so the timing is of the same computation.
    b0 = workloads["rotten-1024"][0]
    with torch.inference_mode():
        ref = model(**{k: torch.from_numpy(v) for k, v in b0.items()}).last_hidden_state.numpy()
    got = sess.run(["last_hidden_state"], b0)[0]
    mask = b0["attention_mask"].astype(bool)
    diff = float(np.abs(ref[mask] - got[mask]).max())

    results = {"threads": args.threads, "torch": torch.__version__, "onnxruntime": ort.__version__,
               "onnx_vs_torch_max_abs": diff, "engines": {}}
    for name, fn in [("pytorch", run_torch), ("onnxruntime", run_ort)]:
        results["engines"][name] = {w: timed(fn, batches, args.repeat) for w, batches in workloads.items()}
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(f"threads {args.threads}, torch {torch.__version__}, onnxruntime {ort.__version__}, "
              f"ONNX vs torch max abs {diff:.2e}")
        print(f"{'engine':<12} {'workload':<14} {'seq/s':>9} {'tokens/s':>10}")
        for e, ws in results["engines"].items():
            for w, r in ws.items():
                print(f"{e:<12} {w:<14} {r['sequences_per_s']:9.1f} {r['tokens_per_s']:10.0f}")


if __name__ == "__main__":
    sys.exit(main())
