"""Hops between neighbouring adatom minima, reduced to symmetry-unique classes with multiplicities.

Minima are given as fractional in-plane positions of the unique (symmetry-distinct) minima; every symmetry copy
inside the cell becomes a node. Two nodes are neighbours when the straight segment between them (across cell
boundaries too) is no longer than ``max_length`` and no third node lies in the closed disc of which the segment
is the diameter (the Gabriel graph): a hop that passes by another minimum is two hops, not one.

A band can still show that a Gabriel hop passes through another basin: its valley, relaxed, lands in a minimum
outside the disc (Na2Se(100) under CHGNet: a 0.58 Å hop whose valley falls into a minimum 0.74 Å off its
midpoint). Such ``splits`` (start, end, valley) are routed through the valley's minimum instead, so a refinement
never rebuilds the hop it split.
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

# Å: how far a minimum moves between runs that differ in what should not matter (the cell, a code change): a node
# this close to a Gabriel disc's edge decides nothing on its own (NaBr(100), CHGNet: 0.03 Å dropped the lowest hop).
POSITION_NOISE = 0.15
ON_THE_EDGE = 1e-3  # Å: a node this close to a disc's edge sits on it by symmetry

# A valley relaxed this close to its hop's end fell back into that end's minimum (merge_equivalent's tolerance).
MERGED = 0.3  # Å


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


def build_hop_network(minima: list[np.ndarray], symmetry: SurfaceSymmetry, max_length: float = 6.0,
                      splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = ()) -> HopNetwork:
    """Neighbouring-minimum hops of a surface, classified by symmetry.

    ``splits``: (start, end, valley) fractional points of hops whose band had a valley that relaxed to ``valley``
    (a minimum's position, the copy next to that hop's band). A hop equivalent to one is replaced by the hops
    through the valley's node."""
    if not minima:
        raise SeiscreenError("no adsorbed minimum to build hops from: check the minima search (all desorbed or sank?)")
    lattice = symmetry.lattice
    splits = [tuple(np.asarray(p, float) for p in split) for split in splits]
    nodes = _one_node_per_basin([Node(m, copy) for m, p in enumerate(minima)
                                 for copy in symmetry.orbit(np.asarray(p, float) % 1.0, tol=SAME_BASIN)], symmetry,
                                keep=_valley_minima(minima, splits, symmetry))
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
            edge = (i, j, (int(image[0]), int(image[1])))
            if _elementary(edge, fracs, lattice, all_points, max_length):
                edges.append(edge)
    if splits:
        edges = _route_through_valleys(edges, fracs, symmetry, splits, lambda e: _elementary(
            e, fracs, lattice, all_points, max_length))

    hops, classified = _classify(edges, nodes, fracs, symmetry)
    return HopNetwork(nodes, classified, hops, lattice)


def _classify(edges: list[tuple[int, int, tuple[int, int]]], nodes: list[Node], fracs: np.ndarray,
              symmetry: SurfaceSymmetry, first: int = 0) -> tuple[list[Hop], list[Edge]]:
    """Edges grouped into symmetry classes, shortest first: one representative Hop per class (indices from
    ``first``, oriented from the lower to the higher minimum index) and every edge tagged with its class."""
    lattice = symmetry.lattice
    hops: list[Hop] = []
    members: list[list[int]] = []
    classified: list[Edge] = []
    for i, j, image in sorted(edges, key=lambda e: _edge_length(e, fracs, lattice)):
        start, end = fracs[i], fracs[j] + np.array(image)
        for k, hop in enumerate(hops):
            if symmetry.equivalent_segments(start, end, hop.start, hop.end):
                members[k].append(len(classified))
                classified.append(Edge(i, j, image, first + k))
                break
        else:
            if nodes[i].minimum > nodes[j].minimum:  # orient representatives low -> high minimum index
                i, j, image = j, i, (-image[0], -image[1])
                start, end = fracs[i], fracs[j] + np.array(image)
            hops.append(Hop(first + len(hops), nodes[i].minimum, nodes[j].minimum, start, end,
                            float(np.linalg.norm((end - start) @ lattice)), 0))
            members.append([len(classified)])
            classified.append(Edge(i, j, image, first + len(hops) - 1))
    hops = [Hop(h.index, h.start_minimum, h.end_minimum, h.start, h.end, h.length, len(members[h.index - first]))
            for h in hops]
    return hops, classified


def bypass_hops(network: HopNetwork, symmetry: SurfaceSymmetry, max_length: float = 6.0,
                splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = ()) -> HopNetwork:
    """The hops the Gabriel test left out: a segment within ``max_length`` with a third node in its disc, classified
    by symmetry (indices after the network's own), except those whose straight line passes within one basin
    (``SAME_BASIN``) of a third node: those go through that minimum. Hops equivalent to a split one (``splits``, as
    for :func:`build_hop_network`) go through their valley's minimum and are left out too.

    The Gabriel test is geometry only, and a third node just at its disc's edge decides it (NaBr(100) under CHGNet:
    a 0.03 Å shift of the minimum dropped the surface's lowest hop, 3.1 Å through the Na-Na hollow, with the node
    0.02 Å outside the disc and 1.2 Å off the line). Such a hop is redundant only if the route through the third
    node is no higher, which only energies tell: the caller computes the ones that could lower a percolation
    level (:func:`seiscreen.surfaces.percolation.could_lower`). Returns a HopNetwork of the same nodes.
    """
    nodes, lattice = network.nodes, symmetry.lattice
    fracs = np.array([n.frac for n in nodes])
    present = {_canonical(e.i, e.j, e.image) for e in network.edges}
    reach = int(np.ceil(max_length / min(np.linalg.norm(lattice, axis=1)))) + 1
    images = np.array(list(itertools.product(range(-reach, reach + 1), repeat=2)))
    all_points = (fracs[None, :, :] + images[:, None, :]).reshape(-1, 2) @ lattice
    edges = []
    for i, j in itertools.combinations_with_replacement(range(len(nodes)), 2):
        for image in images:
            edge = (i, j, (int(image[0]), int(image[1])))
            if (i == j and edge[2] <= (0, 0)) or _canonical(*edge) in present:
                continue
            length = _edge_length(edge, fracs, lattice)
            if not (1e-6 < length <= max_length and _on_the_edge(edge, fracs, lattice, all_points)
                    and _clear_of_other_basins(edge, fracs, lattice, all_points)):
                continue
            start, end = fracs[i], fracs[j] + np.array(edge[2])
            if not any(symmetry.equivalent_segments(np.asarray(a, float), np.asarray(b, float), start, end)
                       for a, b, _ in splits):
                edges.append(edge)
    hops, classified = _classify(edges, nodes, fracs, symmetry, first=len(network.hops))
    return HopNetwork(nodes, classified, hops, lattice)


def _on_the_edge(edge, fracs, lattice, all_points) -> bool:
    """Blocked by the Gabriel test only through nodes within POSITION_NOISE of its disc's edge, none of them on it:
    a hop that minima as far apart as calculators and cells move them could make, or not. A node exactly on the
    edge is there by symmetry (a square's corners on its diagonal's disc), where no noise moves it: Gabriel's
    convention (the diagonal is two hops) stands."""
    i, j, image = edge
    start, end = fracs[i] @ lattice, (fracs[j] + np.array(image)) @ lattice
    radius = np.linalg.norm(end - start) / 2
    distance = np.linalg.norm(all_points - (start + end) / 2, axis=1)
    ends = (np.linalg.norm(all_points - start, axis=1) < 1e-6) | (np.linalg.norm(all_points - end, axis=1) < 1e-6)
    margin = distance[~ends] - radius
    blocking = margin[margin < GABRIEL_TOLERANCE]
    return blocking.size > 0 and not (blocking < -POSITION_NOISE).any() and not (np.abs(blocking) < ON_THE_EDGE).any()


def _clear_of_other_basins(edge, fracs, lattice, all_points) -> bool:
    """No node other than the two ends within one basin of the straight segment."""
    i, j, image = edge
    start, end = fracs[i] @ lattice, (fracs[j] + np.array(image)) @ lattice
    along = end - start
    t = np.clip((all_points - start) @ along / (along @ along), 0.0, 1.0)
    distance = np.linalg.norm(all_points - (start + t[:, None] * along), axis=1)
    ends = (np.linalg.norm(all_points - start, axis=1) < 1e-6) | (np.linalg.norm(all_points - end, axis=1) < 1e-6)
    return not (distance[~ends] < SAME_BASIN).any()


def _elementary(edge, fracs, lattice, all_points, max_length) -> bool:
    """Within reach, and no third node in the disc whose diameter it is (the Gabriel test)."""
    i, j, image = edge
    start, end = fracs[i] @ lattice, (fracs[j] + np.array(image)) @ lattice
    length = np.linalg.norm(end - start)
    if length < 1e-6 or length > max_length:
        return False
    inside = np.linalg.norm(all_points - (start + end) / 2, axis=1) < length / 2 + GABRIEL_TOLERANCE
    inside &= np.linalg.norm(all_points - start, axis=1) > 1e-6
    inside &= np.linalg.norm(all_points - end, axis=1) > 1e-6
    return not inside.any()


def _edge_length(edge, fracs, lattice) -> float:
    i, j, image = edge
    return float(np.linalg.norm((fracs[j] + np.array(image) - fracs[i]) @ lattice))


def _one_node_per_basin(nodes: list[Node], symmetry: SurfaceSymmetry, tol: float = SAME_BASIN,
                        keep: set[int] = frozenset()) -> list[Node]:
    """Nodes of different minima closer than one basin are one node: the lower minimum's (minima come ranked by
    energy). Such pairs survive merge_equivalent when their heights or energies differ a little; a hop between
    them would be a hop within one basin. Minima in ``keep`` were found in a band's valley with the band rising
    between them and its ends: a basin of their own, nodes unless within merge distance of a lower node."""
    kept: list[Node] = []
    for node in nodes:
        apart = tol if node.minimum not in keep else MERGED
        if all(symmetry.lateral_distance(node.frac, other.frac) >= apart for other in kept):
            kept.append(node)
    return kept


def _valley_minima(minima: list[np.ndarray], splits: list, symmetry: SurfaceSymmetry) -> set[int]:
    """The minima that splits' valleys relaxed into, except where a valley fell back into its hop's own end."""
    keep = set()
    for start, end, valley in splits:
        if min(symmetry.lateral_distance(valley, start), symmetry.lateral_distance(valley, end)) < MERGED:
            continue  # the end's own basin: that node is represented by the lower of the two anyway
        holder = _nearest_minimum(minima, valley, symmetry)
        if holder is not None:
            keep.add(holder)
    return keep


def _nearest_minimum(minima: list[np.ndarray], point: np.ndarray, symmetry: SurfaceSymmetry) -> int | None:
    """The minimum with a symmetry copy nearest ``point`` (the lower one on a tie), if within one basin."""
    distances = [float(symmetry.lateral_distance(symmetry.apply(np.asarray(p, float)), point).min()) for p in minima]
    best = int(np.argmin(distances))  # argmin takes the first, i.e. lowest, of equal distances
    return best if distances[best] < SAME_BASIN else None


def _route_through_valleys(edges: list[tuple[int, int, tuple[int, int]]], fracs: np.ndarray,
                           symmetry: SurfaceSymmetry, splits: list, elementary) -> list:
    """Every edge equivalent to a split hop dropped for the edges from its ends to the node holding its valley
    (that copy), unless the valley lies in one of the edge's own end basins. A route edge that is not
    ``elementary`` itself (another node in its disc) is left out: the network already reaches the valley's node
    through that node, and forcing it in would only make the next band with a valley."""
    present = {_canonical(*e) for e in edges}
    removed: set = set()
    todo = sorted(present)
    while todo:
        i, j, image = todo.pop()
        via = _valley_node(fracs[i], fracs[j] + np.array(image), fracs, symmetry, splits)
        if via is None:
            continue
        k, shift = via
        if (k == i and shift == (0, 0)) or (k == j and shift == image):
            continue  # the valley is in an end's basin: that node already has the lowest minimum there
        present.discard((i, j, image))
        removed.add((i, j, image))
        for e in (_canonical(i, k, shift), _canonical(k, j, (image[0] - shift[0], image[1] - shift[1]))):
            if e not in present and e not in removed and elementary(e):
                present.add(e)
                todo.append(e)
    return [e for e in edges if _canonical(*e) in present] + sorted(present - {_canonical(*e) for e in edges})


def _valley_node(start, end, fracs, symmetry: SurfaceSymmetry, splits: list):
    """(node, lattice shift) of the node copy where a split equivalent to segment start -> end had its valley,
    or None (no such split, or no node within one basin of the valley)."""
    for split_start, split_end, valley in splits:
        found = symmetry.segment_operation(split_start, split_end, start, end)
        if found is None:
            continue
        op, reverse = found
        rotation, translation = symmetry.rotations[op], symmetry.translations[op]
        mapped_start, mapped_valley = rotation @ split_start + translation, rotation @ valley + translation
        # The lattice translation that puts the mapped split on this very segment (not a periodic copy).
        point = mapped_valley + np.rint((end if reverse else start) - mapped_start)
        shifts = np.rint(point - fracs)
        distances = np.linalg.norm((fracs + shifts - point) @ symmetry.lattice, axis=1)
        k = int(np.argmin(distances))
        if distances[k] < SAME_BASIN:
            return k, (int(shifts[k, 0]), int(shifts[k, 1]))
    return None


def _canonical(i: int, j: int, image: tuple[int, int]) -> tuple[int, int, tuple[int, int]]:
    """One name per undirected edge, as the neighbour search writes it: i <= j, a self-image hop with image > 0."""
    image = (int(image[0]), int(image[1]))
    if i > j or (i == j and image < (0, 0)):
        return j, i, (-image[0], -image[1])
    return i, j, image
