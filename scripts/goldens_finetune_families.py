#!/usr/bin/env python3
"""Goldens for fine-tuning the BERT families (issue 13): gradients from PyTorch autograd.

Writes into Tests/Goldens/finetune/families/, for tiny random checkpoints of each family with a
sequence-classification head and with a token-classification head (hidden 20, 4 heads of 5,
intermediate 36, 2 layers, vocab 50, as scripts/goldens_finetune.py; seeded; dropout 0; eager
attention), on the same batch as the BERT goldens (4 sequences of lengths 9/5/12/3):
  <family>-<head>/config.json, model.safetensors   the checkpoint (save_pretrained)
  <family>-<head>/gradients.safetensors            every parameter's gradient for the batch,
                                                   under its checkpoint name (parameters without
                                                   a gradient, i.e. a sinusoidal position table,
                                                   are left out)
  <family>-<head>/expected.json                    the batch (unpadded ids, type ids, labels),
                                                   the loss, the logits

    distilbert             DistilBertFor…: no token types; cls = first token → pre_classifier →
                           ReLU → classifier
    distilbert-sinusoidal  the same with sinusoidal_pos_embds (a fixed table, no gradient); cls only
    roberta                RobertaFor… (layer_norm_eps 1e-5, pad 1): positions from
                           padding_idx + 1; one sequence holds a padding id (position padding_idx,
                           and nn.Embedding's padding_idx rows get no gradient); cls = first token
                           → classifier.dense → tanh → classifier.out_proj
    electra                ElectraFor… with embedding_size 13 ≠ hidden 20 (embeddings_project);
                           cls = first token → classifier.dense → GELU → classifier.out_proj

Masked LM (a separate section, `mlm`): <family>-mlm/ for DistilBertForMaskedLM, RobertaForMaskedLM
and ElectraForMaskedLM (tied decoders, as the families save them), on the BERT mlm golden's masked
batch (goldens_finetune.mask_batch: about a third of the positions predicted, sequence 3 none);
the loss is the mean cross-entropy over the predicted positions, as each class's:
    distilbert-mlm   vocab_transform → activation from config (here "relu", so a head that ignored
                     the config would fail) → vocab_layer_norm (eps 1e-12) → vocab_projector
                     (tied to the word embeddings, bias vocab_projector.bias)
    roberta-mlm      hidden_act "relu" in the encoder, while RobertaLMHead's activation is GELU
                     whatever the config says; lm_head.dense → gelu → lm_head.layer_norm →
                     lm_head.decoder (tied) + lm_head.bias; a padding id inside a sequence
    electra-mlm      the generator head: generator_predictions.dense (H 20 → E 13) → GELU →
                     generator_predictions.LayerNorm (over E) → generator_lm_head (E → V, tied
                     to the E-wide word embeddings)
expected.json holds the masked ids, type ids, labels, the loss, the masked positions' logits and
the gradient count; the word embeddings' gradient includes the tied decoder's. Each also gets
adamw.safetensors: the parameters after 3 steps of HF Trainer's recipe on that batch (as
goldens_finetune.adamw_steps: Trainer's decay groups, which leave out the family's LayerNorm
modules and biases by module type and name; linear warm-up/decay; clip_grad_norm_), with the
settings and per-step trace in expected.json ("adamw").

`type_ids` in expected.json is the BERT batch's (two pairs); families that read no type ids
(DistilBERT, RoBERTa) get none from torch, and BertBLAS must ignore them as inference does.
Heads: cls = single_label_classification with 3 labels (cross-entropy); ner = 5 labels per
token, -100 on the first and last token and three others; qa = …ForQuestionAnswering with the
BERT qa golden's start/end positions (one the null answer at the first token), the loss the mean
over the sequences of the model's loss on each sequence run unpadded (as goldens_finetune.write_qa).

Run (reference venv: torch, transformers 4.57.1):
    .venv-goldens/bin/python scripts/goldens_finetune_families.py [SECTION ...]
    (sections: heads — the sequence, token and QA heads —, mlm; default: both)
Deterministic: fixed seeds, one thread, no network.
"""
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import goldens_finetune as base  # noqa: E402  (sets threads, determinism, the version check)

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import Trainer  # noqa: E402
from transformers.optimization import get_linear_schedule_with_warmup  # noqa: E402
from transformers import (  # noqa: E402
    DistilBertConfig, DistilBertForMaskedLM, DistilBertForQuestionAnswering, DistilBertForSequenceClassification, DistilBertForTokenClassification,
    ElectraConfig, ElectraForMaskedLM, ElectraForQuestionAnswering, ElectraForSequenceClassification, ElectraForTokenClassification,
    RobertaConfig, RobertaForMaskedLM, RobertaForQuestionAnswering, RobertaForSequenceClassification, RobertaForTokenClassification,
)

OUT = base.OUT / "families"
SIZES = dict(hidden=20, layers=2, heads=4, inter=36)


def distilbert(sinusoidal=False, activation="gelu", **kw):
    return DistilBertConfig(vocab_size=base.VOCAB, dim=SIZES["hidden"], n_layers=SIZES["layers"], n_heads=SIZES["heads"],
                            hidden_dim=SIZES["inter"], max_position_embeddings=24, activation=activation, dropout=0.0,
                            attention_dropout=0.0, seq_classif_dropout=0.0, qa_dropout=0.0, initializer_range=0.3, pad_token_id=0,
                            sinusoidal_pos_embds=sinusoidal, **kw)


def roberta(hidden_act="gelu", **kw):
    # Positions 2 … 2 + 12 must fit: max_position_embeddings 26.
    return RobertaConfig(vocab_size=base.VOCAB, hidden_size=SIZES["hidden"], num_hidden_layers=SIZES["layers"],
                         num_attention_heads=SIZES["heads"], intermediate_size=SIZES["inter"], hidden_act=hidden_act,
                         hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=26,
                         type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                         initializer_range=0.3, **kw)


def electra(**kw):
    return ElectraConfig(vocab_size=base.VOCAB, embedding_size=13, hidden_size=SIZES["hidden"],
                         num_hidden_layers=SIZES["layers"], num_attention_heads=SIZES["heads"],
                         intermediate_size=SIZES["inter"], hidden_act="gelu", hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0, max_position_embeddings=24, type_vocab_size=2,
                         layer_norm_eps=1e-12, pad_token_id=0, initializer_range=0.3, **kw)


FAMILIES = {
    "distilbert": (distilbert, DistilBertForSequenceClassification, DistilBertForTokenClassification, False),
    "distilbert-sinusoidal": (lambda **kw: distilbert(sinusoidal=True, **kw), DistilBertForSequenceClassification, None, False),
    "roberta": (roberta, RobertaForSequenceClassification, RobertaForTokenClassification, False),
    "electra": (electra, ElectraForSequenceClassification, ElectraForTokenClassification, True),
}


def make_model(make_config, model_class, num_labels):
    config = make_config(num_labels=num_labels)
    config._attn_implementation = "eager"
    torch.manual_seed(13)
    model = model_class(config)
    # Away from the default init (LayerNorm 1/0, biases 0), as goldens_finetune.make_model.
    g = torch.Generator().manual_seed(1313)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    model.train()  # dropout probabilities are 0: train mode is deterministic
    return model


def write_case(family, head):
    make_config, cls_class, ner_class, reads_types = FAMILIES[family]
    tokens = head == "ner"
    num_labels = 5 if tokens else 3
    name = f"{family}-{head}"
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    model = make_model(make_config, ner_class if tokens else cls_class, num_labels)
    model.save_pretrained(folder, safe_serialization=True)
    ids, types, mask, labels = base.make_batch(num_labels, "token_classification" if tokens else "single_label_classification")
    pad = model.config.pad_token_id
    ids[mask == 0] = pad
    if family == "roberta":
        ids[3, 1] = pad  # a padding id inside a sequence: position padding_idx, no embedding gradient
    inputs = dict(input_ids=ids, attention_mask=mask, labels=labels)
    if reads_types:
        inputs["token_type_ids"] = types
    out = model(**inputs)
    out.loss.backward()
    grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters() if p.grad is not None}
    frozen = sorted(n for n, p in model.named_parameters() if p.grad is None)
    save_file(grads, str(folder / "gradients.safetensors"))
    expected = {
        "family": family,
        "head": head,
        "ids": base.unpadded(ids, base.LENGTHS),
        "type_ids": base.unpadded(types, base.LENGTHS),
        "labels": base.unpadded(labels, base.LENGTHS) if tokens else labels.tolist(),
        "loss": out.loss.item(),
        "logits": [out.logits[b, :n].detach().tolist() for b, n in enumerate(base.LENGTHS)] if tokens
                  else out.logits.detach().tolist(),
        "gradients": len(grads),
        "frozen": frozen,
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{name}: loss {out.loss.item():.6f}, {len(grads)} gradients, frozen {frozen}")


QA_CLASSES = {"distilbert": DistilBertForQuestionAnswering, "roberta": RobertaForQuestionAnswering,
              "electra": ElectraForQuestionAnswering}


def write_qa(family):
    make_config, _, _, reads_types = FAMILIES[family]
    name = f"{family}-qa"
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    model = make_model(make_config, QA_CLASSES[family], 2)
    model.save_pretrained(folder, safe_serialization=True)
    ids, types, mask, _ = base.make_batch(2, "single_label_classification")
    pad = model.config.pad_token_id
    ids[mask == 0] = pad
    if family == "roberta":
        ids[3, 1] = pad
    losses, starts, ends = [], [], []
    for b, n in enumerate(base.LENGTHS):
        start, end = base.QA_POSITIONS[b]
        inputs = dict(input_ids=ids[b:b + 1, :n], start_positions=torch.tensor([start]), end_positions=torch.tensor([end]))
        if reads_types:
            inputs["token_type_ids"] = types[b:b + 1, :n]
        out = model(**inputs)
        losses.append(out.loss)
        starts.append(out.start_logits[0].detach().tolist())
        ends.append(out.end_logits[0].detach().tolist())
    loss = torch.stack(losses).mean()
    loss.backward()
    grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters() if p.grad is not None}
    save_file(grads, str(folder / "gradients.safetensors"))
    expected = {
        "family": family,
        "ids": base.unpadded(ids, base.LENGTHS),
        "type_ids": base.unpadded(types, base.LENGTHS),
        "start_positions": [p[0] for p in base.QA_POSITIONS],
        "end_positions": [p[1] for p in base.QA_POSITIONS],
        "loss": loss.item(),
        "start_logits": starts,
        "end_logits": ends,
        "gradients": len(grads),
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{name}: loss {loss.item():.6f}, {len(grads)} gradients")


# Per family: the config (with what the masked-LM golden changes), the class, whether it reads
# type ids, and the tensor its tied decoder must be.
MLM_CASES = {
    "distilbert": (lambda **kw: distilbert(activation="relu", **kw), DistilBertForMaskedLM, False,
                   lambda m: (m.vocab_projector.weight, m.distilbert.embeddings.word_embeddings.weight)),
    "roberta": (lambda **kw: roberta(hidden_act="relu", **kw), RobertaForMaskedLM, False,
                lambda m: (m.lm_head.decoder.weight, m.roberta.embeddings.word_embeddings.weight)),
    "electra": (electra, ElectraForMaskedLM, True,
                lambda m: (m.generator_lm_head.weight, m.electra.embeddings.word_embeddings.weight)),
}


def write_mlm(family):
    """One masked batch (goldens_finetune.mask_batch) through the family's …ForMaskedLM."""
    make_config, model_class, reads_types, tied = MLM_CASES[family]
    name = f"{family}-mlm"
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    model = make_model(make_config, model_class, 2)
    decoder, word = tied(model)
    assert decoder is word, f"{name}: the decoder is not tied to the word embeddings"
    if family == "roberta":
        # RobertaLMHead shares one bias between lm_head.bias and lm_head.decoder.bias.
        assert model.lm_head.decoder.bias is model.lm_head.bias
    model.save_pretrained(folder, safe_serialization=True)
    ids, types, mask, _ = base.make_batch(2, "single_label_classification")
    inputs, labels = base.mask_batch(ids)
    pad = model.config.pad_token_id
    inputs[mask == 0] = pad
    if family == "roberta":
        inputs[3, 1] = pad  # sequence 3 predicts nothing; the padding id's word row gets only the decoder's gradient
    feed = dict(input_ids=inputs, attention_mask=mask, labels=labels)
    if reads_types:
        feed["token_type_ids"] = types
    out = model(**feed)
    out.loss.backward()
    grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters() if p.grad is not None}
    frozen = sorted(n for n, p in model.named_parameters() if p.grad is None)
    save_file(grads, str(folder / "gradients.safetensors"))
    selected = labels != -100
    loss = torch.nn.functional.cross_entropy(out.logits[selected], labels[selected]).item()
    assert abs(loss - out.loss.item()) <= 1e-6 * abs(loss), (loss, out.loss.item())
    expected = {
        "family": family,
        "head": "mlm",
        "ids": base.unpadded(inputs, base.LENGTHS),
        "type_ids": base.unpadded(types, base.LENGTHS),
        "labels": base.unpadded(labels, base.LENGTHS),
        "loss": out.loss.item(),
        "masked_tokens": int(selected.sum().item()),
        "masked_logits": out.logits[selected].detach().tolist(),
        "gradients": len(grads),
        "frozen": frozen,
    }
    expected["adamw"] = adamw_mlm(family, feed, folder)
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{name}: loss {out.loss.item():.6f}, {expected['masked_tokens']} masked, {len(grads)} gradients, frozen {frozen}")


def adamw_mlm(family, feed, folder):
    """HF Trainer's optimizer recipe (base.ADAMW), 3 steps of a fresh copy of the family's
    masked LM on `feed`; writes adamw.safetensors and returns the settings and trace."""
    make_config, model_class, _, _ = MLM_CASES[family]
    model = make_model(make_config, model_class, 2)
    a = base.ADAMW
    decay = set(Trainer.get_decay_parameter_names(None, model))
    named = list(model.named_parameters())  # the tied decoder appears once, as the word embeddings
    groups = [
        {"params": [p for n, p in named if n in decay], "weight_decay": a["weight_decay"]},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=a["learning_rate"], betas=a["betas"], eps=a["eps"])
    scheduler = get_linear_schedule_with_warmup(optimizer, a["warmup_steps"], a["total_steps"])
    trace = []
    for _ in range(a["steps"]):
        optimizer.zero_grad()
        loss = model(**feed).loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), a["max_grad_norm"])
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        trace.append({"loss": loss.item(), "grad_norm": norm.item(), "learning_rate": lr})
    assert any(t["grad_norm"] > a["max_grad_norm"] for t in trace), trace
    save_file({n: p.detach().clone().contiguous() for n, p in named}, str(folder / "adamw.safetensors"))
    return {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in a.items()},
            "no_decay": sorted(n for n, _ in named if n not in decay), "trace": trace}


def write_heads():
    for family, (_, _, ner_class, _) in FAMILIES.items():
        write_case(family, "cls")
        if ner_class is not None:
            write_case(family, "ner")
        if family in QA_CLASSES:
            write_qa(family)


SECTIONS = {"heads": write_heads, "mlm": lambda: [write_mlm(f) for f in MLM_CASES]}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for section in sys.argv[1:] or SECTIONS:
        SECTIONS[section]()


if __name__ == "__main__":
    main()
