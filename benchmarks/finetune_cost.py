"""A fine-tuned CHGNet's force call against the base model's, side by side in one run on the same structures.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/finetune_cost.py --model ml-ft:NAME [--calls 30]

The structures: the review's NaF(100) slab in the 9 Å production cell with a Na adatom in the hollow, the adatom
moved a little before each call (so no result is cached). The two presets alternate call by call, so a load on the
machine falls on both alike; printed: the median seconds per call of each and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="the fine-tuned preset, ml-ft:NAME")
    parser.add_argument("--base", default="chgnet")
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    term = make_terminations(load_bulk("NaF"), (1, 0, 0), SlabSettings(min_lateral_size=9.0, min_thickness=6.0))[0]
    slab = term.to_atoms()
    atoms = placed(slab, candidate_sites(slab)[0].position)
    timings: dict[str, list[float]] = {args.base: [], args.model: []}
    calculators = {name: get_preset(name).make(atoms.copy()) for name in timings}
    rng = np.random.default_rng(0)
    for _ in range(args.calls):
        for name, calc in calculators.items():
            moved = atoms.copy()
            moved.positions[-1] += rng.normal(0, 0.05, 3)
            moved.calc = calc
            start = time.perf_counter()
            moved.get_forces()
            timings[name].append(time.perf_counter() - start)
    base, tuned = (np.median(timings[name]) for name in (args.base, args.model))
    print(f"{len(atoms)} atoms, {args.calls} calls each: {args.base} {1000 * base:.1f} ms, {args.model} "
          f"{1000 * tuned:.1f} ms per force call (median); ratio {tuned / base:.3f}")


if __name__ == "__main__":
    main()
