"""The Stepwise formula runtime in PyTorch: the ops of the op registry (dsl/ops.ts) over a padded
rollout batch, with the semantics of the TF.js evaluator (src/rl/formula, README there), so that
the advantage code `stepwise compile` generates gives the numbers `stepwise advantage` gives.

Copied verbatim into every compiled package by `stepwise compile`; do not edit the copy.

Shapes by level (N responses, T padded tokens, K padded steps):
  group, response [N];  step [N, K];  token [N, T].  A 0-d tensor (a constant) is valid anywhere.
Padding may hold anything; every op that mixes elements zeroes it first (`torch.where(mask, x, 0)`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

LEVELS = {"group": 0, "response": 1, "step": 2, "token": 3}
STEP_LABELS = ["essential", "redundant", "slip", "fix", "answer"]
#: zscore's denominator is std + STD_EPS (sample std, n - 1), as TRL and verl
STD_EPS = 1e-6
#: float32, as the TF.js evaluator: where a formula divides by a group std near 0 the rounding of
#: the inputs shows in the result, and only the same precision reproduces it to 1e-6
DTYPE = torch.float32


class FormulaError(ValueError):
    """A batch that lacks a value a formula needs, or a formula the checker should have refused."""


def finest(*levels: str) -> str:
    return max(levels, key=lambda l: LEVELS[l])


def _last_one_hot(counts: list[int], L: int) -> torch.Tensor:
    """[len(counts), L] with 1 at position counts[i] - 1 of row i (none for a count of 0)"""
    out = torch.zeros(len(counts), L, dtype=DTYPE)
    for i, n in enumerate(counts):
        if n > 0:
            out[i, n - 1] = 1
    return out


@dataclass
class Batch:
    """A rollout batch as padded tensors (the Python twin of src/rl/batch-tensors.ts)."""

    N: int
    T: int
    K: int
    group_sizes: list[int]
    token_counts: list[int]
    step_counts: list[int]
    logp: torch.Tensor  # [N, T] rollout-time policy log-prob (lp_old)
    logp_ref: torch.Tensor  # [N, T]
    entropy: torch.Tensor  # [N, T]
    token_mask: torch.Tensor  # [N, T] bool
    step_mask: torch.Tensor  # [N, K] bool
    token_step: torch.Tensor  # [N, T] long, the step of each token (0 at padding)
    step_tokens: torch.Tensor  # [N, K]
    step_label: torch.Tensor  # [N, K] label code, -1 unknown
    outcome: torch.Tensor  # [N]
    truncated: torch.Tensor  # [N] 0/1
    group_id: torch.Tensor  # [N] long
    probes: dict[str, torch.Tensor] = field(default_factory=dict)  # [N, K]: u[k], the value before step k
    mc_value: Optional[torch.Tensor] = None  # [N, K]: V(s_k), the Monte Carlo value before step k (VinePPO)

    @property
    def G(self) -> int:
        return len(self.group_sizes)

    # derived quantities, as in batch-tensors.ts
    def position(self) -> torch.Tensor:
        return torch.arange(self.T, dtype=DTYPE).expand(self.N, self.T) * self.token_mask

    def step_index(self) -> torch.Tensor:
        return torch.arange(self.K, dtype=DTYPE).expand(self.N, self.K) * self.step_mask

    def step_last(self) -> torch.Tensor:
        """[N, K] 1 at the last step of each response"""
        return _last_one_hot(self.step_counts, self.K)

    def token_last(self) -> torch.Tensor:
        """[N, T] 1 at the last token of each response"""
        return _last_one_hot(self.token_counts, self.T)

    def token_step_one_hot(self) -> torch.Tensor:
        """[N, T, K] 1 where token t belongs to step k (0 at padding)"""
        oh = torch.nn.functional.one_hot(self.token_step, self.K).to(DTYPE)
        return oh * self.token_mask.unsqueeze(-1)

    def step_last_token(self) -> torch.Tensor:
        """[N, T, K] 1 where t is the last token of step k"""
        out = torch.zeros(self.N, self.T, self.K, dtype=DTYPE)
        for i in range(self.N):
            b = 0
            for k in range(self.step_counts[i]):
                e = b + int(self.step_tokens[i, k].item())
                if e > b:
                    out[i, e - 1, k] = 1
                b = e
        return out


def make_batch(
    group_sizes: list[int],
    token_logp: list[list[float]],
    token_logp_ref: list[list[float]],
    token_entropy: list[list[float]],
    step_ends: list[list[int]],
    outcome: list[float],
    truncated: Optional[list[bool]] = None,
    probes: Optional[dict[str, list[list[float]]]] = None,
    step_labels: Optional[list[Optional[list[str]]]] = None,
    mc_value: Optional[list[list[float]]] = None,
) -> Batch:
    """Pads per-response lists (responses group by group) into a Batch. probes: per probe, per
    response, K+1 values (before the first step and after each step)."""
    N = len(token_logp)
    if sum(group_sizes) != N:
        raise FormulaError(f"the group sizes {group_sizes} do not add up to the {N} responses")
    token_counts = [len(x) for x in token_logp]
    step_counts = [len(e) for e in step_ends]
    T = max([1, *token_counts])
    K = max([1, *step_counts])

    def pad(rows: list[list[float]], L: int, fill: float = 0.0) -> torch.Tensor:
        out = torch.full((N, L), fill, dtype=DTYPE)
        for i, r in enumerate(rows):
            if len(r):
                out[i, : len(r)] = torch.tensor(r, dtype=DTYPE)
        return out

    token_mask = torch.zeros(N, T, dtype=torch.bool)
    step_mask = torch.zeros(N, K, dtype=torch.bool)
    token_step = torch.zeros(N, T, dtype=torch.long)
    step_tokens = torch.zeros(N, K, dtype=DTYPE)
    step_label = torch.full((N, K), -1.0, dtype=DTYPE)
    for i in range(N):
        n = token_counts[i]
        ends = step_ends[i]
        if len(token_logp_ref[i]) != n or len(token_entropy[i]) != n:
            raise FormulaError(f"responses[{i}]: token_logp, token_logp_ref and token_entropy must have one value per token")
        if not ends or ends[-1] != n or any(e <= b for b, e in zip([0, *ends[:-1]], ends)):
            raise FormulaError(f"responses[{i}].step_ends: strictly increasing token ends, each step at least one token, the last = the token count {n}")
        token_mask[i, :n] = True
        b = 0
        for k, e in enumerate(step_ends[i]):
            step_mask[i, k] = True
            step_tokens[i, k] = e - b
            token_step[i, b:e] = k
            labels = step_labels[i] if step_labels else None
            if labels and k < len(labels) and labels[k] in STEP_LABELS:
                step_label[i, k] = STEP_LABELS.index(labels[k])
            b = e
    group_id = torch.tensor([g for g, s in enumerate(group_sizes) for _ in range(s)], dtype=torch.long)
    def step_values(rows, where: str, what: str) -> torch.Tensor:
        # [N, K] values per step (probe values or Monte Carlo values: K_i + 1 each, the last past the last step)
        t = torch.zeros(N, K, dtype=DTYPE)
        for i, u in enumerate(rows):
            Ki = step_counts[i]
            if u is None or len(u) < Ki:
                raise FormulaError(f"responses[{i}].{where}: needs {Ki + 1} values{what}, found {0 if u is None else len(u)}")
            t[i, :Ki] = torch.tensor(u[:Ki], dtype=DTYPE)
        return t

    probe_t = {name: step_values(rows, f"probes.{name}", "") for name, rows in (probes or {}).items()}
    mc_t = None if mc_value is None else step_values(mc_value, "mc_value", " (V(s_k) before each step, then the outcome)")
    return Batch(
        N=N, T=T, K=K, group_sizes=list(group_sizes), token_counts=token_counts, step_counts=step_counts,
        logp=pad(token_logp, T), logp_ref=pad(token_logp_ref, T), entropy=pad(token_entropy, T),
        token_mask=token_mask, step_mask=step_mask, token_step=token_step, step_tokens=step_tokens,
        step_label=step_label, outcome=torch.tensor(outcome, dtype=DTYPE),
        truncated=torch.tensor([1.0 if t else 0.0 for t in (truncated or [False] * N)], dtype=DTYPE),
        group_id=group_id, probes=probe_t, mc_value=mc_t,
    )


def batch_from_json(batch: dict) -> Batch:
    """The parsed JSON of the `stepwise advantage` batch format ({"groups": [{"responses": […]}]})."""
    if not isinstance(batch, dict) or not isinstance(batch.get("groups"), list):
        raise FormulaError('a batch is {"groups": [{"prompt", "reference", "responses": [...]}, ...]}')
    responses = [r for g in batch["groups"] for r in g["responses"]]
    names = sorted({p for r in responses for p in (r.get("probes") or {})})
    for i, r in enumerate(responses):
        for p in names:
            if p not in (r.get("probes") or {}):
                raise FormulaError(f'responses[{i}].probes: probe "{p}" is missing (other responses have it)')
    return make_batch(
        group_sizes=[len(g["responses"]) for g in batch["groups"]],
        token_logp=[r["token_logp"] for r in responses],
        token_logp_ref=[r["token_logp_ref"] for r in responses],
        token_entropy=[r["token_entropy"] for r in responses],
        step_ends=[r["step_ends"] for r in responses],
        outcome=[float(r["outcome"]) for r in responses],
        truncated=[bool(r.get("truncated", False)) for r in responses],
        probes={p: [r["probes"][p] for r in responses] for p in names},
        step_labels=[r.get("step_labels") for r in responses],
        mc_value=[r.get("mc_value") for r in responses] if any("mc_value" in r for r in responses) else None,
    )


# ---- values at a level ----


@dataclass
class V:
    """A tensor and the granularity it lives on."""

    level: str
    value: torch.Tensor


def shape_of(level: str, b: Batch) -> tuple[int, ...]:
    return (b.N, b.T) if level == "token" else (b.N, b.K) if level == "step" else (b.N,)


def mask_of(level: str, b: Batch) -> Optional[torch.Tensor]:
    return b.token_mask if level == "token" else b.step_mask if level == "step" else None


def clean(x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """x where mask, else 0: padding (which may hold NaN or ±Inf) cannot leak into sums."""
    if mask is None:
        return x
    return torch.where(mask, x, torch.zeros((), dtype=x.dtype))


def to_level(v: V, level: str, b: Batch) -> torch.Tensor:
    """Broadcasts v down to `level` with its full shape (step → token: each token takes its step's value)."""
    if LEVELS[v.level] > LEVELS[level]:
        raise FormulaError(f"a {v.level}-level value cannot be used where a {level}-level one is needed: reduce it first")
    x = v.value
    if x.dim() == 0:
        return x.expand(shape_of(level, b)).clone()
    if level in ("group", "response") or v.level == level:
        return x
    if v.level == "step":  # step → token, 0 at padded tokens
        xs = clean(x, b.step_mask)
        return clean(torch.gather(xs, 1, b.token_step), b.token_mask)
    return x.reshape(b.N, 1).expand(shape_of(level, b))


def num(value: float) -> V:
    return V("group", torch.tensor(value, dtype=DTYPE))


def elementwise(level: str, fn: Callable[..., torch.Tensor], b: Batch, *args: V) -> V:
    lvl = finest(level, *(a.level for a in args))
    if all(a.value.dim() == 0 for a in args):
        return V(lvl, fn(*(a.value for a in args)))
    return V(lvl, fn(*(to_level(a, lvl, b) for a in args)))


def where(level: str, b: Batch, c: V, t: V, e: V) -> V:
    return elementwise(level, lambda c, t, e: torch.where(c != 0, t, e), b, c, t, e)


# elementwise functions of the registry (dsl/ops.ts); the generator names them
def f_not(x: torch.Tensor) -> torch.Tensor:
    return (x == 0).to(DTYPE)


def f_and(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a != 0) & (b != 0)).to(DTYPE)


def f_or(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a != 0) | (b != 0)).to(DTYPE)


def f_cmp(op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return lambda a, b: op(a, b).to(DTYPE)


def f_clip(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    return torch.minimum(torch.maximum(x, lo), hi)


# ---- reductions (sum mean last max min), one level up ----


def reduce(kind: str, v: V, to: str, b: Batch) -> V:
    if LEVELS[v.level] <= LEVELS[to]:
        return v  # already one element at the target level
    if to == "step":
        if v.level != "token":
            raise FormulaError(f"{kind} over step needs a token-level value, found {v.level}")
        return V("step", _token_to_step(kind, v.value, b))
    return V("response", _to_response(kind, v.value, v.level, b))


def _token_to_step(kind: str, x: torch.Tensor, b: Batch) -> torch.Tensor:
    xc = clean(x.expand(b.N, b.T), b.token_mask)
    oh = b.token_step_one_hot()  # [N, T, K]
    if kind == "sum":
        return torch.einsum("nt,ntk->nk", xc, oh)
    if kind == "mean":
        return torch.einsum("nt,ntk->nk", xc, oh) / torch.clamp(b.step_tokens, min=1)
    if kind == "last":
        return torch.einsum("nt,ntk->nk", xc, b.step_last_token())
    if kind in ("max", "min"):
        sign = 1.0 if kind == "max" else -1.0
        col = (x.expand(b.N, b.T) * sign).unsqueeze(-1).expand(b.N, b.T, b.K)
        m = torch.where(oh > 0, col, torch.tensor(-math.inf, dtype=DTYPE)).amax(dim=1)
        return clean(m * sign, b.step_mask)
    raise FormulaError(f"unknown reduction {kind}")


def _to_response(kind: str, x: torch.Tensor, level: str, b: Batch) -> torch.Tensor:
    mask = mask_of(level, b)
    L = b.T if level == "token" else b.K
    xf = x.expand(b.N, L)
    count = mask.to(DTYPE).sum(1)
    if kind == "sum":
        return clean(xf, mask).sum(1)
    if kind == "mean":
        return clean(xf, mask).sum(1) / torch.clamp(count, min=1)
    if kind == "last":
        last = b.token_last() if level == "token" else b.step_last()
        return (clean(xf, mask) * last).sum(1)
    if kind in ("max", "min"):
        sign = 1.0 if kind == "max" else -1.0
        m = torch.where(mask, xf * sign, torch.tensor(-math.inf, dtype=DTYPE)).amax(dim=1)
        return torch.where(count > 0, m * sign, torch.zeros_like(count))
    raise FormulaError(f"unknown reduction {kind}")


# ---- group operators (center zscore rank), within the responses to one prompt ----


def _group_sum(x: torch.Tensor, per_column: bool, b: Batch) -> torch.Tensor:
    """[G, L] per column, or [G, 1] over every element of the group"""
    rows = x.reshape(b.N, 1) if x.dim() == 1 else (x if per_column else x.sum(1, keepdim=True))
    out = torch.zeros(b.G, rows.shape[1], dtype=DTYPE)
    return out.index_add(0, b.group_id, rows.to(DTYPE))


def _back_to_rows(stat: torch.Tensor, like: torch.Tensor, b: Batch) -> torch.Tensor:
    rows = stat[b.group_id]  # [N, L|1]
    return rows.reshape(b.N) if like.dim() == 1 else rows


def group(kind: str, v: V, level: str, by: Optional[str], b: Batch) -> V:
    """SPRO (arXiv 2507.01551) eq. 12 is center(…, by position); GRPO (arXiv 2402.03300) zscore(reward)."""
    lvl = finest(level, v.level)
    if by == "position":
        lvl = "token"
    elif by == "step_index":
        if lvl == "token":
            raise FormulaError("by step_index compares steps: the value must be step level")
        lvl = "step"
    elif lvl == "group":
        lvl = "response"
    x = to_level(v, lvl, b)
    if x.dim() == 0:
        x = x.expand(shape_of(lvl, b))
    mask = mask_of(lvl, b)
    per_column = by is not None
    if kind == "rank":
        return V(lvl, _rank(x, mask, per_column, b))
    ones = mask.to(DTYPE) if mask is not None else torch.ones_like(x, dtype=DTYPE)
    count = _group_sum(ones, per_column, b)
    mean = _group_sum(clean(x, mask), per_column, b) / torch.clamp(count, min=1)
    dev = x - _back_to_rows(mean, x, b)
    if kind == "center":
        return V(lvl, dev)
    if kind == "zscore":
        ss = _group_sum(clean(dev * dev, mask), per_column, b)
        std = torch.sqrt(ss / torch.clamp(count - 1, min=1))  # sample std (n - 1); 0 when n = 1
        return V(lvl, dev / (_back_to_rows(std, x, b) + STD_EPS))
    raise FormulaError(f"unknown group operator {kind}")


def _rank(x: torch.Tensor, mask: Optional[torch.Tensor], per_column: bool, b: Batch) -> torch.Tensor:
    """mid-rank scaled to [0, 1]: (#{x_j < x_i} + 0.5 #{j != i: x_j = x_i}) / (n - 1); 0.5 for a set of one"""
    x2 = x.reshape(b.N, 1) if x.dim() == 1 else x
    L = x2.shape[1]
    m2 = (mask.to(DTYPE) if mask is not None else torch.ones_like(x2, dtype=DTYPE)).reshape(b.N, L)
    parts = []
    start = 0
    for G in b.group_sizes:
        xg, mg = x2[start : start + G], m2[start : start + G]
        if per_column:
            xi, xj, mj = xg.reshape(G, 1, L), xg.reshape(1, G, L), mg.reshape(1, G, L)
        else:
            xi, xj, mj = xg.reshape(G * L, 1), xg.reshape(1, G * L), mg.reshape(1, G * L)
        less = ((xj < xi).to(DTYPE) * mj).sum(1)
        equal = ((xj == xi).to(DTYPE) * mj).sum(1)
        n = mj.sum(1).expand_as(less)
        r = (less + (equal - 1) * 0.5) / torch.clamp(n - 1, min=1)
        parts.append(torch.where(n <= 1, torch.full_like(r, 0.5), r).reshape(G, L))
        start += G
    out = torch.cat(parts, 0)
    return out.reshape(b.N) if x.dim() == 1 else out


# ---- scans along a response ----


def _scan_level(level: str, *args: V) -> str:
    lvl = finest(level, *(a.level for a in args))
    if lvl not in ("token", "step"):
        raise FormulaError(f"scans run over the tokens or steps of a response: found a {lvl}-level value")
    return lvl


def _scan_matrix(L: int, direction: str, g: float) -> torch.Tensor:
    """y = x W: forward W[a, c] = g^(c-a) for a <= c; backward W[a, c] = g^(a-c) for a >= c"""
    a = torch.arange(L).reshape(L, 1)
    c = torch.arange(L).reshape(1, L)
    keep = (a <= c) if direction == "forward" else (a >= c)
    # the powers in float64, then rounded once (as the TF.js evaluator builds its matrix in JS)
    w = torch.where(keep, torch.tensor(g, dtype=torch.float64) ** (a - c).abs().to(torch.float64), torch.zeros((), dtype=torch.float64))
    return w.to(DTYPE)


def scan(direction: str, gamma: float, v: V, level: str, b: Batch) -> V:
    lvl = _scan_level(level, v)
    x = clean(to_level(v, lvl, b), mask_of(lvl, b))
    L = b.T if lvl == "token" else b.K
    return V(lvl, x @ _scan_matrix(L, direction, gamma))


def gae(reward: V, value: V, gamma: float, lam: float, level: str, b: Batch) -> V:
    """SSPO (arXiv 2508.12604, Stepwise's reading), GAE (Schulman et al. 2016): u[K] = 0,
    delta[k] = r[k] + gamma u[k+1] - u[k], A[k] = sum_l (gamma lambda)^l delta[k+l]"""
    lvl = _scan_level(level, reward, value)
    mask = mask_of(lvl, b)
    r = to_level(reward, lvl, b)
    u = clean(to_level(value, lvl, b), mask)
    u_next = torch.cat([u[:, 1:], torch.zeros(b.N, 1, dtype=DTYPE)], 1)
    delta = r + gamma * u_next - u
    return scan("backward", gamma * lam, V(lvl, delta), lvl, b)


# ---- names: built-ins, probes, declared rewards and lets ----


class Context:
    """Evaluates a plan's names lazily and once each (declaration order does not matter)."""

    def __init__(self, batch: Batch, formulas: dict[str, Callable[["Context"], V]], reward_names: list[str]):
        self.b = batch
        self.formulas = formulas
        self.reward_names = reward_names
        self.values: dict[str, V] = {}
        self.active: list[str] = []

    def declared(self, name: str) -> V:
        if name in self.values:
            return self.values[name]
        if name not in self.formulas:
            raise FormulaError(f'unknown name "{name}": the plan declares no reward or let of that name')
        if name in self.active:
            raise FormulaError(f'"{name}" is defined in terms of itself ({" → ".join([*self.active, name])})')
        self.active.append(name)
        v = self.formulas[name](self)
        self.active.pop()
        self.values[name] = v
        return v

    def probe(self, name: str) -> V:
        if name not in self.b.probes:
            raise FormulaError(f'probe "{name}" is not recorded in the batch (responses[].probes.{name})')
        return V("step", self.b.probes[name])

    def builtin(self, name: str, level: str) -> V:
        b = self.b
        if name in ("reward", "step_reward"):
            if "reward" not in self.values:
                self._reward_totals()
            return self.values[name]
        table = {
            "logp": lambda: V("token", b.logp),
            "logp_ref": lambda: V("token", b.logp_ref),
            "logratio": lambda: V("token", b.logp - b.logp_ref),
            "entropy": lambda: V("token", b.entropy),
            "position": lambda: V("token", b.position()),
            "index": lambda: V("step", b.step_index()),
            "label": lambda: V("step", b.step_label),
            "tokens": lambda: V("step", b.step_tokens) if level in ("step", "token") else V("response", torch.tensor(b.token_counts, dtype=DTYPE)),
            "outcome": lambda: V("response", b.outcome),
            "steps": lambda: V("response", torch.tensor(b.step_counts, dtype=DTYPE)),
            "truncated": lambda: V("response", b.truncated),
            "mc_value": lambda: V("step", self._mc_value()),
        }
        if name not in table:
            raise FormulaError(f'unknown built-in "{name}"')
        return table[name]()

    def _mc_value(self) -> torch.Tensor:
        if self.b.mc_value is None:
            raise FormulaError("`mc_value`: the batch records no Monte Carlo values (responses[].mc_value)")
        return self.b.mc_value

    def _reward_totals(self) -> None:
        """r_o = sum of the declared rewards (outcome when none); step_reward = step (and token, summed
        per step) rewards at their step + response-level rewards on the last step."""
        b = self.b
        last = b.step_last()
        if not self.reward_names:
            self.values["reward"] = V("response", b.outcome)
            self.values["step_reward"] = V("step", last * b.outcome.reshape(b.N, 1))
            return
        coarse = torch.zeros(b.N, dtype=DTYPE)
        steps = torch.zeros(b.N, b.K, dtype=DTYPE)
        for name in self.reward_names:
            v = self.declared(name)
            if v.level == "token":
                steps = steps + reduce("sum", v, "step", b).value
            elif v.level == "step":
                steps = steps + clean(to_level(v, "step", b), b.step_mask)
            else:
                coarse = coarse + to_level(v, "response", b)
        self.values["reward"] = V("response", coarse + steps.sum(1))
        self.values["step_reward"] = V("step", steps + last * coarse.reshape(b.N, 1))


def token_advantages(adv: V, b: Batch) -> torch.Tensor:
    """The advantage broadcast to the tokens, [N, T], 0 at padding."""
    return clean(to_level(adv, "token", b), b.token_mask)


def unpad(x: torch.Tensor, b: Batch) -> list[list[float]]:
    return [x[i, : b.token_counts[i]].tolist() for i in range(b.N)]
