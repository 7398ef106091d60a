#!/usr/bin/env bash
# Set up the project's virtual environment in .venv: every install step lives here, nowhere else.
#   torch first, pinned to the CPU wheel (a bare `torch` requirement pulls a multi-GB CUDA build);
#   GPAW's C extension needs CC=g++ to compile here.
# Re-running is cheap: a stamp file records the hash of pyproject.toml and this script.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# A one-node SLURM for the scheduler tests (scripts/slurm-test-cluster.sh): Debian's slurm-wlm and munge, installed
# only when missing and only as root with apt (CI runs as root on Debian 12); elsewhere the SLURM test is skipped.
if ! { command -v slurmctld && command -v slurmd && command -v munged; } >/dev/null 2>&1 \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "seiscreen: installing slurm-wlm and munge (about 20 s)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge >/dev/null; }
fi
# OpenMPI, so that GPAW is built with MPI (`parallel: {ranks: N}` in a campaign; docs/calculators.md): Debian's
# packages, installed only when missing and only as root with apt (about 20 s); elsewhere GPAW is built serial.
if ! command -v mpicc >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "seiscreen: installing openmpi-bin and libopenmpi-dev (about 20 s)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q openmpi-bin libopenmpi-dev >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q openmpi-bin libopenmpi-dev >/dev/null; }
fi
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
# GPAW with MPI where mpicc exists (OpenMPI's wrapper, told to compile with g++), built before the project so
# that pip cannot take a serial GPAW wheel from its cache; a venv whose GPAW lacks MPI gets it rebuilt.
if command -v mpicc >/dev/null 2>&1 \
        && ! "$VENV/bin/python" -c "import _gpaw, sys; sys.exit(not hasattr(_gpaw, 'Communicator'))" 2>/dev/null; then
    OMPI_CC=g++ CC=mpicc "$VENV/bin/python" -m pip install -q --no-cache-dir --force-reinstall --no-deps "gpaw==26.7.0"
fi
CC=g++ "$VENV/bin/python" -m pip install -q -e ".[ml,gpaw,cluster,descriptors,dev]"
"$VENV/bin/python" -m pip check >&2
echo "$want" > "$stamp"
