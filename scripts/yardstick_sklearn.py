#!/usr/bin/env python3
"""scikit-learn yardstick for BertBLAS's trained classifier heads.

Two jobs:

  goldens   Writes Tests/Goldens/classify/linear_synthetic.json: small fixed synthetic data sets
            (binary and 3-label, separable and overlapping) with scikit-learn's LogisticRegression
            and RidgeClassifier solutions, for the Swift unit tests.

  features  Reads the features `bert train-head --export-features FILE` wrote (JSON lines
            {"label", "split", "embedding"}: the exact MiniLM embeddings BertBLAS trained on, with
            its fixed split), fits scikit-learn's LogisticRegression on the "train" rows and prints
            train/validation accuracy and macro-F1 as JSON, so both use identical features.

The C <-> lambda mapping: BertBLAS minimizes  sum_i -log p_i[y_i] + (lambda/2)*||W||^2  (bias not
penalized), which is scikit-learn's objective with C = 1/lambda. RidgeClassifier's alpha = lambda.

Deterministic (fixed seeds). Run with $PYTHON (e.g. .venv-goldens/bin/python).
"""
import argparse
import csv
import os
import json
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def blobs(rng, n, d, labels, spread):
    centers = rng.normal(0, 1, size=(labels, d)) * 2.0
    y = np.arange(n) % labels
    rng.shuffle(y)
    x = centers[y] + rng.normal(0, spread, size=(n, d))
    return x.astype(np.float32), y


def case(name, x, y, lam, weights=None):
    c = 1.0 / lam
    # The goldens hold the features to 6 decimals; fit on exactly those. newton-cholesky reaches
    # the optimum to ~1e-10, so the goldens are the solution, not a solver's approximation of it.
    x = np.round(x.astype(np.float64), 6)
    lr = LogisticRegression(C=c, solver="newton-cholesky", tol=1e-10, max_iter=1000).fit(x, y, sample_weight=weights)
    rc = RidgeClassifier(alpha=lam).fit(x.astype(np.float64), y, sample_weight=weights)
    return {
        "weights": None if weights is None else [float(v) for v in weights],
        "name": name,
        "lambda": lam,
        "rows": int(x.shape[0]),
        "columns": int(x.shape[1]),
        "label_count": int(y.max() + 1),
        "features": [float(v) for v in x.reshape(-1)],
        "labels": [int(v) for v in y],
        "logistic": {
            "coef": lr.coef_.tolist(),
            "intercept": lr.intercept_.tolist(),
            "probabilities": lr.predict_proba(x.astype(np.float64)).tolist(),
            "predicted": [int(v) for v in lr.predict(x.astype(np.float64))],
        },
        "ridge": {
            "coef": np.atleast_2d(rc.coef_).tolist(),
            "intercept": np.atleast_1d(rc.intercept_).tolist(),
            "decision": np.atleast_2d(rc.decision_function(x.astype(np.float64)).T).T.tolist(),
            "predicted": [int(v) for v in rc.predict(x.astype(np.float64))],
        },
    }


def goldens(args):
    rng = np.random.default_rng(20261126)
    cases = []
    x, y = blobs(rng, 90, 5, 2, 1.5)
    cases.append(case("binary-overlapping", x, y, 1.0))
    x, y = blobs(rng, 60, 4, 2, 0.2)
    cases.append(case("binary-separable", x, y, 0.5))
    x, y = blobs(rng, 150, 6, 3, 1.8)
    cases.append(case("three-overlapping", x, y, 1.0))
    x, y = blobs(rng, 120, 8, 4, 0.3)
    cases.append(case("four-separable", x, y, 0.1))
    # Features x 10 and a smaller lambda: a harder, badly scaled problem.
    x, y = blobs(rng, 200, 12, 5, 2.5)
    cases.append(case("five-overlapping-scaled", x * 10, y, 0.01))
    # Per-example weights (the 1/windows weights of long documents' windows).
    x, y = blobs(rng, 150, 6, 3, 1.8)
    cases.append(case("three-weighted", x, y, 1.0, weights=rng.choice([0.25, 1 / 3, 0.5, 1.0], size=150)))
    x, y = blobs(rng, 80, 5, 2, 1.5)
    cases.append(case("binary-weighted", x, y, 1.0, weights=rng.choice([0.25, 0.5, 1.0], size=80)))
    with open(args.out, "w") as f:
        json.dump({"generator": "scripts/yardstick_sklearn.py goldens", "cases": cases}, f)
        f.write("\n")

    # Metrics: sklearn's classification_report numbers for fixed predictions, including a label
    # never predicted (precision 0/0 -> 0) and a label absent from both (left out of macro-F1).
    truth = [0, 0, 0, 1, 1, 2, 2, 2, 2, 0, 1, 2]
    pred = [0, 1, 0, 1, 1, 2, 0, 2, 1, 0, 1, 1]
    labels4 = ["alpha", "beta", "gamma", "delta"]
    p, r, f1, sup = precision_recall_fscore_support(truth, pred, labels=[0, 1, 2, 3], zero_division=0)
    metrics = {
        "labels": labels4, "truth": truth, "predicted": pred,
        "accuracy": accuracy_score(truth, pred),
        "macro_f1": f1_score(truth, pred, average="macro", zero_division=0),
        "precision": p.tolist(), "recall": r.tolist(), "f1": f1.tolist(), "support": sup.tolist(),
        "confusion": confusion_matrix(truth, pred, labels=[0, 1, 2, 3]).tolist(),
    }
    # Python's csv module on the real Rotten Tomatoes file (quoted multi-line fields), when fetched.
    rt = args.rotten_tomatoes
    if rt and os.path.exists(rt):
        with open(rt, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        counts, nonblank = {}, {}
        for row in rows:
            counts[row["category"]] = counts.get(row["category"], 0) + 1
            if row["text"].strip():
                nonblank[row["category"]] = nonblank.get(row["category"], 0) + 1
        metrics["rotten_tomatoes"] = {"rows": len(rows), "counts": counts, "nonblank_counts": nonblank,
                                      "first_text": rows[0]["text"], "last_text": rows[-1]["text"]}
    with open(os.path.join(os.path.dirname(args.out), "metrics_and_csv.json"), "w") as f:
        json.dump(metrics, f, ensure_ascii=False)
        f.write("\n")


def features(args):
    """Fits on the exported window features exactly as BertBLAS does: each window is an example
    weighted 1/windows of its document, and a document's prediction averages its windows'
    probabilities (decision values for ridge)."""
    labels, splits, rows, docs, weights = [], [], [], [], []
    with open(args.file) as f:
        for line in f:
            r = json.loads(line)
            labels.append(r["label"])
            splits.append(r["split"])
            rows.append(r["embedding"])
            docs.append(r["document"])
            weights.append(r["weight"])
    x = np.asarray(rows, dtype=np.float64)
    names = sorted(set(labels))
    y = np.asarray([names.index(v) for v in labels])
    docs = np.asarray(docs)
    weights = np.asarray(weights)
    train = np.asarray([s == "train" for s in splits])
    start = time.perf_counter()
    if args.solver == "ridge":
        model = RidgeClassifier(alpha=args.regularization)
    else:
        model = LogisticRegression(C=1.0 / args.regularization, max_iter=10000,
                                   **({"solver": "newton-cholesky", "tol": 1e-10} if args.exact else {}))
    uniform = bool(np.all(weights == 1))
    model.fit(x[train], y[train], sample_weight=None if uniform else weights[train])
    seconds = time.perf_counter() - start
    if args.solver == "ridge":
        scores = model.decision_function(x)
        if scores.ndim == 1:
            scores = np.stack([np.zeros_like(scores), scores], axis=1)
        scores = np.exp(scores - scores.max(1, keepdims=True))
        scores /= scores.sum(1, keepdims=True)
    else:
        scores = model.predict_proba(x)
    # Average window scores per document.
    order = sorted(set(docs.tolist()))
    doc_index = {d: i for i, d in enumerate(order)}
    total = np.zeros((len(order), scores.shape[1]))
    count = np.zeros(len(order))
    doc_label = np.zeros(len(order), dtype=int)
    doc_train = np.zeros(len(order), dtype=bool)
    for w, d in enumerate(docs):
        i = doc_index[d]
        total[i] += scores[w]
        count[i] += 1
        doc_label[i] = y[w]
        doc_train[i] = train[w]
    pred = np.argmax(total / count[:, None], axis=1)
    out = {"model": type(model).__name__,
           ("alpha" if args.solver == "ridge" else "C"): args.regularization if args.solver == "ridge" else 1.0 / args.regularization,
           "windows": int(x.shape[0]), "documents": len(order),
           "train_documents": int(doc_train.sum()), "validation_documents": int((~doc_train).sum()),
           "features": int(x.shape[1]), "labels": names, "fit_seconds": round(seconds, 3)}
    for name, mask in (("train", doc_train), ("validation", ~doc_train)):
        if mask.sum() == 0:
            continue
        out[f"{name}_accuracy"] = round(float(accuracy_score(doc_label[mask], pred[mask])), 6)
        out[f"{name}_macro_f1"] = round(float(f1_score(doc_label[mask], pred[mask], average="macro")), 6)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("goldens")
    g.add_argument("--out", default="Tests/Goldens/classify/linear_synthetic.json")
    g.add_argument("--rotten-tomatoes", default=".cache/data/rotten-tomatoes/rotten_tomatoes_corpus_full.csv")
    f = sub.add_parser("features")
    f.add_argument("file")
    f.add_argument("--regularization", type=float, default=1.0, help="lambda; C = 1/lambda (default 1)")
    f.add_argument("--solver", choices=["logistic", "ridge"], default="logistic")
    f.add_argument("--exact", action="store_true",
                   help="solve to the optimum (newton-cholesky, tol 1e-10) instead of the default lbfgs, tol 1e-4")
    args = p.parse_args()
    {"goldens": goldens, "features": features}[args.command](args)


if __name__ == "__main__":
    main()
