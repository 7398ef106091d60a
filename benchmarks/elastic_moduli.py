"""The mechanical descriptor under a calculator preset for a few catalog materials, against experiment.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/elastic_moduli.py [--preset chgnet] [NaF NaCl Na]
Prints one JSON line per material: C11, C12, C44, K, G, E (GPa), Born stability, G / G(Na), time.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.descriptors.bulk import relax_bulk
from seiscreen.descriptors.mechanical import compute_mechanical


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("materials", nargs="*", default=["Na", "NaF", "NaCl"])
    parser.add_argument("--preset", default="chgnet")
    args = parser.parse_args()
    calc = get_preset(args.preset).make()
    reference = None
    for material in ["Na", *[m for m in args.materials if m != "Na"]]:
        start = time.perf_counter()
        atoms = AseAtomsAdaptor.get_atoms(load_bulk(material).structure.remove_oxidation_states())
        bulk = relax_bulk(atoms, calc)
        result = compute_mechanical(bulk.atoms(), calc, reference_shear_modulus_gpa=reference, reference_metal="Na")
        if material == "Na":
            reference = result.shear_modulus_vrh_gpa
        c = np.array(result.elastic_tensor_gpa)
        print(json.dumps({"material": material, "preset": args.preset, "a": round(bulk.atoms().cell.lengths()[0], 4),
                          "converged": bulk.converged, "C11": c[0, 0], "C12": c[0, 1], "C44": c[3, 3],
                          "K": round(result.bulk_modulus_vrh_gpa, 2), "G": round(result.shear_modulus_vrh_gpa, 2),
                          "E": round(result.youngs_modulus_gpa, 2), "born_stable": result.born_stable,
                          "asymmetry": result.asymmetry_gpa,
                          "G_over_G_Na": None if result.monroe_newman_ratio is None
                          else round(result.monroe_newman_ratio, 2),
                          "seconds": round(time.perf_counter() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
