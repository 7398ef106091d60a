"""What one force call costs with each calculator preset, on a 17-atom and a 129-atom Na-on-NaF(100) slab.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/preset_cost.py [--presets chgnet gpaw-lcao-gamma ...]
        [--sizes small large] [--timeout 900]

Slabs: NaF(100), vacuum 10 Å, the adatom 2.3 Å above the hollow; "small" is the DFT-sized cell of
workflows/gpaw-naf100.yaml (2 planes, 6.55 Å square: 17 atoms), "large" 8 planes of the review's 9.27 Å cell (129
atoms). Each (preset, slab) runs in its own process (so one preset's threads, caches and imports do not bill the
next) under a time limit: it builds the calculator, makes one force call (the first: model load, GPAW's setups and
a cold SCF), moves the adatom 0.05 Å and makes a second (GPAW restarts the SCF from the last density, as every step
of a relaxation or a band does). The second is a force call's cost inside a campaign. EMT cannot treat Na or F: its
row is the EMT demo's Au adatom on Al(100) of the same two sizes. Printed: seconds for the first and the second call.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

SIZES = {"small": (2.0, 6.5), "large": (12.0, 9.0)}  # (min_thickness, min_lateral_size), Å
PRESETS = ["emt", "chgnet", "sevennet", "sevennet-l3i5", "sevennet-mf0", "gpaw-test", "gpaw-lcao-gamma",
           "gpaw-lcao-gamma-ec", "gpaw-lcao", "gpaw-pw"]


def one(preset_name: str, size: str) -> dict:
    """Time two force calls of ``preset_name`` on the ``size`` slab (run in a child process)."""
    import warnings

    from seiscreen.calculators import get_preset
    from seiscreen.catalog import load_bulk
    from seiscreen.surfaces.sites import candidate_sites, placed
    from seiscreen.surfaces.slabs import SlabSettings, make_terminations

    warnings.filterwarnings("ignore")
    thickness, lateral = SIZES[size]
    material, adsorbate = ("Al", "Au") if preset_name == "emt" else ("NaF", "Na")
    term = make_terminations(load_bulk(material), (1, 0, 0), SlabSettings(min_thickness=thickness,
                                                                          min_lateral_size=lateral, vacuum=10.0))[0]
    slab = term.to_atoms()
    site = next(s for s in candidate_sites(slab) if s.name.startswith("hollow"))
    atoms = placed(slab, site.position, adsorbate)
    preset = get_preset(preset_name)
    start = time.perf_counter()
    atoms.calc = preset.make(atoms) if preset.code == "gpaw" else preset.make()
    atoms.get_forces()
    first = time.perf_counter() - start
    atoms.positions[-1, 0] += 0.05
    start = time.perf_counter()
    atoms.get_forces()
    return {"atoms": len(atoms), "first": first, "second": time.perf_counter() - start}


def timed(preset_name: str, size: str, timeout: float) -> dict | None:
    """``one`` in a fresh process; None when it ran past ``timeout`` seconds."""
    code = f"import json, sys; sys.path.insert(0, 'benchmarks'); import preset_cost as p; " \
           f"print(json.dumps(p.one({preset_name!r}, {size!r})))"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as error:
        return {"error": (error.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=PRESETS)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per preset and slab")
    args = parser.parse_args()
    print(f"{'preset':22}{'slab':>7}{'atoms':>7}{'first call (s)':>16}{'force call (s)':>16}", flush=True)
    for name in args.presets:
        for size in args.sizes:
            result = timed(name, size, args.timeout)
            if result is None:
                print(f"{name:22}{size:>7}{'':>7}{'> ' + str(int(args.timeout)):>16}{'-':>16}", flush=True)
            elif "error" in result:
                print(f"{name:22}{size:>7}  error: {result['error']}", flush=True)
            else:
                print(f"{name:22}{size:>7}{result['atoms']:>7}{result['first']:>16.2f}{result['second']:>16.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
