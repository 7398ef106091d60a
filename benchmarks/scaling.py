"""Scaling of one campaign's cost with its work: CPU time, wall time and peak memory of `seiscreen run` as the
number of surfaces (materials x facets, and with them the hops) and the slab size grow. EMT, so that it runs in
minutes; every run is a fresh process and a fresh store.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scaling.py [--calculator emt]

Rows: surfaces, atoms of the largest slab, minima, NEB hops, force calls (all, and NEB), CPU s, wall s, peak RSS
(MB), and CPU ms per force call. docs/performance.md holds a measured table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SURFACES = [("Al", "[1, 0, 0]"), ("Cu", "[1, 0, 0]"), ("Al", "[1, 1, 1]"), ("Cu", "[1, 1, 1]")]


def campaign(surfaces, lateral: float, calculator: str) -> str:
    by_material: dict[str, list[str]] = {}
    for material, facet in surfaces:
        by_material.setdefault(material, []).append(facet)
    materials = "\n".join(f"  - material: {m}\n    facets: [{', '.join(f)}]" for m, f in by_material.items())
    return (f"name: scaling\ncalculator: {calculator}\nadsorbate: Au\nmaterials:\n{materials}\n"
            f"slab:\n  min_thickness: 5.0\n  vacuum: 10.0\n  min_lateral_size: {lateral}\n")


def run(text: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="seiscreen-scaling-"))
    (work / "campaign.yaml").write_text(text)
    start = time.perf_counter()
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "seiscreen"), "run", str(work / "campaign.yaml"),
                             "--store", str(work / "store")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak memory
    wall = time.perf_counter() - start
    if status:
        raise SystemExit(f"run failed: {proc.stderr.read().decode()[-2000:]}")
    from seiscreen.results import load_results

    results = load_results(work / "store")
    s = results.surfaces
    return {"surfaces": len(s), "minima": int(s["n_minima"].sum()), "hops": len(results.hops),
            "neb_calls": int(results.hops["force_calls"].sum()), "calls": int(s["force_calls"].sum()),
            "cpu": usage.ru_utime + usage.ru_stime, "wall": wall, "rss": usage.ru_maxrss / 1024,
            "atoms": int(s["slab_atoms"].max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", default="emt")
    args = parser.parse_args()
    cases = [(f"{n} surface(s), 8 Å", SURFACES[:n], 8.0) for n in (1, 2, 4)]
    cases += [(f"Al(100), {w:g} Å wide", SURFACES[:1], w) for w in (5.5, 11.0, 14.0)]
    print(f"{'case':24} {'surf':>4} {'atoms':>5} {'minima':>6} {'hops':>4} {'calls':>6} {'NEB calls':>9} "
          f"{'CPU s':>7} {'wall s':>7} {'RSS MB':>7} {'CPU ms/call':>11}")
    for name, surfaces, lateral in cases:
        r = run(campaign(surfaces, lateral, args.calculator))
        print(f"{name:24} {r['surfaces']:4d} {r['atoms']:5d} {r['minima']:6d} {r['hops']:4d} {r['calls']:6d} "
              f"{r['neb_calls']:9d} {r['cpu']:7.1f} {r['wall']:7.1f} {r['rss']:7.0f} "
              f"{1000 * r['cpu'] / max(r['calls'], 1):11.1f}", flush=True)


if __name__ == "__main__":
    main()
