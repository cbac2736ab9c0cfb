#!/usr/bin/env python3
"""Time the reference engines on the workloads of `bench encoder` (issue #12), and print one table
with BertBLAS's figures and the ratios.

Usage:
  $PYTHON scripts/bench_reference.py --corpus FILE [--model DIR] [--threads N]
        [--engines pytorch,onnxruntime,ort-fused] [--bertblas bertblas.json] [--json OUT]
  $PYTHON scripts/bench_reference.py --table ref.json [more.json ...] --bertblas bertblas.json

Engines, all on the same number of threads:
  pytorch      transformers BertModel, eager, torch.inference_mode (intra-op threads = N, inter-op 1)
  onnxruntime  the same model exported to ONNX (opset 17), ORT_ENABLE_ALL, intra-op threads = N
  ort-fused    that ONNX file through onnxruntime.transformers.optimizer (BERT fusions: Attention,
               SkipLayerNormalization, BiasGelu), then ORT_ENABLE_ALL
Workloads (exactly those of `bench encoder`):
  lat128     one sequence of exactly 128 tokens; median ms per forward (>= 30 runs and >= 1 s)
  thr32x128  batches of 32 x 128 tokens; sequences/s (median of 5 after a warm-up)
  corpus     the lines of --corpus in batches of 32 in file order, max length 256, each batch padded to
             its longest member (as HF and TEI do): tokenize -> encode -> mean-pool -> normalize;
             sequences/s and real tokens/s, tokenization included (one pass after a warm-up batch)
  tok        HF tokenizers (Rust) encode_batch over the whole file on one thread; tokens/s (best of 5)
  contended  lat128 while `taskset -c 0 python3 -c 'while True: pass'` occupies core 0; median ms
Tokenizers run on one thread (RAYON_NUM_THREADS=1), as BertBLAS's tokenizer does.
Needs torch, transformers, tokenizers, onnxruntime, onnx.
"""
import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ENGINES = ["pytorch", "onnxruntime", "ort-fused"]


def fixed_ids(b, t, vocab, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, vocab, size=(b, t), dtype=np.int64)
    ids[:, 0] = 101
    ids[:, -1] = 102
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def latency_ms(fn, batch, minimum_seconds=1.0):
    for _ in range(3):
        fn(batch)
    samples, spent = [], 0.0
    while len(samples) < 30 or spent < minimum_seconds:
        t0 = time.perf_counter()
        fn(batch)
        dt = time.perf_counter() - t0
        samples.append(dt)
        spent += dt
    return median(samples) * 1000


def throughput_seconds(fn, batch, runs=5):
    fn(batch)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(batch)
        samples.append(time.perf_counter() - t0)
    return median(samples)


class Hog:
    """A busy loop in another process pinned to core 0."""

    def __enter__(self):
        self.proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


def build_engines(args, names):
    import numpy as np
    import torch
    from transformers import BertModel

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    model = BertModel.from_pretrained(args.model).eval()
    cfg = model.config
    engines = {}

    def run_torch(batch):
        with torch.inference_mode():
            return model(**{k: torch.from_numpy(v) for k, v in batch.items()}).last_hidden_state.numpy()

    if "pytorch" in names:
        engines["pytorch"] = run_torch
    if "onnxruntime" in names or "ort-fused" in names:
        import onnxruntime as ort
        onnx_dir = os.path.join(args.cache, "onnx")
        os.makedirs(onnx_dir, exist_ok=True)
        plain = os.path.join(onnx_dir, os.path.basename(os.path.normpath(args.model)) + ".onnx")
        if not os.path.exists(plain):
            sample = {k: torch.from_numpy(v) for k, v in fixed_ids(2, 16, cfg.vocab_size).items()}
            torch.onnx.export(
                model, (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]), plain,
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
                opset_version=17, dynamo=False)
        paths = {"onnxruntime": plain}
        if "ort-fused" in names:
            from onnxruntime.transformers.optimizer import optimize_model
            fused = plain[:-5] + "-fused.onnx"
            if not os.path.exists(fused):
                opt = optimize_model(plain, model_type="bert", num_heads=cfg.num_attention_heads,
                                     hidden_size=cfg.hidden_size)
                opt.save_model_to_file(fused)
                print(f"ort-fused: {opt.get_fused_operator_statistics()}", file=sys.stderr)
            paths["ort-fused"] = fused
        for name in ["onnxruntime", "ort-fused"]:
            if name not in names:
                continue
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(paths[name], so, providers=["CPUExecutionProvider"])
            wanted = {i.name for i in sess.get_inputs()}

            def run_ort(batch, sess=sess, wanted=wanted):
                return sess.run(["last_hidden_state"], {k: v for k, v in batch.items() if k in wanted})[0]
            engines[name] = run_ort
    # Every engine computes the same thing: compare with PyTorch on a small padded batch.
    check = fixed_ids(4, 64, cfg.vocab_size, seed=1)
    check["attention_mask"][1, 40:] = 0
    ref = run_torch(check)
    mask = check["attention_mask"].astype(bool)
    diffs = {n: float(np.abs(fn(check)[mask] - ref[mask]).max()) for n, fn in engines.items()}
    return engines, cfg, diffs


def corpus_run(fn, tok, lines, batch=32, max_len=256):
    import numpy as np

    def one_pass(subset):
        tokens = 0
        for i in range(0, len(subset), batch):
            enc = tok(subset[i:i + batch], truncation=True, max_length=max_len, padding="longest", return_tensors="np")
            feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            hidden = fn(feed)
            mask = feed["attention_mask"][:, :, None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            tokens += int(feed["attention_mask"].sum())
        return tokens

    one_pass(lines[:batch])  # warm-up
    t0 = time.perf_counter()
    tokens = one_pass(lines)
    seconds = time.perf_counter() - t0
    return {"corpus_seq_s": len(lines) / seconds, "corpus_tok_s": tokens / seconds, "corpus_tokens": tokens,
            "corpus_seconds": seconds}


def hf_tokenizer_rate(model_dir, lines, passes=5):
    from tokenizers import Tokenizer
    tk = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tk.no_truncation()
    tk.no_padding()
    best, tokens = float("inf"), 0
    for _ in range(passes):
        t0 = time.perf_counter()
        out = tk.encode_batch(lines)
        best = min(best, time.perf_counter() - t0)
        tokens = sum(len(e.ids) for e in out)
    return tokens / best


def measure(args):
    import onnxruntime
    import torch
    from transformers import AutoTokenizer

    names = [n for n in args.engines.split(",") if n]
    for n in names:
        if n not in ENGINES:
            sys.exit(f"unknown engine {n} (known: {', '.join(ENGINES)})")
    with open(args.corpus, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    lines = [line for line in lines if line.strip()]
    engines, cfg, diffs = build_engines(args, names)
    tok = AutoTokenizer.from_pretrained(args.model)
    lat = fixed_ids(1, 128, cfg.vocab_size)
    thr = fixed_ids(32, 128, cfg.vocab_size)
    only = set(args.only.split(",")) if args.only else None
    results = {"threads": args.threads, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
               "max_abs_vs_pytorch": diffs, "corpus_lines": len(lines), "engines": {}}
    for name, fn in engines.items():
        r = {}
        if not only or "lat128" in only:
            r["lat128_ms"] = latency_ms(fn, lat)
        if not only or "thr32x128" in only:
            r["thr32x128_seq_s"] = 32 / throughput_seconds(fn, thr)
        if not only or "corpus" in only:
            r.update(corpus_run(fn, tok, lines))
        if not only or "contended" in only:
            with Hog():
                r["contended_lat128_ms"] = latency_ms(fn, lat, minimum_seconds=2.0)
        results["engines"][name] = r
        print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()), file=sys.stderr, flush=True)
    if not only or "tok" in only:
        results["hf_tokenizers_tokens_per_s"] = hf_tokenizer_rate(args.model, lines)
    return results


def merge(parts):
    merged = {"engines": {}}
    for p in parts:
        for k, v in p.items():
            if k == "engines":
                for e, r in v.items():
                    merged["engines"].setdefault(e, {}).update(r)
            elif k == "max_abs_vs_pytorch":
                merged.setdefault(k, {}).update(v)
            else:
                merged[k] = v
    return merged


def ceiling_lines(ref, bertblas, engines):
    """The ceiling: BertBLAS's lat128 and thr32x128 if every matrix product ran at the best
    cblas_sgemm rate measured in the same run and nothing else took time, against the best peer."""
    best = bertblas.get("sgemm_best_gflops")
    lat, thr = bertblas.get("ceiling_lat128_ms"), bertblas.get("ceiling_thr32x128_seq_s")
    if not best or lat is None or thr is None:
        return None
    peers_lat = [ref["engines"][e].get("lat128_ms") for e in engines if ref["engines"][e].get("lat128_ms")]
    peers_thr = [ref["engines"][e].get("thr32x128_seq_s") for e in engines if ref["engines"][e].get("thr32x128_seq_s")]
    parts = [f"ceiling (products at the best sgemm rate, {best} GFLOP/s, and nothing else):"]
    if peers_lat:
        parts.append(f"lat128 {lat:.2f} ms = {lat / min(peers_lat):.2f}x the best peer (target <= 0.7x)")
    m128 = bertblas.get("ceiling_lat128_m128_ms")
    if m128 is not None and peers_lat:
        parts.append(f"at the best 128-row rate ({bertblas.get('sgemm_best_m128_gflops')} GFLOP/s) {m128:.2f} ms = {m128 / min(peers_lat):.2f}x")
    if peers_thr:
        parts.append(f"thr32x128 {thr:.1f} seq/s = {thr / max(peers_thr):.2f}x the best peer (target >= 1.3x)")
    return "; ".join(parts)


def table(ref, bertblas):
    engines = [e for e in ENGINES if e in ref["engines"]]
    rows = [
        ("lat128, ms (lower is better)", "lat128_ms", False, "<= 0.7x"),
        ("thr32x128, seq/s", "thr32x128_seq_s", True, ">= 1.3x"),
        ("corpus, seq/s", "corpus_seq_s", True, ">= 3.5x"),
        ("corpus, real tokens/s", "corpus_tok_s", True, ""),
        ("contended lat128, ms", "contended_lat128_ms", False, ""),
    ]
    head = ["workload"] + engines + (["BertBLAS", "BertBLAS / best peer", "target"] if bertblas else [])
    out = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]

    def fmt(x):
        if x is None:
            return "—"
        return f"{x:,.0f}" if x >= 1000 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"
    for label, key, higher, target in rows:
        vals = [ref["engines"][e].get(key) for e in engines]
        cells = [label] + [fmt(v) for v in vals]
        if bertblas:
            ours = bertblas.get(key)
            present = [v for v in vals if v is not None]
            best = (max(present) if higher else min(present)) if present else None
            ratio = None if ours is None or best is None else (ours / best if higher else ours / best)
            cells += [fmt(ours), "—" if ratio is None else f"{ratio:.2f}x", target]
        out.append("| " + " | ".join(cells) + " |")
    if bertblas:
        hf = ref.get("hf_tokenizers_tokens_per_s")
        ours = bertblas.get("tok_tokens_per_s")
        if hf and ours:
            out.append(f"| tok, tokens/s (1 thread) | HF tokenizers {hf:,.0f} |" + " |" * (len(engines) - 1)
                       + f" {ours:,.0f} | {ours / hf:.1f}x HF | >= 10x |")
    lines = ["\n".join(out)]
    contention = []
    for e in engines:
        r = ref["engines"][e]
        if r.get("lat128_ms") and r.get("contended_lat128_ms"):
            contention.append(f"{e} {r['contended_lat128_ms'] / r['lat128_ms']:.2f}x")
    if bertblas and bertblas.get("lat128_ms") and bertblas.get("contended_lat128_ms"):
        contention.append(f"BertBLAS {bertblas['contended_lat128_ms'] / bertblas['lat128_ms']:.2f}x (target <= 2.5x)")
    if contention:
        lines.append("contended / quiet lat128: " + ", ".join(contention))
    if bertblas:
        extra = []
        for key, label in [("gflops", "thr32x128 GFLOP/s"), ("sgemm_best_gflops", "best sgemm GFLOP/s"),
                           ("peak_fraction", "fraction of best sgemm (target >= 0.85)"), ("load_ms", "load ms (target < 50)"),
                           ("peak_rss_mb", "peak RSS MB in thr32x128"), ("model_file_mb", "model file MB")]:
            if bertblas.get(key) is not None:
                extra.append(f"{label} {bertblas[key]}")
        lines.append("BertBLAS (" + f"core {bertblas.get('blas_core')}, threads {bertblas.get('threads')}): " + "; ".join(extra))
        ceiling = ceiling_lines(ref, bertblas, engines)
        if ceiling:
            lines.append(ceiling)
    diffs = ref.get("max_abs_vs_pytorch")
    if diffs:
        lines.append("max |diff| vs PyTorch on a padded check batch: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    lines.append(f"threads {ref.get('threads')}, torch {ref.get('torch')}, onnxruntime {ref.get('onnxruntime')}")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=".cache/models/all-MiniLM-L6-v2")
    p.add_argument("--corpus", default=".cache/data/bench/bbc-paragraphs-1000.txt")
    p.add_argument("--cache", default=os.environ.get("BERTBLAS_CACHE", ".cache"))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--only", help="workloads (comma-separated: lat128,thr32x128,corpus,tok,contended)")
    p.add_argument("--bertblas", help="`bench encoder --json` output to put in the table")
    p.add_argument("--json", help="also write the reference results to this file")
    p.add_argument("--table", nargs="+", help="print the table from saved --json files instead of measuring")
    args = p.parse_args()

    if args.table:
        ref = merge([json.load(open(f)) for f in args.table])
    else:
        ref = measure(args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(ref, f, indent=1)
    bertblas = None
    if args.bertblas:
        with open(args.bertblas) as f:
            bertblas = json.load(f)
    print(table(ref, bertblas))


if __name__ == "__main__":
    sys.exit(main())
