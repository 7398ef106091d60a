"""In-plane symmetry of a slab surface: the operations that keep the top surface on top.

Sites and hops are compared in fractional in-plane coordinates (x, y); an operation is a 2x2 integer rotation
plus a translation. Operations that swap the two faces of a symmetric slab are dropped: the adatom lives on one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer


def _wrap(d: np.ndarray) -> np.ndarray:
    return d - np.rint(d)


def minimum_image(vectors: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Cartesian vectors (..., 3) reduced to their shortest periodic image in the plane (z is not periodic)."""
    frac = np.linalg.solve(cell.T, np.asarray(vectors, float).reshape(-1, 3).T).T
    frac[:, :2] -= np.rint(frac[:, :2])
    return (frac @ cell).reshape(np.shape(vectors))


@dataclass(frozen=True)
class SurfaceSymmetry:
    """The surface's in-plane operations and its 2D lattice (rows are the in-plane cell vectors, Å)."""

    rotations: np.ndarray  # (n_ops, 2, 2) integer, acting on fractional column vectors
    translations: np.ndarray  # (n_ops, 2)
    lattice: np.ndarray  # (2, 2)

    @classmethod
    def from_structure(cls, structure: Structure, symprec: float = 0.1) -> SurfaceSymmetry:
        # Oxidation states do not change the geometry but confuse nothing either; spglib sees species only.
        ops = SpacegroupAnalyzer(structure, symprec=symprec).get_symmetry_operations(cartesian=False)
        rotations, translations = [], []
        for op in ops:
            r, t = op.rotation_matrix, op.translation_vector
            keeps_face = np.isclose(r[2, 2], 1) and np.allclose(r[2, :2], 0) and np.allclose(r[:2, 2], 0)
            if keeps_face and np.isclose((t[2] + 0.5) % 1 - 0.5, 0, atol=1e-3):
                rotations.append(np.rint(r[:2, :2]).astype(int))
                translations.append(t[:2] % 1.0)
        lattice = structure.lattice.matrix[:2, :2]
        return cls(np.array(rotations), np.array(translations), np.array(lattice))

    @classmethod
    def from_dict(cls, data: dict) -> SurfaceSymmetry:
        """From the lists a slab document stores (``SlabDoc.symmetry``)."""
        return cls(np.array(data["rotations"], dtype=int), np.array(data["translations"], float),
                   np.array(data["lattice"], float))

    @classmethod
    def trivial(cls, lattice: np.ndarray) -> SurfaceSymmetry:
        """Identity only: for tests and for surfaces whose symmetry should not be used."""
        return cls(np.eye(2, dtype=int)[None], np.zeros((1, 2)), np.asarray(lattice, float)[:2, :2])

    def apply(self, frac_xy: np.ndarray) -> np.ndarray:
        """Images of points (…, 2) under every operation: shape (n_ops, …, 2), not wrapped."""
        frac_xy = np.asarray(frac_xy, float)
        return np.einsum("oij,...j->o...i", self.rotations, frac_xy) + self.translations.reshape(
            (len(self.rotations),) + (1,) * (frac_xy.ndim - 1) + (2,))

    def lateral_distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Minimum-image in-plane distance (Å) between fractional points, broadcasting."""
        d = _wrap(np.asarray(a, float) - np.asarray(b, float))
        return np.linalg.norm(d @ self.lattice, axis=-1)

    def orbit(self, frac_xy: np.ndarray, tol: float = 0.3) -> np.ndarray:
        """Distinct symmetry copies of one point inside the cell (wrapped to [0, 1)).

        Copies closer than ``tol`` Å are one point (a minimum relaxed a hair off a symmetric site), placed at
        their centre. Groups are merged until their centres are ``tol`` apart: four copies 0.3 Å around a 4-fold
        hollow are one point, although opposite copies are 0.6 Å apart.
        """
        clusters = [[image] for image in self.apply(frac_xy) % 1.0]
        while True:
            centres = [self._centre(c) for c in clusters]
            close = next(((a, b) for a, b in itertools.combinations(range(len(clusters)), 2)
                          if self.lateral_distance(centres[a], centres[b]) < tol), None)
            if close is None:
                return np.array(centres)
            a, b = close
            clusters[a] += clusters.pop(b)  # _centre takes each point's copy nearest the group's first

    @staticmethod
    def _centre(points: list[np.ndarray]) -> np.ndarray:
        """Mean of periodic points (each taken nearest the first), wrapped into the cell."""
        first = points[0]
        return (first + np.mean([_wrap(p - first) for p in points], axis=0)) % 1.0

    def equivalent_points(self, a: np.ndarray, b: np.ndarray, tol: float = 0.3) -> bool:
        """True when some operation maps point a onto b (within ``tol`` Å, modulo the lattice)."""
        return bool(np.any(self.lateral_distance(self.apply(a), b) < tol))

    def equivalent_segments(self, start_a, end_a, start_b, end_b, tol: float = 0.3) -> bool:
        """True when an operation maps segment a onto segment b, either way round.

        Start, end and midpoint must all land (the midpoint fixes which periodic image the segment joins; two
        hops between the same pair of site labels are not the same hop unless this holds).
        """
        return self.segment_operation(start_a, end_a, start_b, end_b, tol) is not None

    def segment_operation(self, start_a, end_a, start_b, end_b, tol: float = 0.3) -> tuple[int, bool] | None:
        """(operation, reversed) mapping segment a onto segment b, or None."""
        start_a, end_a = np.asarray(start_a, float), np.asarray(end_a, float)
        mid_a = (start_a + end_a) / 2
        images = self.apply(np.stack([start_a, end_a, mid_a]))  # (ops, 3, 2)
        vec_a = images[:, 1] - images[:, 0]
        for reverse, (s, e) in enumerate(((start_b, end_b), (end_b, start_b))):
            s, e = np.asarray(s, float), np.asarray(e, float)
            vec_b = e - s
            ok = (self.lateral_distance(images[:, 0], s) < tol) & (
                np.linalg.norm((vec_a - vec_b) @ self.lattice, axis=-1) < tol) & (
                self.lateral_distance(images[:, 2], (s + e) / 2) < tol)
            if ok.any():
                return int(np.argmax(ok)), bool(reverse)
        return None

    def operation_mapping(self, a: np.ndarray, b: np.ndarray, tol: float = 0.3) -> int:
        """Index of an operation that maps point a onto point b (modulo the lattice)."""
        distances = self.lateral_distance(self.apply(a), b)
        best = int(np.argmin(distances))
        if distances[best] > tol:
            raise ValueError(f"no surface symmetry operation maps {a} onto {b} (closest {distances[best]:.2f} Å)")
        return best

    def cartesian_operations(self, cell: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every operation as an isometry of Cartesian row vectors, x -> x @ rotation + translation, in the slab's
        3x3 ``cell`` (rows). Operations that are not isometries there (a c axis tilted off the normal) are left out."""
        cell = np.asarray(cell, float)
        out = []
        for rotation_2d, translation_2d in zip(self.rotations, self.translations, strict=True):
            rotation = np.eye(3)
            rotation[:2, :2] = rotation_2d
            cartesian = np.linalg.inv(cell) @ rotation.T @ cell  # fractional rows f -> f @ R.T, in Cartesian rows
            if np.allclose(cartesian @ cartesian.T, np.eye(3), atol=1e-6):
                out.append((cartesian, np.append(translation_2d, 0.0) @ cell))
        return out

    def transform_positions(self, positions: np.ndarray, cell: np.ndarray, op: int,
                            reference: np.ndarray, tol: float = 0.5) -> np.ndarray:
        """Cartesian positions moved by operation ``op`` and re-ordered onto ``reference`` (same atoms).

        Atom k of the transformed structure lands on the reference atom nearest to where the operation takes
        it, so a relaxed minimum can be copied to any symmetry-equivalent place without changing atom order
        (NEB end images must list the same atoms in the same order). Extra atoms beyond ``reference`` (the
        adatom) keep their place at the end of the list.
        """
        inverse_cell = np.linalg.inv(cell)
        frac = positions @ inverse_cell
        moved = frac.copy()
        moved[:, :2] = frac[:, :2] @ self.rotations[op].T + self.translations[op]
        ref_frac = reference @ inverse_cell
        ref_moved = ref_frac.copy()
        ref_moved[:, :2] = ref_frac[:, :2] @ self.rotations[op].T + self.translations[op]
        n_ref = len(reference)
        order = np.empty(n_ref, dtype=int)
        for k in range(n_ref):
            d = _wrap(ref_frac[:, :2] - ref_moved[k, :2]) @ self.lattice
            dist = np.hypot(np.linalg.norm(d, axis=1), (ref_frac[:, 2] - ref_moved[k, 2]) * cell[2, 2])
            order[k] = int(np.argmin(dist))
            if dist[order[k]] > tol:
                raise ValueError(f"operation {op} does not map the slab onto itself (atom {k} off by "
                                 f"{dist[order[k]]:.2f} Å)")
        if len(set(order)) != n_ref:
            raise ValueError(f"operation {op} maps two slab atoms onto one")
        out = np.empty_like(positions)
        # Keep every slab atom next to its reference site (no jump by a lattice vector).
        shift = np.rint(ref_frac[order, :2] - moved[:n_ref, :2])
        moved[:n_ref, :2] += shift
        out[order] = moved[:n_ref] @ cell
        out[n_ref:] = moved[n_ref:] @ cell
        return out
