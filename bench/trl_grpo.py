"""
TRL's GRPOTrainer doing the quickstart's RL iteration on the quickstart's model, on CPU: the
yardstick of the `rl_iteration_vs_trl` ratio in `npm run bench` (bench/rl-iteration.ts).

The same shape as examples/quickstart.sw: the warm start examples/checkpoints/arith-sft (a
GPT-2-family model in the Hugging Face layout, loaded by transformers as is), 16 prompts x a group
of 8 = 128 completions of at most 64 tokens at temperature 1, the same reward (1 for a correct
answer, minus 0.005 per token for correct ones only), advantages normalised per group, and an
update in 2 minibatches of 64 (steps_per_generation = 2, one epoch: num_iterations = 1),
AdamW at lr 1e-4. beta > 0 so TRL runs the reference model's pass, as Stepwise always does
(its value does not change the cost). One iteration = one generation + its 2 optimizer steps.

Run: .venv/bin/python bench/trl_grpo.py [--threads 2] [--iterations 3]; prints one JSON object.
"""
import argparse
import json
import os
import random
import re
import statistics
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CKPT = os.path.join(HERE, "..", "examples", "checkpoints", "arith-sft")


def char_tokenizer():
    """The Stepwise character tokenizer (src/tokenizer/chars.ts) as a transformers tokenizer:
    ids 0..3 = pad, bos, eos, unk, then the alphabet of the checkpoint's tokenizer.json."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    with open(os.path.join(CKPT, "tokenizer.json")) as f:
        alphabet = json.load(f)["alphabet"]
    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3}
    for i, c in enumerate(alphabet):
        vocab[c] = 4 + i
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tk.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")


def problems(n, seed):
    """Questions of the quickstart's task: 2-3 operands 1..9, operators + and -."""
    rnd = random.Random(seed)
    prompts, answers = [], []
    for _ in range(n):
        k = rnd.choice([2, 3])
        expr = str(rnd.randint(1, 9))
        for _ in range(k - 1):
            expr += rnd.choice("+-") + str(rnd.randint(1, 9))
        prompts.append(f"Q: {expr}\n")
        answers.append(eval(expr))  # digits and + - only
    return prompts, answers


def reward(completions, answer, completion_ids, **_):
    """quickstart.sw: `correct = outcome` plus `short = if outcome == 1 then -0.005 * tokens else 0`."""
    out = []
    for text, ans, ids in zip(completions, answer, completion_ids):
        m = re.search(r"answer (-?\d+)", text)
        ok = m is not None and int(m.group(1)) == ans
        out.append((1.0 - 0.005 * len(ids)) if ok else 0.0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=3, help="timed iterations (after one warm-up)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from datasets import Dataset
    from transformers import GPT2LMHeadModel, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer
    import transformers, trl

    tok = char_tokenizer()
    model = GPT2LMHeadModel.from_pretrained(CKPT, dtype=torch.float32)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    prompts_per_iter, group = 16, 8
    iters = 1 + a.iterations
    prompts, answers = problems(prompts_per_iter * iters, 7)
    ds = Dataset.from_dict({"prompt": prompts, "answer": answers})

    marks = []  # (wall, cpu) at the end of every optimizer step

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            marks.append((time.perf_counter(), time.process_time()))

    with tempfile.TemporaryDirectory() as out:
        cfg = GRPOConfig(
            output_dir=out, use_cpu=True, bf16=False, fp16=False, report_to="none", save_strategy="no",
            logging_steps=1, disable_tqdm=True, seed=7, dataloader_num_workers=0,
            learning_rate=1e-4, adam_beta1=0.9, adam_beta2=0.95, weight_decay=0.0, max_grad_norm=1.0,
            lr_scheduler_type="constant", warmup_steps=0,
            num_generations=group, per_device_train_batch_size=64, steps_per_generation=2,
            gradient_accumulation_steps=1, num_iterations=1, max_completion_length=64,
            temperature=1.0, top_p=1.0, top_k=0, beta=0.001, epsilon=0.2, disable_dropout=True, loss_type="grpo",
            scale_rewards="group", max_steps=2 * iters, shuffle_dataset=False,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[Clock()])
        t0 = (time.perf_counter(), time.process_time())
        trainer.train()
    # iteration i = optimizer steps 2i and 2i+1 (the generation happens inside step 2i)
    ends = [t0] + marks
    walls = [ends[2 * i + 2][0] - ends[2 * i][0] for i in range(iters)]
    cpus = [ends[2 * i + 2][1] - ends[2 * i][1] for i in range(iters)]
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history if "completions/mean_length" in h]
    print(json.dumps({
        "trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "prompts": prompts_per_iter, "group": group, "max_tokens": 64,
        "iteration_s": statistics.median(walls[1:]), "iteration_cpu_s": statistics.median(cpus[1:]),
        "walls": walls, "mean_completion_tokens": statistics.mean(lengths) if lengths else None,
    }))


if __name__ == "__main__":
    main()
