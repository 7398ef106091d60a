"""A CHGNet Hessian (the saddle check's) in batched model calls against one calculator call per displaced
structure, side by side in one run: NaF(100)'s shipped limiting hop, its climbing image, shell radius 6 Å.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hessian_batch.py [--radius 6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from seiscreen.batched import BandBatch
from seiscreen.calculators import get_preset
from seiscreen.vibrations import finite_difference_hessian, shell_indices

from htst_shell import limiting_band  # noqa: E402  (benchmarks/ is the working folder)


HESSIAN_BATCH = 32  # displaced structures per model call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radius", type=float, default=6.0)
    parser.add_argument("--results", default="results/review-chgnet.json.gz")
    args = parser.parse_args()
    band, _, _ = limiting_band(args.results, "NaF", "100")
    energies = [image.info.get("energy", 0.0) for image in band]
    saddle = band[len(band) // 2] if not any(energies) else band[int(np.argmax(energies[1:-1])) + 1]
    preset = get_preset("chgnet")
    shell = shell_indices(saddle, len(saddle) - 1, args.radius)
    batch = BandBatch.for_preset(preset)

    def forces_of(structures):
        return [f for k in range(0, len(structures), HESSIAN_BATCH)
                for _, f in batch.predict(structures[k:k + HESSIAN_BATCH])]

    timings = {}
    for name, calculator, batched in (("one call each", preset.make(), None), ("batched", None, forces_of)):
        start = time.perf_counter()
        hessian, calls = finite_difference_hessian(saddle, calculator, shell, 0.01, batched)
        timings[name] = (time.perf_counter() - start, hessian, calls)
    (t1, h1, n), (t2, h2, _) = timings.values()
    print(f"shell {args.radius} Å: {len(shell)} atoms, {n} force calls on {len(saddle)} atoms")
    print(f"one call each {t1:.1f} s, batched ({HESSIAN_BATCH} per call) {t2:.1f} s: ratio {t1 / t2:.2f}")
    print(f"largest Hessian difference {np.abs(h1 - h2).max():.2e} eV/Å^2")


if __name__ == "__main__":
    main()
