"""Whole CHGNet NEBs with the band's moved images evaluated together: seiscreen's BandDyNEB against ASE's DyNEB,
side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/band_evaluation.py [--materials NaF NaBr] [--repeats 2] [--emt]

The hops: every symmetry-unique hop of the CHGNet minima of the quickstart's NaF(100) and NaBr(100) slabs (as
benchmarks/neb_force_calls.py builds them). Each band runs as HopNebMaker runs it: ``run_neb`` with a mirrored band
where one exists and the images sharing one ``BandBatch`` (one CHGNet forward pass per evaluation). The only
difference: ASE's ``DyNEB.set_positions`` re-reads the band's forces after each image it moves, which evaluates
that image on its own, so the batch holds one image; ``seiscreen.neb.BandDyNEB`` decides from the forces of the
step and evaluates the moved images together. Printed per hop and variant: wall and CPU seconds, force calls,
model calls, images per model call, barrier; then the ratio of the wall times. ``--emt``: the EMT hops of
benchmarks/neb_force_calls.py instead, each band's images evaluated together by EMT one after another (no model
to batch: what it shows is how many images each evaluation holds).
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

from ase.calculators.emt import EMT
from ase.mep import DyNEB
from neb_force_calls import emt_hops, ml_hops  # the benchmark beside this one: same hops, same ends

from seiscreen import neb
from seiscreen.batched import BandBatch, SharedBand
from seiscreen.calculators import get_preset


class EmtBand(SharedBand):
    """A band's moved images evaluated together with EMT (one after another: EMT has nothing to batch)."""

    model_calls = property(lambda self: len(self.batch_sizes))
    evaluations = property(lambda self: sum(self.batch_sizes))

    def evaluate(self, pairs):
        out = []
        for atoms, _ in pairs:
            copy = atoms.copy()
            copy.calc = EMT()
            out.append((copy.get_potential_energy(), copy.get_forces()))
        return out


class AseCountedDyNEB(neb.CountedBand, DyNEB):
    """ASE's DyNEB with run_neb's force calls counted: the variant BandDyNEB is measured against."""


def run(initial, final, symmetry, dyneb_class, emt: bool = False) -> dict:
    batch = EmtBand() if emt else BandBatch.for_preset(get_preset("ml"))
    mirror = neb.find_band_mirror(initial, final, symmetry)
    wall, cpu = time.perf_counter(), time.process_time()
    with mock.patch.object(neb.band, "CountedDyNEB", dyneb_class):
        result = neb.run_neb(initial, final, batch.image_calculator, neb.NebProtocol(), mirror=mirror)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "calls": result.force_calls,
            "model_calls": batch.model_calls, "per_call": batch.evaluations / max(batch.model_calls, 1),
            "barrier": result.forward_barrier, "status": result.status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--materials", nargs="+", default=["NaF", "NaBr"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--emt", action="store_true", help="the EMT hops instead of the CHGNet ones")
    args = parser.parse_args()
    variants = {"ASE DyNEB": AseCountedDyNEB, "BandDyNEB": neb.CountedDyNEB}
    print(f"{'hop':32} {'variant':10} {'wall s':>7} {'cpu s':>7} {'calls':>6} {'model calls':>11} "
          f"{'images/call':>11} {'barrier eV':>10}")
    ratios = []
    hops = emt_hops() if args.emt else [hop for material in args.materials for hop in ml_hops(material)]
    for label, initial, final, symmetry in hops:
        walls = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, cls in variants.items():  # alternated: a change of load hits both alike
                r = run(initial, final, symmetry, cls, emt=args.emt)
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
