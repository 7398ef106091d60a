"""Does spin polarisation matter for a Na adatom on NaF(100) with gpaw-lcao? Energies at the hollow and F-top
sites (unrelaxed, touching height) with and without spin, side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_spin.py [--thickness 2]

Prints each energy, the adatom's magnetic moment, the spin lowering at each site, and the site difference
(F-top minus hollow) with and without spin: if spin lowers both sites alike, barriers barely change while
adsorption energies do.
"""

from __future__ import annotations

import argparse
import warnings

from seiscreen.calculators import CalculatorPreset, get_preset
from seiscreen.catalog import load_bulk
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thickness", type=float, default=2.0, help="Å between outer planes (2: 2 planes)")
    parser.add_argument("--preset", default="gpaw-lcao")
    args = parser.parse_args()
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0),
                                SlabSettings(min_thickness=args.thickness, min_lateral_size=6.5, vacuum=10.0))
    slab = term.to_atoms()
    sites = {s.name: s for s in candidate_sites(slab)}
    base = get_preset(args.preset)
    energies = {}
    print(f"{'site':14} {'spin':>5} {'energy eV':>12} {'moment μB':>10}", flush=True)
    for spin in (True, False):
        preset = CalculatorPreset(**{**base.model_dump(), "name": f"{base.name}-spin{spin}",
                                     "parameters": {**base.parameters, "spinpol": spin}})
        for name in ("hollow4-F2Na2", "top-F"):
            atoms = placed(slab, sites[name].position)
            atoms.calc = preset.make(atoms)
            energies[name, spin] = atoms.get_potential_energy()
            moment = atoms.calc.results.get("magmom", 0.0)
            print(f"{name:14} {str(spin):>5} {energies[name, spin]:12.4f} {moment:10.3f}", flush=True)
    for name in ("hollow4-F2Na2", "top-F"):
        print(f"spin lowers {name} by {energies[name, False] - energies[name, True]:.3f} eV")
    for spin in (True, False):
        print(f"E(top-F) - E(hollow), spin={spin}: {energies['top-F', spin] - energies['hollow4-F2Na2', spin]:+.3f} eV")


if __name__ == "__main__":
    main()
