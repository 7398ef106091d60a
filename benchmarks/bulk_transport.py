"""Bulk Na vacancy (and interstitial) barriers of catalog materials with a calculator preset, and their cost.

    .venv/bin/python benchmarks/bulk_transport.py [--preset chgnet] [--materials NaF NaCl NaBr NaI]
        [--interstitial] [--min-image-distance 9.0] [--out bulk_transport.json]

Each material's catalog bulk is relaxed (cell and positions, FrechetCellFilter, fmax 0.01 eV/Å) with the preset,
then :func:`seiscreen.descriptors.transport.compute_transport` runs with default settings. Printed per material:
the hops (length, status, forward barrier), the 3D percolation barrier, force calls and wall seconds. The results
are written as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.descriptors.transport import TransportSettings, compute_transport

warnings.filterwarnings("ignore", module="pymatgen")


def relaxed_bulk(material: str, preset: str):
    """The catalog bulk relaxed with the preset (cell and positions)."""
    atoms = AseAtomsAdaptor.get_atoms(load_bulk(material).structure.remove_oxidation_states())
    atoms.calc = get_preset(preset).make()
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=0.01, steps=300)
    return atoms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="chgnet")
    parser.add_argument("--materials", nargs="+", default=["NaF", "NaCl", "NaBr", "NaI"])
    parser.add_argument("--interstitial", action="store_true")
    parser.add_argument("--min-image-distance", type=float, default=9.0)
    parser.add_argument("--out", default="bulk_transport.json")
    args = parser.parse_args()
    preset = get_preset(args.preset)
    settings = TransportSettings(interstitial=args.interstitial, min_image_distance=args.min_image_distance)
    results = {}
    for material in args.materials:
        start = time.perf_counter()
        atoms = relaxed_bulk(material, args.preset)
        result = compute_transport(atoms, preset.make, settings)
        seconds = time.perf_counter() - start
        results[material] = {"seconds": seconds, "cell_A": atoms.cell.cellpar().tolist(), **result.model_dump()}
        for mechanism in (result.vacancy, result.interstitial):
            for hop in mechanism.hops:
                print(f"{material} {mechanism.mechanism} hop {hop.label}: {hop.length_A:.3f} Å, {hop.status}, "
                      f"forward {hop.forward_barrier_eV}, {hop.force_calls} force calls", flush=True)
            print(f"{material} {mechanism.mechanism}: site {mechanism.site!r}, 3D barrier "
                  f"{mechanism.percolation_barrier_eV} eV {mechanism.reason}", flush=True)
        print(f"{material}: {seconds:.0f} s, supercell {result.vacancy.supercell_atoms} atoms", flush=True)
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
