"""A symmetric hop's mirror: the slab's reflection that swaps the hop's ends, and the band images it serves.

On such a hop, image k of a symmetric band is the mirror copy of image n+1-k: its energy is the partner's and its
forces are the partner's, reflected, so half the band costs no force call while it stays symmetric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator

from seiscreen.surfaces.symmetry import SurfaceSymmetry, minimum_image

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
        """The mirror copy of an image's positions, atoms in the partner's order.

        Args:
            positions: (n_atoms, 3) Cartesian positions of the partner image.

        Returns:
            The copy's (n_atoms, 3) positions.
        """
        out = np.empty_like(positions)
        out[self.order] = positions @ self.rotation + self.translation + self.shifts
        return out

    def forces(self, forces: np.ndarray) -> np.ndarray:
        """The mirror copy of an image's forces (rotated only: forces do not translate).

        Args:
            forces: (n_atoms, 3) forces on the partner image.

        Returns:
            The copy's (n_atoms, 3) forces.
        """
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
    mirror line.

    Args:
        initial: the hop's relaxed start.
        final: the hop's relaxed end, unwrapped next to the start.
        symmetry: the slab's in-plane symmetry.
        tol: Å each end may lie from the other's copy.

    Returns:
        The mirror, or None when the hop has none.
    """
    for rotation, translation in symmetry.cartesian_operations(initial.cell.array):
        if np.linalg.det(rotation) > 0:
            continue
        forward = _mirror_between(initial, final, rotation, translation, tol)
        if forward is not None and np.abs(forward.positions(final.positions) - initial.positions).max() < tol:
            return forward
    return None


def mirrored_end(initial: Atoms, final: Atoms, mirror: BandMirror) -> Atoms:
    """The end as the exact copy of the start (energy and forces too): the band is then symmetric from its ends.

    Args:
        initial: the start, with its results.
        final: the end it replaces (its atoms, cell and constraints are kept).
        mirror: the hop's mirror.

    Returns:
        A new end image with fixed results.
    """
    end = final.copy()
    end.positions = mirror.positions(initial.positions)
    end.calc = SinglePointCalculator(end, energy=initial.get_potential_energy(),
                                     forces=mirror.forces(initial.get_forces(apply_constraint=False)))
    return end


def symmetrise(images: list[Atoms], mirror: BandMirror) -> bool:
    """Make the band's second half the copy of its first and the middle image its own copy.

    Args:
        images: the band, ends included; changed in place.
        mirror: the hop's mirror.

    Returns:
        False (nothing changed) when the middle image has no copy of itself within MIRROR_TOLERANCE.
    """
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


class MirroredImage(Calculator):
    """An image's results served as the mirror copy of its partner's (no force call), while the band stays symmetric.

    Args:
        partner: the image this one is the copy of.
        mirror: the hop's mirror.
        real: makes the image's own calculator, for when it stops being a copy.
    """

    implemented_properties = ["energy", "forces"]

    def __init__(self, partner: Atoms, mirror: BandMirror, real: Callable[[], Calculator]):
        super().__init__()
        self.partner, self.mirror, self.real = partner, mirror, real

    def serves(self, atoms: Atoms) -> bool:
        """Whether ``atoms`` still lies on its partner's copy (within MIRROR_DRIFT), so this can serve it."""
        return bool(np.abs(atoms.positions - self.mirror.positions(self.partner.positions)).max() < MIRROR_DRIFT)

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        """The partner's energy and its reflected forces (the partner is computed if it is not yet)."""
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": self.partner.get_potential_energy(),
                        "forces": self.mirror.forces(self.partner.get_forces(apply_constraint=False))}
