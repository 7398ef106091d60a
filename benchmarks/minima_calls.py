"""Minima-search force calls, the search as it was (both call-saving settings off) against today's defaults, side by
side in one run, on the same surfaces, with the accepted minima (site, energy) of each.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/minima_calls.py              # EMT surfaces and CHGNet NaF(100)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/minima_calls.py --only emt   # the EMT surfaces (seconds)

Surfaces: the EMT demo (Au on Al(100), workflows/emt-demo.yaml's slab), Cu on Cu(100) and Ag on Ag(100) (default
slab settings: 4x4 cells, as a campaign cuts them), Au on Al(111) (the demo's slab settings; two minima, fcc and
hcp), Na on NaF(100) under CHGNet (the quickstart's cell, as in tests/minima/test_ml.py). Calls are the minima
search's (every start's relaxations and verifications; the clean slab's and the adsorbate reference's are the same
on both sides and left out). Columns: "stop" is ``stop_in_known_basin`` alone; "new" adds ``lowest_start_first``
(the defaults) and relaxes with ``batched.energy_forces_only`` of the calculator, as ``scan_surface`` now does
(CHGNet: energy and forces only, the same numbers; EMT: unchanged). Wall seconds of the old and the new search are
printed beside them. Target: new/old <= 0.6 with every accepted minimum at the same site and within 1 meV.
"""

from __future__ import annotations

import argparse
import time
import warnings

from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.batched import energy_forces_only
from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk, make_bulk
from seiscreen.minima import MinimaSettings, find_minima, relax_clean_slab
from seiscreen.surfaces.sites import candidate_sites
from seiscreen.surfaces.slabs import SlabSettings, make_terminations
from seiscreen.surfaces.symmetry import SurfaceSymmetry

STRATEGIES = {"old": {"stop_in_known_basin": False, "lowest_start_first": False},
              "stop": {"stop_in_known_basin": True, "lowest_start_first": False},
              "new": {}}


def surfaces(only: str | None) -> list[tuple[str, object, tuple, SlabSettings, str, str]]:
    """(label, bulk, facet, slab settings, adsorbate, preset) of each reference surface."""
    silver = make_bulk("Ag", Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.086), ["Ag"], [[0, 0, 0]]), {"Ag": 0})
    demo = SlabSettings(min_thickness=5, vacuum=10, min_lateral_size=5.5)
    emt = [("EMT demo Au/Al(100)", load_bulk("Al"), (1, 0, 0), demo, "Au", "emt"),
           ("EMT Cu/Cu(100)", load_bulk("Cu"), (1, 0, 0), SlabSettings(), "Cu", "emt"),
           ("EMT Ag/Ag(100)", silver, (1, 0, 0), SlabSettings(), "Ag", "emt"),
           ("EMT Au/Al(111)", load_bulk("Al"), (1, 1, 1), demo, "Au", "emt")]  # two minima: fcc and hcp
    ml = [("CHGNet Na/NaF(100)", load_bulk("NaF"), (1, 0, 0), SlabSettings(min_thickness=4.0, min_lateral_size=6.5),
           "Na", "ml")]
    return {"emt": emt, "ml": ml}.get(only, emt + ml)


def search(label, bulk, facet, slab_settings, adsorbate, preset) -> dict[str, tuple[int, list, float]]:
    """Each strategy's (force calls, accepted minima as (site, energy), seconds) on one clean slab."""
    term = make_terminations(bulk, facet, slab_settings)[0]
    slab = term.to_atoms()
    calc = get_preset(preset).make()
    symmetry = SurfaceSymmetry.from_structure(AseAtomsAdaptor.get_structure(slab))
    clean, _, _ = relax_clean_slab(slab, calc, MinimaSettings(adsorbate=adsorbate))
    sites = candidate_sites(slab, adsorbate, relaxed=clean)
    out = {}
    for name, fields in STRATEGIES.items():
        t0 = time.perf_counter()
        relaxing = energy_forces_only(calc) if name == "new" else calc
        minima = find_minima(clean, sites, relaxing, symmetry, MinimaSettings(adsorbate=adsorbate, **fields))
        out[name] = (sum(m.force_calls for m in minima), [(m.site, m.energy) for m in minima if m.accepted],
                     time.perf_counter() - t0)
    return out


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["emt", "ml"], default=None)
    args = parser.parse_args()
    print(f"{'surface':22} {'old':>5} {'stop':>5} {'new':>5} {'new/old':>7} {'s old/new':>11}  minima old -> new "
          "(site, eV), largest |dE|")
    ratios = []
    for label, *rest in surfaces(args.only):
        out = search(label, *rest)
        (old, old_minima, t_old), (stop, _, _), (new, new_minima, t_new) = out["old"], out["stop"], out["new"]
        same = [site for site, _ in old_minima] == [site for site, _ in new_minima]
        pairs = list(zip(old_minima, new_minima, strict=False))
        worst = max((abs(a[1] - b[1]) for a, b in pairs), default=float("nan"))
        ratios.append(new / old)
        shown = "; ".join(f"{a[0]} {a[1]:.4f} -> {b[0]} {b[1]:.4f}" for a, b in pairs)
        print(f"{label:22} {old:5d} {stop:5d} {new:5d} {new / old:7.2f} {t_old:5.0f}/{t_new:<5.0f}  {shown}  "
              f"{worst * 1000:.2f} meV{'' if same else '  SITES DIFFER'}", flush=True)
    print(f"largest new/old: {max(ratios):.2f}")


if __name__ == "__main__":
    main()
