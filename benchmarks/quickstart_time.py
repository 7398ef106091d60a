"""Quickstart time: the README's main job (`make quickstart` without the set-up step), timed N times.

    .venv/bin/python benchmarks/quickstart_time.py [--runs 3]

Each run: ``OMP_NUM_THREADS=1 .venv/bin/seiscreen run workflows/quickstart.yaml --store <new folder>`` in a fresh
process and a fresh store (nothing reused). Prints every run's wall and CPU seconds and the median (target:
<= 10 minutes on the 2-core machine). CPU seconds are the child's user + system time: when other work shares the
machine, wall time grows and CPU time does not.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--campaign", default=str(REPO / "workflows" / "quickstart.yaml"))
    args = parser.parse_args()
    walls, cpus = [], []
    for k in range(args.runs):
        store = Path(tempfile.mkdtemp(prefix="seiscreen-quickstart-")) / "store"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run([str(REPO / ".venv" / "bin" / "seiscreen"), "run", args.campaign, "--store", str(store)],
                             capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if out.returncode:
            raise SystemExit(f"run {k} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        walls.append(wall)
        cpus.append(cpu)
        load = os.getloadavg()[0]
        print(f"run {k}: wall {wall / 60:5.2f} min, CPU {cpu / 60:5.2f} min, load average {load:.1f}", flush=True)
        print("\n".join(out.stdout.strip().splitlines()[-12:]))
    print(f"\nmedian of {len(walls)}: wall {statistics.median(walls) / 60:.2f} min, "
          f"CPU {statistics.median(cpus) / 60:.2f} min (target: wall <= 10 min)")


if __name__ == "__main__":
    main()
