"""Stability against Na metal of every review material with CHGNet: each catalog phase relaxed once, then
``compute_stability`` per material.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/stability_chgnet.py [--materials NaBi NaF]

Each phase of the materials' chemical systems (``competing_phases``) is relaxed once (primitive cell, positions and
cell, FIRE to 0.05 eV/Å, matcalc's ``RelaxCalc``) with the preset ``ml`` (CHGNet). Printed per phase: energy per
atom and the relaxed volume per atom against the catalog's experimental one; per material: the reaction energy with
Na per Na atom, the products, the energy above the hull and the phases missing.
"""

from __future__ import annotations

import argparse
import time

from matcalc import RelaxCalc

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.descriptors.stability import competing_phases, compute_stability

REVIEW = ["NaF", "NaCl", "NaBr", "NaI", "Na2Se", "Na3P", "NaIn", "NaBi", "NaZn13", "Na15Sn4"]


def relax(name: str, calculator) -> tuple[float, float, float]:
    """Energy per atom (eV), relaxed and experimental volume per atom (Å^3) of a catalog phase."""
    structure = load_bulk(name).structure.copy()
    structure.remove_oxidation_states()
    primitive = structure.get_primitive_structure()
    result = RelaxCalc(calculator, fmax=0.05, max_steps=1000).calc(primitive)
    final = result["final_structure"]
    return result["energy"] / len(final), final.volume / len(final), primitive.volume / len(primitive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--materials", nargs="+", default=REVIEW)
    args = parser.parse_args()
    calculator = get_preset("ml").make()
    energies: dict[str, float] = {}
    systems = {m: competing_phases(m) for m in args.materials}
    print(f"{'phase':9s} {'E (eV/atom)':>12s} {'V/atom':>8s} {'V_exp':>8s} {'dV %':>6s} {'s':>5s}")
    for name in dict.fromkeys(p for s in systems.values() for p in s.present):
        start = time.perf_counter()
        energy, volume, volume_exp = relax(name, calculator)
        energies[name] = energy
        print(f"{name:9s} {energy:12.4f} {volume:8.2f} {volume_exp:8.2f} {100 * (volume / volume_exp - 1):6.1f} "
              f"{time.perf_counter() - start:5.0f}")
    print()
    for material, system in systems.items():
        result = compute_stability(material, {n: energies[n] for n in system.present}, missing=system.missing)
        hull = "-" if result.energy_above_hull_ev_per_atom is None else f"{result.energy_above_hull_ev_per_atom:.3f}"
        print(f"{material:8s} dE = {result.reaction_energy_ev_per_metal_atom:7.3f} eV/Na  [{result.reaction}]  "
              f"E_hull = {hull}  {result.method}  missing: {', '.join(result.phases_missing) or '-'}")


if __name__ == "__main__":
    main()
