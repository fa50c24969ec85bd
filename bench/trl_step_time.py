"""Step time and tokens/s of the TRL package `stepwise compile` writes (docs/engines.md), on a
random Qwen3-0.6B-shaped model (28 layers, width 1024, 16 heads, 8 KV heads, FFN 3072; the
vocabulary of the tokenizer given, so that every sampled id decodes). Meant for a GPU machine:

    npx tsx src/cli/main.ts compile test/fixtures/trl-tiny.sw --target trl --out /tmp/trl-pkg
    .venv/bin/python bench/trl_step_time.py /tmp/trl-pkg --steps 6 [--cpu] [--layers 2 --width 64]

It runs train_trl.py for --steps optimizer steps and prints JSON: TRL's own per-step `step_time`
(the first step, with its warm-up, left out of the median), completion tokens per step and their
rate, and the device.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

import torch
from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("pkg")
ap.add_argument("--steps", type=int, default=6)
ap.add_argument("--tokenizer", default=os.path.join(HERE, "..", "test", "fixtures", "tiny-qwen2"))
ap.add_argument("--layers", type=int, default=28)
ap.add_argument("--width", type=int, default=1024)
ap.add_argument("--cpu", action="store_true")
args = ap.parse_args()

tok = AutoTokenizer.from_pretrained(args.tokenizer)
heads = max(1, args.width // 64)
cfg = Qwen3Config(vocab_size=len(tok), hidden_size=args.width, intermediate_size=3 * args.width, num_hidden_layers=args.layers,
                  num_attention_heads=heads, num_key_value_heads=max(1, heads // 2), head_dim=64 if args.width >= 64 else args.width // heads,
                  max_position_embeddings=4096, tie_word_embeddings=True, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
with tempfile.TemporaryDirectory() as d:
    torch.manual_seed(0)
    Qwen3ForCausalLM(cfg).save_pretrained(os.path.join(d, "model"))
    tok.save_pretrained(os.path.join(d, "model"))
    cmd = [sys.executable, os.path.join(args.pkg, "train_trl.py"), "--model", os.path.join(d, "model"), "--max-steps", str(args.steps), "--output-dir", os.path.join(d, "out")]
    if args.cpu:
        cmd.append("--cpu")
    log = subprocess.run(cmd, capture_output=True, text=True, cwd=args.pkg)
    if log.returncode != 0:
        sys.exit(log.stdout + log.stderr)
rows = [dict(re.findall(r"'([\w/]+)': '([^']*)'", line)) for line in log.stdout.splitlines() if "'step_time'" in line]
times = [float(r["step_time"]) for r in rows]
tokens = [float(r["num_tokens"]) for r in rows]
per_step = [b - a for a, b in zip([0.0, *tokens[:-1]], tokens)]  # prompt + completion tokens per step
lengths = [float(r["completions/mean_length"]) for r in rows]
steady = times[1:] or times
print(json.dumps({
    "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() and not args.cpu else "cpu",
    "model": {"layers": args.layers, "width": args.width, "vocab": len(tok), "params": sum(p.numel() for p in Qwen3ForCausalLM(cfg).parameters())},
    "steps": len(times), "step_time_s": times, "median_step_time_s": statistics.median(steady),
    "tokens_per_step": per_step, "tokens_per_s": statistics.median(t / s for t, s in zip(per_step[1:] or per_step, steady)),
    "mean_completion_length": lengths,
}, indent=1))
