"""Workflow overhead: an EMT campaign through `seiscreen run` versus the same calculations in a bare ASE script,
side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/overhead.py [--repeats 3] [--lateral 10] [--profile out.html]

Each side runs in its own fresh process (imports included), with ASE's EMT counted and timed:

* ``seiscreen``: ``seiscreen run campaign.yaml --store <new folder>``: CLI, campaign validation, planning, jobflow,
  store, documents, checkpoints, progress display, percolation, ranking.
* ``bare``: the same slabs, minima searches, end-point relaxations and NEBs written as a plain script: ASE
  optimisers on Atoms through seiscreen's calculator-free geometry and plain functions (slabs, sites, symmetry,
  ``scan_surface``, ``run_neb``) with no workflow layer, no store and no output but a print.

Both must make the same number of EMT force calls (printed; the check fails loudly otherwise). Overhead =
(seiscreen - bare) / seiscreen, in CPU seconds of the process (robust to other load on the machine) and in wall
seconds; the median over ``--repeats`` pairs. Target: <= 5 %. The campaign: Au adatom on Al(100), Al(111) and
Cu(100) (EMT has no Na parameters), slabs at least ``--lateral`` Å wide. What seiscreen adds is about fixed
(imports, jobflow's work per job: 1.67 CPU s at ``--lateral 10``, 1.57 s at ``--lateral 14`` in
docs/performance.md), so its fraction falls as the campaign's work grows: 10 % and 2 % there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CAMPAIGN = """name: overhead
calculator: emt
adsorbate: Au
materials:
  - material: Al
    facets: [[1, 0, 0], [1, 1, 1]]
  - material: Cu
    facets: [[1, 0, 0]]
slab:
  min_thickness: 5.0
  vacuum: 10.0
  min_lateral_size: {lateral}
"""


def _instrument_emt() -> dict:
    """Count and time every EMT evaluation of this process."""
    from ase.calculators.emt import EMT

    stats = {"calls": 0, "seconds": 0.0}
    compute = EMT.calculate

    def timed(self, *args, **kwargs):
        start = time.process_time()  # CPU seconds, as the totals: wall time is shared with other load
        try:
            return compute(self, *args, **kwargs)
        finally:
            stats["calls"] += 1
            stats["seconds"] += time.process_time() - start

    EMT.calculate = timed
    return stats


# The computations both sides make, through the same functions: their CPU time is the shared work, and what
# lies outside them (imports, planning, jobflow, the store, documents, the display) is each side's own cost.
WORK = (("seiscreen.surfaces.slabs", "make_terminations"), ("seiscreen.minima", "scan_surface"),
        ("seiscreen.minima", "relax"), ("seiscreen.neb", "run_neb"))


def _instrument_work(stats: dict) -> None:
    """Time the outermost call of each WORK function (patched before anyone imports it by name)."""
    import importlib

    stats["work"], depth = 0.0, [0]

    def timed(function):
        def wrapper(*args, **kwargs):
            start = time.process_time()
            depth[0] += 1
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    stats["work"] += time.process_time() - start
        return wrapper

    for module, name in WORK:
        module = importlib.import_module(module)
        setattr(module, name, timed(getattr(module, name)))


def child_seiscreen(campaign: Path, store: Path) -> None:
    stats = _instrument_emt()
    _instrument_work(stats)
    from seiscreen.cli import app

    try:
        app(["run", str(campaign), "--store", str(store)], standalone_mode=False)
    finally:
        _report(stats)


def child_bare(campaign_file: Path) -> None:
    stats = _instrument_emt()
    _instrument_work(stats)
    import numpy as np
    import yaml
    from ase.calculators.emt import EMT

    from seiscreen.catalog import load_bulk
    from seiscreen.minima import MinimaSettings, adatom_frac_xy, relax, scan_surface
    from seiscreen.neb import NebProtocol, find_band_mirror, run_neb, unwrap_final
    from seiscreen.surfaces.hops import SAME_BASIN, build_hop_network
    from seiscreen.surfaces.slabs import SlabSettings, make_terminations
    from seiscreen.surfaces.symmetry import SurfaceSymmetry

    spec = yaml.safe_load(campaign_file.read_text())
    slab_settings = SlabSettings(**spec["slab"])
    settings = MinimaSettings(adsorbate=spec["adsorbate"])
    protocol = NebProtocol()
    try:
        for material in spec["materials"]:
            for facet in material["facets"]:
                for term in make_terminations(load_bulk(material["material"]), facet, slab_settings):
                    scan = scan_surface(term.to_atoms(), EMT(), settings)
                    minima = scan.accepted
                    # The hops' symmetry as the pipeline's slab document holds it (jobs.slab_doc): the same group
                    # as scan.symmetry, its operations maybe in another order, so other representative hops.
                    symmetry = SurfaceSymmetry.from_structure(term.slab)
                    network = build_hop_network([m.frac_xy for m in minima], symmetry, 6.0)
                    for hop in network.hops:
                        ends = []
                        for index, node in ((hop.start_minimum, hop.start), (hop.end_minimum, hop.end)):
                            atoms = minima[index].atoms.copy()
                            op = symmetry.operation_mapping(minima[index].frac_xy, node % 1.0, tol=SAME_BASIN)
                            atoms.positions = symmetry.transform_positions(
                                atoms.positions, atoms.cell.array, op, scan.clean.positions)
                            relax(atoms, EMT(), protocol.endpoint_fmax, settings.max_steps)
                            ends.append(atoms)
                        initial, final = ends
                        start_actual = adatom_frac_xy(initial)
                        end_actual = adatom_frac_xy(final)
                        end_actual = end_actual + np.rint((hop.end - hop.start) - (end_actual - start_actual))
                        shift = np.append((end_actual - start_actual) @ initial.cell.array[:2, :2], 0.0)
                        final = unwrap_final(initial, final, shift)
                        mirror = find_band_mirror(initial, final, symmetry)  # as HopNebMaker does
                        result = run_neb(initial, final, lambda k, im: EMT(), protocol, mirror=mirror)
                        print(term.label if hasattr(term, "label") else facet, hop.hop_id, result.status,
                              result.forward_barrier)
    finally:
        _report(stats)


def child_imports(side: str) -> None:
    """Only the imports of one side: the fixed, per-process part of its cost."""
    stats = _instrument_emt()
    if side == "seiscreen":  # what `seiscreen run` imports before its first job (cli.run's imports)
        import seiscreen.campaign  # noqa: F401
        import seiscreen.cli  # noqa: F401
        import seiscreen.flows  # noqa: F401
        import seiscreen.runner  # noqa: F401
        import seiscreen.store  # noqa: F401
    else:  # child_bare's imports
        import yaml  # noqa: F401

        import seiscreen.catalog  # noqa: F401
        import seiscreen.minima  # noqa: F401
        import seiscreen.neb  # noqa: F401
        import seiscreen.surfaces.hops  # noqa: F401
        import seiscreen.surfaces.slabs  # noqa: F401
    _report(stats)


def _report(stats: dict) -> None:
    times = os.times()
    print("OVERHEAD-RESULT " + json.dumps({"cpu": times.user + times.system, "calc": stats["seconds"],
                                           "calls": stats["calls"], "work": stats.get("work", 0.0)}), flush=True)


def _run_child(args: list[str], profile: str | None = None) -> dict:
    start = time.perf_counter()
    command = [sys.executable, __file__, *args]
    if profile:
        command = [sys.executable, "-m", "pyinstrument", "-r", "html", "-o", profile, __file__, *args]
    out = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - start
    lines = [line for line in out.stdout.splitlines() if line.startswith("OVERHEAD-RESULT ")]
    if out.returncode or not lines:
        raise SystemExit(f"child {args[0]} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    result = json.loads(lines[-1].split(" ", 1)[1])
    result["wall"] = wall
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("--child-"):
        if sys.argv[1] == "--child-seiscreen":
            child_seiscreen(Path(sys.argv[2]), Path(sys.argv[3]))
        elif sys.argv[1] == "--child-bare":
            child_bare(Path(sys.argv[2]))
        else:
            child_imports(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lateral", type=float, default=10.0, help="min_lateral_size of the slabs, Å")
    parser.add_argument("--profile", help="also write a pyinstrument HTML profile of one seiscreen run here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="seiscreen-overhead-"))
    campaign = work / "campaign.yaml"
    campaign.write_text(CAMPAIGN.format(lateral=args.lateral))
    rows = []
    print(f"{'run':>3} {'side':9} {'calls':>6} {'cpu s':>7} {'calc s':>7} {'work s':>7} {'outside s':>9} "
          f"{'wall s':>7} {'imports s':>9}")
    for k in range(args.repeats):
        # Alternated, so that a change of load on the machine hits both sides alike.
        ours = _run_child(["--child-seiscreen", str(campaign), str(work / f"store-{k}")])
        bare = _run_child(["--child-bare", str(campaign)])
        ours["imports"] = _run_child(["--child-imports", "seiscreen"])["cpu"]
        bare["imports"] = _run_child(["--child-imports", "bare"])["cpu"]
        for name, r in (("seiscreen", ours), ("bare", bare)):
            print(f"{k:3d} {name:9} {r['calls']:6d} {r['cpu']:7.2f} {r['calc']:7.2f} {r['work']:7.2f} "
                  f"{r['cpu'] - r['work']:9.2f} {r['wall']:7.2f} {r['imports']:9.2f}", flush=True)
        if ours["calls"] != bare["calls"]:
            print(f"    different work: {ours['calls']} vs {bare['calls']} EMT calls")
        rows.append((ours, bare))
    cpu = statistics.median((o["cpu"] - b["cpu"]) / o["cpu"] for o, b in rows)
    wall = statistics.median((o["wall"] - b["wall"]) / o["wall"] for o, b in rows)
    print(f"\noverhead of `seiscreen run` over the bare script (median of {len(rows)}): {100 * cpu:.1f} % of CPU time, "
          f"{100 * wall:.1f} % of wall time (target <= 5 %)")
    # The shared work (same functions, same force calls) is where other load adds most noise: the difference of
    # what lies outside it is the overhead with that noise taken out.
    outside = statistics.median(((o["cpu"] - o["work"]) - (b["cpu"] - b["work"])) / o["cpu"] for o, b in rows)
    extra = statistics.median((o["cpu"] - o["work"]) - (b["cpu"] - b["work"]) for o, b in rows)
    print(f"outside the shared work (slabs, minima searches, relaxations, NEBs): {extra:.2f} CPU s more, "
          f"{100 * outside:.1f} % of the CPU time (median of {len(rows)})")
    # The least CPU time of each side is the one least disturbed by other load (as timeit takes the minimum).
    ours_min, bare_min = min(o["cpu"] for o, _ in rows), min(b["cpu"] for _, b in rows)
    imports = statistics.median(o["imports"] - b["imports"] for o, b in rows)
    print(f"least CPU time of each side: {ours_min:.2f} against {bare_min:.2f} s, overhead "
          f"{100 * (ours_min - bare_min) / ours_min:.1f} %; of the difference, {imports:.2f} s (median) are the "
          "extra imports (jobflow, maggma, pandas, rich: once per process, whatever the campaign's size)")
    if args.profile:
        _run_child(["--child-seiscreen", str(campaign), str(work / "store-profile")], profile=args.profile)
        print(f"profile of one seiscreen run: {args.profile}")


if __name__ == "__main__":
    main()
