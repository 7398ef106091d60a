"""The surface's effective barrier: the lowest saddle level at which hops connect a minimum to its own images.

Energies are absolute. Edges are added in order of saddle energy (Kruskal), with a union-find that remembers
each node's lattice cell relative to its component's root; an edge closing a loop with a non-zero net lattice
translation gives the component a direction it extends along for ever. One independent direction is 1D
percolation, two are 2D, three (a bulk's graph, images of three indices) are 3D. The effective barrier is that
level minus the lowest minimum (the energy span: a deep trap on the way counts in full).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class GraphEdge:
    """Node i in cell 0 joined to node j in cell ``image`` through a saddle at absolute energy ``saddle``.

    ``image`` has two indices on a surface's graph, three on a bulk's.
    """

    i: int
    j: int
    image: tuple[int, ...]
    saddle: float
    label: str = ""  # hop class id, reported in the path


@dataclass(frozen=True)
class Percolation:
    """Result for one dimensionality (1, 2 or 3)."""

    dimension: int
    level: float | None  # absolute saddle level E*; None when the hops never percolate
    barrier: float | None  # E* - E_min
    limiting_hop: str | None  # the hop whose addition made it percolate
    path_hops: tuple[str, ...] = ()  # every hop class in the percolating component at E*
    directions: tuple[tuple[int, ...], ...] = ()  # independent lattice translations reached


@dataclass(frozen=True)
class SurfaceBarrier:
    lowest_minimum: float
    one_d: Percolation
    two_d: Percolation
    lowest_hop_barrier: float | None  # smallest single forward barrier, for comparison

    @property
    def channel_only(self) -> bool:
        """Percolates along one direction only (1D): ranked by its 1D barrier, flagged."""
        return self.one_d.level is not None and self.two_d.level is None


@dataclass
class _Components:
    parent: list[int]
    offset: list[np.ndarray]  # cell of node relative to its parent
    translations: dict[int, list[np.ndarray]] = field(default_factory=dict)  # per root: independent loops
    labels: dict[int, set[str]] = field(default_factory=dict)

    def find(self, x: int) -> tuple[int, np.ndarray]:
        shift = np.zeros_like(self.offset[x])
        while self.parent[x] != x:
            shift = shift + self.offset[x]
            x = self.parent[x]
        return x, shift

    def rank(self, root: int) -> int:
        return len(self.translations.get(root, []))


def _add_translation(vectors: list[np.ndarray], t: np.ndarray) -> None:
    if not t.any() or len(vectors) == len(t):
        return
    if vectors and np.linalg.matrix_rank(np.array([*vectors, t])) <= len(vectors):
        return
    vectors.append(t)


def percolation_levels(node_energies: list[float], edges: list[GraphEdge], dimension: int) -> list[Percolation]:
    """The 1D, 2D, ... up to ``dimension``-D percolation of a periodic hop graph, lowest level first.

    Args:
        node_energies: absolute energies of the minima (nodes) of one cell.
        edges: the hops, each with ``dimension`` indices in its ``image``.
        dimension: the lattice's periodic dimensions (2 for a surface, 3 for a bulk).

    Returns:
        One :class:`Percolation` per dimensionality 1..``dimension`` (level None where the hops never reach it).
    """
    n = len(node_energies)
    e_min = float(min(node_energies))
    start = int(np.argmin(node_energies))
    comps = _Components(list(range(n)), [np.zeros(dimension, dtype=int) for _ in range(n)],
                        labels={k: set() for k in range(n)})
    found: dict[int, Percolation] = {}
    for edge in sorted(edges, key=lambda e: e.saddle):
        ri, oi = comps.find(edge.i)
        rj, oj = comps.find(edge.j)
        loop = oi + np.array(edge.image) - oj
        if ri == rj:
            _add_translation(comps.translations.setdefault(ri, []), loop)
        else:  # hang rj's tree under ri so that j sits at oi + image
            comps.parent[rj], comps.offset[rj] = ri, loop
            for t in comps.translations.pop(rj, []):
                _add_translation(comps.translations.setdefault(ri, []), t)
            comps.labels[ri] |= comps.labels.pop(rj, set())
        comps.labels[ri].add(edge.label)
        root, _ = comps.find(start)
        for dim in range(1, dimension + 1):
            if dim not in found and comps.rank(root) >= dim:
                found[dim] = Percolation(dim, edge.saddle, edge.saddle - e_min, edge.label,
                                         tuple(sorted(comps.labels[root])),
                                         tuple(tuple(int(x) for x in t) for t in comps.translations[root]))
        if len(found) == dimension:
            break
    return [found.get(d, Percolation(d, None, None, None)) for d in range(1, dimension + 1)]


def percolation_barrier(node_energies: list[float], edges: list[GraphEdge]) -> SurfaceBarrier:
    """1D and 2D effective barriers of a periodic hop graph (nodes: minima copies in one cell)."""
    one_d, two_d = percolation_levels(node_energies, edges, 2)
    # Easiest single hop in either direction: from the higher of its two ends.
    lowest_hop = min((e.saddle - max(node_energies[e.i], node_energies[e.j]) for e in edges), default=None)
    return SurfaceBarrier(float(min(node_energies)), one_d, two_d, lowest_hop)


def could_lower(node_energies: list[float], edges: list[GraphEdge], candidate: GraphEdge, level: float) -> bool:
    """Whether the candidate edge (its ``saddle`` unknown, ignored) could lower the percolation ``level``: its higher
    end lies below that level, and below it the edges do not already join its two ends in the same cell (a route
    no higher than the level is there already; joining them across a lattice translation would add a direction)."""
    if max(node_energies[candidate.i], node_energies[candidate.j]) >= level - 1e-9:
        return False  # a saddle never lies below its higher end
    comps = _Components(list(range(len(node_energies))),
                        [np.zeros(len(candidate.image), dtype=int) for _ in node_energies])
    for edge in edges:
        if edge.saddle >= level - 1e-9:
            continue
        ri, oi = comps.find(edge.i)
        rj, oj = comps.find(edge.j)
        if ri != rj:
            comps.parent[rj], comps.offset[rj] = ri, oi + np.array(edge.image) - oj
    ri, oi = comps.find(candidate.i)
    rj, oj = comps.find(candidate.j)
    return ri != rj or bool((oi + np.array(candidate.image) - oj).any())
