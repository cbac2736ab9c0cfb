#!/usr/bin/env python3
"""Goldens for the task heads (issue 4), made with HuggingFace transformers 4.57 pipelines.

Writes into Tests/Goldens/heads/:
  models/<name>/     tiny random checkpoints (hidden 32, 2 layers, seeded) with a small WordPiece
                     vocab (tokenizer.json + vocab.txt): classifiers, token classifiers, QA, MLM, NSP.
  classify.json      text-classification pipeline, all scores (top_k=None), single texts and pairs.
  ner.json           token-classification pipeline, every aggregation strategy.
  qa.json            question-answering pipeline: windows, top_k, max_answer_len, impossible answers.
  fill_mask.json     fill-mask pipeline: top_k, targets, several masks.
  nsp.json           BertForNextSentencePrediction softmax(IsNext, NotNext).
  splade_fill_mask.json  fill-mask pipeline on the real SPLADE-tiny MLM checkpoint (.cache/models).

Run: PYTHON=.venv-goldens/bin/python; HF_HUB_OFFLINE=1 $PYTHON scripts/goldens_heads.py
Deterministic: fixed seeds, no network.
"""
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
import transformers
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForNextSentencePrediction,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertTokenizerFast,
    pipeline,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Goldens" / "heads"
MODELS = OUT / "models"
CACHE = Path(os.environ.get("BERTBLAS_CACHE", ROOT / ".cache"))
MINILM_VOCAB = CACHE / "models" / "all-MiniLM-L6-v2" / "vocab.txt"
SPLADE = CACHE / "models" / "splade-tiny-mlm"

assert transformers.__version__.startswith("4.57"), transformers.__version__
torch.set_num_threads(1)

# Words the test texts use, so that some are whole tokens and others split into pieces.
EXTRA_WORDS = """
paris london berlin tokyo john smith mary anna google microsoft apple university city river
company president capital france germany japan china england europe america museum bank
cafe naive muller zurich sao paulo jose garcia lopez emmanuel macron angela merkel
play playing played player run running walk walked book books read reading write
question answer context window long short first second third born lived work worked
""".split()
EXTRA_PIECES = ["##ing", "##ed", "##s", "##er", "##ly", "##es", "##ment", "##tion", "##al", "##ness"]
CJK_TEXT_CHARS = "東京大学北京中国日本人我是的在有一了不這个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感"


def build_vocab():
    """A ~2,000-token WordPiece vocab cut from bert-base-uncased (MiniLM's vocab.txt).

    Special tokens get ids 0-4 (not BERT's 0/100-103) so that nothing can hard-code them.
    """
    full = [l.rstrip("\n") for l in open(MINILM_VOCAB, encoding="utf-8")]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    seen = set(vocab)

    def add(tok):
        if tok in seen or tok.startswith("[unused"):
            return
        seen.add(tok)
        vocab.append(tok)

    fullset = set(full)
    singles = [t for t in full if len(t) == 1]
    for t in singles:
        if not (0x4E00 <= ord(t) <= 0x9FFF):
            add(t)
    for t in CJK_TEXT_CHARS:
        if t in fullset:
            add(t)
    for t in full:
        if t.startswith("##") and len(t) == 3 and ord(t[2]) < 0x250:
            add(t)
    words = [t for t in full[1996:] if not t.startswith("##") and len(t) > 1]
    for t in words[:700]:
        add(t)
    for t in EXTRA_WORDS:
        if t in fullset:
            add(t)
    for t in EXTRA_PIECES:
        if t in fullset:
            add(t)
    subs = [t for t in full[1996:] if t.startswith("##") and len(t) > 3]
    for t in subs[:150]:
        add(t)
    return vocab


def make_tokenizer(folder: Path, vocab):
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True, model_max_length=MAX_POS)
    tok.save_pretrained(str(folder))
    return tok


HIDDEN = 32
MAX_POS = 128


def tiny_config(vocab, seed_range=0.3, **kw):
    return BertConfig(
        vocab_size=len(vocab),
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=MAX_POS,
        type_vocab_size=2,
        hidden_act="gelu",
        # Large init so that random heads give varied outputs (0.02 gives near-uniform scores).
        initializer_range=seed_range,
        pad_token_id=0,
        **kw,
    )


def save_model(model, tok, name, vocab):
    folder = MODELS / name
    if folder.exists():
        shutil.rmtree(folder)
    make_tokenizer(folder, vocab)
    model.save_pretrained(str(folder), safe_serialization=True)
    # Keep the folder minimal: config, weights, tokenizer.json, vocab.txt, tokenizer_config.json.
    for extra in ["special_tokens_map.json", "generation_config.json"]:
        p = folder / extra
        if p.exists():
            p.unlink()
    return folder


def f(x):
    return float(x)


# --------------------------------------------------------------------------------------------
# Texts

TEXTS = [
    "John Smith works at Microsoft in Paris.",
    "Angela Merkel met Emmanuel Macron in Berlin, Germany.",
    "The café in Zürich serves naïve Müller a coffee.",
    "São Paulo and José García: unaffable, unbelievable!",
    "東京大学 is a university in Tokyo, 日本.",
    "I was reading books while playing with Mary and Anna at the museum.",
    "Google, Apple & Microsoft — companies in America; the Thames river.",
    "a",
    "hello world",
    "The president of France lived in the capital city for the first time in 2019.",
    "Der Schneemann ☃ steht in 首都 Tokyo, SNOWMAN☃ Ωmega!",
]

PAIRS = [
    ("The company was born in London.", "It is a bank in England."),
    ("Who is John?", "John Smith works at Microsoft in Paris."),
    ("東京は日本の首都です。", "Tokyo is the capital of Japan."),
    ("naïve café", "Müller"),
]

QA_CONTEXT_LONG = (
    "The University of Paris was founded in the twelfth century. Many students came from "
    "France, Germany and England to read books in the city. In 1257 the college was "
    "named after Robert, the first master of the school. The river Seine runs through the "
    "city, and the museum stands on its bank. John Smith, a student from London, walked "
    "there every day. Later the city became the capital of France and the home of the "
    "president. 東京大学 was founded much later, in Tokyo, Japan. Mary and Anna worked at "
    "the university for a long time, reading and writing about naïve café culture in Zürich."
)

QA_CASES = [
    # (name, question, context, kwargs)
    ("default_short", "Who walked there?", "John Smith, a student from London, walked there every day.", {}),
    ("default_long", "Where does the river run?", QA_CONTEXT_LONG, {}),
    ("windows_top3", "Who was the first master?", QA_CONTEXT_LONG,
     {"max_seq_len": 48, "doc_stride": 16, "top_k": 3}),
    ("windows_top5_len5", "When was the school named?", QA_CONTEXT_LONG,
     {"max_seq_len": 40, "doc_stride": 12, "top_k": 5, "max_answer_len": 5}),
    ("impossible", "What is the capital of Japan?", QA_CONTEXT_LONG,
     {"max_seq_len": 64, "doc_stride": 24, "top_k": 4, "handle_impossible_answer": True}),
    ("impossible_short", "Who?", "Mary and Anna worked at the university in Zürich, and John Smith walked to the museum.",
     {"handle_impossible_answer": True, "top_k": 25}),
    ("impossible_windows", "Where is the bank?", QA_CONTEXT_LONG,
     {"max_seq_len": 48, "doc_stride": 16, "top_k": 20, "handle_impossible_answer": True}),
    ("cjk", "東京大学 は どこ ですか?", "東京大学 was founded in Tokyo, 日本. It is a university for students.",
     {"top_k": 3}),
    ("accents_len3", "Who met Macron?", "Angela Merkel met Emmanuel Macron in Berlin, Germany, at the café of São Paulo.",
     {"top_k": 3, "max_answer_len": 3}),
    ("stride_big_topk", "What did they read?", QA_CONTEXT_LONG,
     {"max_seq_len": 56, "doc_stride": 20, "top_k": 8}),
]

FILL_MASK_CASES = [
    # (name, text, kwargs)
    ("one_mask", "Paris is the [MASK] of France.", {}),
    ("one_mask_top10", "John Smith works at [MASK] in London.", {"top_k": 10}),
    ("start_mask", "[MASK] was reading books.", {"top_k": 3}),
    ("cjk_mask", "東京 is the capital of [MASK].", {}),
    ("accent_mask", "The café in Zürich is [MASK].", {"top_k": 4}),
    ("two_masks", "The [MASK] of France is [MASK].", {"top_k": 3}),
    ("three_masks", "[MASK] works at [MASK] in [MASK].", {"top_k": 2}),
    ("targets", "Paris is the [MASK] of France.", {"targets": ["capital", "city", "river", "bank"]}),
    ("targets_cap", "Paris is the [MASK] of France.", {"targets": ["capital", "city"], "top_k": 5}),
    ("targets_not_in_vocab", "I like [MASK] music.", {"targets": ["Playing", "zzzq", "the"], "top_k": 3}),
    ("targets_two_masks", "The [MASK] of [MASK] is big.", {"targets": ["city", "france", "germany"], "top_k": 2}),
]

NSP_PAIRS = PAIRS + [
    ("I was reading a book.", "The book was long."),
    ("Mary lives in Paris.", "東京大学 is in Tokyo."),
    ("hello", "world"),
]

SPLADE_SENTENCES = [
    "The capital of France is [MASK].",
    "Paris is the [MASK] of France.",
    "The man worked as a [MASK].",
    "The woman worked as a [MASK].",
    "I went to the [MASK] to buy some milk.",
    "She plays the [MASK] in an orchestra.",
    "The quick brown fox jumps over the lazy [MASK].",
    "He drank a cup of [MASK] every morning.",
    "The [MASK] is shining and the sky is blue.",
    "Water boils at one hundred degrees [MASK].",
    "The patient was taken to the [MASK] by ambulance.",
    "My favorite fruit is the [MASK].",
    "The stock market [MASK] sharply today.",
    "Shakespeare wrote many famous [MASK].",
    "The cat sat on the [MASK].",
    "The movie was so [MASK] that we left early.",
    "Einstein developed the theory of [MASK].",
    "You need a [MASK] to open this door.",
    "The football team won the [MASK] last night.",
    "Do not forget to bring your [MASK] when it rains.",
    "Rome is the capital of [MASK], and Madrid is the capital of Spain.",
    "The [MASK] barked at the mailman.",
]


# --------------------------------------------------------------------------------------------


def encode_info(tok, text, pair=None):
    enc = tok(text, pair) if pair is not None else tok(text)
    return enc["input_ids"]


def classify_goldens(vocab):
    label_sets = {
        "cls-binary": (["NEGATIVE", "POSITIVE"], None),
        "cls-stars": (["1 star", "2 stars", "3 stars", "4 stars", "5 stars"], None),
        "cls-nli": (["entailment", "neutral", "contradiction"], "single_label_classification"),
        "cls-multilabel": (["toxic", "sports", "politics", "tech"], "multi_label_classification"),
    }
    out = {"models": {}}
    for i, (name, (labels, problem_type)) in enumerate(label_sets.items()):
        torch.manual_seed(100 + i)
        cfg = tiny_config(vocab, id2label={j: l for j, l in enumerate(labels)},
                          label2id={l: j for j, l in enumerate(labels)})
        if problem_type:
            cfg.problem_type = problem_type
        model = BertForSequenceClassification(cfg).eval()
        folder = save_model(model, None, name, vocab)
        tok = BertTokenizerFast.from_pretrained(str(folder))
        model = BertForSequenceClassification.from_pretrained(str(folder)).eval()
        pipe = pipeline("text-classification", model=model, tokenizer=tok, device="cpu")
        cases = []
        for text in TEXTS:
            res = pipe(text, top_k=None)
            with torch.no_grad():
                logits = model(**tok(text, return_tensors="pt")).logits[0].tolist()
            cases.append({"text": text, "input_ids": encode_info(tok, text), "logits": logits,
                          "results": [{"label": r["label"], "score": f(r["score"])} for r in res]})
        for a, b in PAIRS:
            res = pipe({"text": a, "text_pair": b}, top_k=None)
            with torch.no_grad():
                logits = model(**tok(a, b, return_tensors="pt")).logits[0].tolist()
            cases.append({"text": a, "pair": b, "input_ids": encode_info(tok, a, b), "logits": logits,
                          "results": [{"label": r["label"], "score": f(r["score"])} for r in res]})
        out["models"][name] = {"labels": labels, "problem_type": problem_type, "cases": cases}
    return out


def ner_goldens(vocab):
    label_sets = {
        "ner-bio": ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"],
        "ner-plain": ["O", "PER", "LOC", "DATE"],
    }
    out = {"models": {}}
    for i, (name, labels) in enumerate(label_sets.items()):
        torch.manual_seed(200 + i)
        cfg = tiny_config(vocab, id2label={j: l for j, l in enumerate(labels)},
                          label2id={l: j for j, l in enumerate(labels)})
        model = BertForTokenClassification(cfg).eval()
        # Bias "O" and "B-" down a little so that several multi-token entity groups appear.
        with torch.no_grad():
            for j, label in enumerate(labels):
                if label == "O":
                    model.classifier.bias[j] -= 0.5
                elif label.startswith("B-"):
                    model.classifier.bias[j] -= 0.4
                elif label.startswith("I-"):
                    model.classifier.bias[j] += 0.4
        folder = save_model(model, None, name, vocab)
        tok = BertTokenizerFast.from_pretrained(str(folder))
        model = BertForTokenClassification.from_pretrained(str(folder)).eval()
        cases = []
        for text in TEXTS:
            enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
            with torch.no_grad():
                logits = model(**tok(text, return_tensors="pt")).logits[0]
            # The encoding and logits let the decoding be tested without the tokenizer or encoder.
            case = {"text": text, "input_ids": enc["input_ids"],
                    "tokens": tok.convert_ids_to_tokens(enc["input_ids"]),
                    "offsets": [list(o) for o in enc["offset_mapping"]],
                    "special_tokens_mask": enc["special_tokens_mask"],
                    "logits": [[round(float(x), 6) for x in row] for row in logits.tolist()],
                    "results": {}}
            for strategy in ["none", "simple", "first", "average", "max"]:
                pipe = pipeline("token-classification", model=model, tokenizer=tok,
                                aggregation_strategy=strategy, device="cpu")
                res = pipe(text)
                rows = []
                for r in res:
                    row = {k: (f(v) if k == "score" else (int(v) if k in ("index", "start", "end") else v))
                           for k, v in r.items()}
                    rows.append(row)
                case["results"][strategy] = rows
            # ignore_labels=[] keeps "O" too (simple).
            pipe = pipeline("token-classification", model=model, tokenizer=tok,
                            aggregation_strategy="simple", ignore_labels=[], device="cpu")
            case["results"]["simple_keep_all"] = [
                {k: (f(v) if k == "score" else (int(v) if k in ("start", "end") else v)) for k, v in r.items()}
                for r in pipe(text)]
            cases.append(case)
        groups = sum(len(c["results"]["simple"]) for c in cases)
        print(f"{name}: {groups} simple entity groups over {len(cases)} texts")
        out["models"][name] = {"labels": labels, "cases": cases}
    return out


def qa_goldens(vocab):
    torch.manual_seed(300)
    cfg = tiny_config(vocab)
    model = BertForQuestionAnswering(cfg).eval()
    folder = save_model(model, None, "qa", vocab)
    tok = BertTokenizerFast.from_pretrained(str(folder))
    # Random heads almost never prefer [CLS], so the null answer would never show. Push the QA
    # weights towards the direction that separates [CLS] hidden states from the others.
    cls_rows, other_rows = [], []
    for _, q, c, _ in QA_CASES:
        with torch.no_grad():
            h = model.bert(**tok(q, c, return_tensors="pt", truncation="only_second",
                                 max_length=MAX_POS)).last_hidden_state[0]
        cls_rows.append(h[0])
        other_rows.append(h[1:].mean(0))
    direction = torch.stack(cls_rows).mean(0) - torch.stack(other_rows).mean(0)
    with torch.no_grad():
        model.qa_outputs.weight += 2.0 * direction / direction.norm() ** 2
    model.save_pretrained(str(folder), safe_serialization=True)
    model = BertForQuestionAnswering.from_pretrained(str(folder)).eval()
    pipe = pipeline("question-answering", model=model, tokenizer=tok, device="cpu")
    cases = []
    for name, q, c, kw in QA_CASES:
        res = pipe(question=q, context=c, **kw)
        if isinstance(res, dict):
            res = [res]
        max_seq_len = kw.get("max_seq_len", min(tok.model_max_length, 384))
        stride = kw.get("doc_stride", min(max_seq_len // 2, 128))
        enc = tok(q, c, truncation="only_second", max_length=max_seq_len, stride=stride,
                  return_overflowing_tokens=True, return_offsets_mapping=True)
        windows = []
        for w in range(len(enc["input_ids"])):
            ids = enc["input_ids"][w]
            with torch.no_grad():
                out = model(input_ids=torch.tensor([ids]),
                            token_type_ids=torch.tensor([enc["token_type_ids"][w]]))
            windows.append({"input_ids": ids, "sequence_ids": enc.sequence_ids(w),
                            "word_ids": enc.word_ids(w),
                            "offsets": [list(o) for o in enc["offset_mapping"][w]],
                            "start_logits": [round(float(x), 6) for x in out.start_logits[0].tolist()],
                            "end_logits": [round(float(x), 6) for x in out.end_logits[0].tolist()]})
        cases.append({"name": name, "question": q, "context": c, "params": kw,
                      "windows": len(enc["input_ids"]), "window_details": windows,
                      "answers": [{"answer": r["answer"], "score": f(r["score"]), "start": int(r["start"]),
                                   "end": int(r["end"])} for r in res]})
        print(f"qa {name}: {len(enc['input_ids'])} windows, {[r['answer'] for r in res]}")
    return {"model": "qa", "cases": cases}


def fill_mask_rows(res):
    def row(r):
        return {"score": f(r["score"]), "token": int(r["token"]), "token_str": r["token_str"],
                "sequence": r["sequence"]}
    if res and isinstance(res[0], list):
        return [[row(r) for r in rr] for rr in res]
    return [row(r) for r in res]


def fill_mask_goldens(vocab):
    torch.manual_seed(400)
    cfg = tiny_config(vocab)
    model = BertForMaskedLM(cfg).eval()
    folder = save_model(model, None, "mlm", vocab)
    tok = BertTokenizerFast.from_pretrained(str(folder))
    model = BertForMaskedLM.from_pretrained(str(folder)).eval()
    pipe = pipeline("fill-mask", model=model, tokenizer=tok, device="cpu")
    cases = []
    for name, text, kw in FILL_MASK_CASES:
        res = pipe(text, **kw)
        cases.append({"name": name, "text": text, "params": kw, "input_ids": encode_info(tok, text),
                      "results": fill_mask_rows(res)})
    return {"model": "mlm", "cases": cases}


def nsp_goldens(vocab):
    torch.manual_seed(500)
    cfg = tiny_config(vocab)
    model = BertForNextSentencePrediction(cfg).eval()
    folder = save_model(model, None, "nsp", vocab)
    tok = BertTokenizerFast.from_pretrained(str(folder))
    model = BertForNextSentencePrediction.from_pretrained(str(folder)).eval()
    cases = []
    for a, b in NSP_PAIRS:
        with torch.no_grad():
            logits = model(**tok(a, b, return_tensors="pt")).logits[0]
        p = torch.softmax(logits, dim=-1).tolist()
        cases.append({"a": a, "b": b, "input_ids": encode_info(tok, a, b), "logits": logits.tolist(),
                      "is_next": p[0], "not_next": p[1]})
    return {"model": "nsp", "cases": cases}


def splade_goldens():
    if not (SPLADE / "model.safetensors").exists():
        print(f"skipping SPLADE goldens: {SPLADE} missing (run `make models`)", file=sys.stderr)
        return None
    tok = transformers.AutoTokenizer.from_pretrained(str(SPLADE))
    model, info = BertForMaskedLM.from_pretrained(str(SPLADE), output_loading_info=True)
    assert not info["missing_keys"], info  # gamma/beta must load as weight/bias
    model.eval()
    pipe = pipeline("fill-mask", model=model, tokenizer=tok, device="cpu")
    cases = []
    for text in SPLADE_SENTENCES:
        cases.append({"text": text, "input_ids": encode_info(tok, text),
                      "results": fill_mask_rows(pipe(text, top_k=5))})
    return {"cases": cases}


def dump(name, obj):
    path = OUT / name
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    MODELS.mkdir(parents=True, exist_ok=True)
    vocab = build_vocab()
    print(f"vocab: {len(vocab)} tokens")
    dump("classify.json", classify_goldens(vocab))
    dump("ner.json", ner_goldens(vocab))
    dump("qa.json", qa_goldens(vocab))
    dump("fill_mask.json", fill_mask_goldens(vocab))
    dump("nsp.json", nsp_goldens(vocab))
    splade = splade_goldens()
    if splade is not None:
        dump("splade_fill_mask.json", splade)


if __name__ == "__main__":
    main()
