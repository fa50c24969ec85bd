"""Test helper for test/compile/verl.test.ts: imports a compiled verl package (argv[1]) and the real
verl, builds a DataProto of rollouts (rows of a group not adjacent, as after verl's balancing),
runs verl's own compute_advantage with adv_estimator "stepwise", and prints the rollouts the
estimator saw (the batch format), their advantages in that order, and checks of the registry."""
import json
import sys

import numpy as np
import torch

pkg, tokenizer_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, pkg)
import os  # noqa: E402

os.environ["STEPWISE_TOKENIZER"] = tokenizer_dir
import stepwise_verl  # noqa: E402  (registers the estimator, wraps compute_advantage)
from verl import DataProto  # noqa: E402
from verl.trainer.config import AlgoConfig  # noqa: E402
from verl.trainer.ppo import core_algos, ray_trainer  # noqa: E402

tok = stepwise_verl.tokenizer()
texts = ["6+8 is 14", "answer 14", "6 + 8 = 12 so answer 12", "x", "9+7 = 16 answer 16", "7 9 16 answer", "no idea at all here", "16"]
uids = ["a", "b", "a", "b", "a", "b"]  # two groups of three, interleaved
T = 14
B = len(uids)
responses = torch.zeros(B, T, dtype=torch.long)
mask = torch.zeros(B, T, dtype=torch.long)
rewards = torch.zeros(B, T)
for i in range(B):
    ids = tok(texts[i], add_special_tokens=False)["input_ids"][: T - 1] + [tok.eos_token_id]
    responses[i, : len(ids)] = torch.tensor(ids)
    mask[i, : len(ids)] = 1
    rewards[i, len(ids) - 1] = float(i % 2 == 0 and i < 4)  # verl places the score on the last token
torch.manual_seed(5)
lp_old = -torch.rand(B, T) * 3
lp_ref = lp_old + (torch.rand(B, T) - 0.5) * 0.2
data = DataProto.from_dict(
    tensors={"responses": responses, "response_mask": mask, "old_log_probs": lp_old, "ref_log_prob": lp_ref, "token_level_rewards": rewards},
    non_tensors={"uid": np.array(uids, dtype=object)},
)
grpo_in = DataProto.from_dict(tensors={k: v.clone() for k, v in data.batch.items()}, non_tensors={"uid": np.array(uids, dtype=object)})
out = ray_trainer.compute_advantage(data, adv_estimator="stepwise", config=AlgoConfig(adv_estimator="stepwise"))
# every other estimator passes through the wrapper unchanged
grpo = ray_trainer.compute_advantage(grpo_in, adv_estimator=core_algos.AdvantageEstimator.GRPO, config=AlgoConfig())
want, _ = core_algos.compute_grpo_outcome_advantage(rewards, mask.float(), np.array(uids, dtype=object))
adv = out.batch["advantages"]
order = stepwise_verl.LAST["order"]
print(json.dumps({
    "registered": core_algos.get_adv_estimator_fn("stepwise") is stepwise_verl.compute_stepwise_advantage,
    "grpo_untouched": bool(torch.allclose(grpo.batch["advantages"], want)),
    "batch": stepwise_verl.LAST["batch"],
    "advantages": [adv[i, : int(mask[i].sum())].tolist() for i in order],
    "padding_zero": bool((adv * (1 - mask)).abs().max() == 0),
}))
