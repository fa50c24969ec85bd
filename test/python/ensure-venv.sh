#!/usr/bin/env bash
# Create the project's Python environment at .venv (repository root) from
# test/python/requirements.txt, once. Quick when nothing changed.
#
# PyPI's torch wheel brings CUDA libraries (several GB), so the environment itself is kept in a
# per-user cache keyed by the hash of the requirements (~/.cache/stepwise/venv-<hash>) and .venv
# links to it: a second clone on the same machine reuses it instead of downloading again. A .venv
# that is a real directory (made by hand) is used as it is and updated in place.
#   STEPWISE_NO_VENV=1     skip (tests that need Python then skip, saying why)
#   STEPWISE_PYTHON=...    the interpreter to build it with (default: the first python3 >= 3.10)
#   STEPWISE_CACHE=DIR     where cached environments live (default ~/.cache/stepwise)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
req="$root/test/python/requirements.txt"
link="$root/.venv"
[ "${STEPWISE_NO_VENV:-}" = "1" ] && { echo "ensure-venv: skipped (STEPWISE_NO_VENV=1)"; exit 0; }
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [ -d "$link" ] && [ ! -L "$link" ]; then
  venv="$link"
else
  venv="${STEPWISE_CACHE:-$HOME/.cache/stepwise}/venv-${want:0:16}"
fi
have="$(cat "$venv/.stepwise-requirements.sha256" 2>/dev/null || true)"
if [ "$want" != "$have" ] || [ ! -x "$venv/bin/python" ]; then
  py="${STEPWISE_PYTHON:-}"
  if [ -z "$py" ]; then
    for c in python3.12 python3.11 python3; do
      if command -v "$c" >/dev/null && "$c" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then py="$c"; break; fi
    done
  fi
  [ -n "$py" ] || { echo "ensure-venv: no python3 >= 3.10 with the venv and ensurepip modules found" >&2; exit 1; }
  echo "ensure-venv: building $venv from test/python/requirements.txt (first use: several minutes, a few GB)"
  mkdir -p "$(dirname "$venv")"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req"
  echo "$want" > "$venv/.stepwise-requirements.sha256"
fi
if [ "$venv" != "$link" ]; then ln -sfn "$venv" "$link"; fi
