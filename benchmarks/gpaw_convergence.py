"""Convergence of a GPAW preset on NaF(100) (or another (100) face): the F-top minus hollow energy of a Na
adatom (a proxy for the barrier, which runs between such sites) and the hollow adsorption energy, against one
setting at a time.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_convergence.py --preset gpaw-lcao --scan h kpts basis
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_convergence.py --preset gpaw-lcao-gamma --scan thickness vacuum
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_convergence.py --preset gpaw-pw --scan setups \
        --base '{"kpts": [1, 1, 1], "spinpol": false, "bulk_kpts": {"density": 2.5, "gamma": true}}'
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_convergence.py --preset gpaw-lcao-gamma --scan kpts \
        --material NaIn --sites hollow4-In2Na2 top-In      # a metal: what Γ-only sampling costs there

Each row changes one setting of the preset (or of the slab) and prints both quantities and their change from the
first row. Single points at touching height (unrelaxed): evidence for the settings, not a barrier. ``--base``
changes the preset for every row (JSON): a cheaper base for a scan whose effect does not depend on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import warnings

from seiscreen.calculators import CalculatorPreset, get_preset
from seiscreen.catalog import load_bulk
from seiscreen.minima import reference_energy
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations

# Each variant: (calculator parameter changes, slab setting changes).
SCANS = {
    "h": [({"h": 0.2}, {}), ({"h": 0.16}, {})],
    "kpts": [({"kpts": (1, 1, 1)}, {}), ({"kpts": {"density": 1.5, "gamma": True}}, {}),
             ({"kpts": {"density": 2.5, "gamma": True}}, {}), ({"kpts": {"density": 3.5, "gamma": True}}, {})],
    "basis": [({"basis": "szp(dzp)"}, {})],
    "cutoff": [({"pw_cutoff": 500}, {}), ({"pw_cutoff": 600}, {})],  # plane-wave presets
    "spin": [({"spinpol": False}, {}), ({"spinpol": True}, {})],
    "setups": [({"setups": {}}, {})],  # GPAW's default 7-electron Na setup
    "thickness": [({}, {"min_thickness": 4.0}), ({}, {"min_thickness": 6.0})],  # 3 and 4 planes
    "vacuum": [({}, {"vacuum": 8.0}), ({}, {"vacuum": 14.0})],
    "lateral": [({}, {"min_lateral_size": 9.0})],  # 2x2 conventional cell: adatom images 9.27 Å apart
    # The slab cut at the calculator's own lattice instead of the experimental one (gpaw-lcao, 1-electron Na
    # setup: a = 4.441 Å for NaF, benchmarks/gpaw_lattice.py).
    "lattice": [({}, {"lattice_scale": 4.441 / 4.634, "min_lateral_size": 6.0})],  # 6.0: keep the 2x2 cell
}
BASE_SLAB = {"min_thickness": 2.0, "min_lateral_size": 6.5, "vacuum": 10.0}


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpaw-lcao")
    parser.add_argument("--scan", nargs="+", default=["h", "kpts", "basis"], choices=list(SCANS))
    parser.add_argument("--base", type=json.loads, default={}, help="preset parameter changes for every row (JSON)")
    parser.add_argument("--material", default="NaF", help="catalog material; its (100) face, first termination")
    parser.add_argument("--sites", nargs=2, default=["hollow4-F2Na2", "top-F"], metavar=("LOW", "HIGH"),
                        help="candidate sites: the printed difference is E(HIGH) - E(LOW), E_ads is LOW's")
    args = parser.parse_args()
    base = get_preset(args.preset)
    base = base.model_copy(update={"parameters": {**base.parameters, **args.base}})
    # A variant equal to the preset (kpts (1, 1, 1) of a Γ-only preset) would only repeat its first row.
    variants = [("preset", ({}, {}))] + [(_label(c, s), (c, s)) for k in args.scan for c, s in SCANS[k]
                                         if s or any(base.parameters.get(p) != v for p, v in c.items())]
    print(f"preset {base.name}: {base.parameters}; slab {BASE_SLAB}")
    low, high = args.sites
    print(f"{args.material}(100): sites {low} (LOW), {high} (HIGH)")
    print(f"{'setting':40} {'atoms':>5} {'E(HIGH)-E(LOW)':>18} {'change':>8} {'E_ads LOW':>12} {'change':>8} "
          f"{'wall s':>7}", flush=True)
    first = None
    for label, (change, slab_change) in variants:
        preset = CalculatorPreset(**{**base.model_dump(), "name": label,
                                     "parameters": {**base.parameters, **change}})
        slab_change = dict(slab_change)
        bulk = _scaled(load_bulk(args.material), slab_change.pop("lattice_scale", 1.0))
        slab = make_terminations(bulk, (1, 0, 0), SlabSettings(**{**BASE_SLAB, **slab_change}))[0].to_atoms()
        sites = {s.name: s for s in candidate_sites(slab)}
        start = time.perf_counter()
        clean = slab.copy()
        clean.calc = preset.make(clean)
        e_clean = clean.get_potential_energy()
        energies = {}
        for name in (low, high):
            atoms = placed(slab, sites[name].position)
            atoms.calc = preset.make(atoms)
            energies[name] = atoms.get_potential_energy()
        na = reference_energy("Na", preset.make(), _bcc_na())
        difference = energies[high] - energies[low]
        e_ads = energies[low] - e_clean - na
        first = first or (difference, e_ads)
        print(f"{label:40} {len(slab) + 1:5d} {difference:18.3f} {difference - first[0]:+8.3f} {e_ads:12.3f} "
              f"{e_ads - first[1]:+8.3f} {time.perf_counter() - start:7.0f}", flush=True)


def _scaled(bulk, scale: float):
    """The catalog bulk with its lattice scaled isotropically (1.0: unchanged)."""
    if scale == 1.0:
        return bulk
    structure = bulk.structure.copy()
    structure.scale_lattice(structure.volume * scale**3)
    return dataclasses.replace(bulk, structure=structure)


def _label(change: dict, slab_change: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in {**change, **slab_change}.items())


def _bcc_na():
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(load_bulk("Na").structure.copy().remove_oxidation_states())
    atoms.pbc = True
    return atoms


if __name__ == "__main__":
    main()
