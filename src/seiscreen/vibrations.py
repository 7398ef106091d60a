"""Vibrational checks of a hop: its climbing image a first-order saddle, its minima minima, and its rate.

Plain functions on ASE ``Atoms``, the calculator passed in. The Hessian is taken by central finite differences over
a shell of atoms (the adatom and its nearest free slab neighbours, ``shell_indices``); the rest of the slab stays
where it is. By Cauchy's interlacing theorem a principal block of a Hessian has no more negative eigenvalues than the
whole one, so a shell never invents an imaginary mode, though a too-small shell can miss one. From the modes come
``check_saddle`` (exactly one imaginary mode, along the band), ``check_minimum`` (none), and the harmonic
transition-state (Vineyard) prefactor and rate of a hop.

    shell = shell_indices(saddle, centre=-1, radius=DEFAULT_SHELL_RADIUS)
    hessian, calls = finite_difference_hessian(saddle, calculator, shell)
    saddle_modes = normal_modes(saddle, hessian, shell)
    check = check_saddle(saddle_modes, band_tangent(images, climbing))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.constraints import FixAtoms
from ase.geometry import find_mic, get_distances

from seiscreen.errors import SeiscreenError

# Å. From benchmarks/htst_shell.py (docs/notes/2026-12-06-htst-shell.md), CHGNet, NaF(100)'s limiting hop: the
# smallest radius whose prefactor lies within 20 % of the whole free slab's (6 Å: 29 of 33 free atoms, 0.82x).
# The saddle and minimum checks pass from the adatom alone; the prefactor grows with every shell up to the whole slab.
DEFAULT_SHELL_RADIUS = 6.0
# Hz (0.1 THz, 3.3 cm^-1): a mode below -IMAGINARY_TOLERANCE is imaginary. Measured on the hollow of a Cu adatom on
# EMT Cu(100) (3 Å shell, delta 0.01 Å): the Hessian's asymmetry (its noise) is 5e-5 eV/Å^2, which would show a zero
# mode at +-0.014 THz; relaxing to 1e-2 or 1e-5 instead of 1e-3 eV/Å, or delta 0.005-0.02 Å, moves the lowest mode
# by < 0.002 THz; the softest real mode is 1.6 THz. 0.1 THz is 7 times that noise and 16 times below that mode.
IMAGINARY_TOLERANCE = 0.1e12
# |cos| between the imaginary mode and the band's tangent, both mass-weighted over the shell. 0.7 (45 degrees):
# a climbing image converged to the NEB's fmax sits a little off the true saddle and the tangent is a chord
# between neighbouring images, so a right mode measures 0.99-1.0 (EMT Cu(100); NaF(100) under CHGNet, the note);
# below 0.7 the mode leads mostly sideways, into another hop than the band's.
TANGENT_OVERLAP_THRESHOLD = 0.7
# Hz per sqrt(eV / (Å^2 amu)): an eigenvalue of the mass-weighted Hessian to an ordinary frequency (not angular).
_TO_HZ = math.sqrt(units._e / (1e-20 * units._amu)) / (2 * math.pi)


def shell_indices(atoms: Atoms, centre: int, radius: float) -> list[int]:
    """The adatom and every atom not fixed by a ``FixAtoms`` constraint within ``radius`` Å of it.

    Distances are minimum-image through the cell's periodic directions (``atoms.pbc``).

    Args:
        atoms: The structure, its constraints set.
        centre: Index of the adatom (negative counts from the end).
        radius: Å; 0 gives the adatom alone.

    Returns:
        Sorted atom indices, the adatom among them.
    """
    if not -len(atoms) <= centre < len(atoms):
        raise SeiscreenError(f"centre {centre} is not an atom index of these {len(atoms)} atoms")
    if not radius >= 0:
        raise SeiscreenError(f"shell radius {radius} Å must be a number >= 0")
    centre %= len(atoms)
    fixed = {int(i) for c in atoms.constraints if isinstance(c, FixAtoms) for i in c.get_indices()}
    if centre in fixed:
        raise SeiscreenError(f"atom {centre} is fixed by a FixAtoms constraint: the adatom must be free to vibrate")
    _, distances = get_distances(atoms.positions[centre], atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    near = np.flatnonzero(distances[0] <= radius)
    return sorted({centre, *(int(i) for i in near if int(i) not in fixed)})


def finite_difference_hessian(atoms: Atoms, calculator: Calculator | None, indices: Sequence[int],
                              delta: float = 0.01,
                              forces_of: Callable[[list[Atoms]], list[np.ndarray]] | None = None
                              ) -> tuple[np.ndarray, int]:
    """The Hessian over ``indices`` by central differences of the forces, symmetrised.

    Each Cartesian coordinate of each atom in ``indices`` is moved by +delta and -delta (2 * 3n force calls, in
    this process); the atoms outside stay put. ``atoms`` is not changed.

    Args:
        atoms: The stationary point (a minimum or a climbing image).
        calculator: An ASE calculator (None when ``forces_of`` is given).
        indices: The atoms vibrated (``shell_indices``).
        delta: Å, the displacement.
        forces_of: Forces (N, 3) of many structures at once (a batched ML model): every displaced structure then
            goes to it in one list instead of one calculator call each.

    Returns:
        The (3n, 3n) Hessian in eV/Å^2, rows and columns in the order atom, then x, y, z; and the force calls.
    """
    indices = _checked_indices(atoms, indices)
    if not delta > 0:
        raise SeiscreenError(f"finite-difference delta {delta} Å must be > 0")
    work = atoms.copy()
    work.set_constraint()  # every displaced force is the calculator's own, unmasked
    displaced = []
    for atom, axis in ((a, c) for a in indices for c in range(3)):
        for sign in (1.0, -1.0):
            moved = work.copy()
            moved.positions[atom, axis] += sign * delta
            displaced.append(moved)
    forces = forces_of(displaced) if forces_of is not None else [_forces(moved, calculator) for moved in displaced]
    shifted = np.array([np.asarray(f)[indices].ravel() for f in forces])
    hessian = -(shifted[0::2] - shifted[1::2]) / (2 * delta)
    return 0.5 * (hessian + hessian.T), len(displaced)


def _forces(atoms: Atoms, calculator: Calculator) -> np.ndarray:
    """One structure's forces from ``calculator`` (which keeps its restart state between calls, as DFT wants)."""
    atoms.calc = calculator
    return atoms.get_forces()


def _checked_indices(atoms: Atoms, indices: Sequence[int]) -> list[int]:
    out = [int(i) % len(atoms) for i in indices if -len(atoms) <= int(i) < len(atoms)]
    if len(out) != len(indices) or not out:
        raise SeiscreenError(f"indices {list(indices)} must be a non-empty list of atom indices below {len(atoms)}")
    if len(set(out)) != len(out):
        raise SeiscreenError(f"indices {list(indices)} name an atom twice")
    return out


@dataclass(frozen=True, eq=False)
class ModeAnalysis:
    """Mass-weighted normal modes over a set of atoms.

    Attributes:
        indices: The atoms vibrated, in the Hessian's order.
        masses: amu, per atom of ``indices``.
        frequencies: Hz, ascending; an imaginary mode as a negative number.
        eigenvectors: (3n, 3n), column k the mass-weighted, normalised mode of ``frequencies[k]``.
        tolerance: Hz; a frequency below ``-tolerance`` is imaginary.
    """

    indices: tuple[int, ...]
    masses: np.ndarray
    frequencies: np.ndarray
    eigenvectors: np.ndarray
    tolerance: float = IMAGINARY_TOLERANCE

    @property
    def imaginary(self) -> int:
        """How many modes are imaginary (below ``-tolerance``)."""
        return int(np.sum(self.frequencies < -self.tolerance))

    def mass_weighted(self, displacement: np.ndarray) -> np.ndarray:
        """A Cartesian displacement of every atom (N, 3) restricted to ``indices``, times sqrt(mass), flat."""
        displacement = np.asarray(displacement, float)
        if displacement.ndim != 2 or displacement.shape[1] != 3 or displacement.shape[0] <= max(self.indices):
            raise SeiscreenError(f"a displacement must be an (N, 3) array over every atom (N > {max(self.indices)}), "
                                 f"not of shape {displacement.shape}")
        return (displacement[list(self.indices)] * np.sqrt(self.masses)[:, None]).ravel()


def normal_modes(atoms: Atoms, hessian: np.ndarray, indices: Sequence[int],
                 tolerance: float = IMAGINARY_TOLERANCE) -> ModeAnalysis:
    """The normal modes of a Hessian over ``indices`` (``finite_difference_hessian``), weighted by ``atoms``' masses.

    Args:
        atoms: Gives the masses.
        hessian: (3n, 3n), eV/Å^2.
        indices: The atoms of the Hessian, in its order.
        tolerance: Hz; a frequency below ``-tolerance`` counts as imaginary.

    Returns:
        The frequencies (Hz, imaginary ones negative) and mass-weighted eigenvectors.
    """
    indices = _checked_indices(atoms, indices)
    hessian = np.asarray(hessian, float)
    if hessian.shape != (3 * len(indices),) * 2:
        raise SeiscreenError(f"a Hessian over {len(indices)} atoms is ({3 * len(indices)}, {3 * len(indices)}), "
                             f"not {hessian.shape}")
    masses = atoms.get_masses()[indices]
    scale = np.repeat(masses ** -0.5, 3)
    eigenvalues, eigenvectors = np.linalg.eigh(scale[:, None] * hessian * scale[None, :])
    frequencies = np.sign(eigenvalues) * np.sqrt(np.abs(eigenvalues)) * _TO_HZ
    return ModeAnalysis(tuple(indices), masses, frequencies, eigenvectors, tolerance)


def band_tangent(images: Sequence[Atoms], index: int) -> np.ndarray:
    """The band's tangent at image ``index``: the next image's positions minus the previous one's (minimum image).

    Args:
        images: The band, ends included.
        index: An interior image (the climbing one).

    Returns:
        (N, 3) Cartesian displacement, not normalised.
    """
    if not 0 < index < len(images) - 1:
        raise SeiscreenError(f"image {index} has no neighbours on both sides in a band of {len(images)} images")
    before, after = images[index - 1], images[index + 1]
    vectors, _ = find_mic(after.positions - before.positions, before.cell, before.pbc)
    return vectors


@dataclass(frozen=True)
class SaddleCheck:
    """Whether a climbing image is a first-order saddle along its band. Numbers only, for documents.

    Attributes:
        imaginary: Imaginary modes found.
        imaginary_frequency: Hz, the lowest (most negative) frequency; None without an imaginary mode.
        overlap: |cos| between that mode and the band's tangent (mass-weighted over the shell, both normalised).
        threshold: The overlap required.
    """

    imaginary: int
    imaginary_frequency: float | None
    overlap: float | None
    threshold: float = TANGENT_OVERLAP_THRESHOLD

    @property
    def passed(self) -> bool:
        """Exactly one imaginary mode, along the band."""
        return self.imaginary == 1 and self.overlap is not None and self.overlap >= self.threshold

    @property
    def reason(self) -> str:
        """Why it failed, in one line ("" when it passed)."""
        if self.imaginary != 1:
            return f"{self.imaginary} imaginary modes, not 1: not a first-order saddle"
        if not self.passed:
            return (f"the imaginary mode lies off the band: overlap {self.overlap:.2f} with its tangent, "
                    f"below {self.threshold}")
        return ""


@dataclass(frozen=True)
class MinimumCheck:
    """Whether a minimum is one: no imaginary mode. Numbers only, for documents.

    Attributes:
        imaginary: Imaginary modes found.
        lowest_frequency: Hz, the lowest frequency (negative if imaginary).
    """

    imaginary: int
    lowest_frequency: float

    @property
    def passed(self) -> bool:
        """No imaginary mode."""
        return self.imaginary == 0

    @property
    def reason(self) -> str:
        """Why it failed, in one line ("" when it passed)."""
        if self.passed:
            return ""
        return f"{self.imaginary} imaginary modes (lowest {self.lowest_frequency / 1e12:.2f}i THz): not a minimum"


def check_saddle(modes: ModeAnalysis, tangent: np.ndarray,
                 threshold: float = TANGENT_OVERLAP_THRESHOLD) -> SaddleCheck:
    """Exactly one imaginary mode, and its overlap with the band's tangent at the climbing image.

    Args:
        modes: The climbing image's modes (``normal_modes``).
        tangent: (N, 3) over every atom (``band_tangent``); restricted to the shell and mass-weighted as the modes.
        threshold: The |cos| the imaginary mode must reach.

    Returns:
        The count, the lowest frequency and the overlap of the lowest mode with the tangent.
    """
    weighted = modes.mass_weighted(tangent)
    norm = float(np.linalg.norm(weighted))
    if norm == 0:
        raise SeiscreenError("the band's tangent does not move any atom of the shell: no overlap can be taken")
    lowest = float(modes.frequencies[0])
    overlap = abs(float(modes.eigenvectors[:, 0] @ weighted)) / norm
    return SaddleCheck(modes.imaginary, lowest if lowest < -modes.tolerance else None,
                       overlap if modes.imaginary else None, threshold)


def check_minimum(modes: ModeAnalysis) -> MinimumCheck:
    """No imaginary mode at a minimum.

    Args:
        modes: The minimum's modes (``normal_modes``).

    Returns:
        The count of imaginary modes and the lowest frequency.
    """
    return MinimumCheck(modes.imaginary, float(modes.frequencies[0]))


def vineyard_prefactor(minimum_modes: ModeAnalysis, saddle_modes: ModeAnalysis) -> float:
    """The harmonic transition-state prefactor of a hop (Vineyard, J. Phys. Chem. Solids 3, 121 (1957)).

    nu* = prod_{i=1}^{3n} nu_i(minimum) / prod_{i=1}^{3n-1} nu_i(saddle): the 3n real frequencies at the minimum
    over the 3n - 1 real ones at the saddle, both over the same atom set (the same shell: the same indices). Taken
    in logarithms, so that large shells do not overflow.

    Args:
        minimum_modes: Every frequency real and positive.
        saddle_modes: Exactly one imaginary frequency, the rest real and positive.

    Returns:
        Hz.
    """
    if minimum_modes.indices != saddle_modes.indices:
        raise SeiscreenError("the minimum and the saddle were vibrated over different atoms: the Vineyard prefactor "
                             "needs the same shell at both")
    real_min, real_saddle = minimum_modes.frequencies, saddle_modes.frequencies[1:]
    if saddle_modes.imaginary != 1 or minimum_modes.imaginary != 0:
        raise SeiscreenError(f"{minimum_modes.imaginary} imaginary modes at the minimum and {saddle_modes.imaginary} "
                             "at the saddle: the Vineyard prefactor needs 0 and 1")
    if np.any(real_min <= 0) or np.any(real_saddle <= 0):
        raise SeiscreenError("a real mode with a frequency at or below zero (within the imaginary tolerance): "
                             "converge the structure further before taking its prefactor")
    return float(np.exp(np.sum(np.log(real_min)) - np.sum(np.log(real_saddle))))


def hop_rate(prefactor: float, barrier: float, temperature: float) -> float:
    """The harmonic-TST rate of a hop, prefactor * exp(-barrier / (k_B T)).

    Args:
        prefactor: Hz (``vineyard_prefactor``).
        barrier: eV, the hop's forward barrier.
        temperature: K.

    Returns:
        1/s.
    """
    if not (prefactor > 0 and math.isfinite(prefactor)):
        raise SeiscreenError(f"prefactor {prefactor} Hz must be a finite number > 0")
    if not temperature > 0:
        raise SeiscreenError(f"temperature {temperature} K must be > 0")
    if not math.isfinite(barrier):
        raise SeiscreenError(f"barrier {barrier} eV must be a finite number")
    return prefactor * math.exp(-barrier / (units.kB * temperature))
