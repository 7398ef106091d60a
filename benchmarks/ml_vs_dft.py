"""Which offline ML potential agrees better with GPAW: site energies of a Na adatom on the review's reference
surfaces, every site class, the same geometries for every calculator, side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ml_vs_dft.py [--dft gpaw-lcao-gamma] [--materials NaF NaBr Na2Se]

Per material: the (100) slab of the DFT-sized cell (2 planes, >= 6.5 Å wide, vacuum 10 Å, as
workflows/gpaw-naf100.yaml), the adatom at every candidate site with only its height relaxed by each calculator
(slab frozen, adatom fixed laterally; BFGS to 0.05 eV/Å). Printed: each site's energy relative to the site GPAW
finds lowest, per calculator; the mean absolute deviation from GPAW over the sites (the corrugation of the frozen
surface, which a barrier is made of); whether the lowest site agrees; seconds per force call. This compares the
potential-energy surfaces on a frozen slab, not relaxed minima or barriers: the evidence for choosing the default
pre-screen.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from ase.constraints import FixAtoms, FixCartesian
from ase.optimize import BFGS

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations

SLAB = SlabSettings(min_thickness=2.0, min_lateral_size=6.5, vacuum=10.0)


def site_energies(material: str, preset_name: str) -> tuple[dict[str, float], float]:
    """{site: energy (eV)} of the height-relaxed adatom at every site class, and the seconds per force call."""
    preset = get_preset(preset_name)
    term = make_terminations(load_bulk(material), (1, 0, 0), SLAB)[0]
    slab = term.to_atoms()
    energies, seconds, calls = {}, 0.0, 0
    for site in candidate_sites(slab):
        atoms = placed(slab, site.position)
        atoms.set_constraint([FixAtoms(indices=range(len(slab))), FixCartesian(len(slab), mask=(1, 1, 0))])
        atoms.calc = preset.make(atoms) if preset.code == "gpaw" else preset.make()
        start = time.perf_counter()
        optimizer = BFGS(atoms, logfile=None)
        optimizer.run(fmax=0.05, steps=20)
        energies[site.name] = float(atoms.get_potential_energy())
        seconds += time.perf_counter() - start
        calls += optimizer.nsteps + 1
    return energies, seconds / calls


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dft", default="gpaw-lcao-gamma")
    parser.add_argument("--ml", nargs="+", default=["chgnet", "sevennet"])
    parser.add_argument("--materials", nargs="+", default=["NaF", "NaBr", "Na2Se"])
    args = parser.parse_args()
    calculators = [args.dft, *args.ml]
    deviations: dict[str, list[float]] = {name: [] for name in args.ml}
    agree: dict[str, int] = {name: 0 for name in args.ml}
    for material in args.materials:
        results = {name: site_energies(material, name) for name in calculators}
        dft = results[args.dft][0]
        lowest = min(dft, key=dft.get)
        print(f"\n{material}(100), {SLAB.min_lateral_size} Å cell; energies relative to {lowest} (eV)")
        print(f"{'site':18}" + "".join(f"{name:>17}" for name in calculators))
        for site in dft:
            print(f"{site:18}" + "".join(f"{results[n][0][site] - results[n][0][lowest]:17.3f}" for n in calculators))
        print(f"{'s per call':18}" + "".join(f"{results[n][1]:17.2f}" for n in calculators))
        for name in args.ml:
            ml = results[name][0]
            mad = float(np.mean([abs((ml[s] - ml[lowest]) - (dft[s] - dft[lowest])) for s in dft]))
            deviations[name].append(mad)
            agree[name] += min(ml, key=ml.get) == lowest
            print(f"{name}: mean |deviation| from {args.dft} {mad:.3f} eV; lowest site "
                  f"{min(ml, key=ml.get)} ({'agrees' if min(ml, key=ml.get) == lowest else 'differs'})")
    print(f"\nover {len(args.materials)} surfaces:")
    for name in args.ml:
        print(f"{name:10} mean |deviation| {np.mean(deviations[name]):.3f} eV, lowest site agrees on "
              f"{agree[name]}/{len(args.materials)}")


if __name__ == "__main__":
    main()
