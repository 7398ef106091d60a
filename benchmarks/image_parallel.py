"""Wall time of the steps of one GPAW band computed in the job's process, with its images two at a time in
processes of their own, and with each image on two MPI ranks, side by side in one run (seiscreen.parallel).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/image_parallel.py [--preset gpaw-test] [--images 4] [--steps 4]
        [--lateral 6.5]

The band: a Na adatom from the top of one F to the top of the next on a NaF(100) slab of two planes, at least
``--lateral`` Å wide (6.5: 2x2 primitive, 17 atoms, the slab of tests/calculators/test_gpaw.py; 9: 2x2 conventional,
33 atoms), ends relaxed once with the preset (fmax 0.05 eV/Å), images interpolated with IDPP. Each variant
computes the same ``--steps`` band steps: every image moved (the same small displacements for all variants) and
evaluated through ``CalculatorLevel.band_calculators``, as an NEB step does. A fixed sequence of steps makes the work
identical, where a whole NEB would stop after a number of steps that the forces' noise decides. Printed: wall time
per band step and its ratio to the in-process band, and the largest force difference to it (the same numbers).
On this 2-core machine two processes are the most that can gain. ``--mpi-launcher`` starts the MPI ranks (as
root, OpenMPI also needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.workflow.hops import HopNebMaker
from seiscreen.minima import relax
from seiscreen.neb import NebProtocol, interpolate_band, unwrap_final
from seiscreen.parallel import ParallelSettings
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations
from seiscreen.surfaces.symmetry import minimum_image


def hop_ends(preset_name: str, folder: Path, lateral: float = 6.5):
    """The adatom above a top-plane F and above its nearest top-plane F neighbour, both relaxed."""
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0),
                                SlabSettings(min_thickness=2.0, min_lateral_size=lateral, vacuum=8.0))
    slab = term.to_atoms()
    (top_f,) = [s for s in candidate_sites(slab) if s.name == "top-F"]
    fluorines = [a.position for a in slab if a.symbol == "F" and a.position[2] > slab.positions[:, 2].max() - 0.5]
    steps = [minimum_image(f - fluorines[0], slab.cell.array) for f in fluorines[1:]]
    shift = min(steps, key=np.linalg.norm)
    preset = get_preset(preset_name)
    ends = []
    for k, position in enumerate((top_f.position, top_f.position + shift)):
        atoms = placed(slab, position)
        atoms.calc = preset.make(atoms, folder / f"end{k}")
        relax(atoms, atoms.calc, 0.05, 200)
        ends.append(atoms)
    initial, final = ends
    return initial, unwrap_final(initial, final, np.append(shift[:2], 0.0))


def band_steps(maker: HopNebMaker, images, folder: Path, steps: int) -> tuple[list[float], np.ndarray]:
    """Wall seconds of each band step and the forces of the last, every image computed through the maker."""
    rng = np.random.default_rng(7)
    moves = [rng.normal(scale=0.02, size=(len(images) - 2, 3)) for _ in range(steps)]
    band = [image.copy() for image in images]
    times = []
    with maker.band_calculators(folder) as make_calculator:
        for k, image in enumerate(band[1:-1]):
            image.calc = make_calculator(k, image)
        for move in moves:
            for image, step in zip(band[1:-1], move, strict=True):
                image.positions[-1] += step  # the adatom moves, as along a band
            start = time.perf_counter()
            forces = np.array([image.get_forces() for image in band[1:-1]])  # the first asks for all of them
            times.append(time.perf_counter() - start)
    return times, forces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpaw-test")
    parser.add_argument("--images", type=int, default=4, help="intermediate images of the band")
    parser.add_argument("--steps", type=int, default=4, help="band steps timed")
    parser.add_argument("--mpi-launcher", default="mpiexec --oversubscribe -n {ranks}")
    parser.add_argument("--lateral", type=float, default=6.5, help="least slab width, Å")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="seiscreen-image-parallel-"))
    start = time.perf_counter()
    initial, final = hop_ends(args.preset, folder, args.lateral)
    print(f"ends relaxed in {time.perf_counter() - start:.0f} s ({args.preset}, {len(initial)} atoms)", flush=True)
    protocol = NebProtocol(n_images=args.images)
    images = interpolate_band(initial, final, protocol)
    variants = {"in the job's process": ParallelSettings(),
                "2 images at once": ParallelSettings(images_at_once=2),
                "2 MPI ranks per image": ParallelSettings(ranks=2, launcher=args.mpi_launcher)}
    if shutil.which(args.mpi_launcher.split()[0]) is None:
        del variants["2 MPI ranks per image"]
        print(f"no {args.mpi_launcher.split()[0]} here: the MPI variant is left out")
    print(f"{'variant':24} {'first step s':>12} {'later steps s (median)':>23} {'max |dF| eV/Å':>14}")
    rows = []
    for name, settings in variants.items():
        maker = HopNebMaker(calculator_preset=args.preset, neb_protocol=protocol, parallel=settings)
        times, forces = band_steps(maker, images, folder / name.replace(" ", "-").replace("'", ""), args.steps)
        rows.append((name, times, forces))
        later = statistics.median(times[1:]) if len(times) > 1 else times[0]
        print(f"{name:24} {times[0]:12.1f} {later:23.1f} {np.abs(forces - rows[0][2]).max():14.2e}", flush=True)
    base = statistics.median(rows[0][1][1:])
    print()
    for name, times, _ in rows[1:]:
        print(f"{name}: a band step (after the first, which starts the processes) takes "
              f"{statistics.median(times[1:]) / base:.2f}x the in-process time; the whole sequence "
              f"{sum(times) / sum(rows[0][1]):.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
