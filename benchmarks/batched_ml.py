"""Batched ML inference per NEB step: all images of a band in one CHGNet call versus one call per image, side by
side in one run, with the forces compared.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/batched_ml.py [--material NaF] [--images 5] [--steps 10]

The band: the adatom on the quickstart slab of ``--material`` (100) (4 planes, >= 6.5 Å wide), ``--images``
intermediate images along a 2.3 Å line, every image rattled by 0.02 Å at each step (so every image is recomputed,
as in a NEB step). Per-image: the ``ml`` preset's CHGNetCalculator, one per image (what run_neb uses).
Batched: ``seiscreen.batched.BandBatch`` (one forward pass for the band, energy and forces only); "batch efsm":
the same with stress and magnetic moments too (the batching alone). Printed: median
seconds per band step (wall and CPU), the speed-up, and the largest force difference between the two.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

from seiscreen.batched import BandBatch
from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations


def band(material: str, n_images: int):
    (term,) = make_terminations(load_bulk(material), (1, 0, 0), SlabSettings(min_thickness=4.0, min_lateral_size=6.5))
    slab = term.to_atoms()
    site = candidate_sites(slab)[0].position
    return [placed(slab, site + [2.3 * k / max(n_images - 1, 1), 0.0, 0.0]) for k in range(n_images)]


def step_times(images, steps: int, seed: int = 0) -> tuple[list[float], list[float], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    walls, cpus, forces = [], [], []
    for _ in range(steps):
        for image in images:
            image.positions += rng.normal(0, 0.02, image.positions.shape)
        wall, cpu = time.perf_counter(), time.process_time()
        forces = [image.get_forces() for image in images]
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, forces


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--material", default="NaF")
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    preset = get_preset("ml")
    single = band(args.material, args.images)
    batched = [image.copy() for image in single]
    for image in single:
        image.calc = preset.make()
    batch = BandBatch.for_preset(preset)
    for k, image in enumerate(batched):
        image.calc = batch.image_calculator(k, image)
    # The same batch with every property the per-image calculator computes (stress, magmoms): batching alone.
    batched_all = [image.copy() for image in single]
    batch_all = BandBatch.for_preset(preset, task="efsm")
    for k, image in enumerate(batched_all):
        image.calc = batch_all.image_calculator(k, image)
    sides = (("per-image", single), ("batched", batched), ("batch efsm", batched_all))
    for _, images in sides:  # warm-up: model load, first graphs
        [image.get_forces() for image in images]
    rows = {}
    for repeat in range(2):  # alternated, so that a change of load hits both alike
        for name, images in sides:
            walls, cpus, forces = step_times(images, args.steps, seed=repeat)
            rows.setdefault(name, [[], [], None])
            rows[name][0] += walls
            rows[name][1] += cpus
            rows[name][2] = forces
    diff = max(float(np.abs(a - b).max()) for a, b in zip(rows["per-image"][2], rows["batched"][2], strict=True))
    print(f"{args.material}(100), {len(single[0])} atoms, {args.images} images, {2 * args.steps} band steps each")
    print(f"{'':10} {'wall s/step':>12} {'CPU s/step':>11}")
    for name, (walls, cpus, _) in rows.items():
        print(f"{name:10} {statistics.median(walls):12.3f} {statistics.median(cpus):11.3f}")
    w = statistics.median(rows["per-image"][0]) / statistics.median(rows["batched"][0])
    c = statistics.median(rows["per-image"][1]) / statistics.median(rows["batched"][1])
    print(f"speed-up per NEB step (per-image / batched): wall {w:.2f}x, CPU {c:.2f}x; "
          f"largest force difference {diff:.1e} eV/Å; model calls {batch.model_calls} for {batch.evaluations} images")


if __name__ == "__main__":
    main()
