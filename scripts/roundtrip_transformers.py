#!/usr/bin/env python3
"""Proves that a `bert finetune --out` folder loads unchanged in transformers and gives the same
logits as `bert classify` (issue 13).

For each folder: `AutoConfig` / `AutoModelForSequenceClassification.from_pretrained(folder)` and
`AutoTokenizer.from_pretrained(folder)` with no argument but the folder (no num_labels, no
problem_type, no ignore_mismatched_sizes), eval mode, one text at a time; then
`bert classify --model folder --lines --raw-scores` on the same texts. Checks, per folder:
  - every tensor loads (no missing, unexpected or mismatched key);
  - transformers' problem_type and num_labels are the ones expected of the task;
  - max |logit(transformers) - logit(bert classify)| <= --tolerance (default 1e-4);
  - the pipeline's score function (softmax / sigmoid / none: transformers' text-classification
    postprocess for the problem type) on transformers' logits equals `bert classify`'s scores.

A `qa=DIR` folder (written by QuestionAnswererParityTests when BERTBLAS_QA_ROUNDTRIP_DIR names a
directory: one per tiny BERT/DistilBERT/RoBERTa/ELECTRA checkpoint, after one training step) is
checked with AutoModelForQuestionAnswering: every tensor loads, and the start and end logits equal
the training forward's (bertblas_logits.json in the folder).

A `ner` folder (TASK=DIR, or made by --make / --make-families from synthetic CoNLL sentences) is
checked with AutoModelForTokenClassification instead: every tensor loads, and `bert ner
--aggregation none` gives each token transformers' argmax label and its softmax score.

Folders come from --folder (repeatable: DIR or TASK=DIR), and with --make DIR the script first
makes one folder per task with `bert finetune` on --model (1 epoch on 64 synthetic texts: this
proves the file format, not quality). With --make-families DIR it also fine-tunes (classification,
the same synthetic texts) one tiny random checkpoint of each other family from
Tests/Goldens/families/models (DistilBERT, RoBERTa, XLM-RoBERTa, ELECTRA; their own tokenizers:
WordPiece, byte-level BPE, Unigram), so each `<Family>ForSequenceClassification` folder that
`bert finetune` writes is checked the same way.

A `mlm` folder (TASK=DIR, or made by --make-pretrained DIR: `bert pretrain`, 2 epochs with
whole-word masking on a small synthetic corpus, of the tiny BERT masked LM of
Tests/Goldens/heads/models/mlm and of each family's tiny `…ForMaskedLM` in
Tests/Goldens/families/models) is checked with AutoModelForMaskedLM: every tensor loads (the tied
decoder is not stored and must not be reported missing), the class is the folder's
architecture, and on masked texts `bert fill-mask` gives transformers' top-5 token ids, and its
scores are transformers' softmax at the mask.

Run (reference venv: torch, transformers 4.57.1):
    .venv-goldens/bin/python scripts/roundtrip_transformers.py --bert .build/release/bert \
        --model .cache/models/all-MiniLM-L6-v2 --make /tmp/roundtrip --make-families /tmp/roundtrip-families \
        --make-pretrained /tmp/roundtrip-pretrained
Exit status 1 when a check fails.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys

TEXTS = [
    "A warm, funny and beautifully acted film.",
    "Two hours of my life I will never get back.",
    "The museum by the river in Paris was closed, so we walked to the capital's old town instead.",
    "meh",
    "Visually stunning, emotionally empty: a beautiful bore, and the score is haunting until the last frame.",
    "Clumsy in places, but its heart is in the right place and the cast is wonderful; I'd see it again.",
    "Running late, I read the review on the train to London.",
    "Tokyo!",
]

EXPECTED = {
    "classification": ("single_label_classification", None),
    "multi-label": ("multi_label_classification", None),
    "regression": ("regression", 1),
}


def synthetic_data(task, path):
    """64 texts of 4 words from two word lists; the label depends on the words."""
    cities = ["paris", "london", "berlin", "tokyo", "city", "river", "museum", "capital"]
    verbs = ["play", "playing", "played", "run", "running", "walk", "walked", "read"]
    rng = random.Random(7)
    with open(path, "w") as f:
        f.write("text\tlabel\n")
        for _ in range(64):
            words = [rng.choice(cities + verbs) for _ in range(4)]
            places = sum(w in cities for w in words)
            if task == "classification":
                label = "place" if places >= 2 else "action"
            elif task == "multi-label":
                label = ";".join(([ "place"] if places else []) + (["action"] if places < 4 else []))
            else:
                label = str(places - 2)
            f.write(" ".join(words) + "\t" + label + "\n")


def synthetic_tags(path):
    """64 sentences of 4 words in CoNLL form (word<TAB>tag): city words B-LOC, the others O."""
    cities = ["paris", "london", "berlin", "tokyo"]
    others = ["play", "playing", "played", "run", "the", "river", "walked", "read"]
    rng = random.Random(11)
    with open(path, "w") as f:
        for _ in range(64):
            for _ in range(4):
                word = rng.choice(cities + others)
                f.write(f"{word}\t{'B-LOC' if word in cities else 'O'}\n")
            f.write("\n")


def finetune(bert, model, task, data, out):
    subprocess.run([bert, "finetune", "--model", model, "--data", data, "--task", task, "--out", out,
                    "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--learning-rate", "1e-4"],
                   check=True, stdout=subprocess.DEVNULL)


def make_folders(bert, model, work):
    os.makedirs(work, exist_ok=True)
    folders = []
    for task in EXPECTED:
        data = os.path.join(work, f"{task}.tsv")
        out = os.path.join(work, task)
        synthetic_data(task, data)
        finetune(bert, model, task, data, out)
        folders.append((task, out))
    folders.append(make_ner_folder(bert, model, work, "ner"))
    return folders


def make_ner_folder(bert, model, work, name):
    data = os.path.join(work, "ner.txt")
    synthetic_tags(data)
    out = os.path.join(work, name)
    finetune(bert, model, "ner", data, out)
    return ("ner", out)


# Tiny random checkpoints without a sequence classifier (scripts/goldens_families.py): bert
# finetune gives each a new head (the dense layer and the classifier).
FAMILY_MODELS = ["distilbert-base", "roberta-mlm", "xlm-roberta-mlm", "electra-base"]


def make_family_folders(bert, work):
    os.makedirs(work, exist_ok=True)
    models = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Goldens", "families", "models")
    data = os.path.join(work, "classification.tsv")
    synthetic_data("classification", data)
    folders = []
    for name in FAMILY_MODELS:
        out = os.path.join(work, name)
        finetune(bert, os.path.join(models, name), "classification", data, out)
        folders.append(("classification", out))
        folders.append(make_ner_folder(bert, os.path.join(models, name), work, name + "-ner"))
    return folders


# The masked-LM checkpoints `bert pretrain` continues (their own tokenizers).
PRETRAIN_MODELS = [("heads", "mlm"), ("families", "distilbert-mlm"), ("families", "roberta-mlm"),
                   ("families", "xlm-roberta-mlm"), ("families", "electra-mlm")]
MASKED_TEMPLATES = ["the city is {} old.", "paris was {} the sea.", "{} museum has been full of people."]


def synthetic_corpus(path):
    """240 short sentences from a few templates, seeded (one per line)."""
    subjects = ["the city", "the river", "the museum", "the capital", "paris", "london"]
    verbs = ["is", "was", "has been"]
    objects = ["very old", "very large", "full of people", "in the north", "near the sea"]
    rng = random.Random(5)
    with open(path, "w") as f:
        for _ in range(240):
            f.write(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}.\n")


def make_pretrained_folders(bert, work):
    os.makedirs(work, exist_ok=True)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Goldens")
    corpus = os.path.join(work, "corpus.txt")
    synthetic_corpus(corpus)
    folders = []
    for kind, name in PRETRAIN_MODELS:
        model = os.path.join(root, kind, "models", name)
        out = os.path.join(work, name)
        subprocess.run([bert, "pretrain", "--model", model, "--corpus", corpus, "--out", out, "--epochs", "2",
                        "--learning-rate", "5e-3", "--batch-size", "8", "--max-length", "24", "--whole-word"],
                       check=True, stdout=subprocess.DEVNULL)
        folders.append(("mlm", out))
    return folders


def load_checked(auto_class, folder):
    """`auto_class.from_pretrained(folder)` in eval mode, its config, and what went wrong in the
    loading: a missing, unexpected or mismatched tensor, or a class other than the config's."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    model, info = auto_class.from_pretrained(folder, output_loading_info=True)
    model.eval()
    problems = [f"{kind}: {info[kind]}" for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")
                if info.get(kind)]
    if [type(model).__name__] != config.architectures:
        problems.append(f"loaded {type(model).__name__}, config says {config.architectures}")
    return config, model, problems


def check_mlm_folder(bert, folder, tolerance):
    """A `bert pretrain` folder: AutoModelForMaskedLM loads every tensor, and `bert fill-mask`
    gives transformers' top-5 ids and softmax scores at the mask. Returns (problems, summary)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    config, model, problems = load_checked(AutoModelForMaskedLM, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = [t.format(tokenizer.mask_token) for t in MASKED_TEMPLATES]
    run = subprocess.run([bert, "fill-mask", "--model", folder, "--top-k", "5"], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    score_diff, same_ids = 0.0, True
    for text, guesses in zip(texts, records):
        encoded = tokenizer(text, return_tensors="pt")
        position = int((encoded.input_ids[0] == tokenizer.mask_token_id).nonzero()[0, 0])
        with torch.no_grad():
            probs = model(**encoded).logits[0, position].softmax(-1)
        top = probs.topk(5)
        ids = [g["token"] for g in guesses]
        if ids != top.indices.tolist():
            same_ids = False
            problems.append(f"{text!r}: bert top-5 {ids}, transformers {top.indices.tolist()}")
        score_diff = max([score_diff] + [abs(float(probs[g["token"]]) - g["score"]) for g in guesses])
    if len(records) != len(texts):
        problems.append(f"{len(records)} records for {len(texts)} texts")
    if score_diff > tolerance:
        problems.append(f"scores differ by {score_diff:.3g}")
    return problems, f"{type(model).__name__}; {len(texts)} masked texts: top-5 ids {'equal' if same_ids else 'differ'}, max |score diff| {score_diff:.3g}"


def fitting_texts(config, tokenizer):
    """The texts that fit the position table in one window (the tiny family checkpoints hold
    62-64 positions; a longer text would be split into windows by bert)."""
    positions = config.max_position_embeddings - (config.pad_token_id + 1 if config.model_type in ("roberta", "xlm-roberta") else 0)
    return [t for t in TEXTS if len(tokenizer(t).input_ids) <= positions]


def check_token_folder(bert, folder, tolerance):
    """A `--task ner` folder: AutoModelForTokenClassification loads every tensor, and `bert ner
    --aggregation none` (every label kept) gives each token transformers' argmax label and its
    softmax score. Returns (problems, texts, max score diff)."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    config, model, problems = load_checked(AutoModelForTokenClassification, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = fitting_texts(config, tokenizer)
    run = subprocess.run([bert, "ner", "--model", folder, "--aggregation", "none", "--ignore-labels", ""],
                         input="\n".join(texts) + "\n", capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    score_diff, tokens = 0.0, 0
    for text, entities in zip(texts, records):
        with torch.no_grad():
            probs = model(**tokenizer(text, return_tensors="pt")).logits[0].softmax(-1)
        for e in entities:
            best = int(probs[e["index"]].argmax())
            if config.id2label[best] != e["entity"]:
                problems.append(f"{text!r} token {e['index']}: bert {e['entity']}, transformers {config.id2label[best]}")
            score_diff = max(score_diff, abs(float(probs[e["index"], best]) - e["score"]))
            tokens += 1
    if len(records) != len(texts) or tokens == 0:
        problems.append(f"{len(records)} records, {tokens} tokens for {len(texts)} texts")
    if score_diff > tolerance:
        problems.append(f"scores differ by {score_diff:.3g}")
    return problems, f"{type(model).__name__}, {len(config.id2label)} labels; {len(texts)} texts, {tokens} tokens: max |score diff| {score_diff:.3g}"


def check_qa_folder(bert, folder, tolerance):
    """A question-answering folder written by `FineTunedFolder.write(_:questionAnswerer:source:)`
    (QuestionAnswererParityTests with BERTBLAS_QA_ROUNDTRIP_DIR set writes one per tiny checkpoint,
    after one training step, with its training forward's logits in bertblas_logits.json):
    AutoModelForQuestionAnswering loads every tensor, and its start and end logits on each sequence,
    run unpadded, equal BertBLAS's. Returns (problems, summary)."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    config, model, problems = load_checked(AutoModelForQuestionAnswering, folder)
    with open(os.path.join(folder, "bertblas_logits.json")) as f:
        expected = json.load(f)
    starts, ends = [], []
    for ids, type_ids in zip(expected["ids"], expected["type_ids"]):
        inputs = {"input_ids": torch.tensor([ids])}
        # As BertBLAS reads them: not by DistilBERT, nor by a one-type table (the tiny RoBERTa's).
        if getattr(config, "type_vocab_size", 0) > 1:
            inputs["token_type_ids"] = torch.tensor([type_ids])
        with torch.no_grad():
            out = model(**inputs)
        starts += out.start_logits[0].tolist()
        ends += out.end_logits[0].tolist()
    if len(starts) != len(expected["start_logits"]):
        problems.append(f"{len(starts)} tokens, BertBLAS {len(expected['start_logits'])}")
    diff = max(abs(a - b) for a, b in zip(starts + ends, expected["start_logits"] + expected["end_logits"]))
    if diff > tolerance:
        problems.append(f"logits differ by {diff:.3g}")
    return problems, f"{type(model).__name__}; {len(expected['ids'])} sequences, {len(starts)} tokens: max |logit diff| {diff:.3g}"


def bert_classify(bert, folder, raw, texts):
    args = [bert, "classify", "--model", folder, "--lines", "--format", "jsonl"] + (["--raw-scores"] if raw else []) + ["-"]
    run = subprocess.run(args, input="\n".join(texts) + "\n", capture_output=True, text=True, check=True)
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bert", default=".build/release/bert")
    p.add_argument("--model", help="the checkpoint --make fine-tunes (e.g. all-MiniLM-L6-v2)")
    p.add_argument("--make", metavar="DIR", help="first make one folder per task in DIR with bert finetune")
    p.add_argument("--make-families", metavar="DIR",
                   help="first fine-tune one tiny checkpoint per family (DistilBERT, RoBERTa, XLM-R, ELECTRA) into DIR")
    p.add_argument("--make-pretrained", metavar="DIR",
                   help="first continue pre-training the tiny BERT masked LM and each family's (bert pretrain) into DIR")
    p.add_argument("--folder", action="append", default=[], help="a fine-tuned folder, DIR or TASK=DIR (repeatable)")
    p.add_argument("--tolerance", type=float, default=1e-4)
    args = p.parse_args()

    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(1)
    folders = []
    if args.make:
        if not args.model:
            p.error("--make needs --model")
        folders += make_folders(args.bert, args.model, args.make)
    if args.make_families:
        folders += make_family_folders(args.bert, args.make_families)
    if args.make_pretrained:
        folders += make_pretrained_folders(args.bert, args.make_pretrained)
    for spec in args.folder:
        task, _, folder = spec.rpartition("=")
        folders.append((task or None, folder))
    if not folders:
        p.error("give --make DIR --model DIR, --make-families DIR, --make-pretrained DIR, or --folder DIR")

    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    failed = False
    for task, folder in folders:
        if task in ("ner", "mlm", "qa"):
            check = {"ner": check_token_folder, "mlm": check_mlm_folder, "qa": check_qa_folder}[task]
            problems, summary = check(args.bert, folder, args.tolerance)
            print(f"{folder}: {summary}  {'ok' if not problems else 'FAIL: ' + '; '.join(problems)}")
            failed |= bool(problems)
            continue
        config = AutoConfig.from_pretrained(folder)
        model, info = AutoModelForSequenceClassification.from_pretrained(folder, output_loading_info=True)
        model.eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        labels = [config.id2label[i] for i in range(config.num_labels)]
        problems = []
        if task:
            problem_type, num_labels = EXPECTED[task]
            if config.problem_type != problem_type:
                problems.append(f"problem_type {config.problem_type!r}, expected {problem_type!r}")
            if num_labels is not None and config.num_labels != num_labels:
                problems.append(f"num_labels {config.num_labels}, expected {num_labels}")
        for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
            if info.get(kind):
                problems.append(f"{kind}: {info[kind]}")
        texts = fitting_texts(config, tokenizer)
        if not texts:
            problems.append("no text fits the position table")
            texts = TEXTS[:1]
        with torch.no_grad():
            hf = [model(**tokenizer(t, return_tensors="pt")).logits[0].tolist() for t in texts]
        raw = bert_classify(args.bert, folder, True, texts)
        scored = bert_classify(args.bert, folder, False, texts)
        logit_diff = max(abs(h[k] - r["scores"][labels[k]]) for h, r in zip(hf, raw) for k in range(len(labels)))

        def function(z):
            if config.problem_type == "regression":
                return z
            if config.problem_type == "multi_label_classification" or len(z) == 1:
                return [1 / (1 + math.exp(-x)) for x in z]
            m = max(z)
            e = [math.exp(x - m) for x in z]
            return [x / sum(e) for x in e]

        score_diff = max(abs(function(h)[k] - s["scores"][labels[k]]) for h, s in zip(hf, scored) for k in range(len(labels)))
        if logit_diff > args.tolerance:
            problems.append(f"logits differ by {logit_diff:.3g}")
        if score_diff > args.tolerance:
            problems.append(f"scores differ by {score_diff:.3g}")
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        print(f"{folder}: {type(model).__name__}, problem_type {config.problem_type}, num_labels {config.num_labels} "
              f"({', '.join(labels)}); {len(texts)} texts: max |logit diff| {logit_diff:.3g}, "
              f"max |score diff| {score_diff:.3g}  {status}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
