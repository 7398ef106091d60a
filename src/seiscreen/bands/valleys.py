"""A hop computed as bands through the valleys of an earlier band, each valley relaxed into a state of its own."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from seiscreen.bands.level import CalculatorLevel
from seiscreen.bands.run import BandFiles, StepReporter, run_band
from seiscreen.minima import ScanCheckpoint, relax
from seiscreen.neb import NebCheckpoint, NebProtocol, NebResult, join_bands, with_fixed_results

# A relaxed valley no atom of which lies farther than this from an end's is that end's state again (Å).
SAME_STATE = 0.05
MAX_INTERMEDIATES = 4  # valleys one hop is split at, after the refinements


class NoIntermediate(Exception):
    """A band's valley that is no state of its own: the hop through it cannot be computed."""


@dataclass
class ValleyOutcome:
    """What the bands through valleys give.

    Attributes:
        result: The joined band (None when a valley was no state of its own: see ``failure``).
        failure: Why the hop could not be computed through its valleys ("" when it was).
        states: Each relaxed valley: energy above the start (eV), relaxation force calls, adatom distances.
        barriers: Each band's forward barrier, in path order.
        force_calls: All force calls, the two ends' evaluations included.
        resumed: Where a killed run resumed (replayed steps, the band in progress), or None.
    """

    result: NebResult | None
    failure: str = ""
    states: list[dict] = field(default_factory=list)
    barriers: list[float | None] = field(default_factory=list)
    force_calls: int = 0
    resumed: dict | None = None


class ThroughValleys:
    """Bands start -> valley -> end, the valley relaxed; a band that again has a valley is split there too (up to
    ``MAX_INTERMEDIATES`` valleys).

    For valleys the hop network cannot hold as nodes: a valley that relaxes next to the hop's start is the same
    adatom site with the slab in another state. Each finished step (the ends, a relaxed valley, a band) is kept
    in ``folder`` and the band in progress as a NEB checkpoint there: a killed run replays the finished steps
    and resumes that band.

    Args:
        level: The calculators.
        protocol: The NEB protocol (its ``min_hop_length`` is set to 0: the adatom may hardly move).
        max_steps: Optimiser steps of a valley's relaxation.
        folder: The checkpoint folder (None: nothing saved).
        run_dir: Where the images' files go.
        on_step: Progress of each band's optimiser.
        checkpoint_every: Optimiser steps between band checkpoints.
    """

    def __init__(self, level: CalculatorLevel, protocol: NebProtocol, max_steps: int, folder: Path | None,
                 run_dir: Path, on_step: StepReporter | None = None, checkpoint_every: int = 1):
        self.level, self.max_steps, self.folder, self.run_dir = level, max_steps, folder, run_dir
        self.protocol = protocol.model_copy(update={"min_hop_length": 0.0})
        self.on_step, self.checkpoint_every = on_step, checkpoint_every
        self.steps = ScanCheckpoint(folder)
        self.count = itertools.count()
        self.force_calls = 2  # the two ends evaluated again
        self.states: list[dict] = []
        self.resumed: dict = {"replayed": 0}
        self.initial: Atoms | None = None
        self.final: Atoms | None = None

    def run(self, band: list[Atoms], valley_image: int) -> ValleyOutcome:
        """The hop through the valley at ``band[valley_image]`` of its earlier band (ends: the band's ends)."""
        self.initial, self.final = self._step("ends", lambda name: self._evaluated((band[0], band[-1])))
        try:
            bands = self._pieces(self.initial, band[valley_image].copy(), self.final)
        except NoIntermediate as exc:
            return ValleyOutcome(None, str(exc), self.states, [], self.force_calls, self._resumed())
        result = join_bands(bands)
        result.force_calls = self.force_calls
        return ValleyOutcome(result, "", self.states, [b.forward_barrier for b in bands], self.force_calls,
                             self._resumed())

    def _resumed(self) -> dict | None:
        return None if self.resumed == {"replayed": 0} else self.resumed

    def _step(self, kind: str, compute):
        """``compute(name)`` once: a rerun reads the finished step back instead. Named in the order taken."""
        name = f"{next(self.count):02d}-{kind}"
        value = self.steps.cached(name, lambda: compute(name))
        self.resumed["replayed"] = self.steps.replayed
        if self.folder is not None:  # the finished band's file replaces its NEB checkpoint (megabytes)
            (self.folder / f"{name}.npz").unlink(missing_ok=True)
        return value

    def _evaluated(self, ends: tuple[Atoms, Atoms]) -> tuple[Atoms, Atoms]:
        images = [end.copy() for end in ends]
        for end in images:
            end.calc = self.level.image_calculator(end)
        return tuple(with_fixed_results(end) for end in images)

    def _relaxed_valley(self, valley: Atoms) -> tuple[bool, int, Atoms]:
        done, calls = relax(valley, self.level.image_calculator(valley), self.protocol.endpoint_fmax,
                            self.max_steps)
        return done, calls, with_fixed_results(valley)

    def _band(self, a: Atoms, b: Atoms, name: str) -> NebResult:
        saved = self.folder / f"{name}.npz" if self.folder is not None else None  # the band while it runs
        resume = NebCheckpoint.load(saved) if saved is not None and saved.exists() else None
        if resume is not None:
            self.resumed.update(stage=resume.stage, step=resume.step, force_calls=resume.force_calls)
        return run_band(self.level, a, b, self.protocol, self.run_dir, BandFiles([saved] if saved else []),
                        resume=resume, on_step=self.on_step, checkpoint_every=self.checkpoint_every)

    def _pieces(self, first: Atoms, valley: Atoms, last: Atoms) -> list[NebResult]:
        """The bands first -> valley -> last, the valley relaxed, in path order."""
        relaxed, calls, valley = self._step("valley", lambda name: self._relaxed_valley(valley))
        self.force_calls += calls
        self.states.append({"energy": float(valley.get_potential_energy() - self.initial.get_potential_energy()),
                            "relax_force_calls": calls,
                            **{f"adatom_from_{name}": float(np.linalg.norm(valley.positions[-1] - end.positions[-1]))
                               for name, end in (("start", self.initial), ("end", self.final))}})
        same = [k for k, end in enumerate((first, last)) if np.abs(valley.positions - end.positions).max()
                < SAME_STATE]
        if not relaxed or same:
            raise NoIntermediate("a valley did not relax within the step budget" if not relaxed else
                                 "a valley relaxes back into the state on its " +
                                 ("start" if same[0] == 0 else "end") + " side: no intermediate state there")
        bands = []
        for a, b in ((first, valley), (valley, last)):
            result = self._step("band", lambda name, a=a, b=b: self._band(a, b, name))
            self.force_calls += result.force_calls
            if result.status == "interior_minimum" and len(self.states) < MAX_INTERMEDIATES:
                bands += self._pieces(a, result.images[result.interior_minimum_image].copy(), b)
            else:
                bands.append(result)
        return bands
