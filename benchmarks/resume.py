"""Resume cost of a killed NEB: force calls after resuming from the last checkpoint versus a cold restart of the
same hop, through the real pipeline (HopNebMaker job, store, checkpoint found by the hop's content hash).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/resume.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/resume.py --calculator ml --material NaF --adsorbate Na

For each kill point (a fraction of the cold run's optimiser steps) the hop's NEB runs in a child process, slowed by
the test hook SEISCREEN_TEST_FORCE_DELAY so the parent can SIGKILL it once the checkpoint has reached that step.
The parent then reruns the job on the same store: it resumes from the checkpoint. Printed side by side: every
force call of the cold restart (both end relaxations and the band) and of the resumed run, their ratio (target
< 0.3x), the calls done twice overall (0 for an exact resume: the calls between the last checkpoint and the kill
are not visible here, at most one band step with a checkpoint every step), and the barrier (must equal the cold one).
It fails when a resumed band spends more band force calls in all than the unbroken one.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from jobflow import run_locally

from seiscreen.catalog import load_bulk
from seiscreen.hopgraph import hop_specs
from seiscreen.workflow.hops import HopNebMaker
from seiscreen.workflow.minima import MinimaMaker
from seiscreen.workflow.slabs import slab_doc
from seiscreen.minima import MinimaSettings
from seiscreen.neb import NebCheckpoint
from seiscreen.schemas import HopDoc, HopSpec, MinimaDoc
from seiscreen.store import open_store
from seiscreen.surfaces.slabs import SlabSettings, make_terminations
from neb_force_calls import counting  # benchmarks/ is on sys.path when a script runs

CALLS = [0]


@dataclass
class CountingNebMaker(HopNebMaker):
    """The pipeline's NEB maker with every calculator call counted (the one property a subclass overrides)."""

    @property
    def calculator(self):
        return counting(super().calculator, CALLS)


def settings(args) -> dict:
    slab = SlabSettings(min_thickness=args.min_thickness, vacuum=10.0, min_lateral_size=args.min_lateral_size)
    return dict(calculator_preset=args.calculator, slab_settings=slab,
                minima_settings=MinimaSettings(adsorbate=args.adsorbate))


def run_hop(maker: HopNebMaker, minima: MinimaDoc, spec: HopSpec, store_path: Path) -> HopDoc:
    store = open_store(store_path)
    job = maker.make(minima, spec)
    responses = run_locally(job, store=store, create_folders=True, root_dir=store_path / "runs", log=False,
                            ensure_success=True)
    return HopDoc.model_validate(responses[job.uuid][1].output)


def done_steps(path: Path) -> int | None:
    checkpoint = NebCheckpoint.load(path)
    if checkpoint is None:
        return None
    return checkpoint.step if checkpoint.stage == "plain" else checkpoint.steps_plain + checkpoint.step


def child(args) -> None:
    minima = MinimaDoc.model_validate_json(Path(args.child[0]).read_text())
    spec = HopSpec.model_validate_json(Path(args.child[1]).read_text())
    run_hop(HopNebMaker(**settings(args)), minima, spec, Path(args.child[2]))


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", default="emt")
    parser.add_argument("--material", default="Al")
    parser.add_argument("--facet", default="100")
    parser.add_argument("--adsorbate", default="Au")
    parser.add_argument("--min-lateral-size", type=float, default=5.5)
    parser.add_argument("--min-thickness", type=float, default=5.0)
    parser.add_argument("--kill-at", type=float, nargs="+", default=[0.25, 0.5, 0.75],
                        help="kill points, as fractions of the cold run's optimiser steps")
    parser.add_argument("--delay", type=float, default=0.05, help="s slept per NEB force call in the killed child")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    work = Path(tempfile.mkdtemp(prefix="seiscreen-resume-"))
    (term,) = make_terminations(load_bulk(args.material), args.facet, settings(args)["slab_settings"])[:1]
    slab = slab_doc(term, args.adsorbate, args.calculator)
    minima_job = MinimaMaker(**settings(args)).make(slab)
    out = run_locally(minima_job, store=open_store(work / "minima-store"), log=False, ensure_success=True)
    minima = MinimaDoc.model_validate(out[minima_job.uuid][1].output)
    spec = hop_specs(minima, 6.0)[0][0]
    (work / "minima.json").write_text(minima.model_dump_json())
    (work / "spec.json").write_text(spec.model_dump_json())
    print(f"{slab.key.label} with {args.calculator}: hop {spec.hop_id} ({spec.length:.2f} Å)")

    CALLS[0] = 0
    cold = run_hop(CountingNebMaker(**settings(args)), minima, spec, work / "cold")
    cold_calls, cold_steps = CALLS[0], cold.steps_plain + cold.steps_climb
    print(f"cold restart: {cold_calls} force calls ({cold.force_calls} in the hop document: band and ends' "
          f"re-relaxation, {cold_steps} steps), barrier {cold.forward_barrier:.4f} eV")
    print(f"{'killed at':>10} {'checkpoint step':>16} {'resumed calls':>14} {'cold calls':>11} {'ratio':>7} "
          f"{'band-only ratio':>16} {'repeated':>9} {'barrier (eV)':>13}")
    env = {**os.environ, "SEISCREEN_TEST_FORCE_DELAY": str(args.delay), "OMP_NUM_THREADS": "1"}
    for fraction in args.kill_at:
        store_path = work / f"killed-{fraction}"
        target = max(1, round(fraction * cold_steps))
        process = subprocess.Popen([sys.executable, __file__, "--calculator", args.calculator, "--adsorbate",
                                    args.adsorbate, "--min-lateral-size", str(args.min_lateral_size),
                                    "--min-thickness", str(args.min_thickness), "--child", str(work / "minima.json"),
                                    str(work / "spec.json"), str(store_path)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        reached = None
        while process.poll() is None:
            files = list((store_path / "checkpoints").glob("neb-*.npz"))
            reached = done_steps(files[0]) if files else None
            if reached is not None and reached >= target:
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        process.wait()
        checkpoint = NebCheckpoint.load(next((store_path / "checkpoints").glob("neb-*.npz")))
        CALLS[0] = 0
        resumed = run_hop(CountingNebMaker(**settings(args)), minima, spec, store_path)
        assert resumed.resumed is not None, "the rerun did not resume from the checkpoint"
        # A resume is never dearer than the unbroken band: the checkpoint keeps the mirror and its copied images.
        assert resumed.force_calls <= cold.force_calls, (resumed.force_calls, cold.force_calls)
        ends = checkpoint.meta.get("end_force_calls", 0)  # the ends' re-relaxation, in every hop's force_calls
        band_after = resumed.force_calls - ends - checkpoint.force_calls
        # Calls spent twice: before the checkpoint (ends + band) plus after the resume, beyond the cold run's.
        repeated = ends + checkpoint.force_calls + CALLS[0] - cold_calls
        at = checkpoint.step if checkpoint.stage == "plain" else checkpoint.steps_plain + checkpoint.step
        print(f"{fraction:>10.2f} {f'{at} of {cold_steps}':>16} "
              f"{CALLS[0]:>14} {cold_calls:>11} {CALLS[0] / cold_calls:>6.2f}x "
              f"{band_after / (cold.force_calls - ends):>15.2f}x {repeated:>9} {resumed.forward_barrier:>13.4f}")


if __name__ == "__main__":
    main()
