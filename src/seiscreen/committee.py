"""A committee of potentials (fine-tuned from different seeds) judging the same structures: where they disagree, a
barrier is not decided by the training data, and a DFT single point there is the most useful one to add.

The spread of a barrier is the largest minus the smallest of the members' barriers, each the member's energy of the
band's highest image minus its energy of the band's start, both at the stored geometries (no relaxation: the
disagreement of the potentials at one configuration, not of their minima). This module knows no store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from seiscreen.calculators import get_preset
from seiscreen.errors import SeiscreenError


@dataclass(frozen=True)
class BarrierSpread:
    """One hop judged by every member of a committee."""

    label: str  # the surface and hop
    barriers: tuple[float, ...]  # eV, one per member, at the stored start and highest image

    @property
    def spread(self) -> float:
        """eV: the largest minus the smallest member's barrier."""
        return max(self.barriers) - min(self.barriers)

    @property
    def mean(self) -> float:
        return float(np.mean(self.barriers))


def member_energies(structures: list[Atoms], members: list[str]) -> np.ndarray:
    """Energies (eV), shape (structures, members): each member's single point at each structure."""
    if len(members) < 2:
        raise SeiscreenError(f"a committee needs two members or more, got {len(members)}: fine-tune with "
                             "--committee 3")
    energies = np.empty((len(structures), len(members)))
    for j, name in enumerate(members):
        preset = get_preset(name)
        for i, structure in enumerate(structures):
            atoms = structure.copy()
            atoms.calc = preset.make(atoms)
            energies[i, j] = atoms.get_potential_energy()
    return energies


def barrier_spreads(hops: list[tuple[str, Atoms, Atoms]], members: list[str]) -> list[BarrierSpread]:
    """Each ``(label, start, saddle)`` judged by every member, in the order given."""
    structures = [atoms for _, start, saddle in hops for atoms in (start, saddle)]
    energies = member_energies(structures, members)
    return [BarrierSpread(label, tuple(float(b) for b in energies[2 * k + 1] - energies[2 * k]))
            for k, (label, _, _) in enumerate(hops)]


def start_and_top(images: list[Atoms]) -> tuple[Atoms, Atoms]:
    """A band's start and its highest image (by the stored energies): the two structures a committee judges."""
    top = max(range(len(images)), key=lambda k: images[k].get_potential_energy())
    return images[0], images[top]
