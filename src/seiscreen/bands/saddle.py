"""A finished band judged by its harmonic modes: the climbing image a first-order saddle along the band, both ends
minima, and the hop's Vineyard attempt frequencies (:mod:`seiscreen.vibrations`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.geometry import find_mic

from seiscreen.vibrations import (MinimumCheck, ModeAnalysis, SaddleCheck, band_tangent, check_minimum, check_saddle,
                                  finite_difference_hessian, normal_modes, shell_indices, vineyard_prefactor)


@dataclass(frozen=True)
class BandModes:
    """The modes of a band's climbing image and ends over one shell of atoms, and what they say."""

    atoms: list[int]
    saddle: ModeAnalysis
    start: ModeAnalysis
    end: ModeAnalysis
    saddle_check: SaddleCheck
    start_check: MinimumCheck
    end_check: MinimumCheck
    force_calls: int
    tangent: np.ndarray  # (N, 3) the band's tangent at the climbing image

    @property
    def first_order_saddle(self) -> bool:
        """One imaginary mode at the climbing image, along the band, and none at either end."""
        return self.saddle_check.passed and self.start_check.passed and self.end_check.passed

    def sideways(self) -> np.ndarray | None:
        """Where the climbing image fails: the imaginary mode that leads off the band (the least overlap with the
        tangent), as Cartesian displacements of the shell's atoms (Å, the largest 1); None when it passed or has
        no imaginary mode."""
        modes = self.saddle
        unstable = np.flatnonzero(modes.frequencies < -modes.tolerance)
        if self.saddle_check.passed or not len(unstable):
            return None
        weighted = modes.mass_weighted(self.tangent)
        overlaps = [abs(modes.eigenvectors[:, k] @ weighted) for k in unstable]
        vector = modes.eigenvectors[:, unstable[int(np.argmin(overlaps))]]
        cartesian = (vector.reshape(-1, 3) / np.sqrt(modes.masses)[:, None])
        return cartesian / np.linalg.norm(cartesian, axis=1).max()

    def attempts(self) -> tuple[float | None, float | None]:
        """Hz, the Vineyard prefactors start -> end and end -> start; None where the gate failed."""
        if not self.first_order_saddle:
            return None, None
        return vineyard_prefactor(self.start, self.saddle), vineyard_prefactor(self.end, self.saddle)


def moving_atom(start: Atoms, end: Atoms) -> int:
    """The atom that travels farthest between the band's ends (minimum image): the adatom, or in an exchange hop
    the atom that takes the adatom's place."""
    vectors, lengths = find_mic(end.positions - start.positions, start.cell, start.pbc)
    return int(np.argmax(lengths))


def check_band(images: list[Atoms], energies: list[float], calculator: Callable[[Atoms], Calculator],
               radius: float, delta: float) -> BandModes:
    """Hessians at the band's highest interior image and at its two ends over the same shell (the free atoms within
    ``radius`` Å of the moving atom at any of the three: Vineyard's ratio needs one atom set), and their checks.

    Args:
        images: The final band, ends included (a hop computed through valleys: its joined bands).
        energies: Absolute energies of ``images``.
        calculator: A calculator for a structure (a fresh one per state, so DFT restarts stay per state).
        radius: Å, the shell (:func:`seiscreen.vibrations.shell_indices`).
        delta: Å, the finite-difference step.
    """
    climbing = 1 + int(np.argmax(energies[1:-1]))
    centre = moving_atom(images[0], images[-1])
    states = (images[climbing], images[0], images[-1])
    shell = sorted(set().union(*(shell_indices(state, centre, radius) for state in states)))
    modes, calls = [], 0
    for state in states:
        hessian, n = finite_difference_hessian(state, calculator(state), shell, delta)
        modes.append(normal_modes(state, hessian, shell))
        calls += n
    saddle, start, end = modes
    tangent = band_tangent(images, climbing)
    return BandModes(atoms=shell, saddle=saddle, start=start, end=end, saddle_check=check_saddle(saddle, tangent),
                     start_check=check_minimum(start), end_check=check_minimum(end), force_calls=calls,
                     tangent=tangent)


# Å: how far a broken band's middle image is pushed along the sideways mode (its ends not at all).
SIDEWAYS_PUSH = 0.2


def across_the_hop(images: list[Atoms]) -> tuple[list[int], np.ndarray]:
    """The moving atom and a unit push for it in the surface plane, perpendicular to its way from start to end:
    how a second band of a hop leaves the straight path (``broken_band``)."""
    atom = moving_atom(images[0], images[-1])
    way, _ = find_mic(images[-1].positions[atom] - images[0].positions[atom], images[0].cell, images[0].pbc)
    across = np.array([-way[1], way[0], 0.0])
    return [atom], (across / np.linalg.norm(across))[None, :]


def broken_band(images: list[Atoms], atoms: list[int], sideways: np.ndarray,
                push: float = SIDEWAYS_PUSH) -> list[Atoms]:
    """The band's interior images pushed along ``sideways`` (displacements of ``atoms``, the largest 1) by up to
    ``push`` Å, most in the middle and not at the ends: a start out of the mirror plane a symmetric band keeps,
    for a band whose climbing image is a higher-order saddle (the lower saddle lies to one side)."""
    out = [image.copy() for image in images]
    n = len(images) - 1
    for k, image in enumerate(out[1:-1], start=1):
        image.positions[atoms] += push * np.sin(np.pi * k / n) * np.asarray(sideways)
    return out
