#!/usr/bin/env python3
"""Goldens for the BERT families (issue 11), made with HuggingFace transformers 4.57.1.

One TABLE row per family: its config class, its task classes, its tokenizer. For every family
and head (sequence classification, token classification, question answering, masked LM) a tiny
random checkpoint (hidden 32, 2 layers, 4 heads, a few hundred tokens of vocabulary) is saved
with save_pretrained into Tests/Goldens/families/models/<family>-<head>/, and
Tests/Goldens/families/<family>.json holds:

  hidden     per sequence-classification checkpoint and bare model (<family>-base: unprefixed
             names, as sentence-transformers saves them): for TEXTS then PAIRS, the unpadded input ids (and token type ids when the family reads
             them) of a padded batch, the base model's last hidden state of the real tokens
             [T, H] per sequence and, when the family has a pooler, the pooler output [B, H];
  logits     per head: the head's raw outputs for those ids (sequence logits [L], token logits
             [T, L], QA start/end [T], MLM logits of the first mask [V]), so the heads can be
             checked from ids alone (a family whose tokenizer is not implemented yet);
  pipelines  text-classification (top_k=None), token-classification (every aggregation
             strategy), question-answering and fill-mask pipeline outputs, as in
             scripts/goldens_heads.py.

Extra rows cover XLM-RoBERTa (model_type xlm-roberta, every head, with XLM-R's Unigram tokenizer
converted from the SentencePiece model that sentencepiece's PyPI sdist ships), DistilBERT with sinusoidal positions (stored, and absent from the checkpoint
so that transformers computes them at load) and a FinBERT-style BERT checkpoint (its own cased
vocab.txt, labels positive/negative/neutral).

Run: .venv-goldens/bin/python scripts/goldens_families.py   (deterministic: fixed seeds, offline)
"""
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import (
    BertConfig, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
    BertForTokenClassification, BertTokenizerFast,
    DistilBertConfig, DistilBertForMaskedLM, DistilBertForQuestionAnswering,
    DistilBertForSequenceClassification, DistilBertForTokenClassification, DistilBertModel, DistilBertTokenizerFast,
    ElectraConfig, ElectraForMaskedLM, ElectraForQuestionAnswering, ElectraForSequenceClassification,
    ElectraForTokenClassification, ElectraModel, ElectraTokenizerFast,
    RobertaConfig, RobertaForMaskedLM, RobertaForQuestionAnswering, RobertaForSequenceClassification,
    RobertaForTokenClassification, RobertaTokenizerFast,
    XLMRobertaConfig, XLMRobertaForMaskedLM, XLMRobertaForQuestionAnswering, XLMRobertaForSequenceClassification,
    XLMRobertaForTokenClassification,
    pipeline,
)

assert transformers.__version__ == "4.57.1", transformers.__version__
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Goldens" / "families"
MODELS = OUT / "models"

HIDDEN, LAYERS, HEADS, INTER, MAX_POS = 32, 2, 4, 64, 64

TEXTS = [
    "John Smith works at Microsoft in Paris.",
    "Angela Merkel met Emmanuel Macron in Berlin, Germany.",
    "The café in Zürich serves a naïve coffee.",
    "I was reading books while playing with Mary at the museum.",
    "a",
    "The president of France lived in the capital city in 2019!",
]
PAIRS = [
    ("The company was born in London.", "It is a bank in England."),
    ("Who is John?", "John Smith works at Microsoft in Paris."),
]
QA_CONTEXT = (
    "The University of Paris was founded in the twelfth century. Many students came from "
    "France, Germany and England to read books in the city. In 1257 the college was named "
    "after Robert, the first master of the school. John Smith, a student from London, walked "
    "there every day. Mary and Anna worked at the university for a long time."
)
QA_CASES = [
    ("default", "Who walked there?", "John Smith, a student from London, walked there every day.", {}),
    ("windows_top3", "Who was the first master?", QA_CONTEXT, {"max_seq_len": 40, "doc_stride": 12, "top_k": 3}),
    ("impossible", "Where is the bank?", QA_CONTEXT,
     {"max_seq_len": 48, "doc_stride": 16, "top_k": 4, "handle_impossible_answer": True}),
]
FILL_MASK_CASES = [
    ("one_mask", "Paris is the {mask} of France.", {}),
    ("top3", "John Smith works at {mask} in London.", {"top_k": 3}),
    ("two_masks", "The {mask} of France is {mask}.", {"top_k": 2}),
    ("targets", "Paris is the {mask} of France.", {"targets": ["capital", "city", "river"]}),
]

WORDS = """the a an of to and in is was it for on with as by at from that this be are not who
where when what john smith works microsoft paris angela merkel met emmanuel macron berlin germany
cafe zurich serves coffee reading books playing mary anna museum president france lived capital
city company born london bank england university founded twelfth century many students came read
college named robert first master school student walked there every day worked long time river
good great bad market price shares profit loss growth rose fell quarter sales investors
""".split()
PIECES = "##s ##ed ##ing ##er ##ly ##es ##al ##ive ##ion ##th ##ve ##ted".split()


def wordpiece_vocab(cased: bool):
    """Specials at 0-4 (not BERT's 0/100-103, so nothing can hard-code them), characters, pieces, words."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(33, 127)] + list("éüïçà")
    if not cased:
        chars = [c for c in chars if not c.isupper()]
    words = WORDS + [w.capitalize() for w in WORDS] if cased else WORDS
    for t in chars + ["##" + c for c in chars if c.isalnum()] + PIECES + words:
        if t not in vocab:
            vocab.append(t)
    return vocab


def wordpiece_tokenizer(cls, folder: Path, cased=False):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in wordpiece_vocab(cased)), encoding="utf-8")
    tok = cls(vocab_file=str(folder / "vocab.txt"), do_lower_case=not cased, model_max_length=MAX_POS)
    tok.save_pretrained(str(folder))
    return tok


def bpe_tokenizer(folder: Path):
    """A byte-level BPE trained on the test texts, wrapped as RobertaTokenizerFast (<pad> = 1)."""
    from tokenizers import ByteLevelBPETokenizer
    folder.mkdir(parents=True, exist_ok=True)
    corpus = TEXTS + [a + " " + b for a, b in PAIRS] + [QA_CONTEXT, " ".join(WORDS)] + [q for _, q, _, _ in QA_CASES]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus * 3, vocab_size=420, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    bpe.save_model(str(folder))
    tok = RobertaTokenizerFast(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"),
                               model_max_length=MAX_POS - 2)
    tok.save_pretrained(str(folder))
    return tok


SPM_SDIST = "sentencepiece==0.2.1"
_spm_model = []


def sentencepiece_test_model() -> Path:
    """A real SentencePiece Unigram model from PyPI: test/test_model.model of the sentencepiece
    0.2.1 sdist (1000 pieces trained by sentencepiece on botchan.txt, nmt_nfkc normalization).
    There is no model hub here, so XLM-R's own 250k-piece model is not reachable; this one goes
    through the same converter (XLMRobertaTokenizerFast) into XLM-R's tokenizer.json."""
    if not _spm_model:
        import subprocess, sys, tarfile, tempfile
        tmp = Path(tempfile.mkdtemp(prefix="spm-sdist-"))
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                        "-d", str(tmp), SPM_SDIST], check=True)
        archive = next(tmp.glob("sentencepiece-*.tar.gz"))
        with tarfile.open(archive) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("/test/test_model.model"))
            (tmp / "test_model.model").write_bytes(tar.extractfile(member).read())
        _spm_model.append(tmp / "test_model.model")
    return _spm_model[0]


def unigram_tokenizer(folder: Path):
    """XLM-R's tokenizer (XLMRobertaTokenizerFast: Precompiled nmt_nfkc normalizer, Metaspace,
    fairseq ids <s>=0 <pad>=1 </s>=2 <unk>=3, <mask> last) over sentencepiece's Unigram test model."""
    from transformers import XLMRobertaTokenizerFast
    folder.mkdir(parents=True, exist_ok=True)
    tok = XLMRobertaTokenizerFast(vocab_file=str(sentencepiece_test_model()), model_max_length=MAX_POS - 2)
    tok.save_pretrained(str(folder))
    (folder / "sentencepiece.bpe.model").unlink()  # tokenizer.json is what BertBLAS and AutoTokenizer read
    return tok


def distilbert_config(vocab, **kw):
    return DistilBertConfig(vocab_size=vocab, dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS, hidden_dim=INTER,
                            max_position_embeddings=MAX_POS, activation="gelu", initializer_range=0.3, **kw)


def bert_config(vocab, **kw):
    return BertConfig(vocab_size=vocab, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                      intermediate_size=INTER, max_position_embeddings=MAX_POS, initializer_range=0.3, **kw)


def roberta_config(vocab, **kw):
    return RobertaConfig(vocab_size=vocab, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                         intermediate_size=INTER, max_position_embeddings=MAX_POS, type_vocab_size=1,
                         layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                         initializer_range=0.3, **kw)


def xlm_roberta_config(vocab, **kw):
    return XLMRobertaConfig(**roberta_config(vocab, **kw).to_dict())


def electra_config(vocab, **kw):
    # embedding_size 16 ≠ hidden 32: the embeddings_project path.
    return ElectraConfig(vocab_size=vocab, embedding_size=16, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                         num_attention_heads=HEADS, intermediate_size=INTER, max_position_embeddings=MAX_POS,
                         initializer_range=0.3, **kw)


NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
STARS = ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]

# The table: family -> config, task classes, tokenizer, labels, seed. `heads` lists what to build.
TABLE = {
    "distilbert": dict(config=distilbert_config, tokenizer=lambda f: wordpiece_tokenizer(DistilBertTokenizerFast, f),
                       cls=DistilBertForSequenceClassification, ner=DistilBertForTokenClassification,
                       qa=DistilBertForQuestionAnswering, mlm=DistilBertForMaskedLM, base=DistilBertModel, seed=1100,
                       labels=STARS, heads=["cls", "ner", "qa", "mlm", "base"]),
    "distilbert-sinusoidal": dict(config=lambda v, **kw: distilbert_config(v, sinusoidal_pos_embds=True, **kw),
                                  tokenizer=lambda f: wordpiece_tokenizer(DistilBertTokenizerFast, f),
                                  cls=DistilBertForSequenceClassification, seed=1200,
                                  labels=["NEGATIVE", "POSITIVE"], heads=["cls"], drop_positions=True),
    "electra": dict(config=electra_config, tokenizer=lambda f: wordpiece_tokenizer(ElectraTokenizerFast, f),
                    cls=ElectraForSequenceClassification, ner=ElectraForTokenClassification,
                    qa=ElectraForQuestionAnswering, mlm=ElectraForMaskedLM, base=ElectraModel, seed=1300,
                    labels=["entailment", "neutral", "contradiction"], heads=["cls", "ner", "qa", "mlm", "base"]),
    "roberta": dict(config=roberta_config, tokenizer=bpe_tokenizer,
                    cls=RobertaForSequenceClassification, ner=RobertaForTokenClassification,
                    qa=RobertaForQuestionAnswering, mlm=RobertaForMaskedLM, seed=1400,
                    labels=["NEGATIVE", "POSITIVE"], heads=["cls", "ner", "qa", "mlm"]),
    # XLM-RoBERTa: RoBERTa's model under its own model_type, with XLM-R's Unigram tokenizer
    # (a real SentencePiece model from PyPI, see sentencepiece_test_model), every head end to end.
    "xlm-roberta": dict(config=xlm_roberta_config, tokenizer=unigram_tokenizer, cls=XLMRobertaForSequenceClassification,
                        ner=XLMRobertaForTokenClassification, qa=XLMRobertaForQuestionAnswering,
                        mlm=XLMRobertaForMaskedLM, seed=1600, labels=["NEGATIVE", "NEUTRAL", "POSITIVE"],
                        heads=["cls", "ner", "qa", "mlm"], share_tokenizer=True),
    # FinBERT-style: a plain BERT checkpoint with its own cased vocab.txt and ProsusAI/finbert's labels.
    "finbert": dict(config=bert_config, tokenizer=lambda f: wordpiece_tokenizer(BertTokenizerFast, f, cased=True),
                    cls=BertForSequenceClassification, seed=1500,
                    labels=["positive", "negative", "neutral"], heads=["cls"]),
}

FINBERT_TEXTS = [
    "Shares rose after the company reported a record profit.",
    "Sales fell in the first quarter and investors worried.",
    "The bank will report its results in London.",
    "Growth was good, but the market price fell.",
]


def r(x):
    return round(float(x), 6)


def save(model, tok_factory, name):
    folder = MODELS / name
    if folder.exists():
        shutil.rmtree(folder)
    tok = tok_factory(folder)
    model.save_pretrained(str(folder), safe_serialization=True)
    for extra in ["special_tokens_map.json", "generation_config.json"]:
        if (folder / extra).exists():
            (folder / extra).unlink()
    return folder, tok


def hidden_golden(model, base_name, tok, reads_types):
    """The base model's last hidden state (and pooler output) for a padded batch."""
    base = getattr(model, base_name, model)  # a bare …Model is its own base
    enc1 = tok(TEXTS, padding=False)
    enc2 = tok([a for a, _ in PAIRS], [b for _, b in PAIRS], padding=False)
    ids = enc1["input_ids"] + enc2["input_ids"]
    pad = tok.pad_token_id
    T = max(len(x) for x in ids)
    kwargs = dict(input_ids=torch.tensor([x + [pad] * (T - len(x)) for x in ids]),
                  attention_mask=torch.tensor([[1] * len(x) + [0] * (T - len(x)) for x in ids]))
    out = {"texts": TEXTS, "input_ids": ids}
    if reads_types:
        types = enc1["token_type_ids"] + enc2["token_type_ids"]
        kwargs["token_type_ids"] = torch.tensor([x + [0] * (T - len(x)) for x in types])
        out["token_type_ids"] = types
    with torch.no_grad():
        res = base(**kwargs)
    out["last_hidden_state"] = [[r(v) for v in res.last_hidden_state[b, :len(x)].reshape(-1).tolist()]
                                for b, x in enumerate(ids)]
    if getattr(res, "pooler_output", None) is not None:
        out["pooler_output"] = [[r(v) for v in row] for row in res.pooler_output.tolist()]
    return out


def logits_golden(model, head, tok):
    cases = []
    texts = [t.format(mask=tok.mask_token) for _, t, _ in FILL_MASK_CASES] if head == "mlm" else TEXTS[:4]
    for text in texts:
        enc = tok(text, return_tensors="pt")
        with torch.no_grad():
            out = model(**enc)
        ids = enc["input_ids"][0].tolist()
        case = {"input_ids": ids}
        if "token_type_ids" in enc:
            case["token_type_ids"] = enc["token_type_ids"][0].tolist()
        if head == "cls":
            case["logits"] = [r(v) for v in out.logits[0]]
        elif head == "ner":
            case["logits"] = [[r(v) for v in row] for row in out.logits[0]]
        elif head == "qa":
            case["start_logits"] = [r(v) for v in out.start_logits[0]]
            case["end_logits"] = [r(v) for v in out.end_logits[0]]
        else:
            p = ids.index(tok.mask_token_id)
            case["mask_position"] = p
            case["logits"] = [r(v) for v in out.logits[0, p]]
        cases.append(case)
    return cases


def pipeline_golden(model, head, tok, texts):
    if head == "cls":
        pipe = pipeline("text-classification", model=model, tokenizer=tok, device="cpu")
        cases = [{"text": t, "results": pipe(t, top_k=None)} for t in texts]
        cases += [{"text": a, "pair": b, "results": pipe({"text": a, "text_pair": b}, top_k=None)} for a, b in PAIRS]
        for c in cases:
            c["results"] = [{"label": x["label"], "score": float(x["score"])} for x in c["results"]]
        return cases
    if head == "ner":
        cases = []
        for text in texts:
            results = {}
            for strategy in ["none", "simple", "first", "average", "max"]:
                pipe = pipeline("token-classification", model=model, tokenizer=tok,
                                aggregation_strategy=strategy, device="cpu")
                results[strategy] = [{k: (float(v) if k == "score" else int(v) if k in ("index", "start", "end") else v)
                                      for k, v in x.items()} for x in pipe(text)]
            cases.append({"text": text, "results": results})
        return cases
    if head == "qa":
        pipe = pipeline("question-answering", model=model, tokenizer=tok, device="cpu")
        cases = []
        for name, question, context, kw in QA_CASES:
            res = pipe(question=question, context=context, **kw)
            res = res if isinstance(res, list) else [res]
            cases.append({"name": name, "question": question, "context": context, "params": kw,
                          "answers": [{"answer": x["answer"], "score": float(x["score"]), "start": int(x["start"]),
                                       "end": int(x["end"])} for x in res]})
        return cases
    pipe = pipeline("fill-mask", model=model, tokenizer=tok, device="cpu")
    cases = []
    for name, text, kw in FILL_MASK_CASES:
        text = text.format(mask=tok.mask_token)
        res = pipe(text, **kw)
        rows = res if res and isinstance(res[0], list) else [res]
        cases.append({"name": name, "text": text, "params": kw,
                      "results": [[{"score": float(x["score"]), "token": int(x["token"]), "token_str": x["token_str"],
                                    "sequence": x["sequence"]} for x in row] for row in rows]})
    return cases


def build_family(family, spec):
    golden = {"family": family, "source": f"transformers {transformers.__version__}", "checkpoints": {}}
    for i, head in enumerate(spec["heads"]):
        name = f"{family}-{head}"
        cls = spec[head]
        probe = spec["tokenizer"](MODELS / "_probe")
        vocab = len(probe)
        shutil.rmtree(MODELS / "_probe")
        kw = {}
        labels = spec["labels"] if head == "cls" else NER_LABELS if head == "ner" else None
        if labels:
            kw = dict(id2label=dict(enumerate(labels)), label2id={l: j for j, l in enumerate(labels)})
        torch.manual_seed(spec["seed"] + i)
        model = cls(spec["config"](vocab, **kw)).eval()
        if head == "ner":
            with torch.no_grad():  # bias toward multi-token entities, as goldens_heads.py does
                for j, label in enumerate(labels):
                    model.classifier.bias[j] += {"O": -0.5, "B": -0.4, "I": 0.4}[label[0]]
        folder, tok = save(model, spec["tokenizer"], name)
        if spec.get("drop_positions"):
            # A checkpoint without the sinusoidal table: transformers computes it at load.
            weights = load_file(str(folder / "model.safetensors"))
            dropped = [k for k in weights if k.endswith("position_embeddings.weight")]
            for k in dropped:
                del weights[k]
            save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
        model, info = cls.from_pretrained(str(folder), output_loading_info=True, attn_implementation="eager")
        model.eval()
        assert spec.get("drop_positions") or not info["missing_keys"], info
        base_name = model.base_model_prefix
        reads_types = "token_type_ids" in tok.model_input_names
        if head == "base":
            # The bare model, as sentence-transformers saves it: unprefixed tensor names.
            assert not any(k.startswith(base_name + ".") for k in load_file(str(folder / "model.safetensors")))
            entry = {"head": head, "class": type(model).__name__, "labels": None,
                     "hidden": hidden_golden(model, base_name, tok, reads_types), "logits": [], "pipelines": []}
        else:
            entry = {"head": head, "class": type(model).__name__, "labels": labels,
                     "hidden": hidden_golden(model, base_name, tok, reads_types) if head == "cls" else None,
                     "logits": logits_golden(model, head, tok),
                     "pipelines": pipeline_golden(model, head, tok, FINBERT_TEXTS if family == "finbert" else TEXTS)}
        golden["checkpoints"][name] = entry
        first = MODELS / f"{family}-{spec['heads'][0]}"
        if spec.get("share_tokenizer") and folder != first:
            # The same 380 kB tokenizer.json (its Precompiled charsmap) once: later heads link to it.
            target = first / "tokenizer.json"
            assert (folder / "tokenizer.json").read_bytes() == target.read_bytes()
            (folder / "tokenizer.json").unlink()
            (folder / "tokenizer.json").symlink_to(Path("..") / first.name / "tokenizer.json")
        print(f"{name}: vocab {vocab}, {type(model).__name__}, missing {info['missing_keys']}")
    path = OUT / f"{family}.json"
    path.write_text(json.dumps(golden, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def main():
    MODELS.mkdir(parents=True, exist_ok=True)
    import sys
    only = sys.argv[1:]
    for family, spec in TABLE.items():
        if not only or family in only:
            build_family(family, spec)


if __name__ == "__main__":
    main()
