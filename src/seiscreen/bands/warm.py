"""Starting bands: another band of the same hop moved onto this one, or one relaxed by a cheaper level."""

from __future__ import annotations

import logging

import numpy as np
from ase import Atoms

from seiscreen.calculators import get_preset
from seiscreen.neb import USABLE, NebProtocol, run_neb
from seiscreen.surfaces.symmetry import SurfaceSymmetry, minimum_image

log = logging.getLogger(__name__)


def warm_positions(prior: list[Atoms], initial: Atoms, final: Atoms, n_images: int,
                   tolerance: float = 0.5) -> list[np.ndarray] | None:
    """Intermediate positions of a previous band of the same hop (already moved onto this hop), aligned onto
    these ends; None when its ends are not where these are (within ``tolerance`` Å, modulo the lattice) or its
    image count differs. The caller then interpolates."""
    if len(prior) != n_images + 2 or len(prior[0]) != len(initial):
        return None
    cell = initial.cell.array
    if (np.linalg.norm(minimum_image(initial.positions[-1] - prior[0].positions[-1], cell)) > tolerance
            or np.linalg.norm(minimum_image(final.positions[-1] - prior[-1].positions[-1], cell)) > tolerance):
        return None
    # Each atom moved by the lattice vector that takes the old first image onto the new one.
    shift = np.rint(np.linalg.solve(cell.T, (initial.positions - prior[0].positions).T).T) @ cell
    return [image.positions + shift for image in prior[1:-1]]


def moved_band(prior: list[Atoms], prior_hop: tuple, hop: tuple, symmetry: SurfaceSymmetry,
               clean_positions: np.ndarray, initial: Atoms, final: Atoms, n_images: int) -> list[np.ndarray] | None:
    """Another fidelity's band of an equivalent hop (``prior_hop``: its fractional (start, end)) moved by the
    symmetry operation that maps it onto ``hop``, as the start of this band; None where none maps it."""
    found = symmetry.segment_operation(prior_hop[0], prior_hop[1], hop[0], hop[1])
    if found is None:
        return None
    op, reverse = found
    moved = [image.copy() for image in prior]
    for image in moved:
        image.positions = symmetry.transform_positions(image.positions, image.cell.array, op, clean_positions)
    return warm_positions(moved[::-1] if reverse else moved, initial, final, n_images)


def lower_level_band(preset_name: str, initial: Atoms, final: Atoms,
                     protocol: NebProtocol) -> list[np.ndarray] | None:
    """The band the cheaper preset ``preset_name`` relaxes between these ends (their positions, its energies),
    as the start of this level's band; None (an IDPP start) unless that band passes its gates.

    A band with an interior minimum is no start: the cheaper level has a minimum between these ends and its
    images fall into it out of order (measured on NaF(100), CHGNet under GPAW; see docs/notes).
    """
    low = get_preset(preset_name)
    ends = []
    for end in (initial, final):
        copy = end.copy()
        copy.calc = low.make()
        ends.append(copy)
    result = run_neb(*ends, lambda k, image: low.make(), protocol)
    log.info("band relaxed with %s between the ends: %s, %d force calls", preset_name, result.status,
             result.force_calls)
    return [image.positions.copy() for image in result.images[1:-1]] if result.status in USABLE else None
