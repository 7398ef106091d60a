"""The implicit-solvent presets against their vacuum twins: energies, SCF and force times.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_solvent.py slab [--solvent ec] [--base gpaw-lcao-gamma]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_solvent.py ethanol [--base gpaw-lcao-gamma]

``slab``: the 17-atom NaF(100) cell (2x2 primitive, 6.55 Å, two planes, 10 Å vacuum) with the Na adatom on the
fourfold hollow and on top of F, at the heights ``candidate_sites`` places it (single points, nothing relaxed),
in vacuum and in the solvent: energy, SCF time, force time, and the site difference E(top-F) - E(hollow) in each.
``ethanol``: the solvation free energy of ethanol in water, E(water) - E(vacuum) at a fixed geometry, GPAW's
documented example (about -4.5 kcal/mol with its FD settings; experiment -5.0).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ase import Atoms


def timed(atoms: Atoms, preset_name: str, forces: bool = True) -> dict:
    """Energy (and forces) of ``atoms`` under a preset, each step timed, in a fresh folder."""
    from seiscreen.calculators import get_preset

    atoms = atoms.copy()
    atoms.calc = get_preset(preset_name).make(atoms, Path(tempfile.mkdtemp(prefix=f"{preset_name}-")))
    start = time.perf_counter()
    energy = atoms.get_potential_energy()
    scf = time.perf_counter() - start
    out = {"preset": preset_name, "energy": energy, "scf_s": scf, "rung": atoms.calc.rung}
    if forces:
        start = time.perf_counter()
        out["fmax_adatom"] = float(abs(atoms.get_forces()[-1]).max())
        out["forces_s"] = time.perf_counter() - start
    return out


def naf_slab(site: str) -> Atoms:
    from seiscreen.catalog import load_bulk
    from seiscreen.surfaces.sites import candidate_sites, placed
    from seiscreen.surfaces.slabs import SlabSettings, make_terminations

    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0),
                                SlabSettings(min_thickness=2.0, min_lateral_size=6.5, vacuum=10.0))
    slab = term.to_atoms()
    (where,) = [s for s in candidate_sites(slab) if s.name == site]
    return placed(slab, where.position)


def ethanol() -> Atoms:
    from ase.build import molecule

    atoms = molecule("CH3CH2OH")
    atoms.center(vacuum=5.0)  # as GPAW's example
    return atoms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=["slab", "ethanol"])
    parser.add_argument("--solvent", default="ec")
    parser.add_argument("--base", default="gpaw-lcao-gamma")
    args = parser.parse_args()
    if args.case == "ethanol":
        from ase.units import kcal, mol

        vacuum, water = (timed(ethanol(), name, forces=False) for name in (args.base, f"{args.base}-water"))
        print(json.dumps([vacuum, water]))
        print(f"dG_solv(ethanol, water) = {(water['energy'] - vacuum['energy']) / (kcal / mol):.2f} kcal/mol")
        return
    rows = {(name, site): timed(naf_slab(site), name) for name in (args.base, f"{args.base}-{args.solvent}")
            for site in ("hollow4-F2Na2", "top-F")}
    for (name, site), row in rows.items():
        print(f"{name:26} {site:14} E {row['energy']:11.4f} eV  SCF {row['scf_s']:6.1f} s  forces "
              f"{row['forces_s']:5.1f} s  |F_adatom| {row['fmax_adatom']:.3f} eV/Å  rung {row['rung']}")
    for name in (args.base, f"{args.base}-{args.solvent}"):
        diff = rows[(name, "top-F")]["energy"] - rows[(name, "hollow4-F2Na2")]["energy"]
        print(f"{name:26} E(top-F) - E(hollow) = {diff:+.4f} eV")


if __name__ == "__main__":
    main()
