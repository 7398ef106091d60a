"""Kinetics from a surface's documents, with no jobflow: the saddle checks applied to its hops as a gate, and the
adatom's tracer diffusion coefficient D(T) on the verified hop network.

The Hessians themselves are computed by :mod:`seiscreen.vibrations` (an engine, in the job
``workflow.saddles.SaddleCheckMaker``); the diffusion tensor by :mod:`seiscreen.surfaces.diffusion` (geometry)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from seiscreen.hopgraph import graph_edges, symmetry_of
from seiscreen.kinetic_schemas import DiffusionSummary
from seiscreen.schemas import HopDoc, HopGraph, MinimaDoc, SaddleCheckDoc, SurfaceDoc
from seiscreen.surfaces import diffusion
from seiscreen.vibrations import DEFAULT_SHELL_RADIUS

# Codes whose force calls are cheap enough for a Hessian per hop by default (three per hop: ~6 x 3n calls each).
CHEAP_CODES = ("emt", "chgnet", "sevennet")
GATE = "first_order_saddle"


class KineticsSettings(BaseModel):
    """The campaign's ``kinetics:`` section: saddle checks by finite-difference Hessian, and D(T)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    saddle_check: bool | None = Field(None, description="check every accepted hop's climbing image and ends by "
                                      "their modes; None: on for ML and EMT presets, off for DFT (a Hessian is "
                                      "~6 x 3n force calls)")
    shell_radius: float = Field(DEFAULT_SHELL_RADIUS, ge=0, description="Å around the moving atom: the free "
                                "atoms whose Hessian is computed")
    delta: float = Field(0.01, gt=0, description="Å, the finite-difference step")
    second_band: bool = Field(False, description="with saddle checks: compute each ranked surface's limiting hop "
                              "again from a band pushed across the hop, unmirrored, and keep the lower verified "
                              "saddle (one band and one check more per surface)")
    temperatures: list[float] = Field(list(diffusion.DEFAULT_TEMPERATURES), min_length=2,
                                      description="K, where D(T) is computed and fitted (Arrhenius)")

    def checks_saddles(self, code: str) -> bool:
        """Whether a campaign at a preset of this ``code`` checks its saddles."""
        return self.saddle_check if self.saddle_check is not None else code in CHEAP_CODES

    def identity(self) -> dict:
        """What changes a saddle check's numbers (the temperatures only change the surface's D(T))."""
        return {"shell_radius": self.shell_radius, "delta": self.delta, "second_band": self.second_band}


def apply_checks(hops: list[HopDoc], checks: list[SaddleCheckDoc]) -> list[HopDoc]:
    """Each checked hop with the gate ``first_order_saddle``: one that fails it is failed, with the check's reason,
    and is never ranked; hops without a check are returned as they are."""
    by_hash = {c.hop_content_hash: c for c in checks}
    out = []
    for hop in hops:
        check = by_hash.get(hop.content_hash)
        if check is None or hop.status != "accepted":
            out.append(hop)
            continue
        gates = {**hop.gates, GATE: check.first_order_saddle}
        update = {"gates": gates}
        if not check.first_order_saddle:
            update |= {"status": "failed", "reason": failed_reason(check)}
        out.append(hop.model_copy(update=update))
    return out


def breakable(hops: list[HopDoc], checks: list[SaddleCheckDoc]) -> dict[str, SaddleCheckDoc]:
    """hop id -> its failed check, for the hops to compute again off their climbing image's sideways mode: a plain
    band (not through valleys) whose climbing image leads off the band, not itself such a second band."""
    by_hash = {c.hop_content_hash: c for c in checks}
    out = {}
    for hop in hops:
        check = by_hash.get(hop.content_hash)
        if (check is not None and hop.status == "accepted" and not check.first_order_saddle and check.sideways
                and hop.intermediate is None and not any(a.get("saddle_check") == "failed" for a in hop.alternatives)):
            out[hop.hop_id] = check
    return out


def second_band_due(doc: SurfaceDoc, hops: list[HopDoc], checks: list[SaddleCheckDoc]) -> HopDoc | None:
    """The ranked surface's limiting hop when it still needs its second band: checked and passed, a plain band, and
    not yet compared with a second one (``alternatives``); else None."""
    if doc.status != "ranked":
        return None
    limiting = doc.limiting_hop_1d if doc.channel_only else doc.limiting_hop_2d
    passed = {c.hop_content_hash for c in checks if c.first_order_saddle}
    hop = next((h for h in hops if h.hop_id == limiting and h.status == "accepted"), None)
    if hop is None or hop.content_hash not in passed or hop.intermediate is not None:
        return None
    return None if any(a.get("second_band") for a in hop.alternatives) else hop


def alternative_entry(hop: HopDoc, **marks) -> dict:
    """How a band is listed among the ``alternatives`` of the band kept for its hop."""
    return {"job_uuid": hop.job_uuid, "warm_start": hop.warm_start, "status": hop.status, "reason": hop.reason,
            "forward_barrier": hop.forward_barrier, "force_calls": hop.force_calls,
            "content_hash": hop.content_hash, **marks}


def failed_alternative(hop: HopDoc, check: SaddleCheckDoc) -> dict:
    """How a band that failed its saddle check is listed among the alternatives of the band that replaced it."""
    return {**alternative_entry(hop, saddle_check="failed"), "status": "failed", "reason": failed_reason(check)}


def failed_reason(check: SaddleCheckDoc) -> str:
    """One line: which state failed its mode check, and why."""
    parts = [f"{name}: {modes.reason}" for name, modes in (("climbing image", check.saddle), ("start", check.start),
                                                           ("end", check.end)) if not modes.passed]
    return "not a first-order saddle between two minima (" + "; ".join(parts) + ")"


def with_kinetics(doc: SurfaceDoc, minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph,
                  checks: list[SaddleCheckDoc], temperatures: list[float]) -> SurfaceDoc:
    """The surface document with its hops' checks and attempt frequencies, and, when it is ranked, D(T)."""
    by_hash = {c.hop_content_hash: c for c in checks}
    summaries = [h.model_copy(update={"first_order_saddle": c.first_order_saddle,
                                      "attempt_forward": c.attempt_forward, "attempt_reverse": c.attempt_reverse})
                 if (c := by_hash.get(h.content_hash)) is not None else h for h in doc.hops]
    diffusion = surface_diffusion(minima, hops, graph, checks, temperatures) if doc.status == "ranked" else None
    calls = doc.force_calls + sum(c.force_calls for c in checks)  # the Hessians count in the surface's cost
    return doc.model_copy(update={"hops": summaries, "force_calls": calls, "diffusion": diffusion})


def surface_diffusion(minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, checks: list[SaddleCheckDoc],
                      temperatures: list[float]) -> DiffusionSummary | None:
    """D(T) of the adatom on the network of usable hops, each rate from its hop's Vineyard attempt frequency
    (:data:`seiscreen.surfaces.diffusion.DEFAULT_PREFACTOR` where a hop has none); None when the graph has no
    node positions (made before they were kept) or no usable hop, or the adatom is trapped."""
    if not graph.positions or not minima.minima:
        return None
    energies, edges = graph_edges(minima, hops, graph)
    if not edges:
        return None
    # A band's ends are re-relaxed copies of the minima: a saddle a meV under a minimum's stored energy is its end.
    edges = [replace(e, saddle=max(e.saddle, energies[e.i], energies[e.j])) for e in edges]
    attempts = _attempts(hops, checks)
    lattice = symmetry_of(minima.slab).lattice

    def prefactor(edge, forward: bool) -> float:
        departing = graph.nodes[edge.i if forward else edge.j]
        if edge.label not in attempts:
            return diffusion.DEFAULT_PREFACTOR
        start, forward_attempt, reverse_attempt = attempts[edge.label]
        return forward_attempt if departing == start else reverse_attempt

    network = diffusion.network_from_graph(energies, edges, np.asarray(graph.positions) @ lattice, lattice,
                                           prefactor)
    fit = diffusion.arrhenius(network, temperatures)
    if fit.scalar is None:
        return None
    at_300 = diffusion.tracer_diffusion_tensor(network, 300.0)
    used = sorted({e.label for e in edges})
    return DiffusionSummary(
        temperatures=list(temperatures), tensors=[r.tensor.tolist() for r in fit.results],
        coefficients=fit.diffusion.tolist(), activation_energy=fit.scalar.activation_energy,
        prefactor=fit.scalar.prefactor,
        activation_energy_slowest=fit.slowest.activation_energy if fit.slowest is not None else None,
        d_300=at_300.scalar, rank=at_300.rank,
        attempt_frequencies="vineyard" if all(label in attempts for label in used) else "assumed", hops_used=used)


def _attempts(hops: list[HopDoc], checks: list[SaddleCheckDoc]) -> dict[str, tuple[int, float, float]]:
    """hop id -> (its start minimum, Hz out of the start, Hz out of the end), for the hops whose check gave them."""
    by_hash = {c.hop_content_hash: c for c in checks}
    out = {}
    for hop in hops:
        check = by_hash.get(hop.content_hash)
        if check is not None and check.attempt_forward is not None and check.attempt_reverse is not None:
            out[hop.hop_id] = (hop.start_minimum, check.attempt_forward, check.attempt_reverse)
    return out
