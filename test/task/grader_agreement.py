"""math-verify's verdicts and the compiled runtime's grade_answer on a corpus of answer pairs, in one
process (test/task/grader-agreement.test.ts). stdin: [{gold, pred}, ...]; argv[1]: the directory of
stepwise_task.py. stdout: [{mv: bool, decided: bool, py: "equal"|"different"|"undecided"}, ...].

math-verify sees each answer as a MATH solution writes it: inside \\boxed{} unless it already opens
with a math delimiter. It "decides" a pair when both sides parse to a sympy expression (a parse
that fails leaves only the string fallback, compared as raw text).
"""
import json
import logging
import sys

sys.path.insert(0, sys.argv[1])
logging.disable(logging.WARNING)

from math_verify import parse, verify  # noqa: E402
from stepwise_task import grade_answer  # noqa: E402


def as_math(s: str) -> str:
    if s.startswith("\\boxed") or s.startswith("\\(") or s.startswith("\\[") or (s.startswith("$") and not s.startswith("\\$")):
        return s
    return "\\boxed{" + s + "}"


out = []
for pair in json.load(sys.stdin):
    g, p = parse(as_math(pair["gold"])), parse(as_math(pair["pred"]))
    decided = bool(g) and bool(p) and not isinstance(g[0], str) and not isinstance(p[0], str)
    out.append({"mv": bool(verify(g, p)), "decided": decided, "py": grade_answer(pair["gold"], pair["pred"])})
json.dump(out, sys.stdout)
