"""
The Stepwise reference GPT model in PyTorch: the speed yardstick of `npm run bench` (bench/run.ts),
under the project's Python environment (.venv: PyTorch 2.x from PyPI) with --threads threads.

Same architecture as src/model/transformer.ts (family "gpt2"): learned positions, pre-LayerNorm,
GELU (tanh approximation), tied head; a training step (forward + backward + gradient clipping +
AdamW, as src/train/update.ts) at batch 32 x 128 tokens, and batched KV-cache sampling at batch
64 x 100 new tokens. Medians of --runs timed runs after a warm-up, wall and process CPU time.
Run: .venv/bin/python bench/torch_model.py [--threads 2] [--layers 4 --width 128 --heads 4 --vocab 64 --context 128]
Prints one JSON object.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, ctx):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x, past=None):
        B, T, d = x.shape
        hd = d // self.h
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = [t.view(B, T, self.h, hd).transpose(1, 2) for t in (q, k, v)]  # [B, h, T, hd]
        if past is not None:
            k = torch.cat([past[0], k], 2)
            v = torch.cat([past[1], v], 2)
        Tk = k.shape[2]
        s = (q @ k.transpose(-2, -1)) / math.sqrt(hd)  # [B, h, T, Tk]
        if T > 1:
            mask = torch.ones(T, Tk, dtype=torch.bool).tril(Tk - T)
            s = s.masked_fill(~mask, float("-inf"))
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, d)
        x = x + self.c_proj(o)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, (k, v)


class GPT(nn.Module):
    def __init__(self, vocab, ctx, layers, d, h):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.h = nn.ModuleList([Block(d, h, ctx) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def forward(self, idx, past=None, start=0):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(start, start + T))
        present = []
        for i, blk in enumerate(self.h):
            x, kv = blk(x, None if past is None else past[i])
            present.append(kv)
        return self.ln_f(x) @ self.wte.weight.T, present


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=64)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--train-batch", type=int, default=32)
    ap.add_argument("--sample-batch", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=100)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = GPT(a.vocab, a.context, a.layers, a.width, a.heads)
    # the same optimizer as src/train/optimizer.ts defaults (betas 0.9/0.95, decay 0.1, clip 1.0)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    toks = torch.randint(0, a.vocab, (a.train_batch, a.context))

    def step():
        logits, _ = m(toks)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, a.vocab), toks[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    def timed(fn, runs):
        fn()  # warm-up
        walls, cpus = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        return sorted(walls)[runs // 2], sorted(cpus)[runs // 2]

    train_s, train_cpu_s = timed(step, a.runs)

    @torch.no_grad()
    def sample():
        prompt = torch.randint(0, a.vocab, (a.sample_batch, a.prompt))
        logits, past = m(prompt)
        nxt = torch.multinomial(logits[:, -1].softmax(-1), 1)
        for s in range(a.new_tokens - 1):
            logits, past = m(nxt, past, a.prompt + s)
            lp = logits[:, -1].log_softmax(-1)
            nxt = torch.multinomial(lp.exp(), 1)

    sample_s, sample_cpu_s = timed(sample, a.runs)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_step_s": train_s,
        "train_step_cpu_s": train_cpu_s,
        "sample_tokens_per_s": a.sample_batch * a.new_tokens / sample_s,
        "sample_tokens_per_cpu_s": a.sample_batch * a.new_tokens / sample_cpu_s,
        "sample_s": sample_s,
    }))


if __name__ == "__main__":
    main()
