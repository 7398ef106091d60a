"""Whether the minima search reaches and accepts NaIn(111)'s exchange state, per seed, with and without
``verify_last``.

The surface is NaIn(111) `111-s0.292` in its 60° 48-atom cell, at CHGNet. Run:
``PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/exchange_state.py SEED on|off``
(docs/notes/2026-12-07-supercell-noise.md).
"""

from __future__ import annotations

import sys
import time

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.minima import MinimaSettings, scan_surface
from seiscreen.surfaces.slabs import SlabSettings, make_terminations, with_supercell
from seiscreen.workflow.minima import _adsorbate_bulk

CELL_60 = ((2, -2), (2, 0))  # the cell the review store computed this surface in


def main(seed: int, verify_last: bool) -> None:
    slab = SlabSettings(min_thickness=6.0, vacuum=12.0, min_lateral_size=9.0)
    (term,) = [t for t in make_terminations(load_bulk("NaIn"), (1, 1, 1), slab) if t.termination_id == "111-s0.292"]
    settings = MinimaSettings(seed=seed, stop_in_known_basin=False, lowest_start_first=False,
                              verify_last=verify_last)
    start = time.time()
    scan = scan_surface(with_supercell(term, CELL_60).to_atoms(), get_preset("ml").make(), settings,
                        _adsorbate_bulk("Na"))
    for m in scan.minima:
        print(f"{m.site:14s} {m.outcome.value:13s} verified={m.verified} E={m.energy:.5f} eV "
              f"from={','.join(m.started_from)} height={m.details.get('height')} Å")
    print(f"seed {seed}, verify_last {verify_last}: {time.time() - start:.0f} s, {scan.force_calls} force calls")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] == "on")
