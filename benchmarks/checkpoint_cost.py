"""Cost of one NEB band checkpoint: file size and seconds per save (with its fsync), by slab size.

    .venv/bin/python benchmarks/checkpoint_cost.py [--atoms 17 33 65] [--repeats 20]

A 5-image band (7 images with the ends) with BFGS's state, as ``HopNebMaker`` writes it after an optimiser step:
positions, forces and the Hessian of the whole band, (5 x atoms x 3)^2 numbers. Printed: megabytes and the median
milliseconds per ``NebCheckpoint.save``. This is why a band checkpoints at most once a second
(``seiscreen.bands.CHECKPOINT_SECONDS``) and deletes its checkpoints when it finishes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from seiscreen.neb import NebCheckpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, nargs="+", default=[17, 33, 65])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="checkpoint-cost-")) / "neb.npz"
    rng = np.random.default_rng(0)
    for atoms in args.atoms:
        n = 5 * atoms * 3
        checkpoint = NebCheckpoint(
            stage="plain", step=1, steps_plain=0, force_calls=5, positions=rng.random((7, atoms, 3)),
            energies=np.zeros(7), forces=rng.random((7, atoms, 3)), optimizer="BFGS",
            optimizer_state={"hessian": rng.random((n, n)), "pos0": np.zeros(n), "forces0": np.zeros(n),
                             "maxstep": 0.2})
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            checkpoint.save(path)
            seconds.append(time.perf_counter() - start)
        print(f"{atoms:4d} atoms: {path.stat().st_size / 1e6:6.2f} MB, median {1000 * statistics.median(seconds):6.1f} "
              "ms per save", flush=True)


if __name__ == "__main__":
    main()
