"""The task's verifier, with the rules of src/task (arithmetic.ts, answers.ts). Copied verbatim into
every compiled package by `stepwise compile`; the prompts come in prompts.jsonl, written by the
spec's own task generator.

  arithmetic: the first line `answer N` (N an integer) must equal the reference
  jsonl:      the final answer (`#### x`, the last `\\boxed{x}`, or `the answer is x`) must mean the
              same as the reference by grade_answer (src/task/grade.ts's rules; docs/grading.md)
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
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


# ---- the grader: src/task/grade.ts, rule for rule (same verdict on every input) -------------------
#
# An answer is read, after wrappers and formatting are removed, as a number, a tuple, an interval,
# a set, a text or an assignment; anything else (algebra) is "undecided" unless its normalised text
# is identical to the other answer's. Numbers compare as math-verify compares sympy numbers: equal
# values; with a decimal involved, values rounded to 6 decimals (never against an integer); a
# percent of an integer also equals the bare integer. See docs/grading.md.

def _ratio(n: int, d: int) -> tuple:
    if d < 0:
        n, d = -n, -d
    g = math.gcd(n, d) or 1
    return n // g, d // g


def _to_float(n: int, d: int) -> float:
    def f(i: int) -> float:
        try:
            return float(i)
        except OverflowError:
            return math.inf if i > 0 else -math.inf
    a, b = f(n), f(d)
    if math.isinf(a) and math.isinf(b):
        return math.nan
    return a / b


def _round_half_even(n: int, d: int) -> int:
    q = n // d
    r2 = 2 * (n - q * d)
    if r2 > d or (r2 == d and q % 2 != 0):
        return q + 1
    return q


def _closing(s: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(s)):
        if s[i] == "{":
            depth += 1
        elif s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _unwrap_once(s: str) -> Optional[str]:
    boxed = re.match(r"\\(?:boxed|fbox)\s*\{", s)
    if boxed and _closing(s, boxed.end() - 1) == len(s) - 1:
        return s[boxed.end() : -1]
    for open_, close in (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"), ("$", "$")):
        if len(s) > len(open_) + len(close) and s.startswith(open_) and s.endswith(close):
            inner = s[len(open_) : len(s) - len(close)]
            if open_ == "$" and ("$" in inner or s.startswith("\\$")):
                continue
            return inner
    return None


def _clean(answer: str) -> str:
    s = answer.strip()
    inner = _unwrap_once(s)
    while inner is not None:
        s = inner.strip()
        inner = _unwrap_once(s)
    s = re.sub(r"\\(?:mathrm|mathbf|mathit|textbf|textit|textrm|textnormal|mbox)\s*\{", r"\\text{", s)
    s = re.sub(r"\\[dtc]frac", r"\\frac", s)
    s = re.sub(r"([\^_])\{\s*(\w)\s*\}", r"\1\2", s)
    s = re.sub(r"\\left|\\right|\\displaystyle", "", s)
    s = re.sub(r"\\ |~", " ", re.sub(r"\\[!,;:]", "", s))
    s = re.sub(r"\\\$|\$|€|£|¥|₹", "", s)
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°", "", s)
    s = re.sub(r"(\S)\.\Z", r"\1", s.strip())
    return s.strip()


def _top_level_split(s: str) -> Optional[list]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif c == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    if depth != 0:
        return None
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _encloses_all(s: str) -> bool:
    depth = 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0 and i < len(s) - 1:
                return False
    return depth == 0


_DECIMAL = r"(?:\d+(?:\.\d*)?|\.\d+)"
_RE_DECIMAL = re.compile(rf"([-+]?)({_DECIMAL})")
_RE_THOUSANDS = re.compile(r"([-+]?)(\d{1,3}(?:,\d{3})+)(\.\d+)?")
_RE_FRAC = re.compile(r"([-+]?)\\frac\s*(?:\{\s*([-+]?\d+)\s*\}|(\d))\s*(?:\{\s*([-+]?\d+)\s*\}|(\d))")
_RE_SLASH = re.compile(r"([-+]?\d+)\s*/\s*([-+]?\d+)")
_RE_MIXED_FRAC = re.compile(r"([-+]?)(\d+)\s*\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))")
_RE_SCI = re.compile(rf"(?:([-+]?{_DECIMAL})\s*(?:\\times|\\cdot|×)\s*)?10\s*\^\s*(?:\{{\s*([-+]?\d+)\s*\}}|(\d))")
_RE_PERCENT = re.compile(r"(.*?)\s*(?:\\%|%|\\text\{\s*(?:percent|percentage|pct)\s*\}|\b(?:percent|percentage|pct))")
_RE_INF = re.compile(r"([-+]?)\s*(?:\\infty|∞|infinity|inf)")
_MAX_EXPONENT = 400


class _Num:
    """n/d exact (reduced, d > 0); f the double sympy's Float holds; atomic: a literal, not a×10^k."""

    __slots__ = ("n", "d", "type", "f", "atomic", "pct")
    kind = "number"

    def __init__(self, n, d, type_, f, atomic, pct=False):
        self.n, self.d, self.type, self.f, self.atomic, self.pct = n, d, type_, f, atomic, pct

    def with_(self, **kw):
        v = _Num(self.n, self.d, self.type, self.f, self.atomic, self.pct)
        for k, x in kw.items():
            setattr(v, k, x)
        return v


class _Val:
    def __init__(self, kind, **kw):
        self.kind = kind
        self.__dict__.update(kw)


_EXPR = _Val("expr")


def _rational(n: int, d: int, atomic: bool = True) -> Optional[_Num]:
    if d == 0:
        return None
    a, b = _ratio(n, d)
    return _Num(a, b, "int" if b == 1 else "rat", _to_float(a, b), atomic)


def _decimal(sign: str, digits: str) -> _Num:
    whole, _, frac = digits.partition(".")
    n = int(("-" if sign == "-" else "") + ((whole + frac) or "0"))
    a, b = _ratio(n, 10 ** len(frac))
    f = float(sign + ("0" if digits.startswith(".") else "") + digits)
    return _Num(a, b, "float" if "." in digits else "int", f, True)


def _scientific(mantissa: str, k: int) -> Optional[_Num]:
    if abs(k) > _MAX_EXPONENT:
        return None
    m = _RE_DECIMAL.fullmatch(mantissa)
    base = _decimal(m.group(1), m.group(2))
    p = 10 ** abs(k)
    n, d = _ratio(base.n * p, base.d) if k >= 0 else _ratio(base.n, base.d * p)
    if base.type == "float":
        pf = _to_float(p, 1)
        return _Num(n, d, "float", base.f * pf if k >= 0 else base.f / pf, False)
    return _rational(n, d, False)


def _read_number(s: str) -> Optional[_Num]:
    m = _RE_DECIMAL.fullmatch(s)
    if m:
        return _decimal(m.group(1), m.group(2))
    m = _RE_THOUSANDS.fullmatch(s)
    if m:
        return _decimal(m.group(1), m.group(2).replace(",", "") + (m.group(3) or ""))
    m = _RE_FRAC.fullmatch(s)
    if m:
        r = _rational(int(m.group(2) or m.group(3)), int(m.group(4) or m.group(5)))
        return _rational(-r.n, r.d) if r and m.group(1) == "-" else r
    m = _RE_SLASH.fullmatch(s)
    if m:
        return _rational(int(m.group(1)), int(m.group(2)))
    m = _RE_MIXED_FRAC.fullmatch(s)
    if m:
        w, a, b = m.group(2), m.group(3) or m.group(4), m.group(5) or m.group(6)
        if int(b) == 0:
            return None
        r = _rational(int(w) * int(b) + int(a), int(b))
        return _rational(-r.n, r.d) if m.group(1) == "-" else r
    m = _RE_SCI.fullmatch(s)
    if m:
        return _scientific(m.group(1) or "1", int(m.group(2) or m.group(3)))
    return None


def _read_item(s: str):
    v = _read(s)
    return _EXPR if v.kind in ("set", "tuple", "interval", "assign") else v


def _item_key(v) -> str:
    if v.kind == "number":
        return f"{v.type}:{v.f if v.type == 'float' else f'{v.n}/{v.d}'}:{v.pct}"
    if v.kind == "text":
        return f"text:{v.name}"
    if v.kind == "inf":
        return f"inf:{v.sign}"
    return "?"


def _read_collection(kind: str, parts: list):
    items = [_read_item(p) for p in parts]
    if any(v.kind == "expr" for v in items):
        return _EXPR
    if kind == "set":
        seen, unique = set(), []
        for v in items:
            if _item_key(v) not in seen:
                seen.add(_item_key(v))
                unique.append(v)
        items = unique
    return _Val(kind, items=items)


def _read(raw: str):
    s = _clean(raw)
    if s == "":
        return _EXPR
    pct = False
    m = _RE_PERCENT.fullmatch(s)
    if m and m.group(1).strip() != "":
        pct, s = True, m.group(1).strip()
    m = re.fullmatch(r"(.*\S)\s*\\text\s*\{[^{}]*\}(?:\^\d|\^\{\d\})?", s)
    if m:
        s = m.group(1).strip()
    m = re.fullmatch(r"(.*[\d}])\s+[A-Za-z]+(?:\s+[A-Za-z]+)?\.?", s)
    if m and _read(m.group(1)).kind != "expr":
        s = m.group(1).strip()
    num = _read_number(s)
    if num:
        return num.with_(pct=True) if pct else num
    if pct:
        return _EXPR
    m = _RE_INF.fullmatch(s)
    if m:
        return _Val("inf", sign=-1 if m.group(1) == "-" else 1)
    m = re.fullmatch(r"\\text\s*\{([^{}]*)\}", s)
    if m:
        inner = m.group(1).strip()
        n = _read_number(inner)
        if n:
            return n
        name = re.sub(r"[\s()]", "", inner.lower())
        return _Val("text", name=name) if re.fullmatch(r"[a-z]+", name) else _EXPR
    if re.fullmatch(r"[A-Za-z]+", s):
        return _Val("text", name=s.lower() if len(s) > 1 else s)
    m = re.fullmatch(r"([A-Za-z])\s*=\s*(.+)", s)
    if m:
        value = _read_item(m.group(2))
        return _EXPR if value.kind == "expr" else _Val("assign", name=m.group(1), value=value)
    if s.startswith("\\{") and s.endswith("\\}"):
        parts = _top_level_split(s[2:-2])
        return _read_collection("set", parts) if parts and all(p != "" for p in parts) else _EXPR
    if re.match(r"[(\[]", s) and re.search(r"[)\]]\Z", s) and _encloses_all(s):
        parts = _top_level_split(s[1:-1])
        if not parts or any(p == "" for p in parts):
            return _EXPR
        if len(parts) == 1:
            return _read_item(parts[0]) if s.startswith("(") and s.endswith(")") else _EXPR
        if len(parts) == 2:
            lo, hi = _read_item(parts[0]), _read_item(parts[1])
            if lo.kind == "expr" or hi.kind == "expr":
                return _EXPR
            if _less_than(lo, hi):
                return _Val("interval", lo=lo, hi=hi, lopen=s.startswith("("), ropen=s.endswith(")"))
        return _read_collection("tuple", parts)
    parts = _top_level_split(s)
    if parts and len(parts) > 1 and all(p != "" for p in parts):
        return _read_collection("set", parts)
    return _EXPR


def _applied(a: _Num) -> _Num:
    if not a.pct:
        return a
    if a.type == "float":
        n, d = _ratio(a.n, a.d * 100)
        return a.with_(n=n, d=d, f=a.f / 100, pct=False)
    return _rational(a.n, a.d * 100, a.atomic)


def _as_double(a: _Num) -> float:
    return a.f if a.type == "float" else _to_float(a.n, a.d)


def _sort_value(v) -> float:
    if v.kind == "number":
        return _as_double(_applied(v))
    if v.kind == "inf":
        return v.sign * math.inf
    return math.nan


def _less_than(a, b) -> bool:
    x, y = _sort_value(a), _sort_value(b)
    return not math.isnan(x) and not math.isnan(y) and x < y


def _millionths(a: _Num) -> Optional[int]:
    if a.type == "float":
        if not math.isfinite(a.f):
            return None
        fr = Fraction(a.f)
        n, d = fr.numerator, fr.denominator
    else:
        n, d = a.n, a.d
    return _round_half_even(n * 1_000_000, d)


def _numbers_equal(a: _Num, b: _Num) -> bool:
    x, y = _applied(a), _applied(b)
    if x.type == "float" or y.type == "float":
        if _as_double(x) == _as_double(y):
            return True
    elif x.n == y.n and x.d == y.d:
        return True
    if not a.atomic and not b.atomic:
        return False
    if (a.atomic and a.type == "float") or (b.atomic and b.type == "float"):
        if x.type == "int" or y.type == "int":
            return False
        mx, my = _millionths(x), _millionths(y)
        return mx is not None and mx == my
    return a.atomic and b.atomic and a.type == "int" and b.type == "int" and a.n == b.n


def _sorted(items: list) -> list:
    def key(v):
        x = _sort_value(v)
        return (math.inf if math.isnan(x) else x, v.name if v.kind == "text" else "")
    return sorted(items, key=key)


def _pairwise(a: list, b: list) -> bool:
    return len(a) == len(b) and all(_compare(x, y) == "equal" for x, y in zip(a, b))


def _collections_equal(gold, pred) -> bool:
    a = gold if gold.kind in ("set", "tuple", "interval") else _Val("set", items=[gold])
    b = pred if pred.kind in ("set", "tuple", "interval") else _Val("set", items=[pred])
    if a.kind == "interval" and b.kind == "interval":
        return a.lopen == b.lopen and a.ropen == b.ropen and _compare(a.lo, b.lo) == "equal" and _compare(a.hi, b.hi) == "equal"

    def finite(g, p) -> bool:
        if len(g.items) != len(p.items):
            return False
        if g.kind == "set":
            return _pairwise(_sorted(g.items), _sorted(p.items))
        return _pairwise(g.items, p.items)

    fin = ("set", "tuple")
    if a.kind in fin and b.kind in fin:
        return finite(a, b)
    if a.kind == "interval" and b.kind in fin:
        return a.lopen and a.ropen and len(b.items) == 2 and finite(_Val("tuple", items=[a.lo, a.hi]), b)
    if a.kind in fin and b.kind == "interval":
        return b.lopen and b.ropen and len(a.items) == 2 and finite(a, _Val("tuple", items=[b.lo, b.hi]))
    return False


def _compare(gold, pred) -> str:
    if gold.kind == "expr" or pred.kind == "expr":
        return "undecided"
    if gold.kind == "assign" and pred.kind == "assign":
        return _compare(gold.value, pred.value) if gold.name == pred.name else "different"
    if gold.kind == "assign":
        return _compare(gold.value, pred)
    if pred.kind == "assign":
        return _compare(gold, pred.value)
    coll = ("set", "tuple", "interval")
    if gold.kind in coll or pred.kind in coll:
        return "equal" if _collections_equal(gold, pred) else "different"
    if gold.kind == "text" and pred.kind == "text":
        return "equal" if gold.name == pred.name else "different"
    if gold.kind == "inf" and pred.kind == "inf":
        return "equal" if gold.sign == pred.sign else "different"
    if gold.kind == "number" and pred.kind == "number":
        return "equal" if _numbers_equal(gold, pred) else "different"
    return "different"


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", _clean(s))


def grade_answer(gold: str, pred: str) -> str:
    """'equal', 'different' or 'undecided' (not equal): src/task/grade.ts gradeAnswer."""
    if _squash(gold) != "" and _squash(gold) == _squash(pred):
        return "equal"
    return _compare(_read(gold), _read(pred))


def answers_equal(gold: str, pred: str) -> bool:
    return grade_answer(gold, pred) == "equal"


def verify(task_kind: str, response: str, reference: str) -> float:
    """1.0 when the response's final answer equals the reference, else 0.0."""
    if task_kind == "arithmetic":
        a = extract_arithmetic_answer(response)
        try:
            return 1.0 if a is not None and int(a) == int(reference.strip()) else 0.0
        except ValueError:
            return 0.0
    a = extract_final_answer(response)
    return 1.0 if a is not None and answers_equal(reference, a) else 0.0
