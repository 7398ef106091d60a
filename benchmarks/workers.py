"""Speed-up of `seiscreen run --workers 2` over `--workers 1` on a multi-material EMT campaign, side by side.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/workers.py [--campaign FILE] [--workers 1 2] [--serial]
                                                             [--repeat R]

Each run is the real command in a fresh store: Dask LocalCluster start, one task per surface, the client writing
every document, the ranking. Printed per run: the command's wall time and the campaign time the command reports
(cluster start-up and imports excluded), then the ratios against the first worker count, and whether the
barriers agree. The load average is printed too: other processes on the machine slow every run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEISCREEN = str(Path(sys.executable).with_name("seiscreen"))

# Two materials x three facets = six surfaces of different cost (Au adatom: EMT has no Na parameters).
# 8 Å in-plane cells (3x3 on (100)) make each surface cost several seconds more than the fixed start-up.
CAMPAIGN = """\
name: bench-workers
calculator: emt
adsorbate: Au
materials:
  - material: Al
    facets: [[1, 0, 0], [1, 1, 1], [1, 1, 0]]
  - material: Cu
    facets: [[1, 0, 0], [1, 1, 1], [1, 1, 0]]
slab:
  min_thickness: 5.0
  vacuum: 10.0
  min_lateral_size: 8.0
"""


def run(campaign: Path, store: Path, workers: int | None) -> dict:
    command = [SEISCREEN, "run", str(campaign), "--store", str(store)]
    if workers is not None:
        command += ["--workers", str(workers)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    reported = re.search(r"(?:surfaces done, \d+ failed|NEB hops) in (\d+) s", done.stdout)
    results = subprocess.run([SEISCREEN, "results", "--store", str(store), "--format", "json"],
                             capture_output=True, text=True, env=env, check=True)
    barriers = {f"{r['material']}{r['facet']}": r["barrier"] for r in json.loads(results.stdout)}
    return {"workers": workers, "wall": wall, "campaign": float(reported.group(1)) if reported else float("nan"),
            "load": load, "barriers": barriers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaign", type=Path, help="campaign YAML (default: the six EMT surfaces above)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--serial", action="store_true", help="also time plain `seiscreen run` (no Dask)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (interleaved); the fastest of each is used")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seiscreen-bench-") as tmp:
        campaign = args.campaign or Path(tmp) / "campaign.yaml"
        if args.campaign is None:
            campaign.write_text(CAMPAIGN)
        counts = ([None] if args.serial else []) + list(args.workers)
        best: dict = {}
        for round_ in range(args.repeat):
            for n in counts:
                row = run(campaign, Path(tmp) / f"store-{n or 'serial'}-{round_}", n)
                label = "serial" if n is None else f"--workers {n}"
                print(f"{label:12s} wall {row['wall']:7.1f} s   campaign {row['campaign']:6.0f} s   "
                      f"(load average before: {row['load']:.2f})", flush=True)
                if n not in best or row["wall"] < best[n]["wall"]:
                    best[n] = row
        rows = [best[n] for n in counts]
        base = best[args.workers[0]]
        for row in rows:
            if row is base:
                continue
            label = "serial" if row["workers"] is None else f"--workers {row['workers']}"
            print(f"speed-up {label} vs --workers {args.workers[0]}: wall {base['wall'] / row['wall']:.2f}x, "
                  f"campaign {base['campaign'] / row['campaign']:.2f}x")
        spread = max(abs(r["barriers"][k] - base["barriers"][k]) for r in rows for k in base["barriers"])
        print(f"{len(base['barriers'])} surfaces; largest barrier difference between the runs: {spread:.2e} eV; "
              f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
