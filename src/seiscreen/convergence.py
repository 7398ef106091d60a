"""Cell convergence's rules, with no jobflow and no calculator: the settings, the series of cells, the verdict on
a series (converged or not: :func:`judge_axis`), and the mapping of a smaller cell's minima into a larger cell.
The jobs that run the series are in :mod:`seiscreen.workflow.cells`.

A campaign's ``convergence`` section lists growing lateral sizes and thicknesses. The cells form an "L": the
lateral sizes at the first thickness, then the thicknesses at the largest lateral size, so the last cell is the
largest in both and each axis is judged by its own last step (the other size held fixed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seiscreen.surfaces.slabs import LAYER_TOLERANCE, SlabSettings

AXES = ("lateral", "thickness")


class ConvergenceSettings(BaseModel):
    """A campaign's ``convergence`` section: the cell sizes each surface is computed in, and the tolerance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lateral: list[float] = Field(default_factory=list, description="growing min_lateral_size values, Å (empty: the "
                                 "material's slab setting only)")
    thickness: list[float] = Field(default_factory=list, description="growing min_thickness values, Å (empty: the "
                                   "material's slab setting only)")
    tolerance: float = Field(0.02, gt=0, description="largest change of the barrier (eV) between the last two cells "
                             "of an axis for it to count as converged")

    @field_validator("lateral", "thickness")
    @classmethod
    def _increasing(cls, sizes: list[float]) -> list[float]:
        if any(size <= 0 for size in sizes):
            raise ValueError(f"sizes {sizes} must be positive (Å)")
        if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)):
            raise ValueError(f"sizes {sizes} must increase: list them smallest first, each once")
        return sizes

    @model_validator(mode="after")
    def _something_to_converge(self) -> ConvergenceSettings:
        if max(len(self.lateral), len(self.thickness)) < 2:
            raise ValueError("needs at least two sizes in 'lateral' or 'thickness' (e.g. lateral: [9, 13, 17])")
        return self


@dataclass(frozen=True)
class CellSpec:
    """One cell of a series before it is computed: the axis it grew along and its slab settings."""

    axis: str  # "first", "lateral" or "thickness"
    slab: SlabSettings


def cell_series(settings: ConvergenceSettings, base: SlabSettings) -> list[CellSpec]:
    """The cells of one surface, smallest first: every lateral size at the first thickness, then every further
    thickness at the largest lateral size (an axis not listed keeps the material's own ``base`` value)."""
    lateral = settings.lateral or [base.min_lateral_size]
    thickness = settings.thickness or [base.min_thickness]

    def cell(axis: str, size: float, depth: float) -> CellSpec:
        return CellSpec(axis, base.model_copy(update={"min_lateral_size": size, "min_thickness": depth}))

    cells = [cell("first", lateral[0], thickness[0])]
    cells += [cell("lateral", size, thickness[0]) for size in lateral[1:]]
    cells += [cell("thickness", lateral[-1], depth) for depth in thickness[1:]]
    return cells


@dataclass
class Cell:
    """One computed cell of a series (None values: the cell has no such number, e.g. it failed)."""

    axis: str
    lateral: float | None  # shortest in-plane period actually used, Å
    thickness: float | None  # outer-plane distance actually used, Å
    n_atoms: int | None
    barrier: float | None  # the surface's ranking barrier; None unless ranked
    adsorption_energy: float | None
    status: str  # the surface's status ("ranked", "no_path", ...) or "missing"

    @property
    def usable(self) -> bool:
        return self.status == "ranked" and self.barrier is not None


@dataclass
class Verdict:
    """What a series says: per axis converged (None: not tested) and the last change, and the cell term."""

    converged: dict[str, bool | None] = field(default_factory=dict)
    last_change: dict[str, float | None] = field(default_factory=dict)
    adsorption_change: dict[str, float | None] = field(default_factory=dict)
    cell_term: float | None = None  # the largest |last change| over the tested axes, eV
    ranked_barrier: float | None = None  # the largest cell's barrier
    status: str = "unconverged"  # "converged" or "unconverged"
    reason: str = ""


def axis_cells(cells: list[Cell]) -> dict[str, list[Cell]]:
    """The cells along each axis (the corner cell, the largest lateral one, starts the thickness axis)."""
    lateral = [c for c in cells if c.axis in ("first", "lateral")]
    return {"lateral": lateral, "thickness": lateral[-1:] + [c for c in cells if c.axis == "thickness"]}


def judge_axis(cells: list[Cell], tolerance: float) -> tuple[bool | None, float | None, float | None, str]:
    """(converged, last barrier change, last adsorption-energy change, reason) of one axis; converged None when
    the axis has one cell (not tested). Sizes that give the cell of the size before count once (Na(100): 13 and
    17 Å both give a 17.2 Å cell); the last two distinct cells must both be ranked."""
    if len(cells) < 2:
        return None, None, None, ""
    distinct = [c for k, c in enumerate(cells) if k == 0 or _geometry(c) != _geometry(cells[k - 1])]
    if len(distinct) < 2:
        return False, None, None, f"every size gives the same cell ({_size(cells[-1])}): list a larger size"
    previous, last = distinct[-2], distinct[-1]
    for c in (previous, last):
        if not c.usable:
            return False, None, None, f"the cell of {_size(c)} has no barrier ({c.status})"
    change = last.barrier - previous.barrier
    ads = (None if last.adsorption_energy is None or previous.adsorption_energy is None
           else last.adsorption_energy - previous.adsorption_energy)
    if abs(change) > tolerance:
        return False, change, ads, (f"the barrier moved {change:+.3f} eV from {_size(previous)} to {_size(last)} "
                                    f"(tolerance {tolerance:g} eV): list a larger size")
    return True, change, ads, ""


def judge_series(cells: list[Cell], tolerance: float) -> Verdict:
    """Judge one surface's series (smallest cell first, as :func:`cell_series` orders it)."""
    verdict = Verdict()
    reasons = []
    for axis, along in axis_cells(cells).items():
        converged, change, ads, reason = judge_axis(along, tolerance)
        verdict.converged[axis], verdict.last_change[axis], verdict.adsorption_change[axis] = converged, change, ads
        if reason:
            reasons.append(f"{axis}: {reason}")
    changes = [abs(c) for c in verdict.last_change.values() if c is not None]
    verdict.cell_term = max(changes) if changes else None
    largest = cells[-1]
    verdict.ranked_barrier = largest.barrier if largest.usable else None
    tested = [c for c in verdict.converged.values() if c is not None]
    if tested and all(tested) and verdict.ranked_barrier is not None:
        verdict.status = "converged"
    else:
        verdict.status = "unconverged"
    verdict.reason = "; ".join(reasons)
    return verdict


def _geometry(cell: Cell) -> tuple:
    """What makes two cells the same cell: their lateral period, thickness and atoms (None: never computed)."""
    if cell.n_atoms is None:
        return (id(cell),)
    return cell.lateral, cell.thickness, cell.n_atoms


def _size(cell: Cell) -> str:
    if cell.lateral is None:
        return f"the {cell.axis} cell (not computed)"
    return f"{cell.lateral:.2f} Å x {cell.thickness:.2f} Å ({cell.n_atoms} atoms)"


# ------------------------------------------------------------------ geometry


def cell_geometry(atoms: Atoms) -> tuple[float, float]:
    """(lateral, thickness) actually used: the shortest in-plane period and the outer-plane distance (Å)."""
    from seiscreen.surfaces.slabs import shortest_vector_length

    return shortest_vector_length(atoms.cell.array[:2, :2]), float(np.ptp(atoms.positions[:, 2]))


def map_positions(positions: np.ndarray, old: Atoms, old_matrix, new: Atoms, new_matrix) -> np.ndarray:
    """Adatom positions (Cartesian, Å) on the ``old`` slab placed at the same surface site of the ``new`` one.

    Both slabs are supercells (``*_matrix``: rows in the primitive in-plane cell's basis) of one termination, in
    frames that may differ by a rotation, so the in-plane fractions go through the primitive cell, shifted by the
    lattice translation that carries the old top layer onto the new one (a thicker fcc(100) slab ends in the other
    stacking layer); the height above the top atom is kept.
    """
    positions = np.atleast_2d(np.asarray(positions, float))
    m_old, m_new = np.asarray(old_matrix, float), np.asarray(new_matrix, float)
    frac_old = positions[:, :2] @ np.linalg.inv(old.cell.array[:2, :2])
    primitive = frac_old @ m_old + _registry(old, m_old, new, m_new)
    frac_new = (primitive @ np.linalg.inv(m_new)) % 1.0
    xy = frac_new @ new.cell.array[:2, :2]
    z = positions[:, 2] - old.positions[:, 2].max() + new.positions[:, 2].max()
    return np.column_stack([xy, z])


def _top_layer(atoms: Atoms, matrix: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(symbol, primitive in-plane fraction mod 1) of every top-layer atom."""
    z = atoms.positions[:, 2]
    top = np.flatnonzero(z > z.max() - LAYER_TOLERANCE)
    frac = atoms.cell.scaled_positions(atoms.positions)[top, :2] @ matrix
    return [(atoms[i].symbol, f % 1.0) for i, f in zip(top, frac, strict=True)]


def _registry(old: Atoms, m_old: np.ndarray, new: Atoms, m_new: np.ndarray, tol: float = 0.02) -> np.ndarray:
    """The primitive in-plane translation carrying the old top layer onto the new one (zero when none does)."""
    before, after = _top_layer(old, m_old), _top_layer(new, m_new)
    symbol, anchor = before[0]

    def wrapped(d: np.ndarray) -> np.ndarray:
        return (d + 0.5) % 1.0 - 0.5

    for other, frac in after:
        if other != symbol:
            continue
        shift = wrapped(frac - anchor)
        if all(any(s == t and np.all(np.abs(wrapped(f + shift - g)) < tol) for t, g in after) for s, f in before):
            return shift
    return np.zeros(2)
