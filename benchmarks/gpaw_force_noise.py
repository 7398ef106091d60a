"""SCF noise in GPAW forces at a relaxed adatom minimum: forces recomputed after a small excursion and back.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_force_noise.py [--preset gpaw-lcao-gamma] [--site site-2]

The structure is a finished start of the NaF(100) GPAW minima search checkpointed in
``results/in-progress/gpaw-naf100-store`` (``--site``: its checkpoint file). For the preset as written and with an extra
``convergence: {forces: 0.005}`` criterion: the largest force, the same after moving the adatom 0.05 Å and back
(the calculator keeps its wavefunctions, as in a relaxation), the largest change of any force component between
the two, and seconds per call. A change well below a relaxation's fmax (0.01 eV/Å) means SCF noise cannot be what
stops it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from seiscreen import checkpoints
from seiscreen.calculators import CalculatorPreset, get_preset

STORE = Path(__file__).resolve().parents[1] / "results" / "in-progress" / "gpaw-naf100-store"


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpaw-lcao-gamma")
    parser.add_argument("--site", default="site-1")
    args = parser.parse_args()
    path = next(STORE.glob(f"checkpoints/minima-*/{args.site}.json"))
    minimum = checkpoints.loads(path.read_text())
    base = get_preset(args.preset)
    work = Path(tempfile.mkdtemp(prefix="gpaw-noise-"))
    for label, extra in [("preset", {}), ("forces 0.005", {"forces": 0.005})]:
        convergence = {**base.parameters["convergence"], **extra}
        preset = CalculatorPreset(**{**base.model_dump(), "parameters": {**base.parameters,
                                                                         "convergence": convergence}})
        atoms = minimum.atoms.copy()
        atoms.set_constraint(minimum.atoms.constraints)
        atoms.calc = preset.make(atoms, work / label.replace(" ", ""))
        start = time.perf_counter()
        first = atoms.get_forces()
        t_first = time.perf_counter() - start
        atoms.positions[-1, 0] += 0.05
        atoms.get_forces()
        atoms.positions[-1, 0] -= 0.05
        start = time.perf_counter()
        again = atoms.get_forces()
        t_again = time.perf_counter() - start
        fmax = [np.linalg.norm(f, axis=1).max() for f in (first, again)]
        print(f"{label:14} fmax {fmax[0]:.4f} then {fmax[1]:.4f} eV/Å; largest change "
              f"{np.abs(first - again).max():.4f} eV/Å; s per call {t_first:.0f}, {t_again:.0f}", flush=True)


if __name__ == "__main__":
    main()
