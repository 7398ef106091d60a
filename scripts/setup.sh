#!/usr/bin/env bash
# Set up the project's virtual environment in .venv: every install step lives here, nowhere else.
#   torch first, pinned to the CPU wheel (a bare `torch` requirement pulls a multi-GB CUDA build);
#   GPAW's C extension needs CC=g++ to compile here.
# Re-running is cheap: a stamp file records the hash of pyproject.toml and this script.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${SEISCREEN_VENV:-.venv}
stamp="$VENV/.seiscreen-installed"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c "import seiscreen" 2>/dev/null; then
    exit 0
fi
echo "seiscreen: installing into $VENV (about 2 minutes on a fresh machine)" >&2
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
CC=g++ "$VENV/bin/python" -m pip install -q -e ".[ml,gpaw,cluster,dev]"
"$VENV/bin/python" -m pip check >&2
echo "$want" > "$stamp"
