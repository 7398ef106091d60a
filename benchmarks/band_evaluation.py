"""Whole CHGNet NEBs with the band's moved images evaluated together: seiscreen's BandDyNEB against ASE's DyNEB,
side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/band_evaluation.py [--materials NaF NaBr] [--repeats 2]

The hops: every symmetry-unique hop of the CHGNet minima of the quickstart's NaF(100) and NaBr(100) slabs (as
benchmarks/neb_force_calls.py builds them). Each band runs as HopNebMaker runs it: ``run_neb`` with a mirrored band
where one exists and the images sharing one ``BandBatch`` (one CHGNet forward pass per evaluation). The only
difference: ASE's ``DyNEB.set_positions`` re-reads the band's forces after each image it moves, which evaluates
that image on its own, so the batch holds one image; ``seiscreen.neb.BandDyNEB`` decides from the forces of the
step and evaluates the moved images together. Printed per hop and variant: wall and CPU seconds, force calls,
model calls, images per model call, barrier; then the ratio of the wall times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

from ase.mep import DyNEB
from neb_force_calls import ml_hops  # the benchmark beside this one: same hops, same ends

from seiscreen import neb
from seiscreen.batched import BandBatch
from seiscreen.calculators import get_preset


def run(initial, final, symmetry, dyneb_class) -> dict:
    batch = BandBatch.for_preset(get_preset("ml"))
    mirror = neb.find_band_mirror(initial, final, symmetry)
    wall, cpu = time.perf_counter(), time.process_time()
    with mock.patch.object(neb, "BandDyNEB", dyneb_class):
        result = neb.run_neb(initial, final, batch.image_calculator, neb.NebProtocol(), mirror=mirror)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "calls": result.force_calls,
            "model_calls": batch.model_calls, "per_call": batch.evaluations / max(batch.model_calls, 1),
            "barrier": result.forward_barrier, "status": result.status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--materials", nargs="+", default=["NaF", "NaBr"])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    variants = {"ASE DyNEB": DyNEB, "BandDyNEB": neb.BandDyNEB}
    print(f"{'hop':32} {'variant':10} {'wall s':>7} {'cpu s':>7} {'calls':>6} {'model calls':>11} "
          f"{'images/call':>11} {'barrier eV':>10}")
    ratios = []
    for material in args.materials:
        for label, initial, final, symmetry in ml_hops(material):
            walls = {name: [] for name in variants}
            for _ in range(args.repeats):
                for name, cls in variants.items():  # alternated: a change of load hits both alike
                    r = run(initial, final, symmetry, cls)
                    walls[name].append(r["wall"])
                    print(f"{label:32} {name:10} {r['wall']:7.2f} {r['cpu']:7.2f} {r['calls']:6d} "
                          f"{r['model_calls']:11d} {r['per_call']:11.2f} {r['barrier']:10.4f}  {r['status']}",
                          flush=True)
            ratio = statistics.median(walls["BandDyNEB"]) / statistics.median(walls["ASE DyNEB"])
            ratios.append(ratio)
            print(f"{label}: BandDyNEB takes {ratio:.2f}x the wall time of ASE's DyNEB (median of {args.repeats})")
    print(f"\nmedian over hops: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
