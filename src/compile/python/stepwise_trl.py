"""TRL's GRPOTrainer with Stepwise's per-token advantages. Copied verbatim into every package that
`stepwise compile --target trl` writes; the spec's own parts are stepwise_advantages.py (the
compiled formula) and stepwise_spec.json (the plan).

TRL computes one outcome advantage per completion; its loss also accepts [B, T] advantages
(`_compute_loss`: "to support subclasses that provide advantages with shape (B, T)"). After TRL has
sampled and scored a generation batch, this trainer
  1. scores lp_old and the entropy (and lp_ref from a frozen copy when the formula reads them and
     TRL has no reference model: beta = 0),
  2. cuts each completion into steps from the tokenizer's offsets with the spec's rules,
  3. runs the verifier (outcome) and the spec's probes (batched, without gradient),
  4. gathers every process's rollouts (a group may span processes), evaluates the compiled advantage
     over the whole batch, and keeps this process's rows as `advantages` [B, T],
  5. optionally dumps the batch and its advantages in the `stepwise advantage` format
     (DUMP/rollouts/step-N.json and step-N.advantages.json) so they can be replayed by Stepwise.
"""
from __future__ import annotations

import copy
import json
import os
from typing import Any, Optional

import torch
from accelerate.utils import gather_object
from trl import GRPOTrainer

import stepwise_runtime as rt
import stepwise_steps
import stepwise_task
from stepwise_probes import run_probes


def outcome_reward(task_kind: str):
    """The verifier as a TRL reward function (what TRL logs as its reward; the advantage is Stepwise's)."""

    def outcome(completions, reference, **kwargs) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return [stepwise_task.verify(task_kind, t, r) for t, r in zip(texts, reference)]

    return outcome


def _formula_names(f: Any, out: set) -> set:
    if isinstance(f, dict):
        if f.get("op") == "ref":
            out.add((f["source"], f["name"]))
        for v in f.values():
            _formula_names(v, out)
    elif isinstance(f, list):
        for v in f:
            _formula_names(v, out)
    return out


class StepwiseGRPOTrainer(GRPOTrainer):
    def __init__(self, *args, stepwise_spec: dict, stepwise_advantages, dump_dir: Optional[str] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.sw_spec = stepwise_spec
        self.sw_adv = stepwise_advantages
        self.sw_dump = dump_dir
        self.sw_step = 0
        names = _formula_names([stepwise_spec.get("advantage"), stepwise_spec.get("rewards"), stepwise_spec.get("lets")], set())
        needs_ref = ("builtin", "logp_ref") in names or ("builtin", "logratio") in names
        self.sw_ref = None
        if needs_ref and self.ref_model is None:
            # lp_ref: the model at the start of RL, frozen (ALGORITHMS.md, notation)
            ref = copy.deepcopy(self.accelerator.unwrap_model(self.model)).eval()
            for p in ref.parameters():
                p.requires_grad_(False)
            self.sw_ref = ref

    @torch.no_grad()
    def _stepwise_scores(self, out: dict):
        input_ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
        attention_mask = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
        keep = out["completion_ids"].size(1)
        logp, entropy, _ = self._get_per_token_logps_and_entropies(self.model, input_ids, attention_mask, keep, compute_entropy=True)
        lp_old = out.get("old_per_token_logps")
        lp_old = logp if lp_old is None else lp_old  # TRL's loss uses these same values when it keeps none
        lp_ref = out.get("ref_per_token_logps")
        if lp_ref is None and self.ref_model is not None:
            lp_ref, _, _ = self._get_per_token_logps_and_entropies(self.ref_model, input_ids, attention_mask, keep)
        if lp_ref is None and self.sw_ref is not None:
            lp_ref, _, _ = self._get_per_token_logps_and_entropies(self.sw_ref.to(input_ids.device), input_ids, attention_mask, keep)
        if lp_ref is None:
            lp_ref = lp_old  # the formula reads no reference: logratio would be 0
        return lp_old, lp_ref, entropy

    def _generate_and_score_completions(self, inputs: list[dict]) -> dict:
        out = super()._generate_and_score_completions(inputs)
        spec = self.sw_spec
        tok = self.processing_class
        lp_old, lp_ref, entropy = self._stepwise_scores(out)
        mask = out["completion_mask"].bool()
        eos = tok.eos_token_id
        records = []
        for i, x in enumerate(inputs):
            n = int(mask[i].sum().item())
            ids = out["completion_ids"][i, :n].tolist()
            stop = len(ids) > 0 and ids[-1] == eos
            body = ids[:-1] if stop else ids  # the stop token ends the text but is scored with it
            decode = lambda t: tok.decode(t, skip_special_tokens=False)  # noqa: E731
            text = decode(body)
            offsets = stepwise_steps.token_offsets(body, decode) + ([len(text)] if stop else [])
            step_ends = stepwise_steps.segment(text, offsets, spec["steps"])
            records.append({
                "prompt": x["prompt"] if isinstance(x["prompt"], str) else json.dumps(x["prompt"]),
                "question": x.get("question", x["prompt"] if isinstance(x["prompt"], str) else ""),
                "reference": x["reference"],
                "text": text,
                "tokens": ids,
                "token_logp": lp_old[i, :n].float().tolist(),
                "token_logp_ref": lp_ref[i, :n].float().tolist(),
                "token_entropy": entropy[i, :n].float().tolist(),
                "step_ends": step_ends,
                "outcome": stepwise_task.verify(spec["task"]["kind"], text, x["reference"]),
                "truncated": not stop and n >= self.max_completion_length,
                "step_texts": stepwise_steps.step_texts(text, offsets, step_ends),
            })
        if spec.get("probes"):
            model = self.accelerator.unwrap_model(self.model)
            was = model.training
            model.eval()
            values = run_probes(model, tok, spec["probes"], [{"question": r["question"], "reference": r["reference"], "step_texts": r["step_texts"]} for r in records])
            model.train(was)
            for i, r in enumerate(records):
                r["probes"] = {name: v[i] for name, v in values.items()}
        every = gather_object(records)  # all processes' rollouts, in TRL's global order
        G = self.num_generations if self.model.training else self.num_generations_eval
        batch = {"groups": [
            {"prompt": every[s]["prompt"], "reference": every[s]["reference"],
             "responses": [{k: v for k, v in r.items() if k not in ("prompt", "question", "reference", "step_texts")} for r in every[s : s + G]]}
            for s in range(0, len(every), G)
        ]}
        b = rt.batch_from_json(batch)
        adv = self.sw_adv.advantages(b)  # [N_all, T_all]
        start = self.accelerator.process_index * len(inputs)
        T = out["completion_ids"].size(1)
        local = torch.zeros(len(inputs), T, dtype=torch.float32)
        width = min(T, adv.shape[1])
        local[:, :width] = adv[start : start + len(inputs), :width].float()
        out["advantages"] = local.to(out["completion_ids"].device) * mask
        mode = "train" if self.model.training else "eval"
        rewards = self.sw_adv.response_rewards(b)
        self._metrics[mode]["stepwise/reward"].append(rewards.mean().item())
        self._metrics[mode]["stepwise/steps"].append(sum(b.step_counts) / b.N)
        if self.sw_dump and self.accelerator.is_main_process and mode == "train":
            d = os.path.join(self.sw_dump, "rollouts")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"step-{self.sw_step}.json"), "w") as f:
                json.dump(batch, f)
            with open(os.path.join(d, f"step-{self.sw_step}.advantages.json"), "w") as f:
                json.dump({"advantages": rt.unpad(adv, b)}, f)
        if mode == "train":
            self.sw_step += 1
        return out
