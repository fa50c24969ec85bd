"""Batched probe scoring with a Hugging Face causal LM, with the scorers of src/rl/probes.ts (SSPO's
verbal value probing, Stepwise's reading of arXiv 2508.12604). Copied verbatim into every compiled
package by `stepwise compile`.

Probe k (k = 0..K) of a response sees the question and its first k steps: {question}, {steps} (the
first k step texts, concatenated), {step} (step k-1, "" for k = 0), {reference}. u[k] is the value
BEFORE step k; u[K] after the last step.
  yes_no:     P(yes) / (P(yes) + P(no)) at the next token, compared at the words' first different token
  likelihood: mean per-token probability of the reference answer appended after the prompt
  confidence: exp(-mean entropy) of a greedy continuation of `tokens` tokens (1 when it stops at once)
Every yes_no and likelihood row of every step of every response is one row of one batch, sorted by
length and cut into chunks of `chunk` rows (one forward pass each), without gradient.
"""
from __future__ import annotations

import math
import re
from typing import Optional, Sequence

import torch

_FIELD = re.compile(r"\{(question|steps|step|reference)\}")


def fill_template(template: str, question: str, steps: str, step: str, reference: str) -> str:
    vals = {"question": question, "steps": steps, "step": step, "reference": reference}
    return _FIELD.sub(lambda m: vals[m.group(1)], template)


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


@torch.no_grad()
def _forward_rows(model, rows: list[list[int]], chunk: int, pad_id: int, context_length: int) -> list[tuple[torch.Tensor, list[int]]]:
    """Per row (cut from the left to fit the context): log-softmax at each position [L, V], and the row."""
    out: list = [None] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    device = next(model.parameters()).device
    for s in range(0, len(order), chunk):
        idx = order[s : s + chunk]
        seqs = [rows[i][-context_length:] for i in idx]
        T = max(len(q) for q in seqs)
        ids = torch.full((len(idx), T), pad_id, dtype=torch.long)
        att = torch.zeros((len(idx), T), dtype=torch.long)
        for b, q in enumerate(seqs):
            ids[b, : len(q)] = torch.tensor(q)
            att[b, : len(q)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=att.to(device)).logits.float()
        lp = torch.log_softmax(logits, -1).cpu()
        for b, i in enumerate(idx):
            out[i] = (lp[b, : len(seqs[b])], seqs[b])
    return out


def _head(tokenizer) -> list[int]:
    """[bos] when the tokenizer puts one before a text (Llama), else nothing (Qwen2), as Stepwise's probes"""
    ids = tokenizer("", add_special_tokens=True)["input_ids"]
    bos = tokenizer.bos_token_id
    return [bos] if bos is not None and len(ids) > 0 and ids[0] == bos else []


def _fit(head: list[int], body: list[int], room: int) -> list[int]:
    """head + the end of body, at most `room` tokens (the left of body is cut: the judged step is kept)"""
    keep = max(1, room - len(head))
    return head + (body[-keep:] if len(body) > keep else body)


def run_probes(model, tokenizer, probes: list[dict], items: list[dict], chunk: int = 32, context_length: Optional[int] = None) -> dict[str, list[list[float]]]:
    """Per probe name, per item ({question, reference, step_texts}), the K+1 values u[0..K]."""
    ctx_len = context_length or int(getattr(model.config, "max_position_embeddings", 4096))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    head = _head(tokenizer)
    out = {p["name"]: [[0.0] * (max(1, len(it["step_texts"])) + 1) for it in items] for p in probes}
    seqs: list[list[int]] = []
    meta: list[tuple] = []
    for p in probes:
        sc = p["scorer"]
        if sc["kind"] == "yes_no":
            yes, no = _encode(tokenizer, sc["yes"]), _encode(tokenizer, sc["no"])
            j = 0
            while j < len(yes) and j < len(no) and yes[j] == no[j]:
                j += 1
            if j >= len(yes) or j >= len(no):
                raise ValueError(f'probe "{p["name"]}": the yes and no words encode to the same tokens')
        for i, it in enumerate(items):
            texts = it["step_texts"] or [""]
            for k in range(len(texts) + 1):
                prompt = fill_template(p["prompt"], it["question"], "".join(texts[:k]), texts[k - 1] if k > 0 else "", it["reference"])
                body = _encode(tokenizer, prompt)
                if sc["kind"] == "confidence":
                    tokens = max(1, min(int(sc["tokens"]), ctx_len - len(head) - 1))
                    out[p["name"]][i][k] = _confidence(model, tokenizer, _fit(head, body, ctx_len - tokens), tokens)
                elif sc["kind"] == "yes_no":
                    # the shared leading tokens of the two words go into the prompt: they cancel in the ratio
                    seqs.append(_fit(head, body + yes[:j], ctx_len))
                    meta.append((p["name"], i, k, "yes_no", yes[j], no[j]))
                else:  # likelihood of the reference answer right after the prompt
                    cont = _encode(tokenizer, it["reference"])
                    if not cont:
                        raise ValueError(f'probe "{p["name"]}": the reference answer of item {i} encodes to no tokens')
                    cont = cont[: max(1, ctx_len - len(head) - 1)]
                    seqs.append(_fit(head, body, ctx_len - len(cont)) + cont)
                    meta.append((p["name"], i, k, "likelihood", len(cont), 0))
    for m, (lp, seq) in zip(meta, _forward_rows(model, seqs, chunk, pad_id, ctx_len) if seqs else []):
        name, i, k, kind, a, b = m
        if kind == "yes_no":
            py, pn = math.exp(lp[-1, a].item()), math.exp(lp[-1, b].item())
            out[name][i][k] = py / (py + pn) if py + pn > 0 else 0.5
        else:
            n, L = a, len(seq)  # the continuation is the row's last n tokens; lp[t] predicts token t + 1
            out[name][i][k] = sum(math.exp(lp[t - 1, seq[t]].item()) for t in range(L - n, L)) / n
    return out


@torch.no_grad()
def _confidence(model, tokenizer, ctx: Sequence[int], tokens: int) -> float:
    device = next(model.parameters()).device
    ids = torch.tensor([list(ctx)], dtype=torch.long, device=device)
    gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens, do_sample=False,
                         output_scores=True, return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    if not gen.scores:
        return 1.0
    ents = []
    for s in gen.scores:
        lp = torch.log_softmax(s[0].float(), -1)
        ents.append(-(lp.exp() * lp).sum().item())
    return math.exp(-sum(ents) / len(ents))
