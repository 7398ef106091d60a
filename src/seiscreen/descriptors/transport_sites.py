"""The geometry of bulk transport: hop cutoff, defect supercell, empty voids, and the hop graph of a bulk's sites.

No calculator: pymatgen's ``MigrationGraph`` (pymatgen-analysis-diffusion) groups the hops between the migrating
species' sites by symmetry, and the percolation of ``surfaces/percolation.py`` (in 3D) finds the shortest hops that
connect the sites in three dimensions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Lattice, Structure
from scipy.spatial import Voronoi, cKDTree

from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.percolation import GraphEdge, percolation_levels

if TYPE_CHECKING:  # pymatgen-analysis-diffusion (about 2 s to import) loads where a graph is built
    from pymatgen.analysis.diffusion.neb.full_path_mapper import MigrationGraph

VOID = "X"  # dummy species that marks an empty void, for MigrationGraph and the symmetry analysis
MERGE_DISTANCE = 0.5  # Å: Voronoi vertices closer than this are one void
NEIGHBOUR_RANGE = 12.0  # Å searched for the hops that connect the sites in 3D


@dataclass
class SiteGraph:
    """The migrating sites of one unit cell, their symmetry classes and the symmetry-unique hops between them.

    Attributes:
        structure: The unit cell with the migrating sites (the host's own atoms, or empty voids as ``VOID``).
        site_indices: Index in ``structure`` of each migrating site, in MigrationGraph's node order.
        site_class: Symmetry class of each migrating site (same order).
        graph: pymatgen's MigrationGraph of the sites: its edges are every hop of the cell, labelled by class.
        cutoff: Å, the longest hop in the graph.
    """

    structure: Structure
    site_indices: list[int]
    site_class: list[int]
    graph: MigrationGraph
    cutoff: float

    def edges(self) -> list[tuple[int, int, tuple[int, int, int], int]]:
        """Every hop of the cell: (start node, end node, end's lattice image, hop class)."""
        return [(u, v, tuple(int(x) for x in d["to_jimage"]), int(d["hop_label"]))
                for u, v, d in self.graph.m_graph.graph.edges(data=True)]

    def unique_hops(self) -> dict[int, dict]:
        """One representative edge's data per hop class (MigrationGraph's ``unique_hops``)."""
        return {int(k): d for k, d in self.graph.unique_hops.items()}


def site_graph(structure: Structure, species: str, margin: float, max_hop: float | None,
               symprec: float) -> SiteGraph:
    """The hop graph of ``species``'s sites in ``structure`` (a unit cell, those sites included).

    Args:
        structure: The unit cell.
        species: The migrating species (an element, or ``VOID`` for voids added to the cell).
        margin: Å added to the shortest hop length at which the sites connect in 3D.
        max_hop: Å, a fixed cutoff instead (None: from ``margin``).
        symprec: Å, symmetry tolerance.

    Raises:
        SeiscreenError: the structure has none of ``species``, or its sites never connect in 3D within reach.
    """
    indices = [k for k, site in enumerate(structure) if site.specie.symbol == species]
    if not indices:
        raise SeiscreenError(f"the structure has no {species} site ({structure.composition.reduced_formula}): "
                             "nothing to migrate")
    cutoff = max_hop if max_hop is not None else connecting_length(structure, indices) + margin
    from pymatgen.analysis.diffusion.neb.full_path_mapper import MigrationGraph
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    graph = MigrationGraph.with_distance(structure, species, cutoff, symprec=symprec)
    symmetrized = SpacegroupAnalyzer(structure, symprec=symprec).get_symmetrized_structure()
    class_of = {i: c for c, group in enumerate(symmetrized.equivalent_indices) for i in group}
    return SiteGraph(structure, indices, [class_of[i] for i in indices], graph, float(cutoff))


def connecting_length(structure: Structure, indices: list[int]) -> float:
    """Å, the shortest hop length at which the sites ``indices`` of the cell connect in 3D (geometry only).

    Raises:
        SeiscreenError: they do not connect in 3D through hops up to ``NEIGHBOUR_RANGE``.
    """
    sites = Structure.from_sites([structure[k] for k in indices])
    centres, points, images, distances = sites.get_neighbor_list(NEIGHBOUR_RANGE)
    edges = [GraphEdge(int(i), int(j), tuple(int(x) for x in image), float(d))
             for i, j, image, d in zip(centres, points, images, distances, strict=True) if d > 1e-6]
    three_d = percolation_levels([0.0] * len(sites), edges, 3)[2]
    if three_d.level is None:
        raise SeiscreenError(f"the {structure[indices[0]].species_string} sites do not connect in 3D through hops "
                             f"up to {NEIGHBOUR_RANGE} Å: set max_hop_length")
    return float(three_d.level)


def supercell_matrix(structure: Structure, min_width: float) -> np.ndarray:
    """The smallest supercell (integer matrix on ``structure``'s cell) at least ``min_width`` across between every
    pair of opposite faces: a defect is that far from the planes of its periodic copies (and from each copy).

    The width, not the shortest lattice vector: a 2x2x2 primitive fcc cell has 9.2 Å vectors for NaI but is 7.5 Å
    across, and its vacancy barrier is 0.07 eV off the 3x3x3 one (docs/notes/2026-12-06-bulk-transport.md).
    Tried: diagonal repetitions of the cell, and of the conventional cell when the given one is primitive of a
    centred lattice; the fewest atoms win, then the widest.
    """
    bases = [np.eye(3, dtype=int)]
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    conventional = SpacegroupAnalyzer(structure).get_conventional_standard_structure().lattice.matrix
    to_conventional = conventional @ np.linalg.inv(structure.lattice.matrix)
    if np.allclose(to_conventional, np.rint(to_conventional), atol=1e-3) and np.linalg.det(to_conventional) > 0.5:
        bases.append(np.rint(to_conventional).astype(int))
    best: tuple[float, float, np.ndarray] | None = None
    for base in bases:
        widths = cell_widths(base @ structure.lattice.matrix)
        reach = [range(1, int(np.ceil(min_width / width)) + 1) for width in widths]
        for reps in itertools.product(*reach):
            matrix = np.diag(reps) @ base
            narrowest = float(cell_widths(matrix @ structure.lattice.matrix).min())
            key = (round(abs(np.linalg.det(matrix))), -narrowest)
            if narrowest >= min_width - 1e-6 and (best is None or key < best[:2]):
                best = (*key, matrix)
    assert best is not None  # the largest repetition of each axis always reaches min_width
    return best[2]


def cell_widths(cell: np.ndarray) -> np.ndarray:
    """Å, the distances between the three pairs of opposite faces of the cell (rows: lattice vectors)."""
    volume = abs(np.linalg.det(cell))
    return np.array([volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)])


def shortest_vector(lattice: Lattice) -> float:
    """Å, the shortest non-zero vector of ``lattice`` (the first of its Niggli-reduced basis)."""
    return float(min(lattice.get_niggli_reduced_lattice().abc))


def empty_voids(structure: Structure, species: str, clearance: float) -> list[np.ndarray]:
    """Fractional centres of the cell's empty voids wide enough for an interstitial of ``species``.

    A void is a vertex of the atoms' Voronoi diagram (the points farthest from their nearest atoms); it is kept
    when its distance to every atom is at least ``clearance`` times the shortest distance from ``species`` to
    another atom (its own periodic copies included). Vertices closer than ``MERGE_DISTANCE`` are one void (the
    widest kept).
    """
    own = [k for k, site in enumerate(structure) if site.specie.symbol == species]
    if not own:
        return []
    distances = structure.distance_matrix + np.diag(np.full(len(structure), np.inf))
    contact = float(min(distances[own].min(), shortest_vector(structure.lattice)))
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    cloud = (structure.frac_coords[None, :, :] + shifts[:, None, :]).reshape(-1, 3) @ structure.lattice.matrix
    vertices = Voronoi(cloud).vertices
    frac = structure.lattice.get_fractional_coords(vertices)
    inside = vertices[np.all((frac >= -1e-6) & (frac < 1 - 1e-6), axis=1)]
    gap, _ = cKDTree(cloud).query(inside)
    kept: list[tuple[float, np.ndarray]] = []
    for g, point in sorted(zip(gap, inside, strict=True), key=lambda item: -item[0]):
        if g < clearance * contact:
            break
        f = np.round(structure.lattice.get_fractional_coords(point), 6) % 1.0
        if all(structure.lattice.get_distance_and_image(f, other)[0] > MERGE_DISTANCE for _, other in kept):
            kept.append((float(g), f))
    return [f for _, f in kept]


def with_voids(structure: Structure, voids: list[np.ndarray]) -> Structure:
    """``structure`` with a ``VOID`` dummy at each void (for the voids' symmetry and hop graph)."""
    marked = structure.copy()
    for f in voids:
        marked.append(VOID, f)
    return marked
