#!/usr/bin/env python3
"""Goldens for fine-tuning (issue 13): gradients and AdamW steps from PyTorch autograd.

Writes into Tests/Goldens/finetune/, for tiny random BertForSequenceClassification checkpoints
(hidden 20, 4 heads of 5, intermediate 36, 2 layers, vocab 50: odd sizes so that SIMD tails run;
seeded; dropout 0; eager attention), one per loss:
  <name>/config.json, model.safetensors   the checkpoint (save_pretrained)
  <name>/gradients.safetensors            every parameter's gradient for one batch, under its
                                          checkpoint name
  <name>/expected.json                    the batch (unpadded ids, type ids, labels), the loss,
                                          the logits
    cls-single      3 labels, single_label_classification (cross-entropy)
    cls-multilabel  3 labels, multi_label_classification (BCE with logits)
    regression      1 label, regression (MSE)
    token-cls       5 labels, BertForTokenClassification: a label per token, -100 on [CLS],
                    [SEP] and some other tokens (as on a word's later sub-tokens); cross-entropy
                    over the labelled tokens (no pooler in this model)
  cls-single/adamw.safetensors            the parameters after 3 steps of HF Trainer's recipe on
                                          the same batch: torch.optim.AdamW on Trainer's two
                                          parameter groups (no weight decay on biases and
                                          LayerNorm), linear warm-up/decay schedule,
                                          clip_grad_norm_; the settings and per-step loss,
                                          gradient norm and learning rate in expected.json
                                          ("adamw").

  mlm/                                    a tiny BertForMaskedLM (the same sizes, decoder tied to
                                          the word embeddings): one masked batch's loss (mean
                                          cross-entropy over the positions whose label is not
                                          -100), the masked positions' logits, and every
                                          parameter's gradient (the word embeddings' includes the
                                          tied decoder's)
  qa/                                     a tiny BertForQuestionAnswering (qa_outputs [2, H]): start
                                          and end positions per sequence (one at [CLS], the null
                                          answer); the batch loss is the mean over the sequences of
                                          BertForQuestionAnswering's loss, (CE(start) + CE(end)) / 2,
                                          each sequence run unpadded (a packed batch has no padding
                                          positions; HF's padded batch would let the padding
                                          positions' logits into the softmax); every token's start
                                          and end logits and every gradient
  nsp/                                    a tiny BertForNextSentencePrediction (pooler + tanh,
                                          cls.seq_relationship [2, H]): a label per sequence (0
                                          IsNext, 1 NotNext), cross-entropy; logits and gradients
  pretraining-model/                      a tiny random BertForPreTraining with a tokenizer (the
                                          vocab of Tests/Goldens/heads/models/mlm, 1,805 tokens;
                                          hidden 32, 2 layers, 128 positions, default init) for
                                          the `bert pretrain` tests with NSP pairs; no gradients
  pretraining/                            a tiny BertForPreTraining (MLM head tied + NSP head): the
                                          mlm batch's masks plus NSP labels; the loss is the sum
                                          MLM + NSP as BertForPreTraining's; both losses, the masked
                                          logits, the NSP logits and every gradient

The batch is 4 sequences of different lengths (some with type-1 segments), padded with an
attention mask as HF does; the goldens hold the real tokens only.

Run (reference venv: torch, transformers 4.57.1):
    .venv-goldens/bin/python scripts/goldens_finetune.py [NAME ...]   (default: every golden)
Deterministic: fixed seeds, one thread, no network.
"""
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import transformers
from safetensors.torch import save_file
from transformers import (BertConfig, BertForMaskedLM, BertForNextSentencePrediction, BertForPreTraining,
                          BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification,
                          Trainer)
from transformers.optimization import get_linear_schedule_with_warmup

assert transformers.__version__.startswith("4.57"), transformers.__version__
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Goldens" / "finetune"

VOCAB = 50
LENGTHS = [9, 5, 12, 3]
# Sequences 0 and 2 are pairs: their second segment has type id 1.
PAIR_SPLIT = {0: 5, 2: 7}

ADAMW = dict(learning_rate=2e-3, weight_decay=0.01, betas=(0.9, 0.999), eps=1e-8,
             warmup_steps=1, total_steps=4, steps=3, max_grad_norm=1.0)


def make_model(num_labels, problem_type, model_class=BertForSequenceClassification):
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=20, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=36, hidden_act="gelu", hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, max_position_embeddings=24, type_vocab_size=2,
        initializer_range=0.3, layer_norm_eps=1e-12, num_labels=num_labels,
        problem_type=problem_type, pad_token_id=0,
    )
    config._attn_implementation = "eager"
    torch.manual_seed(13)
    model = model_class(config)
    # Away from the default init (LayerNorm 1/0, biases 0), so every gradient path carries a
    # non-trivial value.
    g = torch.Generator().manual_seed(1313)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    model.train()  # dropout probabilities are 0: train mode is deterministic
    return model


def make_batch(num_labels, problem_type):
    g = torch.Generator().manual_seed(7)
    t = max(LENGTHS)
    ids = torch.zeros(len(LENGTHS), t, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for b, n in enumerate(LENGTHS):
        ids[b, :n] = torch.randint(5, VOCAB, (n,), generator=g)
        ids[b, 0] = 2   # [CLS]
        ids[b, n - 1] = 3  # [SEP]
        if b in PAIR_SPLIT:
            types[b, PAIR_SPLIT[b]:n] = 1
        mask[b, :n] = 1
    # Repeat one id inside the batch so the word gradient must accumulate two rows into one.
    ids[1, 2] = ids[0, 3]
    if problem_type == "token_classification":
        labels = torch.randint(0, num_labels, ids.shape, generator=g)
        labels[mask == 0] = -100
        for b, n in enumerate(LENGTHS):
            labels[b, 0] = labels[b, n - 1] = -100   # [CLS], [SEP]
        labels[0, 2] = labels[2, 4] = labels[2, 5] = -100  # later sub-tokens of a word
    elif problem_type == "single_label_classification":
        labels = torch.randint(0, num_labels, (len(LENGTHS),), generator=g)
    elif problem_type == "multi_label_classification":
        labels = torch.randint(0, 2, (len(LENGTHS), num_labels), generator=g).float()
    else:
        labels = torch.randn(len(LENGTHS), generator=g) * 2
    return ids, types, mask, labels


def unpadded(x, lengths):
    return [x[b, :n].tolist() for b, n in enumerate(lengths)]


def write_case(name, num_labels, problem_type):
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    tokens = problem_type == "token_classification"
    model = make_model(num_labels, None if tokens else problem_type,
                       BertForTokenClassification if tokens else BertForSequenceClassification)
    model.save_pretrained(folder, safe_serialization=True)
    ids, types, mask, labels = make_batch(num_labels, problem_type)
    out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
    out.loss.backward()
    grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters()}
    save_file(grads, str(folder / "gradients.safetensors"))
    expected = {
        "problem_type": problem_type,
        "ids": unpadded(ids, LENGTHS),
        "type_ids": unpadded(types, LENGTHS),
        "labels": unpadded(labels, LENGTHS) if tokens else labels.tolist(),
        "loss": out.loss.item(),
        # token-cls: per sequence, its tokens' logits [T, L] (no padding rows).
        "logits": [out.logits[b, :n].detach().tolist() for b, n in enumerate(LENGTHS)] if tokens
                  else out.logits.detach().tolist(),
    }
    if name == "cls-single":
        expected["adamw"] = adamw_steps(num_labels, problem_type, folder)
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{name}: loss {out.loss.item():.6f}, {len(grads)} gradients")


def adamw_steps(num_labels, problem_type, folder):
    """HF Trainer's optimizer recipe, 3 steps on the batch; returns the settings and trace."""
    model = make_model(num_labels, problem_type)
    ids, types, mask, labels = make_batch(num_labels, problem_type)
    decay = set(Trainer.get_decay_parameter_names(None, model))
    groups = [
        {"params": [p for n, p in model.named_parameters() if n in decay], "weight_decay": ADAMW["weight_decay"]},
        {"params": [p for n, p in model.named_parameters() if n not in decay], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=ADAMW["learning_rate"], betas=ADAMW["betas"], eps=ADAMW["eps"])
    scheduler = get_linear_schedule_with_warmup(optimizer, ADAMW["warmup_steps"], ADAMW["total_steps"])
    trace = []
    for _ in range(ADAMW["steps"]):
        optimizer.zero_grad()
        loss = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels).loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), ADAMW["max_grad_norm"])
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        trace.append({"loss": loss.item(), "grad_norm": norm.item(), "learning_rate": lr})
    # The test is only worth something if clipping and both schedule phases happened.
    assert any(t["grad_norm"] > ADAMW["max_grad_norm"] for t in trace), trace
    save_file({n: p.detach().clone().contiguous() for n, p in model.named_parameters()},
              str(folder / "adamw.safetensors"))
    return {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in ADAMW.items()},
            "no_decay": sorted(n for n, _ in model.named_parameters() if n not in decay),
            "trace": trace}


MASK_ID = 4


def mask_batch(ids):
    """About a third of the non-special positions are predicted; of those, most become [MASK],
    some a random id, some stay (80/10/10 in spirit); sequence 3 has no prediction at all."""
    g = torch.Generator().manual_seed(17)
    labels = torch.full_like(ids, -100)
    inputs = ids.clone()
    for b, n in enumerate(LENGTHS):
        if b == 3:
            continue  # a sequence with nothing to predict
        for t in range(1, n - 1):
            if torch.rand(1, generator=g).item() < 0.35:
                labels[b, t] = ids[b, t]
                r = torch.rand(1, generator=g).item()
                if r < 0.7:
                    inputs[b, t] = MASK_ID
                elif r < 0.85:
                    inputs[b, t] = torch.randint(5, VOCAB, (1,), generator=g).item()
    return inputs, labels


def gradients_of(model, folder):
    grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters()}
    save_file(grads, str(folder / "gradients.safetensors"))
    return grads


def new_folder(name):
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def write_mlm():
    """One masked batch through BertForMaskedLM (`mask_batch`)."""
    folder = new_folder("mlm")
    model = make_model(2, None, BertForMaskedLM)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    model.save_pretrained(folder, safe_serialization=True)
    ids, types, mask, _ = make_batch(2, "single_label_classification")
    inputs, labels = mask_batch(ids)
    out = model(input_ids=inputs, token_type_ids=types, attention_mask=mask, labels=labels)
    out.loss.backward()
    grads = gradients_of(model, folder)
    selected = labels != -100
    expected = {
        "ids": unpadded(inputs, LENGTHS),
        "type_ids": unpadded(types, LENGTHS),
        "labels": unpadded(labels, LENGTHS),
        "loss": out.loss.item(),
        "masked_tokens": int(selected.sum().item()),
        "masked_logits": out.logits[selected].detach().tolist(),
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"mlm: loss {out.loss.item():.6f}, {expected['masked_tokens']} masked, {len(grads)} gradients")


# Per sequence (lengths 9/5/12/3): start and end token positions; sequence 3's answer is the
# null answer at [CLS], as run_qa labels a window without the answer.
QA_POSITIONS = [(6, 7), (2, 2), (8, 10), (0, 0)]
# Per sequence: 0 IsNext, 1 NotNext.
NSP_LABELS = [0, 1, 1, 0]


def write_qa():
    folder = new_folder("qa")
    model = make_model(2, None, BertForQuestionAnswering)
    model.save_pretrained(folder, safe_serialization=True)
    ids, types, mask, _ = make_batch(2, "single_label_classification")
    losses, starts, ends = [], [], []
    for b, n in enumerate(LENGTHS):
        start, end = QA_POSITIONS[b]
        out = model(input_ids=ids[b:b + 1, :n], token_type_ids=types[b:b + 1, :n],
                    start_positions=torch.tensor([start]), end_positions=torch.tensor([end]))
        losses.append(out.loss)
        starts.append(out.start_logits[0].detach().tolist())
        ends.append(out.end_logits[0].detach().tolist())
    loss = torch.stack(losses).mean()
    loss.backward()
    grads = gradients_of(model, folder)
    expected = {
        "ids": unpadded(ids, LENGTHS),
        "type_ids": unpadded(types, LENGTHS),
        "start_positions": [p[0] for p in QA_POSITIONS],
        "end_positions": [p[1] for p in QA_POSITIONS],
        "loss": loss.item(),
        "start_logits": starts,
        "end_logits": ends,
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"qa: loss {loss.item():.6f}, {len(grads)} gradients")


def write_nsp():
    folder = new_folder("nsp")
    model = make_model(2, None, BertForNextSentencePrediction)
    model.save_pretrained(folder, safe_serialization=True)
    ids, types, mask, _ = make_batch(2, "single_label_classification")
    out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=torch.tensor(NSP_LABELS))
    out.loss.backward()
    grads = gradients_of(model, folder)
    expected = {
        "ids": unpadded(ids, LENGTHS),
        "type_ids": unpadded(types, LENGTHS),
        "labels": NSP_LABELS,
        "loss": out.loss.item(),
        "logits": out.logits.detach().tolist(),
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"nsp: loss {out.loss.item():.6f}, {len(grads)} gradients")


def write_pretraining():
    folder = new_folder("pretraining")
    model = make_model(2, None, BertForPreTraining)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    model.save_pretrained(folder, safe_serialization=True)
    ids, types, mask, _ = make_batch(2, "single_label_classification")
    inputs, labels = mask_batch(ids)
    nsp_labels = torch.tensor(NSP_LABELS)
    out = model(input_ids=inputs, token_type_ids=types, attention_mask=mask, labels=labels,
                next_sentence_label=nsp_labels)
    out.loss.backward()
    grads = gradients_of(model, folder)
    selected = labels != -100
    ce = torch.nn.CrossEntropyLoss()
    mlm_loss = ce(out.prediction_logits[selected], labels[selected]).item()
    nsp_loss = ce(out.seq_relationship_logits, nsp_labels).item()
    assert abs(mlm_loss + nsp_loss - out.loss.item()) < 1e-5
    expected = {
        "ids": unpadded(inputs, LENGTHS),
        "type_ids": unpadded(types, LENGTHS),
        "labels": unpadded(labels, LENGTHS),
        "next_sentence_labels": NSP_LABELS,
        "loss": out.loss.item(),
        "mlm_loss": mlm_loss,
        "nsp_loss": nsp_loss,
        "masked_tokens": int(selected.sum().item()),
        "masked_logits": out.prediction_logits[selected].detach().tolist(),
        "nsp_logits": out.seq_relationship_logits.detach().tolist(),
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"pretraining: loss {out.loss.item():.6f} (MLM {mlm_loss:.6f} + NSP {nsp_loss:.6f}), {len(grads)} gradients")


def write_pretraining_model():
    folder = new_folder("pretraining-model")
    tokenizer = ROOT / "Tests" / "Goldens" / "heads" / "models" / "mlm"
    vocab = (tokenizer / "vocab.txt").read_text(encoding="utf-8").splitlines()
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128, type_vocab_size=2, pad_token_id=0)
    torch.manual_seed(29)
    model = BertForPreTraining(config)
    model.save_pretrained(folder, safe_serialization=True)
    for name in ["vocab.txt", "tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(tokenizer / name, folder / name)
    print(f"pretraining-model: vocab {len(vocab)}, {sum(p.numel() for p in model.parameters())} parameters")


WRITERS = {
    "mlm": write_mlm,
    "cls-single": lambda: write_case("cls-single", 3, "single_label_classification"),
    "cls-multilabel": lambda: write_case("cls-multilabel", 3, "multi_label_classification"),
    "regression": lambda: write_case("regression", 1, "regression"),
    "token-cls": lambda: write_case("token-cls", 5, "token_classification"),
    "qa": write_qa,
    "nsp": write_nsp,
    "pretraining": write_pretraining,
    "pretraining-model": write_pretraining_model,
}


def main():
    import sys
    OUT.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or WRITERS:
        WRITERS[name]()


if __name__ == "__main__":
    main()
