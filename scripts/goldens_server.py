#!/usr/bin/env python3
"""Goldens for the server's head routes that have no golden elsewhere (issue 10).

Writes into Tests/Goldens/server/:
  models/reranker/   a tiny random one-label BertForSequenceClassification (a cross-encoder; hidden
                     32, 2 layers, seeded) on the heads goldens' small WordPiece vocab.
  rerank.json        sentence-transformers CrossEncoder on it: rank(query, texts) (sigmoid scores,
                     sorted, with the text) and predict(pairs) with and without the sigmoid.
  splade_sparse.json SPLADE vectors of the real SPLADE-tiny MLM checkpoint (.cache/models): for
                     each text, max over its tokens ([CLS] and [SEP] included) of
                     log(1 + ReLU(MLM logits)), as text-embeddings-inference's /embed_sparse
                     (backends/candle/src/models/bert.rs, Pool::Splade) and sentence-transformers'
                     SpladePooling compute it; the non-zero entries as (index, value).

Run: HF_HUB_OFFLINE=1 .venv-goldens/bin/python scripts/goldens_server.py
Deterministic: fixed seeds, no network.
"""
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import goldens_heads as heads  # noqa: E402  (the tiny vocab and config of the heads goldens)

import sentence_transformers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import CrossEncoder  # noqa: E402
from transformers import AutoModelForMaskedLM, AutoTokenizer, BertForSequenceClassification  # noqa: E402

ROOT = heads.ROOT
OUT = ROOT / "Tests" / "Goldens" / "server"
MODELS = OUT / "models"
torch.set_num_threads(1)

QUERY = "Where does John Smith work?"
DOCUMENTS = [
    "John Smith works at Microsoft in Paris.",
    "The café in Zürich serves naïve Müller a coffee.",
    "Angela Merkel met Emmanuel Macron in Berlin, Germany.",
    "John worked for Google in London before he moved to Tokyo.",
    "Reading books is a long walk for the mind.",
]
QUERY2 = "東京大学"
DOCUMENTS2 = ["Tokyo is the capital of Japan.", "東京 is a city.", "paris"]

SPLADE_TEXTS = [
    "What is Deep Learning?",
    "The quick brown fox jumps over the lazy dog.",
    "SPLADE expands a query with related terms: retrieval, search, ranking.",
    "Ça va? 東京 is a city.",
    "a",
    "",
    "The committee approved the new budget after a long debate about schools, roads and hospitals "
    "in the northern districts, where the population has grown quickly over the last ten years.",
]


def reranker_goldens(vocab):
    folder = MODELS / "reranker"
    if folder.exists():
        shutil.rmtree(folder)
    torch.manual_seed(200)
    cfg = heads.tiny_config(vocab, num_labels=1)
    model = BertForSequenceClassification(cfg).eval()
    heads.make_tokenizer(folder, vocab)
    model.save_pretrained(str(folder), safe_serialization=True)
    for extra in ["special_tokens_map.json", "generation_config.json"]:
        if (folder / extra).exists():
            (folder / extra).unlink()

    encoder = CrossEncoder(str(folder), device="cpu")
    cases = []
    for query, documents in [(QUERY, DOCUMENTS), (QUERY2, DOCUMENTS2)]:
        ranked = encoder.rank(query, documents, return_documents=True)
        pairs = [[query, d] for d in documents]
        scores = encoder.predict(pairs, convert_to_numpy=True).tolist()
        raw = encoder.predict(pairs, activation_fn=torch.nn.Identity(), convert_to_numpy=True).tolist()
        cases.append({
            "query": query,
            "texts": documents,
            "ranked": [{"index": int(r["corpus_id"]), "score": float(r["score"]), "text": r["text"]} for r in ranked],
            "scores": [float(s) for s in scores],
            "raw_scores": [float(s) for s in raw],
        })
    return {"model": "models/reranker", "cases": cases}


def splade_goldens():
    if not (heads.SPLADE / "model.safetensors").exists():
        sys.exit(f"{heads.SPLADE} missing (run `make models`)")
    tok = AutoTokenizer.from_pretrained(str(heads.SPLADE))
    model, info = AutoModelForMaskedLM.from_pretrained(str(heads.SPLADE), output_loading_info=True)
    assert not info["missing_keys"], info
    model.eval()
    cases = []
    for text in SPLADE_TEXTS:
        batch = tok(text, return_tensors="pt")
        with torch.no_grad():
            logits = model(**batch).logits  # [1, T, V]
        weights = torch.log1p(torch.relu(logits)) * batch["attention_mask"].unsqueeze(-1)
        vector = torch.max(weights, dim=1).values[0]
        nonzero = torch.nonzero(vector).flatten().tolist()
        cases.append({
            "text": text,
            "tokens": int(batch["input_ids"].shape[1]),
            "indices": nonzero,
            "values": [float(vector[i]) for i in nonzero],
        })
    # The same vectors through sentence-transformers' SpladePooling (MLMTransformer + max pooling).
    try:
        from sentence_transformers import SparseEncoder
        from sentence_transformers.sparse_encoder.models import MLMTransformer, SpladePooling
        mlm = MLMTransformer(str(heads.SPLADE))
        st = SparseEncoder(modules=[mlm, SpladePooling(pooling_strategy="max")], device="cpu")
        st_vectors = st.encode(SPLADE_TEXTS, convert_to_tensor=True).to_dense()
        for case, st_vector in zip(cases, st_vectors):
            dense = torch.zeros_like(st_vector)
            dense[case["indices"]] = torch.tensor(case["values"])
            diff = float((dense - st_vector).abs().max())
            assert diff < 1e-5, (case["text"], diff)
        print(f"sentence-transformers {sentence_transformers.__version__} SpladePooling agrees (max abs < 1e-5)")
    except ImportError as error:
        print(f"sentence-transformers SparseEncoder unavailable ({error}); skipped the cross-check")
    return {"model": "splade-tiny-mlm (BERTBLAS_CACHE/models)", "cases": cases}


def dump(name, obj):
    path = OUT / name
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def main():
    assert transformers.__version__.startswith("4.57"), transformers.__version__
    MODELS.mkdir(parents=True, exist_ok=True)
    dump("rerank.json", reranker_goldens(heads.build_vocab()))
    dump("splade_sparse.json", splade_goldens())


if __name__ == "__main__":
    main()
