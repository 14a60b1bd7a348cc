#!/usr/bin/env bash
# The offline end-to-end demo on a fresh machine: makes .venv if missing, installs edgenet with the
# workstation extra, then runs `edgenet demo` (arguments are passed on, e.g. --camera 0 or --workdir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[host]'
exec .venv/bin/edgenet demo "$@"
