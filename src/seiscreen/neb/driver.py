"""Two-stage climbing-image NEB between two relaxed minima: :func:`run_neb` and the stages it runs.

A plain band relaxed to ``fmax + climb_threshold``, then the climbing image switched on and the band relaxed to
``fmax`` (as fairchem's CatTSunami recommends). ``method='improvedtangent'`` is always passed (ASE 3.29 changed its
default). A checkpointed band resumed takes exactly the steps the uninterrupted one would have taken.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.optimize.optimize import Optimizer

from seiscreen.minima import STALL_STEPS
from seiscreen.neb.band import CountedBand, ForceCallCounter, attach_calculators, counted_band, start_images
from seiscreen.neb.checkpoint import NebCheckpoint, optimizer_state, restore_optimizer
from seiscreen.neb.gates import band_slip, check_distinct_ends, follows_hop, judge_band
from seiscreen.neb.mirror import BandMirror, MirroredImage, mirrored_end, symmetrise
from seiscreen.neb.protocol import OPTIMIZERS, NebProtocol, NebResult

log = logging.getLogger("seiscreen.neb")


def run_neb(initial: Atoms, final: Atoms, make_calculator: Callable[[int, Atoms], Calculator], protocol: NebProtocol,
            history_every: int = 10, on_step: Callable[[str, int, float], None] | None = None,
            initial_band: list[np.ndarray] | None = None, resume: NebCheckpoint | None = None,
            checkpoint: Callable[[NebCheckpoint], None] | None = None, checkpoint_every: int = 1,
            checkpoint_seconds: float = 0.0, mirror: BandMirror | None = None) -> NebResult:
    """Two-stage climbing-image NEB from relaxed, unwrapped end images; gates applied to the result.

    ``make_calculator(k, image)`` gives the calculator of intermediate image k. Each image gets its own: ASE's
    optimisers ask the band for forces more than once per step, and a shared calculator would recompute every
    image each time (ML presets share the loaded model, so an instance per image costs nothing).

    ``checkpoint(state)`` is called at the start of each stage and every ``checkpoint_every`` optimiser steps, but
    at most once per ``checkpoint_seconds`` after a stage's start; ``resume`` continues from such a state (its
    positions replace the interpolation and ``initial_band``).

    ``mirror`` (a symmetric hop, :func:`find_band_mirror`; used when ``protocol.mirror``): the end becomes the
    start's exact copy, the band is made symmetric, and the images of its second half are served as copies of
    the first half's, with no force call, for as long as the band stays symmetric. Once converged, every image
    is computed and the climbing stage is run again unmirrored: the result is an ordinary converged band. A
    resumed band takes its mirror, and which images were still copies, from the checkpoint (``mirror`` unused).

    Args:
        initial: the relaxed start, with its results.
        final: the relaxed end, unwrapped next to the start, with its results.
        make_calculator: the calculator of intermediate image k (from 0).
        protocol: every setting that can change the barrier.
        history_every: keep a copy of the band every this many optimiser steps (and the final band).
        on_step: ``on_step(stage, step, fmax)`` after each optimiser step.
        initial_band: intermediate positions of a band computed before (a warm start).
        resume: a checkpoint to continue from.
        checkpoint: called with the band's state, as above.
        checkpoint_every: optimiser steps between checkpoints.
        checkpoint_seconds: least time between two checkpoints of a stage.
        mirror: the hop's mirror, when it has one.

    Returns:
        The finished band, judged by :func:`judge_band`.

    Raises:
        SeiscreenError: the two ends are the same site, or ``resume`` holds a band of another shape.
    """
    check_distinct_ends(initial, final, protocol)
    if resume is not None:  # a resumed band continues as it was computed: mirrored where it was
        mirror = resume.mirror if resume.mirrored_images else None
    if not protocol.mirror:
        mirror = None
    if mirror is not None:
        final = mirrored_end(initial, final, mirror)
    images = start_images(initial, final, protocol, initial_band, resume)
    if mirror is not None and resume is None and not symmetrise(images, mirror):
        log.info("NEB: the middle image is not symmetric under the hop's mirror: computed in full")
        mirror = None
    waiting = attach_calculators(images, make_calculator, mirror, resume)
    counter = ForceCallCounter(images, waiting, resume.force_calls if resume is not None else 0)
    run = _BandRun(images=images, band=counted_band(images, protocol, counter), protocol=protocol, mirror=mirror,
                   history_every=history_every, on_step=on_step, checkpoint=checkpoint,
                   checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds)
    return run.run(resume)


@dataclass
class _BandRun:
    """One band's relaxation: its images, the counted band over them, and what each optimiser step reports.

    The stages are its methods; the band's history, the plain stage's steps and the time of the last checkpoint
    are its state. The arguments of the same names are :func:`run_neb`'s.
    """

    images: list[Atoms]
    band: CountedBand
    protocol: NebProtocol
    mirror: BandMirror | None
    history_every: int = 10
    on_step: Callable[[str, int, float], None] | None = None
    checkpoint: Callable[[NebCheckpoint], None] | None = None
    checkpoint_every: int = 1
    checkpoint_seconds: float = 0.0
    history: list[list[Atoms]] = field(default_factory=list)
    steps_plain: int = 0
    checkpointed: float = -float("inf")  # time.monotonic() of the last checkpoint

    @property
    def counter(self) -> ForceCallCounter:
        """The band's force-call counter (its last forces too)."""
        return self.band.counter

    def run(self, resume: NebCheckpoint | None) -> NebResult:
        """The plain stage, the climbing stage, and for a mirrored band the climbing stage again unmirrored."""
        protocol = self.protocol
        self.steps_plain = resume.steps_plain if resume is not None else 0
        if resume is None or resume.stage == "plain":
            _, self.steps_plain = self.stage("plain", protocol.fmax + protocol.climb_threshold,
                                             protocol.max_steps_plain, start=resume)
            resume = None
        self.band.climb = True
        converged, steps_climb = self.stage("climb", protocol.fmax, protocol.max_steps_climb, start=resume)
        if converged and self._mirrored():  # every image computed, and the band converged again without the mirror
            self._unmirror()
            converged, more = self.stage("climb", protocol.fmax, max(1, protocol.max_steps_climb - steps_climb))
            steps_climb += more
        self.history.append([im.copy() for im in self.images])
        if not self.counter.evaluated:  # stopped before its first evaluation: the gates need energies (counted)
            self.band.get_forces()
        result = judge_band(self.images, protocol, converged, self.steps_plain, steps_climb, self.counter.calls,
                            self.history)
        result.mirrored = self.mirror is not None
        return result

    def stage(self, name: str, fmax: float, steps: int, start: NebCheckpoint | None = None) -> tuple[bool, int]:
        """Relax the band to ``fmax`` within ``steps`` optimiser steps, those of ``start`` included.

        Returns:
            Whether it converged, and the optimiser's steps.
        """
        if self.protocol.dynamic:
            self.band.fmax = fmax  # DyNEB's threshold must be the optimiser's
        optimizer = self._optimizer(start)
        optimizer.attach(self._report, 1, name, optimizer)
        converged = self._relax(name, optimizer, fmax, steps - optimizer.nsteps)
        log.info("NEB %s stage: %s after %d steps", name, "converged" if converged else "not converged",
                 optimizer.nsteps)
        return converged, optimizer.nsteps

    def _optimizer(self, start: NebCheckpoint | None) -> Optimizer:
        """A new optimiser on the band; with ``start``'s memory and step count when it continues a stage."""
        name = self.protocol.optimizer
        options = {"alpha": self.protocol.optimizer_alpha} if name == "BFGS" else {}
        optimizer = OPTIMIZERS[name](self.band, logfile=None, **options)
        if start is not None:
            restore_optimizer(optimizer, name, start.optimizer_state)
            optimizer.nsteps = start.step
        return optimizer

    def _relax(self, name: str, optimizer: Optimizer, fmax: float, remaining: int) -> bool:
        """Run ``optimizer`` for up to ``remaining`` steps, in windows of STALL_STEPS.

        Stopped when the band has gone round the cell; BFGS restarted from its initial Hessian when a window does
        not lower the band's largest force by a quarter (a DFT band can teach it a useless one, as in
        ``minima.relax``).
        """
        converged = False
        while remaining > 0 and not converged:
            if not follows_hop(band_slip(self.images)):
                # At a copy of its end the springs see no difference: it never comes back (follows_hop fails it).
                log.info("NEB %s stage: the band went round the cell; stopped", name)
                break
            window_start, before = self.counter.fmax, optimizer.nsteps
            converged = bool(optimizer.run(fmax=fmax, steps=min(STALL_STEPS, remaining)))
            remaining -= optimizer.nsteps - before
            if not converged and self.protocol.optimizer == "BFGS" and self.counter.fmax > 0.75 * window_start:
                optimizer.initialize()
        return converged

    def _report(self, name: str, optimizer: Optimizer) -> None:
        """After each optimiser step: the history, ``on_step`` and the checkpoint, from the forces it just used."""
        step_fmax = self.counter.fmax  # calling the band again would recompute it
        if optimizer.nsteps % self.history_every == 0:
            self.history.append([im.copy() for im in self.images])
        if self.on_step is not None:
            self.on_step(name, optimizer.nsteps, step_fmax)
        if self.checkpoint is not None and self._checkpoint_due(optimizer.nsteps):
            self.checkpointed = time.monotonic()
            self.checkpoint(self.snapshot(name, optimizer))

    def _checkpoint_due(self, step: int) -> bool:
        """At a stage's start, then every ``checkpoint_every`` steps at most once per ``checkpoint_seconds``
        (throttled before the snapshot is taken: copying the band and the Hessian costs more than a cheap step)."""
        return step == 0 or (step % self.checkpoint_every == 0
                             and time.monotonic() - self.checkpointed >= self.checkpoint_seconds)

    def snapshot(self, name: str, optimizer: Optimizer) -> NebCheckpoint:
        """The band's state now; everything is cached on the images, so taking it computes nothing."""
        return NebCheckpoint(
            stage=name, step=optimizer.nsteps, steps_plain=self.steps_plain, force_calls=self.counter.calls,
            positions=np.array([im.positions for im in self.images]),
            energies=np.array([im.get_potential_energy() for im in self.images]),
            forces=np.array([im.get_forces(apply_constraint=False) for im in self.images]),
            optimizer=self.protocol.optimizer, optimizer_state=optimizer_state(optimizer, self.protocol.optimizer),
            mirror=self.mirror, mirrored_images=self._mirrored())

    def _mirrored(self) -> list[int]:
        """The images still served as their partner's mirror copy."""
        return [k for k, im in enumerate(self.images) if isinstance(im.calc, MirroredImage)]

    def _unmirror(self) -> None:
        """Give every mirrored image its own calculator: it is computed at the next evaluation."""
        for k in self._mirrored():
            self.images[k].calc = self.images[k].calc.real()
            self.counter.forget(k)
