"""PBE band gaps of catalog materials at their catalog (experimental) geometry, and their sensitivity to settings.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/band_gaps.py [NaF NaCl ...] [--out DIR]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/band_gaps.py --sensitivity

Default: ``compute_gap`` with the default ``GapSettings`` per material (NaF NaCl NaBr NaI Na2Se Na3P unless named),
one line each (kind, gap, mesh and path gaps, the k-mesh series, wall seconds); with ``--out`` each ``GapResult``
as JSON and GPAW's text output beside it. ``--sensitivity``: the gap without the band path under changed settings
(cut-off 400/500/600 eV on NaF and Na2Se, the 1-electron Na setup on NaF and NaCl, LCAO dzp on NaF) and NaCl's gap
at GPAW's own PBE lattice constant (an equation of state over 5.55-5.85 Å). Measured in
docs/notes/2026-12-06-band-gaps.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.catalog import load_bulk
from seiscreen.descriptors.gap import GapSettings, compute_gap

MATERIALS = ("NaF", "NaCl", "NaBr", "NaI", "Na2Se", "Na3P")


def catalog_atoms(name: str) -> Atoms:
    """The catalog's conventional cell as ASE atoms (oxidation states dropped)."""
    return AseAtomsAdaptor.get_atoms(load_bulk(name).structure.remove_oxidation_states())


def measure(names, out: Path | None) -> None:
    for name in names:
        start = time.perf_counter()
        txt = out / f"{name}.txt" if out else None
        result = compute_gap(catalog_atoms(name), GapSettings(), txt=txt,
                             geometry="catalog (experimental, structures/catalog.yaml)")
        if out:
            (out / f"{name}.json").write_text(result.model_dump_json(indent=1))
        series = [(m.mesh, round(m.gap_eV, 3)) for m in result.convergence]
        print(f"{name:6s} {result.kind:8s} gap {result.gap_eV:.3f} mesh {result.mesh_gap_eV:.3f} path "
              f"{result.path_gap_eV} VBM {result.vbm_label} CBM {result.cbm_label} series {series} "
              f"{time.perf_counter() - start:.0f} s", flush=True)


def one_series(label: str, atoms: Atoms, **changes) -> None:
    start = time.perf_counter()
    result = compute_gap(atoms, GapSettings(band_path=False, **changes))
    print(f"{label:34s} gap {result.gap_eV:.3f} {result.kind:8s} series "
          f"{[(m.mesh, round(m.gap_eV, 3)) for m in result.convergence]} {time.perf_counter() - start:.0f} s",
          flush=True)


def pbe_lattice_constant_nacl() -> float:
    """NaCl's rocksalt lattice constant under GPAW PBE (plane waves 500 eV, 6x6x6), from an equation of state."""
    from ase.eos import EquationOfState
    from gpaw import GPAW, PW, FermiDirac

    volumes, energies = [], []
    for a in np.linspace(5.55, 5.85, 7):
        atoms = bulk("NaCl", "rocksalt", a=a)
        atoms.calc = GPAW(mode=PW(500), xc="PBE", kpts={"size": (6, 6, 6), "gamma": True},
                          occupations=FermiDirac(0.05), txt=None)
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    v0, _, _ = EquationOfState(volumes, energies).fit()
    return (4 * v0) ** (1 / 3)  # the fcc primitive cell holds a quarter of the cube


def sensitivity() -> None:
    for name in ("NaF", "Na2Se"):
        for cutoff in (400, 500, 600):
            one_series(f"{name} pw {cutoff} eV", catalog_atoms(name), pw_cutoff_eV=cutoff)
    for name in ("NaF", "NaCl"):
        one_series(f"{name} Na setup '1'", catalog_atoms(name), setups={"Na": "1"})
    one_series("NaF lcao dzp", catalog_atoms("NaF"), mode="lcao", max_meshes=2)
    a_pbe = pbe_lattice_constant_nacl()
    print(f"NaCl PBE lattice constant {a_pbe:.3f} Å", flush=True)
    one_series(f"NaCl at PBE a = {a_pbe:.3f} Å", bulk("NaCl", "rocksalt", a=a_pbe))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("materials", nargs="*", default=list(MATERIALS))
    parser.add_argument("--out", type=Path, help="folder for each GapResult (JSON) and GPAW's text output")
    parser.add_argument("--sensitivity", action="store_true", help="the settings' effect instead")
    args = parser.parse_args()
    if args.sensitivity:
        sensitivity()
        return
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    measure(args.materials, args.out)


if __name__ == "__main__":
    main()
