"""A campaign's wall time and force calls with the minima search's call-saving defaults against the search before
them (`minima: {stop_in_known_basin: false, lowest_start_first: false}`), side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/campaign_speed.py [--campaign workflows/quickstart.yaml] [--runs 1]

Each run computes the campaign twice in fresh stores, one process each, the previous search first: wall and CPU
seconds, the surfaces' force calls (minima search, hops and their ends) and every surface's barrier with the largest
difference between the two. CHGNet relaxations ask for energy and forces only on both sides (same numbers, not a
setting), so the ratio is what the search's order and early stops save.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path
from subprocess import run

import yaml

REPO = Path(__file__).resolve().parents[1]
PREVIOUS = {"stop_in_known_basin": False, "lowest_start_first": False}


def compute(campaign: dict, folder: Path) -> dict:
    """One fresh run of ``campaign`` in its own process: wall and CPU seconds, the surfaces' rows."""
    from seiscreen.results import load_results

    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign))
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    out = run([str(REPO / ".venv" / "bin" / "seiscreen"), "run", str(path), "--store", str(folder / "store")],
              capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise SystemExit(f"{path} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    surfaces = load_results(str(folder / "store")).surfaces
    rows = {f"{r.material}{r.facet} {r.termination}": (r.barrier, r.force_calls) for r in surfaces.itertuples()}
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"wall": wall, "cpu": cpu, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaign", default=str(REPO / "workflows" / "quickstart.yaml"))
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    new = yaml.safe_load(Path(args.campaign).read_text())
    new.get("minima", {}).pop("stop_in_known_basin", None)
    new.get("minima", {}).pop("lowest_start_first", None)
    previous = {**new, "minima": {**new.get("minima", {}), **PREVIOUS}}
    for k in range(args.runs):
        old = compute(previous, Path(tempfile.mkdtemp(prefix="seiscreen-speed-old-")))
        now = compute(new, Path(tempfile.mkdtemp(prefix="seiscreen-speed-new-")))
        print(f"run {k} ({args.campaign}, load average {os.getloadavg()[0]:.1f})")
        print(f"{'surface':38s} {'barrier old':>11s} {'new':>7s} {'calls old':>9s} {'new':>6s}")
        largest = 0.0
        for name, (barrier, calls) in sorted(old["rows"].items()):
            barrier_new, calls_new = now["rows"].get(name, (None, None))
            if barrier is not None and barrier_new is not None:
                largest = max(largest, abs(barrier - barrier_new))
            print(f"{name:38s} {barrier or float('nan'):11.4f} {barrier_new or float('nan'):7.4f} "
                  f"{calls:9d} {calls_new or 0:6d}")
        calls_old = sum(c for _, c in old["rows"].values())
        calls_now = sum(c for _, c in now["rows"].values())
        print(f"force calls {calls_old} -> {calls_now} ({calls_now / calls_old:.2f}x); wall {old['wall']:.0f} -> "
              f"{now['wall']:.0f} s ({old['wall'] / now['wall']:.2f}x faster); CPU {old['cpu']:.0f} -> "
              f"{now['cpu']:.0f} s ({old['cpu'] / now['cpu']:.2f}x); largest barrier difference "
              f"{largest * 1000:.1f} meV")


if __name__ == "__main__":
    main()
