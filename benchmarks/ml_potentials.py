"""Which offline ML potential pre-screens: speed per force call and the minima each finds, side by side.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ml_potentials.py [--materials NaF NaBr NaI]

For each (100) slab (2x2 primitive cell, 4 planes) and each potential: the median time of a force call on the
slab with an adatom, the ratio to CHGNet measured in the same run, and the verified minima with their
adsorption energies (bcc Na reference, same potential).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.minima import MinimaSettings, scan_surface
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations

POTENTIALS = ["chgnet", "sevennet"]


def force_call_seconds(atoms, calc, repeats: int = 7) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    atoms.get_forces()  # warm-up: graph construction, model load
    times = []
    for _ in range(repeats):
        atoms.rattle(1e-3)
        start = time.perf_counter()
        atoms.get_forces()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--materials", nargs="+", default=["NaF", "NaBr", "NaI"])
    parser.add_argument("--no-minima", action="store_true", help="timings only")
    args = parser.parse_args()
    settings = SlabSettings(min_thickness=4.0, min_lateral_size=6.5)
    calcs = {name: get_preset(name).make() for name in POTENTIALS}
    print(f"{'surface':12} {'atoms':>5} " + " ".join(f"{p + ' s/call':>16}" for p in POTENTIALS) + "  ratio")
    slabs = {}
    for material in args.materials:
        (term,) = make_terminations(load_bulk(material), (1, 0, 0), settings)
        slab = term.to_atoms()
        slabs[material] = slab
        with_adatom = placed(slab, candidate_sites(slab)[0].position)
        seconds = {p: force_call_seconds(with_adatom, calcs[p]) for p in POTENTIALS}
        ratio = seconds["sevennet"] / seconds["chgnet"]
        print(f"{material + '(100)':12} {len(with_adatom):5d} "
              + " ".join(f"{seconds[p]:16.3f}" for p in POTENTIALS) + f"  sevennet/chgnet = {ratio:.2f}")
    if args.no_minima:
        return
    print("\nverified minima (site: adsorption energy eV; force calls of the search)")
    for material, slab in slabs.items():
        for p in POTENTIALS:
            scan = scan_surface(slab, calcs[p], MinimaSettings())
            found = ", ".join(f"{m.site}: {m.adsorption_energy:.3f}" for m in scan.accepted)
            rejected = ", ".join(f"{m.site} ({m.outcome.value}, verified={m.verified})"
                                 for m in scan.minima if not m.accepted)
            print(f"  {material}(100) {p:9} {found}  [{scan.force_calls} calls]"
                  + (f"  rejected: {rejected}" if rejected else ""))


if __name__ == "__main__":
    main()
