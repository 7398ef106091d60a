"""A GPAW band warm-started from a CHGNet band relaxed between GPAW's own end points, against the campaign's cold
(IDPP) band of the same hop: force calls and barriers.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpaw_ml_band.py [--store results/in-progress/gpaw-naf100-store]

The end points are those of the funnel's GPAW hop in ``--store`` (``workflows/gpaw-naf100.yaml``), read from its
band checkpoint (``checkpoints/neb-*.npz``, while the campaign's band runs) or, when it has finished, from its hop
document. CHGNet relaxes a band between them (IDPP start, the campaign's NEB protocol); the GPAW band then starts
from it, run by ``seiscreen.neb.run_neb`` with the campaign's preset and protocol, outside the store. This is
the warm start the funnel could give a hop whose minima the two levels do not share (on NaF(100) CHGNet's minima
are the hollow and off-F, GPAW's on top of F, so the funnel has no ML band of this hop to start from).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from seiscreen.calculators import get_preset
from seiscreen.campaign import load_campaign
from seiscreen.neb import NebCheckpoint, run_neb
from seiscreen.schemas import MinimaDoc, atoms_from_dict
from seiscreen.store import open_store

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(REPO / "results" / "in-progress" / "gpaw-naf100-store"))
    parser.add_argument("--campaign", default=str(REPO / "workflows" / "gpaw-naf100.yaml"))
    args = parser.parse_args()
    campaign = load_campaign(args.campaign)
    low, high = (get_preset(name) for name in campaign.fidelities[:2])
    store = open_store(args.store, create=False)
    store.connect()
    (minima,) = [MinimaDoc.model_validate(d["output"]) for d in store.query(
        {"output.doc_type": "minima", "output.key.calculator": high.name}, properties=["output"], load=True)][-1:]
    template = atoms_from_dict(minima.minima[0].structure)
    (path,) = sorted(Path(args.store, "checkpoints").glob("neb-*.npz"))[-1:]
    template.pbc = (True, True, False)  # as GPAW's images have it (dipole correction)
    initial, final = NebCheckpoint.load(path).end_images(template)
    print(f"GPAW end points from {path.name}: adatom travels "
          f"{np.linalg.norm(final.positions[-1] - initial.positions[-1]):.2f} Å")

    start = time.perf_counter()
    ml_ends = []
    for end in (initial, final):
        copy = end.copy()
        copy.calc = low.make()
        ml_ends.append(copy)
    ml = run_neb(*ml_ends, lambda k, image: low.make(), campaign.neb)
    print(f"{low.name} band: {ml.status}, {ml.force_calls} calls, barrier {_eV(ml.forward_barrier)}, "
          f"{time.perf_counter() - start:.0f} s")

    work = Path(tempfile.mkdtemp(prefix="gpaw-ml-band-"))
    start = time.perf_counter()
    warm = run_neb(initial, final, lambda k, image: high.make(image, work / f"image-{k}"), campaign.neb,
                   initial_band=[image.positions.copy() for image in ml.images[1:-1]],
                   on_step=lambda stage, step, fmax: print(f"  {stage} {step} fmax {fmax:.3f}", flush=True))
    print(f"{high.name} band from the {low.name} band: {warm.status} ({warm.reason}), {warm.force_calls} force "
          f"calls, barrier {_eV(warm.forward_barrier)}, {(time.perf_counter() - start) / 60:.0f} min")
    print("energies (eV, from the start):", np.round(np.array(warm.energies) - warm.energies[0], 3).tolist())


def _eV(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} eV"


if __name__ == "__main__":
    main()
