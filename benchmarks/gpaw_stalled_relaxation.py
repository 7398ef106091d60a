"""A stalled GPAW relaxation, restarted: the configuration where BFGS stood still, relaxed by ``minima.relax``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_stalled_relaxation.py [--preset gpaw-lcao-gamma]

``data/naf100-gpaw-stalled-start.extxyz`` is step 300 of start 3 (hollow) of the NaF(100) minima search under
``gpaw-lcao-gamma`` (read back from that job's ``gpaw.txt``). There, one BFGS had run from step 216 to 437 with the
largest force 0.05-0.06 eV/Å (the adatom's) and the energy within 1e-5 eV: its Hessian, learnt across SCF jumps
between states of the slab's free layer, allowed only 1e-4 Å steps. A fresh BFGS, which is what ``relax`` now
starts when a window of steps makes no progress, is given the same configuration. Prints force calls, the final
largest force and energy, and minutes. Measured 2026-11-26, 1 thread: 31 calls, 0.054 -> 0.008 eV/Å, 4.3 min.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from ase.io import read

from seiscreen.calculators import get_preset
from seiscreen.minima import _largest_force, relax

START = Path(__file__).resolve().parent / "data" / "naf100-gpaw-stalled-start.extxyz"


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpaw-lcao-gamma")
    parser.add_argument("--fmax", type=float, default=0.01, help="eV/Å, the minima search's")
    args = parser.parse_args()
    atoms = read(START)
    calc = get_preset(args.preset).make(atoms, Path(tempfile.mkdtemp(prefix="gpaw-stall-")))
    atoms.calc = calc
    start = time.perf_counter()
    print(f"start: E {atoms.get_potential_energy():.6f} eV, largest force {_largest_force(atoms):.4f} eV/Å")
    converged, calls = relax(atoms, calc, args.fmax, 400)
    print(f"{'converged' if converged else 'NOT converged'} after {calls} force calls: E "
          f"{atoms.get_potential_energy():.6f} eV, largest force {_largest_force(atoms):.4f} eV/Å, "
          f"{(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
