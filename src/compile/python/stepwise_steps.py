"""Step segmentation from a tokenizer's offsets, with the rules of src/rl/segment.ts (ALGORITHMS.md,
"Notation: Steps"). Copied verbatim into every compiled package by `stepwise compile`.

Steps are found on the text (a delimiter, a regex) or by counting tokens, then mapped to tokens: a
token belongs to the step that contains its first character. Rules, in order:
 1. cuts: `split`, each delimiter ENDS the step it closes; `regex`, a whitespace-only match ends its
    step, any other match is a HEADER that starts the next step, a zero-width match cuts where it
    stands; `every`, a cut after each `tokens` tokens;
 2. char cuts become token cuts; cuts that give a step no token vanish;
 3. when the response has more than one line, cuts inside its last non-empty line are removed;
 4. min_tokens: a shorter step merges into the next one (the last, into the previous);
 5. max_steps (> 0): the tail from step max_steps-1 on merges into one last step.
An empty response has one empty step: step_ends [0].
"""
from __future__ import annotations

import bisect
import re
from typing import Callable, Sequence


def token_offsets(tokens: Sequence[int], decode: Callable[[list[int]], str]) -> list[int]:
    """The character offset where each token starts: per-token decodes when they concatenate to the
    full decode, else the length of the decoded prefix, clamped to be non-decreasing."""
    tokens = list(tokens)
    full = decode(tokens)
    pieces = [decode([t]) for t in tokens]
    if "".join(pieces) == full:
        out, at = [], 0
        for p in pieces:
            out.append(at)
            at += len(p)
        return out
    out, prev = [], 0
    for j in range(len(tokens)):
        length = 0 if j == 0 else len(decode(tokens[:j]))
        prev = min(max(prev, length), len(full))
        out.append(prev)
    return out


def _js_regex(pattern: str, flags: str) -> re.Pattern[str]:
    """A JavaScript regex (the DSL's /…/flags) as a Python one: the common subset (flags i, m, s)."""
    f = 0
    if "i" in flags:
        f |= re.IGNORECASE
    if "m" in flags:
        f |= re.MULTILINE
    if "s" in flags:
        f |= re.DOTALL
    return re.compile(pattern, f)


def _char_cuts(text: str, steps: dict) -> list[int]:
    cuts: list[int] = []
    if steps["kind"] == "split":
        d = steps["delimiter"]
        at = text.find(d)
        while at >= 0:
            cuts.append(at + len(d))
            at = text.find(d, at + len(d))
    elif steps["kind"] == "regex":
        for m in _js_regex(steps["pattern"], steps.get("flags", "")).finditer(text):
            s, e = m.start(), m.end()
            if e == s:
                cuts.append(s)
            elif m.group(0).strip() == "":
                cuts.append(e)
            else:
                cuts.append(s)
    return sorted({c for c in cuts if 0 < c < len(text)})


def _final_line_start(text: str) -> int | None:
    end = len(text)
    while end > 0 and text[end - 1] in "\r\n":
        end -= 1
    nl = text.rfind("\n", 0, end)  # the last newline at or before end - 1
    if nl < 0 or text[:nl].strip() == "":
        return None
    return nl + 1


def segment(text: str, offsets: Sequence[int], steps: dict) -> list[int]:
    """The exclusive end token of each step (the last equals the token count). `steps` is the plan's
    SegmentationPlan: {"kind": "split"|"regex"|"every", …, "minTokens", "maxSteps"}."""
    n = len(offsets)
    if n == 0:
        return [0]
    if steps["kind"] == "every":
        every = int(steps["tokens"])
        cuts = list(range(every, n, every))
    else:
        cuts = []
        for c in _char_cuts(text, steps):
            t = bisect.bisect_left(offsets, c)  # tokens that start before c
            if 0 < t < n and (not cuts or cuts[-1] != t):
                cuts.append(t)
    answer = _final_line_start(text)
    if answer is not None:
        first = bisect.bisect_left(offsets, answer)
        cuts = [c for c in cuts if c <= first]
    ranges: list[list[int]] = []
    b = 0
    for c in cuts:
        ranges.append([b, c])
        b = c
    ranges.append([b, n])
    min_tokens = int(steps.get("minTokens", 0))
    if min_tokens > 0:
        out: list[list[int]] = []
        pending = None
        for b, e in ranges:
            start = pending if pending is not None else b
            if e - start < min_tokens:
                pending = start
            else:
                out.append([start, e])
                pending = None
        if pending is not None:
            if out:
                out[-1][1] = n
            else:
                out.append([pending, n])
        ranges = out
    max_steps = int(steps.get("maxSteps", 0))
    if max_steps > 0 and len(ranges) > max_steps:
        keep = ranges[: max_steps - 1]
        keep.append([ranges[max_steps - 1][0], n])
        ranges = keep
    return [e for _, e in ranges]


def step_texts(text: str, offsets: Sequence[int], step_ends: Sequence[int]) -> list[str]:
    """Each step's text (they concatenate to the response): from its first token's first character."""
    n = len(offsets)
    out, b = [], 0
    for k, e in enumerate(step_ends):
        start = 0 if k == 0 else offsets[b]
        end = len(text) if e >= n else offsets[e]
        out.append(text[start:end])
        b = e
    return out
