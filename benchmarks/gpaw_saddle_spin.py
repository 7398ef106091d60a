"""Spin at the gpaw-lcao NaF(100) saddle: is the spin-paired SCF there the lower state, or a trapped one?

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_saddle_spin.py [--preset gpaw-lcao]

``data/naf100-gpaw-lcao-saddle-image.extxyz`` is band image 3 of the converged ``gpaw-lcao`` rerun of the
NaF(100) hop 9c0e2ca8 (2026-11-27 19:21, read back from its ``gpaw.txt``). The band's other images carry
0.4-0.74 μB; this one converged to 0.00 μB, continuing from the previous step's wavefunctions. Three single
points on that geometry: (a) spin-paired (the state the band's image is in), (b) the preset from scratch (the
moment free, started from 1 μB on the adatom) and (c) the total moment held at 1 μB (Fermi-Dirac with
``fixmagmom``). If (b) or (c) were lower than (a), the band's saddle would sit on a trapped spin state and its
barrier would be too high. Prints the energies, moments, and each against (a). Measured 2026-11-27, 1 thread:
(a) -59.602184 eV, 0.000 μB; (b) -59.590690 eV, 0.651 μB, +0.0115 eV; (c) -59.569608 eV, +0.0326 eV.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from ase.io import read
from ase.units import Ha

from seiscreen.calculators import get_preset, gpaw_keywords

IMAGE = Path(__file__).resolve().parent / "data" / "naf100-gpaw-lcao-saddle-image.extxyz"


def fixed_moment_energy(atoms, parameters: dict, folder: Path) -> tuple[float, float]:
    """Energy (eV) and total moment with the total moment held at the adatom's 1 μB."""
    from gpaw import GPAW, FermiDirac

    keywords = gpaw_keywords(parameters, str(folder / "fixmagmom.txt"))
    keywords["occupations"] = FermiDirac(parameters["smearing"], fixmagmom=True)
    moments = np.zeros(len(atoms))
    moments[-1] = 1.0  # the adatom, last as in every seiscreen slab
    atoms.set_initial_magnetic_moments(moments)
    atoms.calc = calc = GPAW(**keywords)
    try:
        atoms.get_potential_energy()
    except AssertionError:
        # GPAW 26.7 fails writing the two work functions of a dipole-corrected slab with two Fermi levels (a fixed
        # moment), after the energy is computed: the energy and moment are kept in its results.
        pass
    return calc.dft.results["energy"] * Ha, float(calc.dft.results["magmom"])


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpaw-lcao")
    args = parser.parse_args()
    preset = get_preset(args.preset)
    folder = Path(tempfile.mkdtemp(prefix="gpaw-saddle-spin-"))
    paired = preset.model_copy(update={"adatom_magmom": 0.0})  # spin-polarised, started without a moment
    states = {}
    for label, compute in (
            ("(a) spin-paired", lambda: _free(paired, folder / "paired")),
            (f"(b) {args.preset} from scratch, moment free from 1 μB", lambda: _free(preset, folder / "free")),
            ("(c) total moment held at 1 μB", lambda: fixed_moment_energy(read(IMAGE), dict(preset.parameters),
                                                                          folder))):
        start = time.perf_counter()
        states[label] = energy, moment = compute()
        print(f"{label}: E {energy:.6f} eV, moment {moment:.3f} μB ({(time.perf_counter() - start) / 60:.1f} min)",
              flush=True)
    reference = states["(a) spin-paired"][0]
    for label, (energy, _) in list(states.items())[1:]:
        print(f"{label[:3]} - (a) = {energy - reference:+.4f} eV")
    print(f"GPAW's files in {folder}")


def _free(preset, folder: Path) -> tuple[float, float]:
    atoms = read(IMAGE)
    atoms.calc = preset.make(atoms, folder)
    return atoms.get_potential_energy(), float(atoms.calc.get_magnetic_moment())


if __name__ == "__main__":
    main()
