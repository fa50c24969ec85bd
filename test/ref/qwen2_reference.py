#!/usr/bin/env python3
"""
A reference implementation of the Qwen2 / Llama decoder in PyTorch, written from the architecture
description (not from transformers), used to check Stepwise's TF.js model on the same weights.

    /usr/bin/python3 test/ref/qwen2_reference.py MODEL_DIR '[[ids...], ...]'

prints {"logits": [B][T][vocab]} as JSON (several MODEL_DIRs: {"models": {dir: logits}}). Reads config.json and model.safetensors (or the sharded
model.safetensors.index.json) with nothing but struct + json + torch.frombuffer; F32/F16/BF16
tensors are converted to float64, and the whole forward pass runs in float64.

Architecture (Qwen2 = Llama + q/k/v bias), per layer, for hidden states x [T, d]:
  h = x + o_proj(attn(rmsnorm(x)))             pre-norm residual
  x = h + down_proj(silu(gate_proj(n)) * up_proj(n)),  n = rmsnorm(h)     SwiGLU (Shazeer 2020)
  rmsnorm(x) = x / sqrt(mean(x^2) + eps) * w   (Zhang & Sennrich 2019)
  attention: q = W_q n + b_q, k, v likewise with num_key_value_heads heads (GQA, Ainslie et al. 2023:
  query head i uses kv head i // (heads / kv_heads)); RoPE on q and k (Su et al. 2021) in the
  "rotate half" convention: inv_freq_j = theta^(-2j / head_dim), angle = pos * inv_freq,
  cos/sin repeated over both halves, q' = q * cos + rotate_half(q) * sin with
  rotate_half([a, b]) = [-b, a]; causal softmax(q k^T / sqrt(head_dim)) v.
  Final rmsnorm, then logits = lm_head(x) (or embed_tokens^T when tie_word_embeddings).
"""
import json
import os
import struct
import sys

import torch

DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2), "F64": (torch.float64, 8)}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype, size = DTYPES[e["dtype"]]
        b, end = e["data_offsets"]
        count = (end - b) // size
        buf = bytearray(raw[base + b : base + end])  # writable copy for frombuffer
        t = torch.frombuffer(buf, dtype=dtype, count=count) if count else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e["shape"]).to(torch.float64)
    return out


def read_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(weight_map.values())):
            out.update(read_safetensors(os.path.join(model_dir, shard)))
        return out
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def linear(x, W, b=None):
    y = x @ W.T  # nn.Linear weights are [out, in]
    return y + b if b is not None else y


def forward(cfg, W, ids):
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    hd = d // H
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_theta", 10000.0)
    T = len(ids)
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]  # [T, d]
    pos = torch.arange(T, dtype=torch.float64)
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))  # [hd/2]
    ang = torch.outer(pos, inv_freq)  # [T, hd/2]
    emb = torch.cat([ang, ang], dim=-1)  # [T, hd]
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]  # [T, 1, hd]
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for i in range(cfg["num_hidden_layers"]):
        L = f"model.layers.{i}."
        g = lambda n: W.get(L + n)
        n = rmsnorm(x, g("input_layernorm.weight"), eps)
        q = linear(n, g("self_attn.q_proj.weight"), g("self_attn.q_proj.bias")).view(T, H, hd)
        k = linear(n, g("self_attn.k_proj.weight"), g("self_attn.k_proj.bias")).view(T, KV, hd)
        v = linear(n, g("self_attn.v_proj.weight"), g("self_attn.v_proj.bias")).view(T, KV, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = H // KV
        k = k.repeat_interleave(rep, dim=1)  # [T, H, hd]: query head h reads kv head h // rep
        v = v.repeat_interleave(rep, dim=1)
        scores = torch.einsum("thd,shd->hts", q, k) / (hd**0.5)  # [H, T, T]
        scores = scores.masked_fill(causal, float("-inf"))
        att = torch.softmax(scores, dim=-1)
        o = torch.einsum("hts,shd->thd", att, v).reshape(T, d)
        x = x + linear(o, g("self_attn.o_proj.weight"), g("self_attn.o_proj.bias"))
        n = rmsnorm(x, g("post_attention_layernorm.weight"), eps)
        gate = linear(n, g("mlp.gate_proj.weight"))
        up = linear(n, g("mlp.up_proj.weight"))
        x = x + linear(torch.nn.functional.silu(gate) * up, g("mlp.down_proj.weight"))
    x = rmsnorm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return x @ head.T  # [T, vocab]


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: qwen2_reference.py MODEL_DIR [MODEL_DIR ...] '[[ids...], ...]'")
    dirs, batch = sys.argv[1:-1], json.loads(sys.argv[-1])
    results = {}
    for model_dir in dirs:
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        if cfg.get("model_type") not in ("qwen2", "llama"):
            sys.exit(f"{model_dir}: model_type {cfg.get('model_type')!r} is not qwen2/llama")
        W = read_weights(model_dir)
        with torch.no_grad():
            results[model_dir] = [forward(cfg, W, ids).tolist() for ids in batch]
    # one directory: {"logits": [B][T][vocab]}; several (one torch start-up): {"models": {dir: logits}}
    json.dump({"logits": results[dirs[0]]} if len(dirs) == 1 else {"models": results}, sys.stdout)


if __name__ == "__main__":
    main()
