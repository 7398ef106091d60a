"""Flows: one dynamic flow per (material, facet, termination), and the campaign that ranks them.

Flow makers receive the job makers they run (as quacc's recipes receive jobs), so a test or a user can swap
any step, e.g. an EMT NEB maker, without touching the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, JobConfig, Maker, OnMissing, OutputReference, Response, job

from seiscreen.campaign import Campaign
from seiscreen.jobs import (USABLE, HopNebMaker, HopsMaker, MinimaMaker, SurfaceSummaryMaker, TerminationsMaker,
                            symmetry_of)
from seiscreen.schemas import SlabDoc, SurfaceDoc
from seiscreen.surfaces.slabs import SlabSettings


@dataclass
class SurfaceFlowMaker(Maker):
    """minima -> hops (fans out one NEB per symmetry-unique hop) -> surface summary."""

    name: str = "surface"
    minima_maker: MinimaMaker = field(default_factory=MinimaMaker)
    hops_maker: HopsMaker = field(default_factory=HopsMaker)

    def make(self, slab: SlabDoc, seeds: list[dict] | None = None, warm: list[dict] | None = None) -> Flow:
        minima = self.minima_maker.make(slab, seeds=seeds)
        minima.name = f"minima {slab.key.label}"
        hops = self.hops_maker.make(minima.output, warm=warm)
        hops.name = f"hops {slab.key.label}"
        return Flow([minima, hops], output=hops.output, name=f"surface {slab.key.label}")


@job
def rank_surfaces(surfaces: list) -> dict:
    """Order every ranked surface by its barrier; others listed with their status and reason."""
    # A surface whose flow failed arrives as None (on_missing_references=NONE): listed as failed, not dropped.
    missing = sum(1 for group in surfaces if group is None)
    docs = _flatten(surfaces)
    ranked = sorted((d for d in docs if d.status == "ranked"), key=lambda d: d.ranking_barrier)
    return {
        "doc_type": "ranking",
        "ranked": [{"rank": k + 1, "surface": d.key.label, "material": d.key.material,
                    "barrier": d.ranking_barrier, "channel_only": d.channel_only} for k, d in enumerate(ranked)],
        "unranked": [{"surface": d.key.label, "status": d.status, "reason": d.reason}
                     for d in docs if d.status != "ranked"],
        "failed_flows": missing,
    }


def _makers(campaign: Campaign, calculator: str, slab: SlabSettings) -> tuple[SurfaceFlowMaker, dict]:
    settings = dict(calculator_preset=calculator, slab_settings=slab, minima_settings=campaign.minima_settings,
                    neb_protocol=campaign.neb)
    summary = SurfaceSummaryMaker(max_refinements=campaign.max_refinements, **settings)
    hops = HopsMaker(neb_maker=HopNebMaker(**settings), summary_maker=summary,
                     max_hop_length=campaign.max_hop_length, **settings)
    return SurfaceFlowMaker(minima_maker=MinimaMaker(**settings), hops_maker=hops), settings


def campaign_flow(campaign: Campaign) -> Flow:
    """The whole campaign as one jobflow Flow (with the fidelity funnel when the campaign lists fidelities)."""
    jobs = []
    for spec in campaign.materials:
        surface, settings = _makers(campaign, campaign.calculator, campaign.slab_for(spec))
        terminations = TerminationsMaker(surface_flow_maker=surface, only=spec.terminations, **settings)
        for miller in spec.facets:
            j = terminations.make(spec.material, list(miller))
            j.name = f"terminations {spec.material} {''.join(map(str, miller))}"
            jobs.append(j)
    surfaces = [j.output for j in jobs]
    ranking = rank_surfaces(surfaces)
    ranking.name = f"ranking {campaign.name}"
    ranking.config = JobConfig(on_missing_references=OnMissing.NONE)  # one failed material must not stop it
    extra = []
    if campaign.fidelities:
        step = funnel(campaign, surfaces, 1)
        step.name = f"funnel {campaign.name} -> {campaign.fidelities[1]}"
        step.config = JobConfig(on_missing_references=OnMissing.NONE)
        extra.append(step)
    return Flow([*jobs, ranking, *extra], output=ranking.output, name=campaign.name)


def _flatten(groups: list) -> list[SurfaceDoc]:
    return [SurfaceDoc.model_validate(s) if isinstance(s, dict) else s
            for group in groups if group is not None
            for s in (group if isinstance(group, list) else [group]) if s is not None]


@job
def funnel(campaign: Campaign, surfaces: list, level: int):
    """Recompute the best surfaces of fidelity ``level - 1`` with fidelity ``level``, then compare the two."""
    lower = sorted((d for d in _flatten(surfaces) if d.status == "ranked"), key=lambda d: d.ranking_barrier)
    chosen = lower[: campaign.top_k] if campaign.top_k else lower
    calculator = campaign.fidelities[level]
    flows = []
    for doc in chosen:
        surface, _ = _makers(campaign, calculator, SlabSettings(**doc.provenance.slab_settings))
        slab = doc.slab.model_copy(update={"key": doc.key.model_copy(update={"calculator": calculator})})
        seeds = [{"name": m["site"], "position": m["position"]} for m in doc.minima]
        warm = [{"start": h.start, "end": h.end, "band": OutputReference(h.job_uuid, (("a", "band"),))}
                for h in doc.hops if h.job_uuid and h.status in USABLE]
        flows.append(surface.make(slab, seeds=seeds, warm=warm))
    comparison = compare_fidelities(chosen, [f.output for f in flows], campaign.fidelities[level - 1], calculator)
    comparison.name = f"compare {campaign.fidelities[level - 1]} vs {calculator}"
    comparison.config = JobConfig(on_missing_references=OnMissing.NONE)
    jobs = [*flows, comparison]
    if level + 1 < len(campaign.fidelities):
        onward = funnel(campaign, [f.output for f in flows], level + 1)
        onward.config = JobConfig(on_missing_references=OnMissing.NONE)
        jobs.append(onward)
    return Response(replace=Flow(jobs, output=comparison.output))


@job
def compare_fidelities(lower: list, higher: list, lower_name: str, higher_name: str) -> dict:
    """Per candidate both barriers and whether minima and hops agreed; rank agreement over the candidates."""
    from scipy.stats import kendalltau, spearmanr

    lower = _flatten(lower)
    higher_by_surface = {(d.key.material, d.key.miller, d.key.termination_id): d for d in _flatten(higher)}
    rows = []
    for low in lower:
        high = higher_by_surface.get((low.key.material, low.key.miller, low.key.termination_id))
        rows.append({
            "surface": low.key.label, "lower_barrier": low.ranking_barrier,
            "higher_barrier": high.ranking_barrier if high and high.status == "ranked" else None,
            "higher_status": high.status if high else "failed",
            "lower_sites": [m["site"] for m in low.minima],
            "higher_sites": [m["site"] for m in high.minima] if high else [],
            "same_lowest_site": bool(high and high.lowest_site == low.lowest_site),
            "same_hops": bool(high) and _same_hops(low, high),
            "warm_started_hops": sum(h.warm_start for h in high.hops) if high else 0,
        })
    both = [r for r in rows if r["higher_barrier"] is not None]
    stats: dict = {"n_compared": len(both), "spearman": None, "kendall": None, "top_k_recall": {}}
    if len(both) >= 2:
        lo = [r["lower_barrier"] for r in both]
        hi = [r["higher_barrier"] for r in both]
        stats["spearman"] = float(spearmanr(lo, hi).statistic)
        stats["kendall"] = float(kendalltau(lo, hi).statistic)
        by_low = [r["surface"] for r in sorted(both, key=lambda r: r["lower_barrier"])]
        by_high = [r["surface"] for r in sorted(both, key=lambda r: r["higher_barrier"])]
        stats["top_k_recall"] = {str(k): len(set(by_low[:k]) & set(by_high[:k])) / k
                                 for k in range(1, min(3, len(both)) + 1)}
    return {"doc_type": "fidelity_comparison", "lower": lower_name, "higher": higher_name, "rows": rows, **stats}


def _same_hops(low: SurfaceDoc, high: SurfaceDoc) -> bool:
    """Same number of hop classes, each lower-fidelity hop matched by geometry (start, end, midpoint)."""
    if len(low.hops) != len(high.hops):
        return False
    symmetry = symmetry_of(low.slab)
    return all(any(symmetry.equivalent_segments(a.start, a.end, b.start, b.end, tol=0.3) for b in high.hops)
               for a in low.hops)
