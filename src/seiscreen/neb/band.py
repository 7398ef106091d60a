"""A band's images and the NEB object over them: ends, start band, calculators, and force calls counted.

The count is kept by the band object itself (:class:`CountedNEB`, :class:`CountedDyNEB`, whose ``get_forces``
asks a :class:`ForceCallCounter` which images it is about to compute): ASE's optimisers and DyNEB's own dynamic
relaxation both go through that method, so every evaluation is seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.mep import NEB, DyNEB
from ase.mep.neb import idpp_interpolate

from seiscreen.errors import SeiscreenError
from seiscreen.neb.checkpoint import NebCheckpoint
from seiscreen.neb.mirror import BandMirror, MirroredImage
from seiscreen.neb.protocol import NebProtocol
from seiscreen.surfaces.symmetry import minimum_image

log = logging.getLogger("seiscreen.neb")


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
    across the cell boundary, and IDPP can push a slab atom straight through it (the Na2Se(100) case of
    tests/neb/test_start.py and docs/report.md).
    """
    images = [initial.copy() for _ in range(protocol.n_images + 1)] + [final.copy()]
    band = NEB(images, method=protocol.method)
    band.interpolate()  # ends already unwrapped: no minimum-image shortcut needed
    if protocol.interpolation == "idpp":
        idpp_interpolate(band, traj=None, log=None, mic=True)
    return images


def start_images(initial: Atoms, final: Atoms, protocol: NebProtocol, initial_band: list[np.ndarray] | None = None,
                 resume: NebCheckpoint | None = None) -> list[Atoms]:
    """The band's images before the first step, ends with their results fixed, intermediates without calculators.

    Args:
        initial: the relaxed start, with its results.
        final: the relaxed end, unwrapped next to the start, with its results.
        protocol: the band's settings (``n_images``, ``interpolation``).
        initial_band: intermediate positions of a band computed before (a warm start).
        resume: a checkpoint whose positions replace the interpolation and ``initial_band``.

    Raises:
        SeiscreenError: ``resume`` holds a band of another shape.
    """
    ends = [with_fixed_results(initial), with_fixed_results(final)]
    if resume is not None:
        if resume.positions.shape != (protocol.n_images + 2, len(initial), 3):
            raise SeiscreenError(f"NEB checkpoint has shape {resume.positions.shape}, this band needs "
                                 f"{(protocol.n_images + 2, len(initial), 3)}: delete the checkpoint file")
        initial_band = resume.positions[1:-1]
    if initial_band is None:
        images = interpolate_band(ends[0], ends[1], protocol)
        images[0], images[-1] = ends
        return images
    images = [ends[0], *(ends[0].copy() for _ in initial_band), ends[1]]
    for image, positions in zip(images[1:-1], initial_band, strict=True):
        image.positions = positions
    return images


def attach_calculators(images: list[Atoms], make_calculator: Callable[[int, Atoms], Calculator],
                       mirror: BandMirror | None = None, resume: NebCheckpoint | None = None) -> dict[int, Calculator]:
    """Give every intermediate image its calculator: its own, its partner's mirror copy, or checkpointed results.

    Args:
        images: the band, ends included; the intermediates' calculators are set in place.
        make_calculator: ``make_calculator(k, image)`` for intermediate image k (from 0), called in image order.
        mirror: the hop's mirror: the second half's images (or the checkpoint's mirrored ones) become copies.
        resume: a checkpoint whose results serve each image's first evaluation, with no force call.

    Returns:
        The resumed images' own calculators by image index, to take over once the image moves.
    """
    waiting: dict[int, Calculator] = {}
    last = len(images) - 1
    copies = set(resume.mirrored_images) if resume is not None else {i for i in range(1, last) if i > last - i}
    for k, image in enumerate(images[1:-1]):
        if mirror is not None and k + 1 in copies:
            image.calc = MirroredImage(images[last - k - 1], mirror, lambda k=k, image=image: make_calculator(k, image))
            continue
        image.calc = make_calculator(k, image)
        if resume is not None:
            waiting[k + 1] = image.calc
            image.calc = SinglePointCalculator(image, energy=float(resume.energies[k + 1]),
                                               forces=resume.forces[k + 1])
    return waiting


class ForceCallCounter:
    """The real force calls a band spends, and the band's last forces.

    An image whose positions did not change since its last evaluation is served from its calculator's cache and
    not counted; a mirrored image is not counted while it still is its partner's copy.

    Args:
        images: the band, ends included (the same list the NEB object holds).
        waiting: resumed images (by index) and the calculators that take over once they move.
        calls: force calls spent before (a resumed band).
    """

    def __init__(self, images: list[Atoms], waiting: dict[int, Calculator] | None = None, calls: int = 0):
        self.waiting = dict(waiting or {})
        self.seen: list[np.ndarray | None] = [im.positions.copy() if k in self.waiting else None
                                              for k, im in enumerate(images)]
        self.calls = calls
        self.last = np.zeros((1, 3))  # the band's forces at its last evaluation; none before the first

    def before_evaluation(self, images: list[Atoms]) -> None:
        """Count the images the coming evaluation computes, switching each to the calculator that computes it."""
        for k, image in enumerate(images[1:-1], start=1):
            moved = self.seen[k] is None or not np.array_equal(self.seen[k], image.positions)
            if not moved:
                continue
            if isinstance(image.calc, MirroredImage):
                if image.calc.serves(image):  # still its partner's copy: no force call
                    self.seen[k] = image.positions.copy()
                    continue
                log.info("NEB: image %d left the band's mirror symmetry: computed from now on", k)
                image.calc = image.calc.real()
            if k in self.waiting:
                image.calc = self.waiting.pop(k)
            self.calls += 1
            self.seen[k] = image.positions.copy()

    def forget(self, k: int) -> None:
        """Image ``k`` counts as moved at the next evaluation (its calculator was replaced)."""
        self.seen[k] = None

    @property
    def evaluated(self) -> bool:
        """Whether the band was evaluated at least once."""
        return self.last.shape[0] > 1

    @property
    def fmax(self) -> float:
        """The largest per-atom force of the band's last evaluation (infinite before the first)."""
        return float(np.sqrt((self.last ** 2).sum(axis=1).max())) if self.evaluated else float("inf")


class BandDyNEB(DyNEB):
    """ASE's DyNEB, except that a step reads the images' forces once, before it moves any.

    ASE's ``set_positions`` re-reads the band's forces after each image it moves, to decide whether the next one
    still moves; that computes each moved image there and then, one at a time. Images evaluated together (a
    batched CHGNet band, images in processes of their own: :mod:`seiscreen.batched`) then came one per batch
    (``benchmarks/band_evaluation.py``). Here the decision uses the forces the optimiser just used (the ones it
    took the step from), and the moved images are computed together at the next ``get_forces``.
    """

    def set_positions(self, positions):
        """Move the images still above ``fmax`` (all of them without dynamic relaxation)."""
        if not self.dynamic_relaxation:
            return super().set_positions(positions)
        fmax_images = self._fmax_all(self.images)  # cached: nothing moved yet
        n1 = 0
        for i, image in enumerate(self.images[1:-1]):
            n2 = n1 + self.natoms
            if fmax_images[i] >= self.fmax:
                image.set_positions(positions[n1:n2])
            n1 = n2


class CountedBand:
    """Mixin for an ASE NEB class: ``get_forces`` counts the images it computes in a :class:`ForceCallCounter`.

    Args:
        images: the band, ends included.
        counter: the band's counter (``counter.last`` holds the forces of the last call).
        **options: the NEB class's own arguments.
    """

    def __init__(self, images: list[Atoms], counter: ForceCallCounter, **options: object):
        self.counter = counter
        super().__init__(images, **options)

    def get_forces(self):
        """The NEB forces, each image computed at most once at given positions and counted when it is."""
        self.counter.before_evaluation(self.images)
        self.counter.last = super().get_forces()
        return self.counter.last


class CountedNEB(CountedBand, NEB):
    """ASE's NEB with its force calls counted."""


class CountedDyNEB(CountedBand, BandDyNEB):
    """:class:`BandDyNEB` with its force calls counted."""


def counted_band(images: list[Atoms], protocol: NebProtocol, counter: ForceCallCounter) -> CountedNEB | CountedDyNEB:
    """The NEB object the optimiser relaxes (climbing off): dynamic relaxation when ``protocol.dynamic``.

    Args:
        images: the band, ends included, calculators attached.
        protocol: spring constant, method, fmax and ``dynamic``.
        counter: counts the force calls of every evaluation.
    """
    if protocol.dynamic:
        return CountedDyNEB(images, counter, k=protocol.spring_constant, fmax=protocol.fmax, climb=False,
                            method=protocol.method)
    return CountedNEB(images, counter, k=protocol.spring_constant, climb=False, method=protocol.method)
