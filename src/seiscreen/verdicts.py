"""Surface verdicts from stored documents, with no jobflow: the percolation barrier, why a surface is unranked,
valleys below every minimum, hops judged again by later gates."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from seiscreen.hopgraph import graph_edges
from seiscreen.minima import Minimum
from seiscreen.neb import USABLE, band_slip, follows_hop, slip_reason
from seiscreen.schemas import (HopDoc, HopGraph, HopSummary, MinimaDoc, MinimumDoc, Provenance, SplitHop, SurfaceDoc,
                               atoms_from_dict)
from seiscreen.surfaces.percolation import GraphEdge, percolation_barrier
from seiscreen.surfaces.sites import Outcome
from seiscreen.surfaces.symmetry import SurfaceSymmetry

log = logging.getLogger(__name__)


def with_later_gates(doc: HopDoc) -> HopDoc:
    """A stored hop judged before the follows-hop gate existed, judged by it now: the gates read only the band,
    so no force call is needed, and a band that went round the cell is never reused as this hop's barrier."""
    if "follows_hop" in doc.gates or not doc.band:
        return doc
    slip = band_slip([atoms_from_dict(d) for d in doc.band])
    gates = {**doc.gates, "follows_hop": follows_hop(slip)}
    if gates["follows_hop"] or doc.status == "failed":
        return doc.model_copy(update={"gates": gates})
    return doc.model_copy(update={"gates": gates, "status": "failed", "reason": slip_reason(slip)})


def same_network(before: MinimaDoc, minima: list[MinimumDoc], splits: list[SplitHop]) -> bool:
    """A refinement that leaves the hop network as it was: the same minima at the same places (energies may be
    lower) and no split not recorded before. Its hops would be the same bands again."""
    def close(a, b) -> bool:
        return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), atol=1e-4))

    if len(minima) != len(before.minima) or not all(close(m.frac_xy, o.frac_xy) for m, o in zip(
            minima, before.minima, strict=True)):
        return False
    known = before.split_hops
    return all(any(all(close(getattr(s, k), getattr(o, k)) for k in ("start", "end", "valley")) for o in known)
               for s in splits)


# eV: a valley relaxed to within this of a rejected state's energy is that state (NaBi(111): 1-2 meV apart).
SAME_REJECTED_STATE = 0.005


# eV: a relaxed valley this far below the lowest minimum is a lower state the minima search missed.
BELOW_LOWEST = 1e-3


def rejected_state_at(minima: MinimaDoc, energy: float) -> MinimumDoc | None:
    """A state the minima gates rejected (slid, sank, disturbed the surface...) at this energy, if any."""
    return next((m for m in minima.rejected if abs(m.energy - energy) < SAME_REJECTED_STATE), None)


def deeper_valleys(minima: MinimaDoc, hops: list[HopDoc]) -> list[HopDoc]:
    """Hops through valleys (``HopDoc.intermediate``) whose band passes a relaxed valley more than BELOW_LOWEST eV
    below the lowest minimum and not already judged (a rejected state at its energy), each as a copy whose
    ``interior_minimum_image`` is its deepest such valley: where a refinement starts (RefineMinimaMaker). The
    valleys are the joints of the hop's bands, every n_images + 1 images."""
    if not minima.minima:
        return []
    lowest, out = minima.minima[0].energy, []
    for hop in hops:
        if not (hop.intermediate and hop.band and hop.image_energies and hop.provenance.neb_protocol):
            continue
        step = hop.provenance.neb_protocol["n_images"] + 1
        joints = range(step, len(hop.band) - 1, step)
        energies = {k: hop.start_energy + hop.image_energies[k] for k in joints}
        below = [k for k in joints if energies[k] < lowest - BELOW_LOWEST and rejected_state_at(minima, energies[k])
                 is None]
        if below:
            out.append(hop.model_copy(update={"interior_minimum_image": min(below, key=energies.get)}))
    return out


def _valley_next_to_hop(hop: HopDoc, frac_xy, symmetry: SurfaceSymmetry) -> np.ndarray:
    """The symmetry copy of a minimum (fractional) next to the band's valley image, in the frame of the hop's
    start and end."""
    first, valley = (atoms_from_dict(hop.band[k]) for k in (0, hop.interior_minimum_image))
    along = (valley.cell.scaled_positions(valley.positions[-1:]) - first.cell.scaled_positions(first.positions[-1:]))
    image = np.array(hop.start) + along[0, :2]
    copies = symmetry.apply(np.asarray(frac_xy, float))
    copies = copies + np.rint(image - copies)
    return copies[int(np.argmin(symmetry.lateral_distance(copies, image)))]


def _minimum_from_doc(doc: MinimumDoc) -> Minimum:
    return Minimum(site=doc.site, started_from=list(doc.started_from), outcome=Outcome(doc.outcome),
                   verified=doc.verified, energy=doc.energy, atoms=atoms_from_dict(doc.structure),
                   details=dict(doc.details), force_calls=doc.force_calls, adsorption_energy=doc.adsorption_energy,
                   index=doc.index)


def _no_minima_reason(rejected: list[MinimumDoc]) -> str:
    """What became of every start: "no verified adsorbed minimum: 4 start(s) rejected (3 desorbed, 1 adsorbed
    but not verified; see rejected minima)"."""
    graph_nodes = (Outcome.ADSORBED, Outcome.INCORPORATED)  # what a verified minimum would have been
    outcomes = Counter(f"{m.outcome} but not verified" if m.outcome in graph_nodes and not m.verified else m.outcome
                       for m in rejected)
    told = ", ".join(f"{n} {outcome}" for outcome, n in outcomes.most_common())
    return (f"no verified adsorbed minimum: {len(rejected)} start(s) rejected ({told}; see rejected minima)"
            if rejected else "no verified adsorbed minimum")


def summarise_surface(minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, provenance: Provenance) -> SurfaceDoc:
    """Percolation barrier from the usable hops; a failed hop that could open a lower path blocks the ranking."""
    common = _common_fields(minima, hops, provenance)
    empty = dict(barrier_2d=None, barrier_1d=None, lowest_hop_barrier=None, channel_only=False, limiting_hop_1d=None,
                 limiting_hop_2d=None, path_hops_1d=[], path_hops_2d=[], directions_1d=[], directions_2d=[])
    if minima.error:
        return SurfaceDoc(status="failed", reason=minima.error, lowest_site=None, adsorption_energy=None, **common,
                          **empty)
    if not minima.minima:
        return SurfaceDoc(status="no_minima", reason=_no_minima_reason(minima.rejected),
                          lowest_site=None, adsorption_energy=None, **common, **empty)
    energies, edges = graph_edges(minima, hops, graph)
    barrier = percolation_barrier(energies, edges)
    status, reason, bounds = _verdict(minima, hops, graph, energies, edges, barrier)
    bypass = graph.bypass_ids  # extra hops beyond the neighbour network: used when usable, else left out
    unresolved = [h.hop_id for h in hops if h.status not in USABLE and h.hop_id in bypass]
    if unresolved:
        reason = "; ".join(filter(None, [reason, f"bypass hop(s) {', '.join(unresolved)} not usable, left out"]))
    lowest = minima.minima[0]
    return SurfaceDoc(status=status, reason=reason, lowest_site=lowest.site, adsorption_energy=lowest.adsorption_energy,
                      barrier_bounds=bounds, **common, **_barrier_fields(barrier, hops))


def _common_fields(minima: MinimaDoc, hops: list[HopDoc], provenance: Provenance) -> dict:
    """The surface document's fields whatever its verdict: key, minima, hop summaries, force calls, provenance."""
    return dict(key=minima.key, n_minima=len(minima.minima),
                hops=[HopSummary(**h.model_dump(include=set(HopSummary.model_fields))) for h in hops],
                minima=[{"index": m.index, "site": m.site, "energy": m.energy, "outcome": m.outcome,
                         "adsorption_energy": m.adsorption_energy, "started_from": m.started_from,
                         "position": m.position, "frac_xy": m.frac_xy} for m in minima.minima],
                slab=minima.slab,
                force_calls=minima.force_calls + sum(h.force_calls + sum(a["force_calls"] for a in h.alternatives)
                                                     for h in hops), provenance=provenance)


def _barrier_fields(barrier, hops: list[HopDoc]) -> dict:
    """The percolation levels (1D and 2D), their limiting hops and paths, and the easiest accepted hop."""
    # The easiest elementary hop with a resolved barrier, in either direction (barrierless ones have none).
    lowest_hop = min((min(h.forward_barrier, h.reverse_barrier) for h in hops if h.status == "accepted"),
                     default=None)
    return dict(barrier_2d=barrier.two_d.barrier, barrier_1d=barrier.one_d.barrier,
                lowest_hop_barrier=lowest_hop, channel_only=barrier.channel_only,
                limiting_hop_1d=barrier.one_d.limiting_hop, limiting_hop_2d=barrier.two_d.limiting_hop,
                path_hops_1d=list(barrier.one_d.path_hops), path_hops_2d=list(barrier.two_d.path_hops),
                directions_1d=[list(t) for t in barrier.one_d.directions],
                directions_2d=[list(t) for t in barrier.two_d.directions])


def _verdict(minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, energies, edges, barrier):
    """(status, reason, barrier bounds or None) of a surface with minima."""
    bypass = graph.bypass_ids
    failed = [h for h in hops if h.status not in USABLE and h.hop_id not in bypass]
    # A saddle never lies below the higher of its two ends, so a failed hop whose higher end is at or above
    # the percolation level cannot open a lower path: it does not block the ranking. Any other failed hop does.
    level = barrier.two_d.level
    blocking = [h for h in failed if level is None or _higher_end(minima, h) < level - 1e-6]
    by_index = [h.hop_id for h in hops]  # hop class index -> id (hops come in class order)
    easiest = _with_failed_barrierless(energies, edges, graph, by_index, blocking, minima) if blocking else None
    deeper = _deeper_state(minima, hops)
    if deeper:
        return "incomplete", deeper, None
    if barrier.one_d.level is None and not failed:
        return "no_path", "the accepted hops do not connect a minimum to its periodic images", None
    if blocking and barrier.two_d.level is not None and _same_barriers(easiest, barrier):
        # Even with no barrier at all those hops leave both percolation levels where they are.
        return "ranked", (f"{len(blocking)} failed hop(s) below the percolation level cannot lower it even with no "
                          "barrier: " + ", ".join(f"{h.hop_id} ({h.status})" for h in blocking)), None
    if blocking:
        # Ranked by the 1D barrier at best when only channels remain: bound that one.
        bounds = ([easiest.one_d.barrier, barrier.one_d.barrier] if easiest.channel_only
                  else [easiest.two_d.barrier, barrier.two_d.barrier])
        return "incomplete", "; ".join(f"{h.hop_id}: {h.status} ({h.reason})" for h in blocking), bounds
    reason = (f"{len(failed)} failed hop(s) end above the percolation level and cannot lower it: "
              + ", ".join(h.hop_id for h in failed)) if failed else ""
    return "ranked", reason, None


def _deeper_state(minima: MinimaDoc, hops: list[HopDoc]) -> str | None:
    """Why the surface is incomplete when a valley relaxed (hops through valleys) below the lowest minimum: the
    search missed the surface's lowest state, from which its barrier would have to be measured. None otherwise."""
    lowest = minima.minima[0]
    deeper = [(h.hop_id, h.start_energy + state["energy"]) for h in hops if h.intermediate
              for state in h.intermediate.get("states", [])
              if h.start_energy + state["energy"] < lowest.energy - BELOW_LOWEST]
    if not deeper:
        return None
    hop_id, energy = min(deeper, key=lambda d: d[1])
    rejected = rejected_state_at(minima, energy)
    moved = (rejected.details or {}).get("max_surface_displacement") if rejected else None
    why = (f"a state the minima gates rejected ({rejected.outcome}"
           + (f", a slab atom moved {moved:.2f} Å" if moved is not None else "")
           + "): the surface rearranges under this calculator" if rejected else
           "the minima search missed a lower state")
    return (f"{hop_id}: a valley relaxed {lowest.energy - energy:.3f} eV below the lowest minimum "
            f"({lowest.site}), {why}; the barrier is not measured from it")


def _higher_end(minima: MinimaDoc, hop: HopDoc) -> float:
    """The energy of the hop's higher end minimum: no saddle of the hop lies below it."""
    return max(minima.minima[hop.start_minimum].energy, minima.minima[hop.end_minimum].energy)


def _with_failed_barrierless(energies, edges, graph: HopGraph, by_index, failed, minima):
    """The percolation with every failed hop as easy as a hop can be: its saddle at its higher end (a saddle never
    lies below it). Its barriers are lower bounds; those without the failed hops are upper bounds."""
    lowest = {h.hop_id: _higher_end(minima, h) for h in failed}
    extra = [GraphEdge(e.i, e.j, tuple(e.image), lowest[by_index[e.hop]], by_index[e.hop])
             for e in graph.edges if by_index[e.hop] in lowest]
    return percolation_barrier(energies, edges + extra)


def _same_barriers(a, b) -> bool:
    def same(x, y) -> bool:
        return (x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-9)

    return same(a.one_d.barrier, b.one_d.barrier) and same(a.two_d.barrier, b.two_d.barrier)
