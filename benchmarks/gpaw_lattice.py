"""What the Na PAW setup does to GPAW's bulk lattice constants (NaF rock salt, bcc Na) and their cost, side by
side in one run: the 1-electron setup ('1') against GPAW's default 7-electron one.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_lattice.py [--preset gpaw-lcao]

Equation-of-state fit (ASE, Birch-Murnaghan) over 9 isotropic strains of the primitive cell; the preset's bulk
k-mesh. Prints a (Å), its deviation from the catalog's experimental value, and seconds per single point.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from ase.eos import EquationOfState
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.calculators import CalculatorPreset, get_preset
from seiscreen.catalog import load_bulk

SETUPS = {"1-electron Na": {"Na": "1"}, "7-electron Na (default)": {}}


def lattice_constant(material: str, preset: CalculatorPreset, points: int = 9) -> tuple[float, float, float]:
    """(a from the fit, experimental a, seconds per single point) for a cubic catalog material."""
    structure = load_bulk(material).structure.copy().remove_oxidation_states()
    experimental = structure.lattice.a
    atoms = AseAtomsAdaptor.get_atoms(structure.get_primitive_structure())
    atoms.pbc = True
    calc = preset.make()
    volumes, energies = [], []
    start = time.perf_counter()
    for scale in np.linspace(0.94, 1.02, points):  # the 1-electron setup was seen ~4 % short of experiment
        strained = atoms.copy()
        strained.set_cell(atoms.cell * scale, scale_atoms=True)
        strained.calc = calc
        volumes.append(strained.get_volume())
        energies.append(strained.get_potential_energy())
    seconds = (time.perf_counter() - start) / len(volumes)
    v0, _, _ = EquationOfState(volumes, energies).fit()
    return experimental * (v0 / atoms.get_volume()) ** (1 / 3), experimental, seconds


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpaw-lcao")
    parser.add_argument("--materials", nargs="+", default=["NaF", "Na"])
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--points", type=int, default=9, help="strains in the fit (5 is enough near the minimum)")
    args = parser.parse_args()
    base = get_preset(args.preset)
    print(f"{'material':8} {'setup':24} {'a (Å)':>7} {'exp (Å)':>8} {'deviation':>9} {'s/point':>8}", flush=True)
    cost = {}
    for material in args.materials:
        for label in args.setups:
            setups = SETUPS[label]
            params = {**base.parameters, "setups": setups}
            params["kpts"] = params.pop("bulk_kpts", params["kpts"])
            preset = CalculatorPreset(**{**base.model_dump(), "name": label, "parameters": params,
                                         "adatom_magmom": 0.0})
            a, experimental, seconds = lattice_constant(material, preset, args.points)
            cost[material, label] = seconds
            print(f"{material:8} {label:24} {a:7.3f} {experimental:8.3f} {100 * (a / experimental - 1):+8.1f}% "
                  f"{seconds:8.1f}", flush=True)
        if len(args.setups) == 2:
            ratio = cost[material, args.setups[1]] / cost[material, args.setups[0]]
            print(f"{material}: cost {args.setups[1]} / {args.setups[0]} = {ratio:.1f}x")


if __name__ == "__main__":
    main()
