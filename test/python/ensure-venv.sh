#!/usr/bin/env bash
# Create or update the project's Python environment in .venv/ (repository root) from
# test/python/requirements.txt. Idempotent and quick when nothing changed: the hash of the
# requirements is kept in .venv/.stepwise-requirements.sha256. PyPI's torch wheel brings CUDA
# libraries (a few GB); pip's cache (~/.cache/pip) keeps a second install from downloading again.
# STEPWISE_NO_VENV=1 skips it (tests that need it then skip with a message).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
req="$root/test/python/requirements.txt"
venv="$root/.venv"
[ "${STEPWISE_NO_VENV:-}" = "1" ] && { echo "ensure-venv: skipped (STEPWISE_NO_VENV=1)"; exit 0; }
want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$venv/.stepwise-requirements.sha256" 2>/dev/null || true)"
if [ "$want" = "$have" ] && [ -x "$venv/bin/python" ]; then exit 0; fi
py="${STEPWISE_PYTHON:-}"
if [ -z "$py" ]; then
  for c in python3.12 python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then py="$c"; break; fi
  done
fi
[ -n "$py" ] || { echo "ensure-venv: no python3 >= 3.10 with the venv module found" >&2; exit 1; }
echo "ensure-venv: setting up $venv from test/python/requirements.txt (first use: a few minutes)"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req"
echo "$want" > "$venv/.stepwise-requirements.sha256"
