"""The task's verifier, with the rules of src/task (arithmetic.ts, answers.ts). Copied verbatim into
every compiled package by `stepwise compile`; the prompts come in prompts.jsonl, written by the
spec's own task generator.

  arithmetic: the first line `answer N` (N an integer) must equal the reference
  jsonl:      the final answer (`#### x`, the last `\\boxed{x}`, or `the answer is x`) must mean the
              same as the reference: numerically when both read as numbers, else as normalised text
"""
from __future__ import annotations

import math
import re
from typing import Optional

_ANSWER_LINE = re.compile(r"^answer\s+(\S+)$")


def extract_arithmetic_answer(response: str) -> Optional[str]:
    for line in response.split("\n"):
        m = _ANSWER_LINE.match(line.strip())
        if m:
            v = m.group(1)
            return v if re.fullmatch(r"-?\d+", v) else None
    return None


def _balanced(s: str, open_at: int) -> Optional[str]:
    depth = 0
    for i in range(open_at, len(s)):
        if s[i] == "{":
            depth += 1
        elif s[i] == "}":
            depth -= 1
            if depth == 0:
                return s[open_at + 1 : i]
    return None


def extract_final_answer(text: str) -> Optional[str]:
    gsm = re.findall(r"####[ \t]*([^\n]*)", text)
    if gsm and gsm[-1].strip() != "":
        return gsm[-1].strip()
    found = None
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        inner = _balanced(text, m.end() - 1)
        if inner is not None:
            found = inner
    if found is not None:
        return found.strip()
    said = re.findall(r"the\s+(?:final\s+)?answer\s+is\s*:?\s*([^\n]*)", text, flags=re.IGNORECASE)
    if said:
        a = said[-1]
        end = re.search(r"\.(?:\s|$)", a)
        if end:
            a = a[: end.start()]
        a = a.strip()
        if a != "":
            return a
    return None


def normalize_answer(answer: str) -> str:
    s = answer.strip()
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\mathrm\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\left|\\right|\\!|\\,|\\;|\\:|\\ ", "", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\^\s*\{?\\circ\}?|°|\\%|%|\$|€|£|¥", "", s)
    s = re.sub(r"\.\s*$", "", s)
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)
    return s.strip()


_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+"


def parse_numeric(answer: str) -> Optional[float]:
    s = normalize_answer(answer)
    frac = re.fullmatch(r"([-+]?)\\frac\{([^{}]+)\}\{([^{}]+)\}", s) or re.fullmatch(r"([-+]?)\\frac(\d)(\d)", s)
    if frac:
        n, d = parse_numeric(frac.group(2)), parse_numeric(frac.group(3))
        if n is None or d is None or d == 0:
            return None
        return (-1 if frac.group(1) == "-" else 1) * (n / d)
    ratio = re.fullmatch(rf"({_NUMBER})\s*/\s*({_NUMBER})", s)
    if ratio:
        n, d = float(ratio.group(1).replace(",", "")), float(ratio.group(2).replace(",", ""))
        return None if d == 0 else n / d
    m = re.fullmatch(rf"({_NUMBER})(?:\s+[a-zA-Z][a-zA-Z .]*)?", s)
    if not m:
        return None
    v = float(m.group(1).replace(",", ""))
    return v if math.isfinite(v) else None


def answers_equal(a: str, b: str) -> bool:
    x, y = parse_numeric(a), parse_numeric(b)
    if x is not None and y is not None:
        return abs(x - y) <= 1e-6 * max(1, abs(x), abs(y))
    squash = lambda s: re.sub(r"\s+", "", normalize_answer(s))  # noqa: E731
    return squash(a) == squash(b)


def verify(task_kind: str, response: str, reference: str) -> float:
    """1.0 when the response's final answer equals the reference, else 0.0."""
    if task_kind == "arithmetic":
        a = extract_arithmetic_answer(response)
        try:
            return 1.0 if a is not None and int(a) == int(reference.strip()) else 0.0
        except ValueError:
            return 0.0
    a = extract_final_answer(response)
    return 1.0 if a is not None and answers_equal(a, reference) else 0.0
