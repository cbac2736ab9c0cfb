#!/usr/bin/env python3
"""Times HF `tokenizers` (Rust) on one thread over the corpus that `bench tokenizer` uses, so the
two can be compared side by side (docs/BENCHMARKS.md, "Tokenizer").

    swift run -c release bench tokenizer --write-corpus /tmp/tokenizer_corpus.txt
    $PYTHON scripts/bench_tokenizer_hf.py --corpus /tmp/tokenizer_corpus.txt

Single thread: RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false are set before the import.
The all-MiniLM-L6-v2 tokenizer.json is loaded with its stored padding and truncation turned off
(as `bench tokenizer` encodes). Two figures, each the best of --passes passes:
  encode_batch  one `Tokenizer.encode_batch(lines)` call: Rust all the way, the fair comparison;
  encode        `Tokenizer.encode(line)` per line from Python (adds the Python call overhead).
Tokens are all ids produced, [CLS]/[SEP] included; MB/s counts the corpus's UTF-8 bytes.
"""
import argparse
import json
import os
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="one text per line (bench tokenizer --write-corpus)")
    ap.add_argument("--model", default=".cache/models/all-MiniLM-L6-v2")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    with open(args.corpus, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    size = sum(len(line.encode("utf-8")) for line in lines)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    tok.encode_batch(lines[:200])  # warm-up

    # The same fingerprint as `bench tokenizer` (FNV-1a 64 over id, start, end of every token).
    fingerprint = 0xcbf29ce484222325
    for e in tok.encode_batch(lines):
        for i, (s, t) in zip(e.ids, e.offsets):
            for v in (i, s, t):
                fingerprint = ((fingerprint ^ v) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF

    results = []
    for name in ("encode_batch", "encode"):
        best = float("inf")
        tokens = 0
        for _ in range(args.passes):
            start = time.perf_counter()
            if name == "encode_batch":
                encodings = tok.encode_batch(lines)
            else:
                encodings = [tok.encode(line) for line in lines]
            seconds = time.perf_counter() - start
            tokens = sum(len(e.ids) for e in encodings)
            best = min(best, seconds)
        results.append({"engine": f"HF tokenizers {tokenizers.__version__} {name}", "lines": len(lines),
                        "bytes": size, "tokens": tokens, "seconds": best, "tokens_per_s": tokens / best,
                        "mb_per_s": size / best / 1e6, "threads": 1,
                        "fingerprint": format(fingerprint, "x")})
    if args.json:
        for r in results:
            print(json.dumps(r, sort_keys=True))
    else:
        print(f"corpus: {len(lines)} lines, {size} bytes, {results[0]['tokens']} tokens; "
              f"best of {args.passes} passes, 1 thread")
        print(f"ids+offsets fingerprint (FNV-1a): {fingerprint:x}")
        print("| engine | tokens/s | MB/s | seconds |")
        print("|---|---:|---:|---:|")
        for r in results:
            print(f"| {r['engine']} | {int(r['tokens_per_s'])} | {r['mb_per_s']:.2f} | {r['seconds']:.3f} |")


if __name__ == "__main__":
    main()
