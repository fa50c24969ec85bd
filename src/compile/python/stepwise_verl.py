"""Stepwise's compiled advantage in verl (0.9): the advantage estimator `stepwise`, registered with
`register_adv_est`, and the reward function `compute_score` (the task's verifier). Copied verbatim
into every package that `stepwise compile --target verl` writes (docs/engines.md).

verl calls a registered estimator with the token-level rewards, the response mask and the group
ids only; Stepwise's formulas also read the log-probs and the steps. Importing this module
therefore also wraps `verl.trainer.ppo.ray_trainer.compute_advantage` (and the v1 trainer's import
of it) so that the `stepwise` estimator receives the batch; every other estimator is passed
through unchanged. Being the config's custom reward function, the module is imported by verl in
the trainer's process, before training starts.

The estimator's inputs, per response i (rows grouped by `uid`, in any order):
  responses [B, T] token ids (decoded with the tokenizer for segmentation), response_mask [B, T],
  old_log_probs [B, T] (lp_old), ref_log_prob [B, T] when verl has a reference (else lp_old:
  logratio 0), token_level_rewards [B, T] summed per response = the verifier's outcome.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import stepwise_advantages  # noqa: E402
import stepwise_runtime as rt  # noqa: E402
import stepwise_steps  # noqa: E402
import stepwise_task  # noqa: E402

with open(os.path.join(HERE, "stepwise_spec.json")) as _f:
    SPEC = json.load(_f)
with open(os.path.join(HERE, "stepwise_package.json")) as _f:
    PACKAGE = json.load(_f)

_tokenizer = None
#: the rollouts of the last call, in the `stepwise advantage` batch format (rows grouped by uid), and their row order
LAST: dict = {}


def tokenizer():
    """The policy's tokenizer (STEPWISE_TOKENIZER, else the spec's model directory)."""
    global _tokenizer
    if _tokenizer is None:
        from transformers import AutoTokenizer

        path = os.environ.get("STEPWISE_TOKENIZER") or PACKAGE.get("modelPath")
        if not path:
            raise rt.FormulaError("stepwise_verl: set STEPWISE_TOKENIZER to the policy's tokenizer directory")
        _tokenizer = AutoTokenizer.from_pretrained(path)
    return _tokenizer


def compute_score(data_source: Any = None, solution_str: str = "", ground_truth: str = "", extra_info: Any = None, **kwargs) -> float:
    """verl's custom reward function: the task's verifier, 1.0 or 0.0 (placed on the last token by verl)."""
    return stepwise_task.verify(SPEC["task"]["kind"], solution_str, str(ground_truth))


def _rollout_batch(responses: torch.Tensor, response_mask: torch.Tensor, lp_old: torch.Tensor, lp_ref: torch.Tensor,
                   outcome: torch.Tensor, order: list[int], group_sizes: list[int], tok) -> dict:
    """The rows of `order` (grouped) as the `stepwise advantage` batch format."""
    eos = tok.eos_token_id
    groups, at = [], 0
    for G in group_sizes:
        resp = []
        for i in order[at : at + G]:
            n = int(response_mask[i].sum().item())
            ids = responses[i, :n].tolist()
            stop = n > 0 and ids[-1] == eos
            body = ids[:-1] if stop else ids
            decode = lambda t: tok.decode(t, skip_special_tokens=False)  # noqa: E731
            text = decode(body)
            offsets = stepwise_steps.token_offsets(body, decode) + ([len(text)] if stop else [])
            resp.append({
                "text": text, "tokens": ids,
                "token_logp": lp_old[i, :n].float().tolist(), "token_logp_ref": lp_ref[i, :n].float().tolist(),
                "token_entropy": [0.0] * n,
                "step_ends": stepwise_steps.segment(text, offsets, SPEC["steps"]),
                "outcome": float(outcome[i].item()),
                "truncated": (not stop) and n >= responses.shape[1],
            })
        groups.append({"prompt": "", "reference": "", "responses": resp})
        at += G
    return {"groups": groups}


def compute_stepwise_advantage(token_level_rewards: torch.Tensor, response_mask: torch.Tensor, index: Optional[np.ndarray] = None,
                               config: Any = None, batch: Any = None, tokenizer_=None, **kwargs):
    """(advantages [B, T], returns [B, T]): the compiled advantage of the spec, 0 at padding."""
    if batch is None:
        raise rt.FormulaError("the stepwise estimator needs the batch: import stepwise_verl before training (it wraps compute_advantage)")
    tok = tokenizer_ or tokenizer()
    B = response_mask.shape[0]
    uids = list(index) if index is not None else list(range(B))
    first: dict = {}
    for i, u in enumerate(uids):
        first.setdefault(u, len(first))
    order = sorted(range(B), key=lambda i: (first[uids[i]], i))  # rows grouped by uid, stable
    group_sizes = [0] * len(first)
    for u in uids:
        group_sizes[first[u]] += 1
    lp_old = batch["old_log_probs"]
    lp_ref = batch["ref_log_prob"] if "ref_log_prob" in batch.keys() else lp_old
    outcome = (token_level_rewards * response_mask).sum(-1)
    rb = _rollout_batch(batch["responses"], response_mask, lp_old, lp_ref, outcome, order, group_sizes, tok)
    LAST.update(batch=rb, order=order)
    b = rt.batch_from_json(rb)
    adv_sorted = stepwise_advantages.advantages(b)  # [B, T'] in `order`
    T = response_mask.shape[1]
    adv = torch.zeros(B, T, dtype=torch.float32)
    width = min(T, adv_sorted.shape[1])
    for row, i in enumerate(order):
        adv[i, :width] = adv_sorted[row, :width].float()
    adv = adv.to(response_mask.device) * response_mask
    return adv, adv.clone()


def _register() -> None:
    from verl.trainer.ppo import core_algos, ray_trainer

    core_algos.register_adv_est("stepwise")(compute_stepwise_advantage)
    if getattr(ray_trainer.compute_advantage, "_stepwise", False):
        return
    original = ray_trainer.compute_advantage

    def compute_advantage(data, adv_estimator, *args, **kwargs):
        name = getattr(adv_estimator, "value", adv_estimator)
        if name != "stepwise":
            return original(data, adv_estimator, *args, **kwargs)
        if "response_mask" not in data.batch.keys():
            data.batch["response_mask"] = ray_trainer.compute_response_mask(data)
        fn = core_algos.get_adv_estimator_fn("stepwise")
        adv, ret = fn(token_level_rewards=data.batch["token_level_rewards"], response_mask=data.batch["response_mask"],
                      index=data.non_tensor_batch.get("uid"), config=kwargs.get("config"), batch=data.batch)
        data.batch["advantages"] = adv
        data.batch["returns"] = ret
        return data

    compute_advantage._stepwise = True  # type: ignore[attr-defined]
    ray_trainer.compute_advantage = compute_advantage
    try:  # the v1 trainer imports compute_advantage by name
        from verl.trainer.ppo.v1 import utils as v1_utils

        v1_utils.compute_advantage = compute_advantage
    except Exception:  # noqa: BLE001 - an older verl without v1
        pass


def make_data() -> None:
    """prompts.jsonl → prompts.parquet in verl's RL dataset layout."""
    import pandas as pd

    rows = [json.loads(line) for line in open(os.path.join(HERE, "prompts.jsonl")) if line.strip()]
    pd.DataFrame([{
        "data_source": "stepwise", "prompt": [{"role": "user", "content": r["question"]}],
        "reward_model": {"style": "rule", "ground_truth": r["reference"]}, "extra_info": {"index": i},
    } for i, r in enumerate(rows)]).to_parquet(os.path.join(HERE, "prompts.parquet"))


_register()

if __name__ == "__main__" and "--make-data" in sys.argv:
    make_data()
