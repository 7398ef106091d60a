"""Slabs for one bulk and Miller index: every termination, polarity checked, ready for an adatom.

A slab here is pymatgen's ``SlabGenerator`` output with four guarantees added: c is perpendicular to the
surface (needed for a dipole correction), polar terminations are replaced by their Tasker-2 reconstruction or
refused, the in-plane supercell keeps the adatom's periodic images at least ``min_lateral_size`` apart in every
direction, and the bottom layers are marked fixed.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymatgen.core import Lattice
from pymatgen.core.surface import Slab, SlabGenerator
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from seiscreen.catalog import Bulk
from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.symmetry import SurfaceSymmetry

log = logging.getLogger(__name__)

Miller = tuple[int, int, int]

# Atoms whose heights differ by less than this belong to one layer (rumpled alloy layers stay together).
LAYER_TOLERANCE = 0.5  # Å


class SlabSettings(BaseModel):
    """Geometry of every slab in a campaign; stored with each result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_thickness: float = Field(6.0, gt=0, description="minimum slab thickness, Å")
    vacuum: float = Field(12.0, description="minimum vacuum between periodic slabs, Å")
    min_lateral_size: float = Field(9.0, gt=0, description="minimum distance between periodic images of the adatom, Å")
    n_fixed_layers: int | None = Field(None, ge=0, description="bottom layers held fixed; None = half, rounded "
                                       "down; the slab's layer count or more freezes it whole (a warning)")
    max_supercell_atoms: int = Field(400, gt=0, description="refuse slabs larger than this")
    # "experimental": cut at the catalog's lattice; "calculator": at the calculator's own relaxed lattice (the
    # bulk is relaxed first with the same preset, so the slab is not strained by the calculator's lattice error).
    lattice: Literal["experimental", "calculator"] = "experimental"

    @field_validator("vacuum")
    @classmethod
    def _enough_vacuum(cls, value: float) -> float:
        # Below ~8 Å the adatom interacts with the next slab's bottom; the fix is more vacuum, not a warning.
        if value < 8.0:
            raise ValueError(f"vacuum {value} Å is too small for an adatom: use at least 8 Å (10-15 Å is usual)")
        return value


@dataclass(frozen=True)
class Termination:
    """One non-polar termination of (material, miller), with its supercell and provenance."""

    material: str
    miller: Miller
    termination_id: str
    shift: float
    polar_as_cleaved: bool
    reconstruction: Literal["none", "tasker2"]
    symmetric: bool
    supercell_matrix: tuple[tuple[int, int], tuple[int, int]]
    slab: Slab
    n_layers: int
    n_fixed_layers: int
    bulk_lattice: tuple[float, float, float] = (0.0, 0.0, 0.0)  # conventional a, b, c of the bulk it was cut from
    # The other supercells of the same lattice, as short and as skew (equivalent_supercells), and the primitive
    # slab they are cut from: a store that computed this surface in one of them keeps it (with_supercell).
    alternatives: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = field(default=(), compare=False)
    primitive: Slab | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.material}({''.join(map(str, self.miller))}) {self.termination_id}"

    def metadata(self) -> dict:
        """What a stored result needs to say which surface it was computed on."""
        cell = self.slab.lattice
        return {
            "material": self.material,
            "miller": list(self.miller),
            "termination_id": self.termination_id,
            "shift": self.shift,
            "polar_as_cleaved": self.polar_as_cleaved,
            "reconstruction": self.reconstruction,
            "symmetric": self.symmetric,
            "supercell_matrix": [list(row) for row in self.supercell_matrix],
            "n_atoms": len(self.slab),
            "n_layers": self.n_layers,
            "n_fixed_layers": self.n_fixed_layers,
            "cell_lengths": [round(x, 4) for x in cell.abc],
            "cell_angles": [round(x, 3) for x in cell.angles],
            "formula": self.slab.composition.reduced_formula,
            "bulk_lattice": [round(x, 4) for x in self.bulk_lattice],
        }

    def to_atoms(self) -> Atoms:
        """ASE atoms with the bottom layers fixed and the metadata in ``atoms.info``."""
        # A copy: pymatgen strips oxidation states in place, and the slab keeps them for polarity checks.
        atoms = AseAtomsAdaptor.get_atoms(self.slab.copy().remove_oxidation_states())
        for key in ("oxi_states", "initial_magmoms"):
            atoms.arrays.pop(key, None)
        layer_index = assign_layers(atoms.positions[:, 2])
        fixed = np.flatnonzero(layer_index < self.n_fixed_layers)
        atoms.set_constraint(FixAtoms(indices=fixed))
        atoms.info.update(self.metadata())
        return atoms


def assign_layers(z: np.ndarray, tolerance: float = LAYER_TOLERANCE) -> np.ndarray:
    """Layer index (0 = bottom) of each height, splitting where consecutive heights jump by > tolerance."""
    order = np.argsort(z)
    layer = np.zeros(len(z), dtype=int)
    current = 0
    for previous, index in itertools.pairwise(order):
        if z[index] - z[previous] > tolerance:
            current += 1
        layer[index] = current
    return layer


def make_terminations(bulk: Bulk, miller: Miller, settings: SlabSettings = SlabSettings()) -> list[Termination]:
    """Every non-polar termination of ``bulk`` along ``miller``: polar ones reconstructed (Tasker 2) or refused.

    Thickness means the distance between the outer atomic planes of the final (reconstructed) slab; pymatgen
    counts whole interplanar spacings instead (6 Å on bcc Na(110) gives two planes 3 Å apart), so the request
    grows until every termination is thick enough.
    """
    miller = parse_miller(miller)
    request = settings.min_thickness
    for _ in range(20):
        candidates, refused = _nonpolar_slabs(bulk, miller, settings, request)
        if not candidates:
            raise SeiscreenError(
                f"{bulk.name}{miller}: every termination is polar and none has a Tasker-2 reconstruction "
                f"({', '.join(refused)}): choose another Miller index (e.g. (1, 0, 0))")
        thinnest = min(np.ptp(slab.cart_coords[:, 2]) for _, slab, _, _ in candidates)
        if thinnest >= settings.min_thickness - 1e-3:
            return [_finish(bulk, miller, tid, slab, polar=polar, reconstruction=recon, settings=settings)
                    for tid, slab, polar, recon in candidates]
        request += max(settings.min_thickness - thinnest, 0.5)
    raise SeiscreenError(f"{bulk.name}{miller}: could not reach min_thickness={settings.min_thickness} Å")


def _nonpolar_slabs(bulk: Bulk, miller: Miller, settings: SlabSettings, request: float):
    """(termination id, slab, polar as cleaved, reconstruction) for every usable face; ids of refused ones."""
    generator = SlabGenerator(
        bulk.structure, miller, min_slab_size=request, min_vacuum_size=settings.vacuum, center_slab=True,
        primitive=True,
        # Search for a c vector along the surface normal (the default leaves it tilted, e.g. 8° on NaF(110)).
        max_normal_search=max(abs(i) for i in miller) + 2,
    )
    candidates, refused = [], []
    for slab in sorted(generator.get_slabs(), key=lambda s: s.shift):
        base_id = f"{''.join(map(str, miller))}-s{slab.shift:.3f}"
        if not slab.is_polar():
            candidates.append((base_id, slab, False, "none"))
            # The adatom sits on top: an inequivalent bottom face is a termination of its own.
            if not faces_equivalent(slab):
                candidates.append((f"{base_id}-flip", flipped(slab), False, "none"))
            continue
        with warnings.catch_warnings():  # pymatgen warns for every slab it cannot divide evenly
            warnings.simplefilter("ignore", UserWarning)
            repaired = [s for s in slab.get_tasker2_slabs() if not s.is_polar()]
        if not repaired:
            refused.append(base_id)
        candidates.extend((f"{base_id}-t2{k}", s, True, "tasker2") for k, s in enumerate(repaired))
    return candidates, refused


def parse_miller(miller) -> Miller:
    """(1, 0, 0), [1, 0, 0], "100", "1,0,0", "1 -1 0" or "1-10" as a tuple of three integers; anything that is
    not an integer (1.5, "1.5 0 0", True) is refused, never rounded or cut."""
    given = miller
    if isinstance(miller, str):
        text = miller.strip("()[] ")
        if re.search(r"[^\d,\s+-]", text):  # a decimal point, a letter: not an integer index
            raise SeiscreenError(f"Miller index {given!r} is not three integers: write it like [1, 0, 0]")
        miller = re.findall(r"-?\d+", text) if re.search(r"[,\s]", text) else re.findall(r"-?\d", text)
    try:
        hkl = tuple(_miller_integer(i) for i in miller)
    except (TypeError, ValueError):
        raise SeiscreenError(f"Miller index {given!r} is not three integers: write it like [1, 0, 0]") from None
    if len(hkl) != 3 or not any(hkl):
        raise SeiscreenError(f"Miller index {given!r} must be three integers, not all zero: e.g. [1, 0, 0]")
    factor = math.gcd(*hkl)
    if factor > 1:  # pymatgen would cut the reduced plane and every label would still say the given one
        reduced = [i // factor for i in hkl]
        raise SeiscreenError(f"Miller index {given!r} has the common factor {factor}: write the plane as {reduced}")
    return hkl


def _miller_integer(value) -> int:
    """One entry of a Miller index: an int, a float with no fraction (1.0) or an integer string; else ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"{value!r} is not an integer")


def flipped(slab: Slab) -> Slab:
    """The slab upside down (mirror z -> -z): its bottom face on top. Energies are mirror-invariant."""
    frac = slab.frac_coords.copy()
    frac[:, 2] = 1.0 - frac[:, 2]
    return Slab(slab.lattice, slab.species, frac, slab.miller_index, slab.oriented_unit_cell, slab.shift,
                slab.scale_factor, reorient_lattice=False, site_properties=slab.site_properties)


def faces_equivalent(slab: Slab, symprec: float = 0.1) -> bool:
    """True when a symmetry operation of the slab turns it upside down (inversion, mirror or in-plane 2-fold).

    pymatgen's ``is_symmetric`` looks for inversion only; a 2-fold axis in the plane also maps face onto face.
    """
    ops = SpacegroupAnalyzer(slab, symprec=symprec).get_symmetry_operations(cartesian=False)
    return any(np.isclose(op.rotation_matrix[2, 2], -1) for op in ops)


def _finish(bulk: Bulk, miller: Miller, termination_id: str, slab: Slab, *, polar: bool,
            reconstruction: Literal["none", "tasker2"], settings: SlabSettings) -> Termination:
    slab = slab.get_orthogonal_c_slab()
    rotations = SurfaceSymmetry.from_structure(slab).rotations
    basis = slab.lattice.matrix[:2, :2]
    matrix = choose_supercell(basis, settings.min_lateral_size, rotations=rotations)
    n_cells = abs(round(np.linalg.det(np.array(matrix))))
    if len(slab) * n_cells > settings.max_supercell_atoms:
        raise SeiscreenError(
            f"{bulk.name}{miller} {termination_id}: the slab would have {len(slab) * n_cells} atoms "
            f"(> max_supercell_atoms={settings.max_supercell_atoms}): lower min_lateral_size or min_thickness, "
            "or raise max_supercell_atoms")
    supercell = _supercell(slab, matrix)
    z = supercell.cart_coords[:, 2]
    n_layers = int(assign_layers(z).max()) + 1
    n_fixed = settings.n_fixed_layers if settings.n_fixed_layers is not None else n_layers // 2
    if n_fixed >= n_layers:  # a frozen slab (ASE's NEB tutorial): a legitimate reference, only the adatom moves
        log.warning("%s%s %s: n_fixed_layers=%d fixes every layer of the %d-layer slab: only the adatom relaxes",
                    bulk.name, miller, termination_id, n_fixed, n_layers)
        n_fixed = n_layers
    return Termination(
        material=bulk.name, miller=miller, termination_id=termination_id, shift=round(float(slab.shift), 6),
        polar_as_cleaved=polar, reconstruction=reconstruction, symmetric=faces_equivalent(slab),
        supercell_matrix=matrix, slab=supercell, n_layers=n_layers, n_fixed_layers=n_fixed,
        bulk_lattice=tuple(float(x) for x in bulk.structure.lattice.abc),
        alternatives=tuple(equivalent_supercells(basis, matrix)[1:]), primitive=slab,
    )


def _supercell(primitive: Slab, matrix) -> Slab:
    """The in-plane supercell ``matrix`` of ``primitive`` in the standard orientation (a along x, c along z), so
    that positions read the same in every tool."""
    supercell = primitive.copy()
    supercell.make_supercell([[*matrix[0], 0], [*matrix[1], 0], [0, 0, 1]])
    supercell.lattice = Lattice.from_parameters(*supercell.lattice.abc, *supercell.lattice.angles)
    return supercell


def with_supercell(termination: Termination, matrix) -> Termination:
    """The termination in another of its equivalent supercells (one of ``termination.alternatives``)."""
    matrix = tuple(tuple(int(x) for x in row) for row in matrix)
    if matrix == termination.supercell_matrix:
        return termination
    if matrix not in termination.alternatives or termination.primitive is None:
        raise ValueError(f"{matrix} is not an equivalent supercell of {termination.label}")
    others = tuple(m for m in (termination.supercell_matrix, *termination.alternatives) if m != matrix)
    return replace(termination, supercell_matrix=matrix, slab=_supercell(termination.primitive, matrix),
                   alternatives=others)


def shortest_vector_length(basis: np.ndarray) -> float:
    """Shortest nonzero vector of the 2D lattice spanned by the rows of ``basis`` (after Gauss reduction)."""
    u, v = reduce_2d(basis)
    return float(min(np.linalg.norm(u), np.linalg.norm(v)))


def reduce_2d(basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange-Gauss reduction: the two shortest independent vectors of a 2D lattice."""
    u, v = np.array(basis[0], float), np.array(basis[1], float)
    if np.dot(u, u) > np.dot(v, v):
        u, v = v, u
    while True:
        mu = round(np.dot(u, v) / np.dot(u, u))
        v = v - mu * u
        if np.dot(v, v) >= np.dot(u, u):
            return u, v
        u, v = v, u


def keeps_point_symmetry(matrix: np.ndarray, rotations: np.ndarray) -> bool:
    """Whether the supercell ``matrix`` (rows: its vectors in fractional coordinates of the cell) is mapped onto
    itself by every rotation (integer 2x2 on fractional column vectors): ``M^-T R M^T`` integer for each."""
    mt = np.rint(np.asarray(matrix)).astype(int).T
    det = int(round(np.linalg.det(mt)))
    adjugate = np.array([[mt[1, 1], -mt[0, 1]], [-mt[1, 0], mt[0, 0]]])  # det * inverse, in integers
    return all(not ((adjugate @ np.asarray(r, int) @ mt) % det).any() for r in rotations)


def choose_supercell(basis: np.ndarray, min_size: float, max_index: int = 6,
                     rotations: np.ndarray | None = None) -> tuple[tuple[int, int], tuple[int, int]]:
    """Smallest in-plane supercell whose shortest lattice vector is >= ``min_size``, symmetric and isotropic.

    ``basis`` holds the in-plane cell vectors as rows (2x2). ``rotations`` (the surface's in-plane point
    operations on fractional column vectors, :class:`~seiscreen.surfaces.symmetry.SurfaceSymmetry`): a supercell
    whose lattice every one of them maps onto itself is preferred to any that breaks one, so the adatom's periodic
    images keep the surface's symmetry and symmetry-equivalent hops stay equivalent. Then, among supercells of
    the fewest primitive cells, the one whose two reduced vectors are closest in length and closest to
    perpendicular wins, returned in reduced form (an oblique input cell, NaF(100) at 135°, gives a square one).
    """
    basis = np.asarray(basis, float)
    rotations = np.eye(2, dtype=int)[None] if rotations is None else np.asarray(rotations)
    best: tuple | None = None
    rng = range(-max_index, max_index + 1)
    for m11, m12, m21, m22 in itertools.product(rng, repeat=4):
        det = m11 * m22 - m12 * m21
        if det <= 0 or (best is not None and not best[0] and det > best[1]):  # a smaller symmetric one is known
            continue
        vectors = np.array([[m11, m12], [m21, m22]]) @ basis
        u, v = reduce_2d(vectors)
        shortest = min(np.linalg.norm(u), np.linalg.norm(v))
        if shortest < min_size - 1e-6:
            continue
        broken = not keeps_point_symmetry(np.array([[m11, m12], [m21, m22]]), rotations)
        if best is not None and (broken, det) > best[:2]:
            continue
        anisotropy = abs(np.linalg.norm(v) / np.linalg.norm(u) - 1)
        skew = abs(np.dot(u, v)) / (np.linalg.norm(u) * np.linalg.norm(v))
        reduced = np.rint(np.array([u, v]) @ np.linalg.inv(basis)).astype(int)
        if np.linalg.det(reduced) < 0:  # keep a right-handed cell
            reduced[1] *= -1
        key = (broken, det, round(anisotropy, 6), round(skew, 6))
        if best is None or key < best[:4]:
            best = (*key, reduced)
    if best is None:
        raise SeiscreenError(f"no supercell up to {max_index}x{max_index} reaches min_lateral_size={min_size} Å: "
                             "lower min_lateral_size")
    return equivalent_supercells(basis, best[4])[0]


_UNIMODULAR = [t for t in (np.array(e).reshape(2, 2) for e in itertools.product((-1, 0, 1), repeat=4))
               if round(np.linalg.det(t)) == 1]


def equivalent_supercells(basis: np.ndarray, matrix, tol: float = 1e-6) -> list[tuple[tuple[int, int], ...]]:
    """Every right-handed basis of the supercell lattice ``matrix @ basis`` that is as short and as skew as the
    reduced one, canonical first: γ ≥ 90°, then the smallest absolute entries, then the smallest entries.

    On a square or hexagonal net several reduced bases are equally good, and which one a reduction returns falls to
    the last bits of ``basis`` (docs/notes/2026-12-07-supercell-noise.md). Lengths and angles are compared within
    ``tol`` (relative) and the order is taken on integers, so noise cannot change the first one.
    """
    basis = np.asarray(basis, float)
    u, v = reduce_2d(np.asarray(matrix, float) @ basis)
    reduced = np.rint(np.array([u, v]) @ np.linalg.inv(basis)).astype(int)
    if np.linalg.det(reduced) < 0:
        reduced[1] *= -1
    short, long_ = sorted((np.linalg.norm(u), np.linalg.norm(v)))
    skew = abs(u @ v) / (short * long_)
    found = {}
    for t in _UNIMODULAR:
        m = t @ reduced
        a, b = m @ basis
        la, lb = np.linalg.norm(a), np.linalg.norm(b)
        if abs(la - short) < tol * short and abs(lb - long_) < tol * long_ and abs(abs(a @ b) / (la * lb) - skew) < tol:
            acute = a @ b / (la * lb) > tol
            found[tuple(map(tuple, m.tolist()))] = (acute, tuple(np.abs(m).ravel()), tuple(m.ravel()))
    return sorted(found, key=found.get)
