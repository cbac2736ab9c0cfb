"""Times HF DataCollatorForLanguageModeling (PyTorch) on the token ids that `bench pretrain-data`
masks, so the two can be compared side by side (docs/BENCHMARKS.md, "Pre-training data").

    swift run -c release bench pretrain-data --write-ids /tmp/pretrain_ids.i32
    $PYTHON scripts/bench_collator_hf.py --ids /tmp/pretrain_ids.i32 --model .cache/models/all-MiniLM-L6-v2

The ids file is raw little-endian int32, one row of --length ids per sequence ([CLS] ... [SEP]).
Two figures are reported over the same batches of --batch sequences:
  collator   the full `collator(examples)` call on examples as a tokenized `datasets` dataset
             yields them (dicts with python lists `input_ids` and `special_tokens_mask`), i.e.
             padding/tensor conversion plus masking, what a training loop pays;
  mask-only  `collator.torch_mask_tokens(...)` on ready-made tensors (the masking alone).
Each is the best of --passes passes over all batches. Deterministic: the collator's seed is fixed.
"""
import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from transformers import BertTokenizerFast, DataCollatorForLanguageModeling


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", required=True, help="int32 file written by `bench pretrain-data --write-ids`")
    ap.add_argument("--model", default=".cache/models/all-MiniLM-L6-v2", help="tokenizer folder")
    ap.add_argument("--length", type=int, default=128, help="ids per sequence (default 128)")
    ap.add_argument("--batch", type=int, default=32, help="sequences per batch (default 32)")
    ap.add_argument("--passes", type=int, default=3, help="timed passes; the best is reported (default 3)")
    args = ap.parse_args()

    ids = np.fromfile(args.ids, dtype="<i4").reshape(-1, args.length)
    tokenizer = BertTokenizerFast.from_pretrained(args.model)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, return_tensors="pt", seed=1234)
    special = np.isin(ids, [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]).astype(np.int64)

    batches = [(ids[i:i + args.batch], special[i:i + args.batch]) for i in range(0, len(ids), args.batch)]
    examples = [[{"input_ids": row.tolist(), "special_tokens_mask": sm.tolist()} for row, sm in zip(b, s)]
                for b, s in batches]
    tensors = [(torch.from_numpy(b.astype(np.int64)), torch.from_numpy(s).bool()) for b, s in batches]
    sequences, tokens = ids.shape[0], ids.size

    def best(fn):
        times = []
        for _ in range(args.passes):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    def run_collator():
        for ex in examples:
            out = collator(ex)
        return out

    def run_mask_only():
        for b, s in tensors:
            collator.torch_mask_tokens(b.clone(), special_tokens_mask=s)

    # Sanity: the rate HF selects on these ids.
    out = collator(examples[0])
    rate = float((out["labels"] != -100).sum()) / float((special[: args.batch] == 0).sum())

    results = {"sequences": sequences, "tokens": int(tokens), "batch": args.batch, "length": args.length,
               "torch": torch.__version__, "threads": torch.get_num_threads(), "first_batch_rate": round(rate, 4)}
    for name, fn in [("collator", run_collator), ("mask-only", run_mask_only)]:
        seconds = best(fn)
        results[name] = {"seconds": round(seconds, 4), "examples_per_s": round(sequences / seconds),
                         "tokens_per_s": round(tokens / seconds)}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
