"""Convergence of gpaw-lcao settings on NaF(100): the F-top minus hollow energy of a Na adatom (a proxy for the
barrier, which runs between such sites) and the hollow adsorption energy, against one setting at a time.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_convergence.py [--thickness 2] [--scan h kpts basis]

Each row changes one parameter of the preset and prints both quantities and their change from the preset's own
value. Single points at touching height (unrelaxed), thin slab: evidence for the settings, not a barrier.
"""

from __future__ import annotations

import argparse
import time
import warnings

from seiscreen.calculators import CalculatorPreset, get_preset
from seiscreen.catalog import load_bulk
from seiscreen.minima import reference_energy
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations

SCANS = {
    "h": [{"h": 0.25}, {"h": 0.16}],
    "kpts": [{"kpts": {"density": 1.5, "gamma": True}}, {"kpts": {"density": 3.5, "gamma": True}}],
    "basis": [{"basis": "szp(dzp)"}],
    "setups": [{"setups": {}}],  # GPAW's default 7-electron Na setup
}


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thickness", type=float, default=2.0)
    parser.add_argument("--scan", nargs="+", default=["h", "kpts", "basis"], choices=list(SCANS))
    args = parser.parse_args()
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0),
                                SlabSettings(min_thickness=args.thickness, min_lateral_size=6.5, vacuum=10.0))
    slab = term.to_atoms()
    sites = {s.name: s for s in candidate_sites(slab)}
    base = get_preset("gpaw-lcao")
    variants = [("preset", {})] + [(f"{k}={list(v.values())[0]}", v) for k in args.scan for v in SCANS[k]]
    print(f"{'setting':34} {'E(F-top)-E(hollow)':>18} {'change':>8} {'E_ads hollow':>12} {'change':>8} {'wall s':>7}",
          flush=True)
    first = None
    for label, change in variants:
        preset = CalculatorPreset(**{**base.model_dump(), "name": label,
                                     "parameters": {**base.parameters, **change}})
        start = time.perf_counter()
        clean = slab.copy()
        clean.calc = preset.make(clean)
        e_clean = clean.get_potential_energy()
        energies = {}
        for name in ("hollow4-F2Na2", "top-F"):
            atoms = placed(slab, sites[name].position)
            atoms.calc = preset.make(atoms)
            energies[name] = atoms.get_potential_energy()
        na = reference_energy("Na", preset.make(), _bcc_na())
        difference = energies["top-F"] - energies["hollow4-F2Na2"]
        e_ads = energies["hollow4-F2Na2"] - e_clean - na
        first = first or (difference, e_ads)
        print(f"{label:34} {difference:18.3f} {difference - first[0]:+8.3f} {e_ads:12.3f} {e_ads - first[1]:+8.3f} "
              f"{time.perf_counter() - start:7.0f}", flush=True)


def _bcc_na():
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(load_bulk("Na").structure.copy().remove_oxidation_states())
    atoms.pbc = True
    return atoms


if __name__ == "__main__":
    main()
