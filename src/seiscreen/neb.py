"""Climbing-image NEB between two relaxed minima, with the gates that decide whether a band is a barrier.

Plain functions on ASE ``Atoms``; calculators come in from the caller. Two stages (as fairchem's CatTSunami
recommends): a plain band relaxed to ``fmax + climb_threshold``, then the climbing image switched on and the
band relaxed to ``fmax``. ``method='improvedtangent'`` is always passed (ASE 3.29 changed its default).

A band can be checkpointed every N optimiser steps (:class:`NebCheckpoint`: positions, energies, forces, stage,
step, force calls and the optimiser's state) and resumed from one: the resumed run then takes exactly the steps
the uninterrupted run would have taken.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.data import covalent_radii
from ase.geometry import find_mic
from ase.mep import NEB, DyNEB
from ase.mep.neb import idpp_interpolate
from ase.optimize import BFGS, FIRE, MDMin
from ase.utils.forcecurve import fit_images
from pydantic import BaseModel, ConfigDict, Field

from seiscreen.errors import SeiscreenError
from seiscreen.minima import STALL_STEPS
from seiscreen.surfaces.symmetry import SurfaceSymmetry, minimum_image

log = logging.getLogger("seiscreen.neb")

OPTIMIZERS = {"BFGS": BFGS, "FIRE": FIRE, "MDMin": MDMin}
# Å a band may miss its own end by, walked image to image: far below any cell vector (≥ ~2.5 Å).
SLIP_TOLERANCE = 1.0


class NebProtocol(BaseModel):
    """Every NEB setting that can change a barrier; stored with each hop so protocols are never mixed up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_images: int = Field(5, ge=1, description="intermediate images")
    spring_constant: float = Field(0.1, gt=0, description="eV/Å²")
    method: Literal["improvedtangent"] = "improvedtangent"
    optimizer: Literal["BFGS", "FIRE", "MDMin"] = "BFGS"
    # Measured (benchmarks/neb_force_calls.py, docs/performance.md): ASE's 70 eV/Å² initial Hessian makes BFGS creep
    # along a band's soft adatom modes; 15 and dynamic relaxation halve the force calls for the same barrier.
    optimizer_alpha: float = Field(15.0, gt=0, description="eV/Å², BFGS's initial Hessian guess (ASE's is 70)")
    dynamic: bool = Field(True, description="ASE's DyNEB: images already below fmax are not recomputed")
    interpolation: Literal["idpp", "linear"] = "idpp"
    fmax: float = Field(0.05, gt=0, description="eV/Å, climbing stage")
    climb_threshold: float = Field(0.4, ge=0, description="eV/Å above fmax at which the climbing image starts")
    max_steps_plain: int = Field(200, ge=0)
    max_steps_climb: int = Field(300, ge=1)
    endpoint_fmax: float = Field(0.02, gt=0, description="eV/Å for the two end minima")
    # How the band is computed, not what it converges to (a mirrored band ends with every image computed and the
    # climbing stage converged again, unmirrored): recorded per hop (HopDoc.mirrored), not in the protocol's
    # identity, so that stored hops keep their ids.
    mirror: bool = Field(True, exclude=True, description="on a symmetric hop, serve half the images by symmetry")
    # Gates
    interior_minimum_tolerance: float = Field(0.01, ge=0, description="eV deep on both sides: a missed minimum")
    runaway_energy: float = Field(3.0, gt=0, description="eV above the lower end: the band ran away")
    min_distance_ratio: float = Field(0.5, gt=0, description="x sum of covalent radii: atoms pushed together")
    min_hop_length: float = Field(0.3, ge=0, description="Å the adatom must travel between the relaxed ends")


USABLE = ("accepted", "barrierless")  # band statuses whose saddle energy is known


@dataclass
class NebResult:
    """A finished band and its verdict. Energies are absolute (eV)."""

    images: list[Atoms] = field(repr=False)
    energies: list[float]
    converged: bool
    steps_plain: int
    steps_climb: int
    force_calls: int
    gates: dict[str, bool]
    status: Literal["accepted", "barrierless", "failed", "interior_minimum"]
    reason: str
    forward_barrier: float | None  # spline maximum - initial energy
    reverse_barrier: float | None
    saddle_energy: float | None  # absolute, from the spline fit
    saddle_image: int
    interior_minimum_image: int | None
    exchange: bool
    path: dict = field(default_factory=dict)  # reaction coordinate, spline (for plots)
    history: list[list[Atoms]] = field(default_factory=list, repr=False)  # every n-th band
    mirrored: bool = False  # half the band was served by the hop's symmetry (BandMirror) until the last check


# Optimiser attributes that make up its state, per optimiser (BFGS: the Hessian is saved separately).
_OPTIMIZER_STATE = {"BFGS": ("pos0", "forces0", "maxstep"), "FIRE": ("vel", "dt", "a", "Nsteps", "e_last", "r_last",
                                                                     "vel_last"),
                    "MDMin": ("v", "dt")}


@dataclass
class NebCheckpoint:
    """A band in progress: enough to continue the NEB exactly where it stopped.

    ``positions``: every image, ends included (n_images + 2, n_atoms, 3); ``energies`` and ``forces`` (unconstrained)
    of every image at those positions. ``step``: optimiser steps done in ``stage``; ``steps_plain``: steps of the
    finished plain stage (when ``stage`` is "climb"). ``meta``: the caller's JSON (hop identity, end-point info).
    """

    stage: Literal["plain", "climb"]
    step: int
    steps_plain: int
    force_calls: int
    positions: np.ndarray
    energies: np.ndarray
    forces: np.ndarray
    optimizer: str
    optimizer_state: dict[str, np.ndarray | float | None] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    mirror: BandMirror | None = None  # the hop's mirror, while images are still served as copies
    mirrored_images: list[int] = field(default_factory=list)  # the images served as their partner's copy

    def save(self, path: str | os.PathLike) -> None:
        """Written to a temporary file, flushed to disk, then renamed: a kill leaves the old file or the new one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"positions": self.positions, "energies": self.energies, "forces": self.forces}
        state_info = {}
        for name, value in self.optimizer_state.items():
            if isinstance(value, np.ndarray):
                arrays[f"opt_{name}"] = value
            else:
                state_info[name] = value
        if self.mirror is not None:
            arrays.update({f"mirror_{name}": getattr(self.mirror, name) for name in MIRROR_ARRAYS})
        header = {"stage": self.stage, "step": self.step, "steps_plain": self.steps_plain,
                  "force_calls": self.force_calls, "optimizer": self.optimizer, "optimizer_scalars": state_info,
                  "meta": self.meta, "mirrored_images": self.mirrored_images,
                  "mirror_residual": None if self.mirror is None else self.mirror.residual}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, header=np.array(json.dumps(header)), **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NebCheckpoint | None:
        """The checkpoint at ``path``; None when there is none or it cannot be read (then the NEB starts anew)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                state: dict = {k[4:]: data[k] for k in data.files if k.startswith("opt_")}
                arrays = {k: data[k] for k in ("positions", "energies", "forces")}
                mirror = None
                if header.get("mirror_residual") is not None:
                    mirror = BandMirror(**{name: data[f"mirror_{name}"] for name in MIRROR_ARRAYS},
                                        residual=float(header["mirror_residual"]))
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable NEB checkpoint %s: %s", path, exc)
            return None
        state.update(header["optimizer_scalars"])
        return cls(stage=header["stage"], step=header["step"], steps_plain=header["steps_plain"],
                   force_calls=header["force_calls"], optimizer=header["optimizer"], optimizer_state=state,
                   meta=header["meta"], mirror=mirror, mirrored_images=list(header.get("mirrored_images", [])),
                   **arrays)

    def end_images(self, template: Atoms) -> tuple[Atoms, Atoms]:
        """The two relaxed ends, rebuilt on ``template`` (same atoms, cell, constraints) with their results."""
        images = self.images(template)
        return images[0], images[-1]

    def images(self, template: Atoms) -> list[Atoms]:
        """Every image saved, rebuilt on ``template`` (same atoms, cell, constraints) with its results."""
        images = []
        for positions, energy, forces in zip(self.positions, self.energies, self.forces, strict=True):
            atoms = template.copy()
            atoms.positions = positions
            atoms.calc = SinglePointCalculator(atoms, energy=float(energy), forces=forces)
            images.append(atoms)
        return images


def _optimizer_state(optimizer, name: str) -> dict:
    state: dict = {}
    if name == "BFGS" and getattr(optimizer, "state", None) is not None:
        state["hessian"] = np.array(optimizer.state.hessian)  # a copy: BFGS updates it in place
    for attr in _OPTIMIZER_STATE.get(name, ()):
        value = getattr(optimizer, attr, None)
        if value is not None:
            state[attr] = np.array(value) if isinstance(value, np.ndarray) else float(value)
    return state


def _restore_optimizer(optimizer, name: str, state: dict) -> None:
    state = dict(state)
    if name == "BFGS" and "hessian" in state:
        from ase.optimize.bfgs import BFGSMethod

        optimizer.state = BFGSMethod(np.array(state.pop("hessian")))
    for attr, value in state.items():
        if attr in _OPTIMIZER_STATE.get(name, ()):
            setattr(optimizer, attr, value.copy() if isinstance(value, np.ndarray) else value)
    if name == "FIRE" and "Nsteps" in state:
        optimizer.Nsteps = int(state["Nsteps"])


MIRROR_ARRAYS = ("rotation", "translation", "order", "shifts")  # BandMirror's arrays, as a checkpoint keeps them
MIRROR_TOLERANCE = 0.15  # Å: how far the relaxed end may lie from the start's symmetry copy (relaxed apart)
MIRROR_DRIFT = 1e-3  # Å: an image farther than this from its partner's copy is computed, not mirrored


@dataclass(frozen=True)
class BandMirror:
    """An isometry of the slab that takes the hop's start onto its end and the end back onto the start.

    On such a symmetric hop image k of a symmetric band is the copy of image n+1-k: its energy is the same and
    its forces are the partner's, rotated, with no force call. x -> x @ rotation + translation, then atom i of
    the copy is atom ``order[i]`` of the partner, moved by the lattice translation ``shifts[i]`` (the band is
    unwrapped). Found by :func:`find_band_mirror`.
    """

    rotation: np.ndarray  # (3, 3) Cartesian, acting on row vectors
    translation: np.ndarray  # (3,)
    order: np.ndarray  # (n_atoms,)
    shifts: np.ndarray  # (n_atoms, 3)
    residual: float  # Å, largest distance between the mapped atoms and the ones they were matched to

    def positions(self, positions: np.ndarray) -> np.ndarray:
        out = np.empty_like(positions)
        out[self.order] = positions @ self.rotation + self.translation + self.shifts
        return out

    def forces(self, forces: np.ndarray) -> np.ndarray:
        out = np.empty_like(forces)
        out[self.order] = forces @ self.rotation
        return out


def _mirror_between(a: Atoms, b: Atoms, rotation: np.ndarray, translation: np.ndarray,
                    tol: float) -> BandMirror | None:
    """The mirror taking ``a`` onto ``b`` by one isometry (atoms matched by species, nearest periodic image, one to
    one, fixed atoms onto fixed atoms), or None when some atom lands farther than ``tol`` Å from its match."""
    mapped = a.positions @ rotation + translation
    difference = minimum_image(b.positions[None, :, :] - mapped[:, None, :], a.cell.array)
    distance = np.linalg.norm(difference, axis=-1)
    distance[a.numbers[:, None] != b.numbers[None, :]] = np.inf
    order = distance.argmin(axis=1)
    rows = np.arange(len(a))
    if len(set(order)) != len(a) or distance[rows, order].max() > tol:
        return None
    fixed = {int(i) for c in a.constraints for i in getattr(c, "index", [])}
    if {int(order[i]) for i in fixed} != fixed:
        return None
    shifts = b.positions[order] - mapped - difference[rows, order]  # lattice translations
    return BandMirror(rotation, translation, order, shifts, float(distance[rows, order].max()))


def find_band_mirror(initial: Atoms, final: Atoms, symmetry: SurfaceSymmetry,
                     tol: float = MIRROR_TOLERANCE) -> BandMirror | None:
    """An operation of the slab's ``symmetry`` that swaps the hop's ends (each within ``tol`` Å), or None.

    Only an operation that is its own inverse on this hop qualifies: the same map, lattice translations included,
    must take the start onto the end and the end back onto the start, so that it reverses the band onto itself (a
    translation by a cell vector takes a start onto its periodic copy, and that copy further on, not back).

    And only a reflection (a mirror line across the hop): a symmetric band keeps its symmetry, and a two-fold axis
    at the hop's middle would pin the middle image there, so a path that bows sideways round the midpoint (as
    GPAW's lowest NaBr(100) path does) could never be reached. A reflection leaves the middle image free along the
    mirror line."""
    for rotation, translation in symmetry.cartesian_operations(initial.cell.array):
        if np.linalg.det(rotation) > 0:
            continue
        forward = _mirror_between(initial, final, rotation, translation, tol)
        if forward is not None and np.abs(forward.positions(final.positions) - initial.positions).max() < tol:
            return forward
    return None


def _mirrored_end(initial: Atoms, final: Atoms, mirror: BandMirror) -> Atoms:
    """The end as the exact copy of the start (energy and forces too): the band is then symmetric from its ends."""
    end = final.copy()
    end.positions = mirror.positions(initial.positions)
    end.calc = SinglePointCalculator(end, energy=initial.get_potential_energy(),
                                     forces=mirror.forces(initial.get_forces(apply_constraint=False)))
    return end


def _symmetrised(images: list[Atoms], mirror: BandMirror) -> bool:
    """Make the band's second half the copy of its first and the middle image its own copy; False (nothing
    changed) when the middle image has no copy of itself within MIRROR_TOLERANCE."""
    last = len(images) - 1
    middle = images[last // 2] if last % 2 == 0 else None
    centre = None
    if middle is not None:
        centre = _mirror_between(middle, middle, mirror.rotation, mirror.translation, MIRROR_TOLERANCE)
        if centre is None:
            return False
    for k in range(1, (last + 1) // 2):
        images[last - k].positions = mirror.positions(images[k].positions)
    if middle is not None:
        middle.positions = (middle.positions + centre.positions(middle.positions)) / 2
    return True


class _MirroredImage(Calculator):
    """An image's results served as the mirror copy of its partner's (no force call), while the band stays
    symmetric: ``serves`` tells, and ``real`` makes the image's own calculator when it does not."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, partner: Atoms, mirror: BandMirror, real: Callable[[], Calculator]):
        super().__init__()
        self.partner, self.mirror, self.real = partner, mirror, real

    def serves(self, atoms: Atoms) -> bool:
        return bool(np.abs(atoms.positions - self.mirror.positions(self.partner.positions)).max() < MIRROR_DRIFT)

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": self.partner.get_potential_energy(),
                        "forces": self.mirror.forces(self.partner.get_forces(apply_constraint=False))}


def with_fixed_results(atoms: Atoms) -> Atoms:
    """The end image with its energy and forces frozen: NEB never recomputes it."""
    fixed = atoms.copy()
    fixed.calc = SinglePointCalculator(fixed, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
    return fixed


def unwrap_final(initial: Atoms, final: Atoms, adatom_shift: np.ndarray | None = None) -> Atoms:
    """``final`` with every atom moved to the periodic image nearest its initial position (in the plane).

    The adatom may hop farther than half the cell; ``adatom_shift`` (Cartesian, Å) then fixes its image
    explicitly instead of the minimum-image guess.
    """
    out = final.copy()
    cell = initial.cell.array
    out.positions = initial.positions + minimum_image(final.positions - initial.positions, cell)
    if adatom_shift is not None:
        # The wrapped end, moved by the lattice vectors that bring it next to the intended image.
        d = minimum_image(final.positions[-1] - initial.positions[-1] - adatom_shift, cell)
        out.positions[-1] = initial.positions[-1] + adatom_shift + d
    if final.calc is not None:  # lattice translations change neither energy nor forces
        out.calc = SinglePointCalculator(out, energy=final.get_potential_energy(), forces=final.get_forces())
    return out


def interpolate_band(initial: Atoms, final: Atoms, protocol: NebProtocol) -> list[Atoms]:
    """The start band: a straight line between the unwrapped ends, then (``idpp``) relaxed on IDPP's pair potential.

    The straight line is drawn without the minimum-image convention (the ends are already unwrapped, and an adatom
    may hop farther than half the cell). IDPP's pair distances are periodic ones: an atom stored in a neighbouring
    cell (a minimum copied by symmetry is often unwrapped there) is otherwise invisible to the atoms it meets
    across the cell boundary, and IDPP can push a slab atom straight through it (Na2Se(100) hop m6-m6: a slab Na
    passed 1.18 Å from the adatom, +23 eV; with periodic distances 2.22 Å, +2.9 eV; tests/test_neb_start.py).
    """
    images = [initial.copy() for _ in range(protocol.n_images + 1)] + [final.copy()]
    band = NEB(images, method=protocol.method)
    band.interpolate()  # ends already unwrapped: no minimum-image shortcut needed
    if protocol.interpolation == "idpp":
        idpp_interpolate(band, traj=None, log=None, mic=True)
    return images


class BandDyNEB(DyNEB):
    """ASE's DyNEB, except that a step reads the images' forces once, before it moves any.

    ASE's ``set_positions`` re-reads the band's forces after each image it moves, to decide whether the next one
    still moves; that computes each moved image there and then, one at a time. Images evaluated together (a
    batched CHGNet band, images in processes of their own: :mod:`seiscreen.batched`) then came one per batch
    (1.1 images per evaluation, ``benchmarks/band_evaluation.py``). Here the decision uses the forces the
    optimiser just used (the ones it took the step from), and the moved images are computed together at the next
    ``get_forces``.
    """

    def set_positions(self, positions):
        if not self.dynamic_relaxation:
            return super().set_positions(positions)
        fmax_images = self._fmax_all(self.images)  # cached: nothing moved yet
        n1 = 0
        for i, image in enumerate(self.images[1:-1]):
            n2 = n1 + self.natoms
            if fmax_images[i] >= self.fmax:
                image.set_positions(positions[n1:n2])
            n1 = n2


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
    """
    check_distinct_ends(initial, final, protocol)
    if resume is not None:  # a resumed band continues as it was computed: mirrored where it was
        mirror = resume.mirror if resume.mirrored_images else None
    if not protocol.mirror:
        mirror = None
    if mirror is not None:
        final = _mirrored_end(initial, final, mirror)
    ends = [with_fixed_results(initial), with_fixed_results(final)]
    if resume is not None:
        if resume.positions.shape != (protocol.n_images + 2, len(initial), 3):
            raise SeiscreenError(f"NEB checkpoint has shape {resume.positions.shape}, this band needs "
                                 f"{(protocol.n_images + 2, len(initial), 3)}: delete the checkpoint file")
        images = [ends[0], *(ends[0].copy() for _ in range(protocol.n_images)), ends[1]]
        for image, positions in zip(images[1:-1], resume.positions[1:-1], strict=True):
            image.positions = positions
    elif initial_band is not None:  # warm start: intermediate positions from a band computed before
        images = [ends[0], *(ends[0].copy() for _ in initial_band), ends[1]]
        for image, positions in zip(images[1:-1], initial_band, strict=True):
            image.positions = positions
    else:
        images = interpolate_band(ends[0], ends[1], protocol)
        images[0], images[-1] = ends
    if mirror is not None and resume is None and not _symmetrised(images, mirror):
        log.info("NEB: the middle image is not symmetric under the hop's mirror: computed in full")
        mirror = None
    waiting: dict[int, Calculator] = {}  # resumed images: their real calculator takes over once they move
    last = len(images) - 1
    copies = set(resume.mirrored_images) if resume is not None else {i for i in range(1, last) if i > last - i}
    for k, image in enumerate(images[1:-1]):
        if mirror is not None and k + 1 in copies:  # second half: the first half's copy
            image.calc = _MirroredImage(images[last - k - 1], mirror,
                                        lambda k=k, image=image: make_calculator(k, image))
            continue
        image.calc = make_calculator(k, image)
        if resume is not None:  # the checkpoint's results serve the first evaluation: no force call spent on it
            waiting[k + 1] = image.calc
            image.calc = SinglePointCalculator(image, energy=float(resume.energies[k + 1]),
                                               forces=resume.forces[k + 1])
    if protocol.dynamic:
        band = BandDyNEB(images, k=protocol.spring_constant, fmax=protocol.fmax, climb=False, method=protocol.method)
    else:
        band = NEB(images, k=protocol.spring_constant, climb=False, method=protocol.method)
    counter = _count_evaluations(band, waiting, resume.force_calls if resume is not None else 0)
    history: list[list[Atoms]] = []
    progress = {"steps_plain": resume.steps_plain if resume is not None else 0, "checkpointed": -float("inf")}

    def snapshot(name: str, optimizer) -> NebCheckpoint:
        # Everything below is cached on the images: taking a snapshot computes nothing.
        return NebCheckpoint(
            stage=name, step=optimizer.nsteps, steps_plain=progress["steps_plain"], force_calls=counter["calls"],
            positions=np.array([im.positions for im in images]),
            energies=np.array([im.get_potential_energy() for im in images]),
            forces=np.array([im.get_forces(apply_constraint=False) for im in images]),
            optimizer=protocol.optimizer, optimizer_state=_optimizer_state(optimizer, protocol.optimizer),
            mirror=mirror, mirrored_images=[k for k, im in enumerate(images) if isinstance(im.calc, _MirroredImage)])

    def stage(name: str, fmax: float, steps: int, start: NebCheckpoint | None = None) -> tuple[bool, int]:
        if protocol.dynamic:
            band.fmax = fmax  # DyNEB's threshold must be the optimiser's
        options = {"alpha": protocol.optimizer_alpha} if protocol.optimizer == "BFGS" else {}
        optimizer = OPTIMIZERS[protocol.optimizer](band, logfile=None, **options)
        first = 0
        if start is not None:  # continue the interrupted stage with the optimiser's memory
            _restore_optimizer(optimizer, protocol.optimizer, start.optimizer_state)
            optimizer.nsteps = first = start.step

        def report():  # reads the forces the optimiser just used: calling the band again would recompute it
            step_fmax = _band_fmax(counter)
            if optimizer.nsteps % history_every == 0:
                history.append([im.copy() for im in images])
            if on_step is not None:
                on_step(name, optimizer.nsteps, step_fmax)
            # Throttled before the snapshot is taken: it copies the band and the optimiser's Hessian, which costs
            # more than a cheap calculator's step.
            if checkpoint is not None and (optimizer.nsteps == 0 or (
                    optimizer.nsteps % checkpoint_every == 0
                    and time.monotonic() - progress["checkpointed"] >= checkpoint_seconds)):
                progress["checkpointed"] = time.monotonic()
                checkpoint(snapshot(name, optimizer))

        optimizer.attach(report)
        remaining, converged = steps - first, False
        while remaining > 0 and not converged:
            if not follows_hop(band_slip(images)):
                # Round the cell to a copy of its end: the springs see no difference, so it never comes back,
                # and every further call is spent on another hop (the follows_hop gate fails it).
                log.info("NEB %s stage: the band went round the cell; stopped", name)
                break
            # BFGS restarted from its initial Hessian when a window of steps does not lower the band's largest
            # force by a quarter: a DFT band can teach it a useless Hessian, as in the minima (minima.relax).
            window_start, before = _band_fmax(counter), optimizer.nsteps
            converged = bool(optimizer.run(fmax=fmax, steps=min(STALL_STEPS, remaining)))
            remaining -= optimizer.nsteps - before
            if not converged and protocol.optimizer == "BFGS" and _band_fmax(counter) > 0.75 * window_start:
                optimizer.initialize()
        log.info("NEB %s stage: %s after %d steps", name, "converged" if converged else "not converged",
                 optimizer.nsteps)
        return converged, optimizer.nsteps

    if resume is None or resume.stage == "plain":
        _, steps_plain = stage("plain", protocol.fmax + protocol.climb_threshold, protocol.max_steps_plain,
                               start=resume)
        progress["steps_plain"] = steps_plain
        resume_climb = None
    else:
        steps_plain = resume.steps_plain
        resume_climb = resume
    band.climb = True
    converged, steps_climb = stage("climb", protocol.fmax, protocol.max_steps_climb, start=resume_climb)
    if converged and any(isinstance(im.calc, _MirroredImage) for im in images):
        # Every image computed, and the band converged again without the mirror.
        for k, image in enumerate(images[1:-1], start=1):
            if isinstance(image.calc, _MirroredImage):
                image.calc = image.calc.real()
                counter["seen"][k] = None
        converged, more = stage("climb", protocol.fmax, max(1, protocol.max_steps_climb - steps_climb))
        steps_climb += more
    history.append([im.copy() for im in images])
    if counter["last"].shape[0] <= 1:  # stopped before its first evaluation: the gates need energies (counted)
        band.get_forces()
    n_calls = counter["calls"]
    result = judge_band(images, protocol, converged, steps_plain, steps_climb, n_calls, history)
    result.mirrored = mirror is not None
    return result


def _band_fmax(counter: dict) -> float:
    """The largest per-atom force of the band's last evaluation (infinite before the first)."""
    last = counter["last"]
    return float(np.sqrt((last ** 2).sum(axis=1).max())) if last.shape[0] > 1 else float("inf")


def check_distinct_ends(initial: Atoms, final: Atoms, protocol: NebProtocol) -> None:
    """A hop whose two ends are the same site is no hop: refused before any force call is spent on it."""
    travel = float(np.linalg.norm(final.positions[-1] - initial.positions[-1]))
    if travel <= protocol.min_hop_length:
        raise SeiscreenError(f"the hop's two ends are the same site (adatom {travel:.2f} Å apart, "
                             f"min_hop_length {protocol.min_hop_length} Å): pick two different minima as its ends")


def _count_evaluations(band: NEB, waiting: dict[int, Calculator] | None = None, calls: int = 0) -> dict:
    """Wrap the band's force method to keep its last forces and count real force calls: an image whose
    positions did not change since its last evaluation is served from its calculator's cache. ``waiting``:
    images that hold checkpointed results (a resumed band) and the calculators that take over when they move;
    ``calls`` were spent before."""
    waiting = dict(waiting or {})
    seen = [im.positions.copy() if k in waiting else None for k, im in enumerate(band.images)]
    counter: dict = {"calls": calls, "last": np.zeros((1, 3)), "seen": seen}
    original = band.get_forces

    def counted(*args, **kwargs):
        for k, image in enumerate(band.images[1:-1], start=1):
            moved = seen[k] is None or not np.array_equal(seen[k], image.positions)
            # A mirrored image that moved is its partner's copy at no cost while it is one. (Checked only when it
            # moved: ASE's DyNEB asked for forces while it moved the images one by one, so a partner could be a
            # step ahead; BandDyNEB no longer does, and the check stays cheap.)
            if moved and isinstance(image.calc, _MirroredImage):
                if image.calc.serves(image):
                    seen[k] = image.positions.copy()
                    continue
                log.info("NEB: image %d left the band's mirror symmetry: computed from now on", k)
                image.calc = image.calc.real()
            if moved:
                if k in waiting:
                    image.calc = waiting.pop(k)
                counter["calls"] += 1
                seen[k] = image.positions.copy()
        counter["last"] = original(*args, **kwargs)
        return counter["last"]

    band.get_forces = counted
    return counter


def judge_band(images: list[Atoms], protocol: NebProtocol, converged: bool, steps_plain: int = 0,
               steps_climb: int = 0, force_calls: int = 0, history: list | None = None) -> NebResult:
    """Apply the gates to a finished band (images with results attached)."""
    energies = [float(im.get_potential_energy()) for im in images]
    e = np.array(energies)
    top = int(np.argmax(e))
    lower_end = min(e[0], e[-1])
    # A valley between two humps, deeper than the tolerance on both sides, is a minimum the search missed (also
    # when it is no lower than the ends: a hop through an equivalent site is two hops).
    tol = protocol.interior_minimum_tolerance
    interior = [k for k in range(1, len(e) - 1)
                if e[k] <= e[k - 1] and e[k] <= e[k + 1] and e[k] < e[:k].max() - tol and e[k] < e[k + 1:].max() - tol]
    closest = min(_closest_contact_ratio(im) for im in images)
    travel = float(np.linalg.norm(images[-1].positions[-1] - images[0].positions[-1]))
    slip = band_slip(images)
    gates = {
        "distinct_ends": travel > protocol.min_hop_length,
        "follows_hop": follows_hop(slip),
        "converged": converged,
        "highest_image_interior": 0 < top < len(e) - 1,
        "no_interior_minimum": not interior,
        "no_runaway": bool(e.max() - lower_end < protocol.runaway_energy and closest > protocol.min_distance_ratio),
    }
    path: dict = {}
    forward = reverse = saddle = None
    if not gates["distinct_ends"]:
        status, reason = "failed", (f"both ends relaxed to the same place (adatom {travel:.2f} Å apart): "
                                    "not a hop")
    elif not gates["no_runaway"]:
        status, reason = "failed", (f"band ran away: max energy {e.max() - lower_end:.2f} eV above the lower end, "
                                    f"closest contact {closest:.2f} x covalent radii")
    elif not gates["follows_hop"]:
        # ASE's springs measure image to image by minimum image, so in a small cell a band can slide round it
        # and arrive at a periodic copy of its end: a path to another neighbour, whose barrier is not this hop's.
        status, reason = "failed", slip_reason(slip)
    elif interior:
        depth = e[interior[0]] - e[0]
        status, reason = "interior_minimum", (f"image {interior[0]} is a valley of the band ({depth:+.3f} eV from the "
                                              "start): a minimum was missed; the hop is split there")
    elif not converged:
        status, reason = "failed", f"band not converged to fmax {protocol.fmax} eV/Å within the step budget"
    elif not gates["highest_image_interior"]:
        # Converged and rising all the way to the higher end: that end is separated from the lower one by no
        # barrier the band can resolve. Not a barrier of this hop, but its saddle is known: the higher end.
        status, reason = "barrierless", ("the band rises monotonically to its higher end: the saddle is that end "
                                         "(reverse barrier ~0)")
    else:
        status, reason = "accepted", ""
    if gates["no_runaway"] and gates["distinct_ends"]:
        saddle, path = _spline_saddle(images)
        if status == "barrierless":
            saddle = max(e[0], e[-1])
        forward, reverse = saddle - e[0], saddle - e[-1]
    return NebResult(images=images, energies=energies, converged=converged, steps_plain=steps_plain,
                     steps_climb=steps_climb, force_calls=force_calls, gates=gates, status=status, reason=reason,
                     forward_barrier=forward, reverse_barrier=reverse, saddle_energy=saddle, saddle_image=top,
                     interior_minimum_image=interior[0] if interior else None, exchange=_is_exchange(images),
                     path=path, history=history or [])


def join_bands(bands: list[NebResult]) -> NebResult:
    """One hop through intermediate minima, from its bands in path order (start -> intermediate -> ... -> end).

    Usable when every band is; its saddle is the highest of theirs, since the hop is as hard as its hardest
    step. Each band passed every gate on its own: the valleys between them are minima, not missed ones.
    """
    images = bands[0].images + [im for band in bands[1:] for im in band.images[1:]]
    energies = bands[0].energies + [e for band in bands[1:] for e in band.energies[1:]]
    forward = reverse = saddle = None
    broken = [(k, band) for k, band in enumerate(bands) if band.status not in USABLE]
    if not broken:
        saddle = max(band.saddle_energy for band in bands)
        forward, reverse = saddle - energies[0], saddle - energies[-1]
        status, reason = "accepted", ""
        if saddle <= max(energies[0], energies[-1]) + 1e-9:
            status, reason = "barrierless", "the path rises monotonically to its higher end: the saddle is that end"
    else:
        k, band = broken[0]
        status, reason = "failed", f"its band {k + 1} of {len(bands)} (between intermediates) is {band.status}: " \
                                   f"{band.reason}"
    return NebResult(images=images, energies=energies, converged=all(band.converged for band in bands),
                     steps_plain=sum(band.steps_plain for band in bands),
                     steps_climb=sum(band.steps_climb for band in bands),
                     force_calls=sum(band.force_calls for band in bands),
                     gates={k: all(band.gates.get(k, False) for band in bands) for k in bands[0].gates},
                     status=status, reason=reason, forward_barrier=forward, reverse_barrier=reverse,
                     saddle_energy=saddle, saddle_image=int(np.argmax(energies)), interior_minimum_image=None,
                     exchange=any(band.exchange for band in bands), path=_joined_path(bands),
                     history=[images for band in bands for images in band.history])


def _joined_path(bands: list[NebResult]) -> dict:
    """The bands' spline paths end to end (coordinates continued, energies from the first start), in the format of
    ``_spline_saddle``; empty when a band has none (it ran away)."""
    if not all(band.path for band in bands):
        return {}
    joined: dict = {"path": [], "energies": [], "fit_path": [], "fit_energies": []}
    offset, saddle = 0.0, (-float("inf"), 0.0)
    for band in bands:
        shift = band.energies[0] - bands[0].energies[0]
        for key, values, add in (("path", band.path["path"], offset), ("fit_path", band.path["fit_path"], offset),
                                 ("energies", band.path["energies"], shift),
                                 ("fit_energies", band.path["fit_energies"], shift)):
            joined[key] += [x + add for x in values]
        top = max(band.path["fit_energies"]) + shift
        if top > saddle[0]:
            saddle = (top, band.path["saddle_coordinate"] + offset)
        offset += band.path["path"][-1]
    joined["saddle_coordinate"] = saddle[1]
    return joined


def band_slip(images: list[Atoms]) -> np.ndarray:
    """The lattice vector (Å) by which the band's path, image to image by minimum image, misses its own end.

    Zero for a band that follows its hop; a cell vector for one that went round the cell (largest atom's miss).
    """
    first, last = images[0], images[-1]
    steps = zip(images[:-1], images[1:], strict=True)
    walked = sum(find_mic(b.positions - a.positions, first.cell, first.pbc)[0] for a, b in steps)
    miss = walked - (last.positions - first.positions)
    return miss[int(np.argmax(np.linalg.norm(miss, axis=1)))]


def follows_hop(slip: np.ndarray) -> bool:
    """The band reached its own end, not a periodic copy of it (``slip`` from :func:`band_slip`)."""
    return bool(np.linalg.norm(slip) < SLIP_TOLERANCE)


def slip_reason(slip: np.ndarray) -> str:
    return (f"the band went round the cell to a periodic copy of its end (its path is {np.round(slip, 2).tolist()} "
            "Å off the hop's displacement): another hop, not this one")


def _spline_saddle(images: list[Atoms]) -> tuple[float, dict]:
    """Saddle energy from ASE's force-informed cubic fit through the band (located between images)."""
    fit = fit_images(images)
    i = int(np.argmax(fit.fit_energies))
    saddle = float(fit.fit_energies[i]) + float(images[0].get_potential_energy())
    path = {"path": [float(x) for x in fit.path], "energies": [float(x) for x in fit.energies],
            "fit_path": [float(x) for x in fit.fit_path], "fit_energies": [float(x) for x in fit.fit_energies],
            "saddle_coordinate": float(fit.fit_path[i])}
    return max(saddle, max(im.get_potential_energy() for im in images)), path


def _closest_contact_ratio(atoms: Atoms) -> float:
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    radii = covalent_radii[atoms.numbers]
    return float((d / (radii[:, None] + radii[None, :])).min())


def _is_exchange(images: list[Atoms], adatom: int = -1, min_displacement: float = 1.0) -> bool:
    """The moving atom traded places: a slab atom of its element moved > 1 Å between the ends."""
    first, last = images[0], images[-1]
    same = np.flatnonzero(first.numbers[:-1] == first.numbers[adatom])
    moved = np.linalg.norm(last.positions[same] - first.positions[same], axis=1)
    return bool((moved > min_displacement).any())
