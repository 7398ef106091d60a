"""Device check: CHGNet force calls per second by batch size, and one campaign's wall time, on CPU and GPU.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpu.py --quick          # a few minutes on a GPU machine
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpu.py [--devices cpu cuda] [--repeats 3]

1. Throughput: the adatom on a NaF(100) slab of 64 atoms (4 planes, >= 9 Å wide; 65 atoms), copies rattled by
   0.03 Å, evaluated by ``seiscreen.batched.BandBatch`` (energy and forces, one batched model call) in batches of
   1, 2, 4, ..., 64 structures: per device and batch size the median seconds per call over ``--repeats`` calls
   (after one untimed warm-up call) and the force calls (structures) per second.
2. Wall time: ``seiscreen run`` in a fresh process and a fresh store on each device (the campaign's
   ``parallel: {device: ...}``): with ``--quick`` one surface, the quickstart's NaF(100) cell and settings; without
   it the whole quickstart (workflows/quickstart.yaml: NaF, NaBr and Na2Se (100)).

``--devices`` defaults to cpu, and cuda when torch sees a GPU. On CPU, torch uses ``OMP_NUM_THREADS`` threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import yaml

from seiscreen.batched import BandBatch
from seiscreen.calculators import get_preset, resolve_device
from seiscreen.catalog import load_bulk
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "workflows" / "quickstart.yaml"
BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64]


def structures(n: int, seed: int = 0) -> list:
    """``n`` rattled copies of the adatom on the 64-atom NaF(100) slab."""
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0), SlabSettings(min_thickness=4.0, min_lateral_size=9.0))
    slab = term.to_atoms()
    start = placed(slab, candidate_sites(slab)[0].position)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = start.copy()
        atoms.positions += rng.normal(0, 0.03, atoms.positions.shape)
        out.append(atoms)
    return out


def throughput(device: str, repeats: int) -> list[tuple[int, float]]:
    """(batch size, median seconds per batched call) on ``device``."""
    batch = BandBatch.for_preset(get_preset("ml").on_device(device))
    pool = structures(max(BATCH_SIZES))
    rows = []
    for size in BATCH_SIZES:
        batch.predict(pool[:size])  # warm-up: graph sizes, CUDA kernels
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            batch.predict(pool[:size])  # results come back as numpy: the GPU has finished
            times.append(time.perf_counter() - start)
        rows.append((size, statistics.median(times)))
        print(f"{device:5s} batch {size:3d}: {rows[-1][1]:8.4f} s/call, {size / rows[-1][1]:8.1f} force calls/s "
              f"(largest batch that fitted: {batch.max_batch or 'all'})", flush=True)
    return rows


def campaign_file(device: str, quick: bool, folder: Path) -> Path:
    """The quickstart (``quick``: its NaF(100) surface only), its ML model on ``device``."""
    campaign = yaml.safe_load(QUICKSTART.read_text())
    if quick:
        campaign["materials"] = [m for m in campaign["materials"] if m["material"] == "NaF"]
    campaign["name"] = f"device-{device}"
    campaign["parallel"] = {**campaign.get("parallel", {}), "device": device}
    path = folder / f"{device}.yaml"
    path.write_text(yaml.safe_dump(campaign, sort_keys=False))
    return path


def campaign_wall(device: str, quick: bool) -> float:
    """Seconds of ``seiscreen run`` on the campaign of :func:`campaign_file`, fresh process and store."""
    folder = Path(tempfile.mkdtemp(prefix=f"seiscreen-gpu-{device}-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"),
                                                                     os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-c", "from seiscreen.cli import main; main()", "run",
               str(campaign_file(device, quick, folder)), "--store", str(folder / "store")]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder)
    wall = time.perf_counter() - start
    if out.returncode:
        raise SystemExit(f"{device} run failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    print("\n".join(out.stdout.strip().splitlines()[-6:]))
    return wall


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed call per batch size; one surface")
    parser.add_argument("--devices", nargs="+", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per batch size (default 3; quick 1)")
    parser.add_argument("--no-campaign", action="store_true", help="the throughput table only")
    args = parser.parse_args()
    devices = args.devices or ["cpu", *(["cuda"] if resolve_device("auto") == "cuda" else [])]
    repeats = args.repeats or (1 if args.quick else 3)
    print(f"threads (OMP_NUM_THREADS): {os.environ.get('OMP_NUM_THREADS', 'unset')}; devices: {devices}")
    table = {device: throughput(device, repeats) for device in devices}
    walls = {} if args.no_campaign else {device: campaign_wall(device, args.quick) for device in devices}
    print("\n| batch | " + " | ".join(f"{d} s/call | {d} force calls/s" for d in devices) + " |")
    print("|---|" + "---|---|" * len(devices))
    for k, size in enumerate(BATCH_SIZES):
        cells = " | ".join(f"{table[d][k][1]:.4f} | {size / table[d][k][1]:.1f}" for d in devices)
        print(f"| {size} | {cells} |")
    what = "quickstart NaF(100)" if args.quick else "quickstart"
    for device, wall in walls.items():
        print(f"{what} on {device}: wall {wall / 60:.2f} min")


if __name__ == "__main__":
    main()
