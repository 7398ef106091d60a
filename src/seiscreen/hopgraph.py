"""A surface's hop network from its documents: the symmetry-unique hops as job inputs, the graph, bypass hops."""

from __future__ import annotations

import numpy as np

from seiscreen.neb import USABLE
from seiscreen.schemas import GraphEdgeSpec, HopDoc, HopGraph, HopSpec, MinimaDoc, SlabDoc
from seiscreen.surfaces.hops import build_hop_network, bypass_hops
from seiscreen.surfaces.percolation import GraphEdge, could_lower, percolation_barrier
from seiscreen.surfaces.symmetry import SurfaceSymmetry


def symmetry_of(slab: SlabDoc) -> SurfaceSymmetry:
    return SurfaceSymmetry.from_dict(slab.symmetry)


def hop_specs(minima: MinimaDoc, max_length: float) -> tuple[list[HopSpec], HopGraph]:
    """The symmetry-unique hops (as job inputs) and the cell's graph for percolation: the minimum behind each
    node, and every edge."""
    return _as_specs(_network(minima, max_length))


def _network(minima: MinimaDoc, max_length: float):
    return build_hop_network([np.array(m.frac_xy) for m in minima.minima], symmetry_of(minima.slab), max_length,
                             _splits(minima))


def _splits(minima: MinimaDoc) -> list[tuple]:
    return [(s.start, s.end, s.valley) for s in minima.split_hops]


def _as_specs(network) -> tuple[list[HopSpec], HopGraph]:
    specs = [HopSpec(hop_id=h.hop_id, index=h.index, start_minimum=h.start_minimum, end_minimum=h.end_minimum,
                     start=h.start.tolist(), end=h.end.tolist(), length=h.length, multiplicity=h.multiplicity)
             for h in network.hops]
    edges = [GraphEdgeSpec(i=e.i, j=e.j, image=list(e.image), hop=e.hop, i_minimum=network.nodes[e.i].minimum,
                           j_minimum=network.nodes[e.j].minimum)
             for e in network.edges]
    return specs, HopGraph(nodes=[n.minimum for n in network.nodes], edges=edges,
                           positions=[n.frac.tolist() for n in network.nodes])


def bypass_specs(minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph,
                 max_length: float) -> tuple[list[HopSpec], list[GraphEdgeSpec]]:
    """The hops the neighbour test left out that could lower the surface's percolation level as computed from
    ``hops`` (:func:`~seiscreen.surfaces.hops.bypass_hops`, :func:`~seiscreen.surfaces.percolation.could_lower`):
    their specs (indices after the hops', marked ``bypass``) and graph edges. Empty when none could."""
    network = _network(minima, max_length)
    if len(network.hops) != len(hops) or len(network.edges) != len(graph.edges):
        return [], []  # not the network these hops were computed on
    extra = bypass_hops(network, symmetry_of(minima.slab), max_length, _splits(minima))
    energies, edges = graph_edges(minima, hops, graph)
    barrier = percolation_barrier(energies, edges)
    level = barrier.two_d.level if barrier.two_d.level is not None else barrier.one_d.level
    level = np.inf if level is None else level
    wanted = {e.hop for e in extra.edges if could_lower(energies, edges, GraphEdge(e.i, e.j, e.image, 0.0), level)}
    specs, bypass_graph = _as_specs(extra)
    # Numbered after the hops, in class order, as the summary reads hop indices (the hop ids follow).
    renumber = {s.index: len(hops) + k for k, s in enumerate(s for s in specs if s.index in wanted)}
    keep = [s.model_copy(update={"index": renumber[s.index], "bypass": True,
                                 "hop_id": f"hop{renumber[s.index]}-m{s.start_minimum}-m{s.end_minimum}"})
            for s in specs if s.index in wanted]
    return keep, [e.model_copy(update={"hop": renumber[e.hop]}) for e in bypass_graph.edges if e.hop in wanted]


def graph_edges(minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph) -> tuple[list[float], list[GraphEdge]]:
    """Node energies and the edges of the usable hops (a barrierless hop joins its ends at its higher end)."""
    saddles = {h.hop_id: h.saddle_energy for h in hops if h.status in USABLE}
    by_index = {k: h.hop_id for k, h in enumerate(hops)}  # hop class index -> id (hops come in class order)
    energies = [minima.minima[m].energy for m in graph.nodes]
    edges = [GraphEdge(e.i, e.j, tuple(e.image), saddles[by_index[e.hop]], by_index[e.hop])
             for e in graph.edges if by_index.get(e.hop) in saddles]
    return energies, edges


def matching_hop(spec: HopSpec, previous: list[HopDoc], symmetry: SurfaceSymmetry,
                 statuses: tuple[str, ...] = USABLE) -> HopDoc | None:
    """The first of ``previous`` with one of ``statuses`` that is ``spec``'s hop (a symmetry copy)."""
    for doc in previous:
        if doc.status in statuses and symmetry.equivalent_segments(doc.start, doc.end, spec.start, spec.end, tol=0.2):
            return doc
    return None
