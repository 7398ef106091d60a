"""Hops between neighbouring adatom minima, reduced to symmetry-unique classes with multiplicities.

Minima are given as fractional in-plane positions of the unique (symmetry-distinct) minima; every symmetry copy
inside the cell becomes a node. Two nodes are neighbours when the straight segment between them (across cell
boundaries too) is no longer than ``max_length`` and no third node lies in the closed disc of which the segment
is the diameter (the Gabriel graph): a hop that passes by another minimum is two hops, not one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.symmetry import SurfaceSymmetry

# Symmetry copies of one minimum closer than this are one basin: a minimum relaxed a little off a symmetric site
# (the flat hollow of NaBr(100) under CHGNet stops ~0.2 Å off centre) is not four minima with hops between them.
SAME_BASIN = 0.5  # Å

# A third minimum this close to the disc's boundary still blocks the hop (squares and rectangles put their
# corners exactly on the disc of the diagonal; the diagonal is then not an elementary hop).
GABRIEL_TOLERANCE = 0.05  # Å


@dataclass(frozen=True)
class Node:
    """One copy of a minimum inside the surface cell."""

    minimum: int  # index into the list of unique minima
    frac: np.ndarray  # (2,) in [0, 1)


@dataclass(frozen=True)
class Edge:
    """One hop in the cell: node ``i`` to node ``j`` shifted by ``image`` lattice vectors."""

    i: int
    j: int
    image: tuple[int, int]
    hop: int  # index of its symmetry class in HopNetwork.hops


@dataclass(frozen=True)
class Hop:
    """A symmetry-unique hop: a representative segment and how many such hops each surface cell holds."""

    index: int
    start_minimum: int
    end_minimum: int
    start: np.ndarray  # (2,) fractional, inside the cell
    end: np.ndarray  # (2,) fractional, may lie in a neighbouring cell
    length: float  # Å
    multiplicity: int

    @property
    def hop_id(self) -> str:
        return f"hop{self.index}-m{self.start_minimum}-m{self.end_minimum}"


@dataclass(frozen=True)
class HopNetwork:
    """Nodes, every edge of one surface cell, and the symmetry-unique hops they fall into."""

    nodes: list[Node]
    edges: list[Edge]
    hops: list[Hop]
    lattice: np.ndarray = field(repr=False)  # (2, 2) rows: in-plane cell vectors, Å


def build_hop_network(minima: list[np.ndarray], symmetry: SurfaceSymmetry, max_length: float = 6.0) -> HopNetwork:
    """Neighbouring-minimum hops of a surface, classified by symmetry."""
    if not minima:
        raise SeiscreenError("no adsorbed minimum to build hops from: check the minima search (all desorbed or sank?)")
    lattice = symmetry.lattice
    nodes = _one_node_per_basin([Node(m, copy) for m, p in enumerate(minima)
                                 for copy in symmetry.orbit(np.asarray(p, float) % 1.0, tol=SAME_BASIN)], symmetry)
    fracs = np.array([n.frac for n in nodes])
    reach = int(np.ceil(max_length / min(np.linalg.norm(lattice, axis=1)))) + 1
    images = np.array(list(itertools.product(range(-reach, reach + 1), repeat=2)))
    # Every node in every nearby image, for the Gabriel test.
    all_points = (fracs[None, :, :] + images[:, None, :]).reshape(-1, 2) @ lattice

    edges: list[tuple[int, int, tuple[int, int]]] = []
    for i, j in itertools.combinations_with_replacement(range(len(nodes)), 2):
        for image in images:
            if i == j and tuple(image) <= (0, 0):  # a self-image hop once, not twice (n and -n)
                continue
            start, end = fracs[i] @ lattice, (fracs[j] + image) @ lattice
            length = np.linalg.norm(end - start)
            if length < 1e-6 or length > max_length:
                continue
            midpoint = (start + end) / 2
            inside = np.linalg.norm(all_points - midpoint, axis=1) < length / 2 + GABRIEL_TOLERANCE
            inside &= np.linalg.norm(all_points - start, axis=1) > 1e-6
            inside &= np.linalg.norm(all_points - end, axis=1) > 1e-6
            if not inside.any():
                edges.append((i, j, (int(image[0]), int(image[1]))))

    hops: list[Hop] = []
    members: list[list[int]] = []
    classified: list[Edge] = []
    for i, j, image in sorted(edges, key=lambda e: _edge_length(e, fracs, lattice)):
        start, end = fracs[i], fracs[j] + np.array(image)
        for k, hop in enumerate(hops):
            if symmetry.equivalent_segments(start, end, hop.start, hop.end):
                members[k].append(len(classified))
                classified.append(Edge(i, j, image, k))
                break
        else:
            if nodes[i].minimum > nodes[j].minimum:  # orient representatives low -> high minimum index
                i, j, image = j, i, (-image[0], -image[1])
                start, end = fracs[i], fracs[j] + np.array(image)
            hops.append(Hop(len(hops), nodes[i].minimum, nodes[j].minimum, start, end,
                            float(np.linalg.norm((end - start) @ lattice)), 0))
            members.append([len(classified)])
            classified.append(Edge(i, j, image, len(hops) - 1))
    hops = [Hop(h.index, h.start_minimum, h.end_minimum, h.start, h.end, h.length, len(members[h.index]))
            for h in hops]
    return HopNetwork(nodes, classified, hops, lattice)


def _edge_length(edge, fracs, lattice) -> float:
    i, j, image = edge
    return float(np.linalg.norm((fracs[j] + np.array(image) - fracs[i]) @ lattice))


def _one_node_per_basin(nodes: list[Node], symmetry: SurfaceSymmetry, tol: float = SAME_BASIN) -> list[Node]:
    """Nodes of different minima closer than one basin are one node: the lower minimum's (minima come ranked by
    energy). Such pairs survive merge_equivalent when their heights or energies differ a little; a hop between
    them would be a hop within one basin."""
    kept: list[Node] = []
    for node in nodes:
        if all(symmetry.lateral_distance(node.frac, other.frac) >= tol for other in kept):
            kept.append(node)
    return kept
