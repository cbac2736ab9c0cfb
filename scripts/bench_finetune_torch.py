#!/usr/bin/env python3
"""PyTorch side of `bench finetune`: the same fine-tuning steps, timed the same way.

Usage (the reference venv, `make reference-venv`; `make bench-finetune` runs both sides):
    .venv-goldens/bin/python scripts/bench_finetune_torch.py --model .cache/models/all-MiniLM-L6-v2 \
        --data .cache/data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv [--bertblas bertblas.json]

The data: the rows whose category is fresh or rotten (plot synopses dropped; blank texts skipped,
as BertBLAS's CSV loader does), in file order, labels indexed in sorted order. Step s trains on
rows [s*batch, (s+1)*batch): --warmup untimed steps, then --steps timed ones.

One step is a HF Trainer step: AutoModelForSequenceClassification (pooler + new classifier,
seed 42) in train mode (dropout 0.1 as configured), the batch tokenized with truncation to
--max-length and padded to its longest text (DataCollatorWithPadding), cross-entropy, backward,
clip_grad_norm_(1.0), torch.optim.AdamW (lr 5e-5, betas 0.9/0.999, eps 1e-8, weight decay 0: HF
Trainer's default), zero_grad. Tokenization is outside the timed region on both sides.

Printed: training tokens/s counting real tokens only (the attention mask's ones; the padded
count is printed too), the median step time, and the process's peak RSS (VmHWM). With --bertblas
(the JSON of `bench finetune --json`), also the ratio and a check that both sides trained on the
same number of real tokens.
"""
import argparse
import csv
import json
import statistics
import sys
import time


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bertblas", help="bench finetune --json output, to print the ratio")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(42)

    csv.field_size_limit(sys.maxsize)
    rows = []
    with open(args.data, newline="", encoding="utf-8", errors="replace") as f:
        for record in csv.DictReader(f):
            text, label = record.get("text"), record.get("category")
            if text is None or not label or label == "plot" or not text.strip():
                continue
            rows.append((text, label))
    labels = sorted({label for _, label in rows})
    index = {label: i for i, label in enumerate(labels)}
    needed = (args.warmup + args.steps) * args.batch
    if len(rows) < needed:
        sys.exit(f"{args.data}: {len(rows)} texts, {needed} needed")
    rows = rows[:needed]

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=len(labels))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    batches = []
    for s in range(args.warmup + args.steps):
        chunk = rows[s * args.batch:(s + 1) * args.batch]
        encoded = tokenizer([t for t, _ in chunk], truncation=True, max_length=args.max_length,
                            padding="longest", return_tensors="pt")
        encoded["labels"] = torch.tensor([index[l] for _, l in chunk])
        batches.append(encoded)

    samples, tokens, padded = [], 0, 0
    loss = None
    for s, batch in enumerate(batches):
        start = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        seconds = time.perf_counter() - start
        if s >= args.warmup:
            samples.append(seconds)
            tokens += int(batch["attention_mask"].sum())
            padded += batch["input_ids"].numel()
    total = sum(samples)
    rate = tokens / total
    rss = peak_rss_mb()
    result = {
        "engine": "pytorch", "torch": torch.__version__, "tokens_per_s": round(rate, 2),
        "step_ms_median": round(statistics.median(samples) * 1000, 2), "tokens": tokens, "padded_tokens": padded,
        "sequences": args.steps * args.batch, "steps": args.steps, "warmup": args.warmup, "batch": args.batch,
        "max_length": args.max_length, "peak_rss_mb": round(rss, 2) if rss else None, "threads": args.threads,
        "last_loss": round(loss.item(), 4),
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"pytorch {torch.__version__}, threads {args.threads}")
        print(f"finetune    {rate:8.0f} training tokens/s ({tokens} real tokens, {padded} with padding, in {args.steps} "
              f"steps of {args.batch}, max length {args.max_length}, {total:.2f} s), median step "
              f"{result['step_ms_median']:.0f} ms, peak RSS {rss:.1f} MB, last loss {loss.item():.4f}")
    if args.bertblas:
        with open(args.bertblas) as f:
            ours = json.load(f)
        if ours.get("tokens") != tokens:
            print(f"warning: BertBLAS trained on {ours.get('tokens')} real tokens, PyTorch on {tokens}: not the same batches")
        print(f"BertBLAS / PyTorch: {ours['tokens_per_s'] / rate:.2f}x training tokens/s "
              f"({ours['tokens_per_s']:.0f} vs {rate:.0f}); peak RSS {ours.get('peak_rss_mb')} vs {result['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
