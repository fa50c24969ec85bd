"""Test helper: reads jobs [{"dir": PKG, "batches": [BATCH.json, ...]}] on stdin, loads each package's
generated stepwise_advantages.py and prints {"results": [[advantages or {"error": msg}, ...], ...]}."""
import importlib.util
import json
import math
import sys


def finite(rows):
    """NaN and ±inf as None (JSON has no NaN)"""
    return [[v if math.isfinite(v) else None for v in row] for row in rows]


jobs = json.load(sys.stdin)
results = []
for n, job in enumerate(jobs):
    sys.path.insert(0, job["dir"])
    spec = importlib.util.spec_from_file_location(f"adv{n}", f'{job["dir"]}/stepwise_advantages.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.path.pop(0)
    out = []
    for path in job["batches"]:
        with open(path) as f:
            batch = json.load(f)
        try:
            out.append(finite(mod.advantages_from_batch(batch)))
        except Exception as e:  # noqa: BLE001 - reported to the test
            out.append({"error": f"{type(e).__name__}: {e}"})
    results.append(out)
json.dump({"results": results}, sys.stdout)
