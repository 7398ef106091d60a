"""Cost of each GPAW preset on NaF(100) with a Na adatom: wall time, SCF iterations, time per SCF step, peak
memory, each preset in its own process, side by side in one run, with ratios to gpaw-lcao.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_presets.py [--presets gpaw-lcao gpaw-pw] [--planes 4]

The slab is the quickstart's NaF(100) cell (2x2 primitive, 6.55 Å) with the adatom in the hollow.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def single_point(preset_name: str, thickness: float) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    from seiscreen.calculators import get_preset
    from seiscreen.catalog import load_bulk
    from seiscreen.surfaces.sites import candidate_sites, placed
    from seiscreen.surfaces.slabs import SlabSettings, make_terminations

    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0),
                                SlabSettings(min_thickness=thickness, min_lateral_size=6.5, vacuum=10.0))
    slab = term.to_atoms()
    (hollow,) = [s for s in candidate_sites(slab) if s.name == "hollow4-F2Na2"]
    atoms = placed(slab, hollow.position)
    workdir = Path(tempfile.mkdtemp(prefix=f"{preset_name}-"))
    calc = get_preset(preset_name).make(atoms, workdir)
    atoms.calc = calc
    start = time.perf_counter()
    energy = atoms.get_potential_energy()
    wall = time.perf_counter() - start
    # SCF iterations from GPAW's own log: one "iter:" line each.
    iterations = sum(1 for line in (workdir / "gpaw.txt").read_text().splitlines() if line.startswith("|iter:"))
    return {"preset": preset_name, "atoms": len(atoms), "energy": energy, "wall_s": wall,
            "scf_iterations": iterations, "retries": calc.rung,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["gpaw-lcao", "gpaw-pw"])
    parser.add_argument("--thickness", type=float, default=4.0, help="Å between outer planes (4: 4 planes)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(single_point(args.one, args.thickness)))
        return
    ratio = "wall / " + args.presets[0]
    print(f"{'preset':10} {'atoms':>5} {'wall s':>8} {'SCF it':>6} {'s/it':>6} {'peak MB':>8} {ratio:>16}", flush=True)
    base = None
    for name in args.presets:  # each in its own process: peak memory is per preset
        out = subprocess.run([sys.executable, __file__, "--one", name, "--thickness", str(args.thickness)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        base = base or r
        per_it = r["wall_s"] / r["scf_iterations"] if r["scf_iterations"] else float("nan")
        print(f"{r['preset']:10} {r['atoms']:5d} {r['wall_s']:8.1f} {r['scf_iterations'] or '-':>6} {per_it:6.2f} "
              f"{r['peak_mb']:8.0f} {r['wall_s'] / base['wall_s']:16.2f}", flush=True)


if __name__ == "__main__":
    main()
