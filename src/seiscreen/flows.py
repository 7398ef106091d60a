"""Flows: one dynamic flow per (material, facet, termination), and the campaign that ranks them.

Flow makers receive the job makers they run (as quacc's recipes receive jobs), so a test or a user can swap
any step, e.g. an EMT NEB maker, without touching the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, JobConfig, Maker, OnMissing, job

from seiscreen.campaign import Campaign
from seiscreen.jobs import HopNebMaker, HopsMaker, MinimaMaker, SurfaceSummaryMaker, TerminationsMaker
from seiscreen.schemas import SlabDoc, SurfaceDoc


@dataclass
class SurfaceFlowMaker(Maker):
    """minima -> hops (fans out one NEB per symmetry-unique hop) -> surface summary."""

    name: str = "surface"
    minima_maker: MinimaMaker = field(default_factory=MinimaMaker)
    hops_maker: HopsMaker = field(default_factory=HopsMaker)

    def make(self, slab: SlabDoc) -> Flow:
        minima = self.minima_maker.make(slab)
        minima.name = f"minima {slab.key.label}"
        hops = self.hops_maker.make(minima.output)
        hops.name = f"hops {slab.key.label}"
        return Flow([minima, hops], output=hops.output, name=f"surface {slab.key.label}")


@job
def rank_surfaces(surfaces: list) -> dict:
    """Order every ranked surface by its barrier; others listed with their status and reason."""
    # A surface whose flow failed arrives as None (on_missing_references=NONE): listed as failed, not dropped.
    missing = sum(1 for group in surfaces if group is None)
    docs = [SurfaceDoc.model_validate(s) if isinstance(s, dict) else s
            for group in surfaces if group is not None for s in group if s is not None]
    ranked = sorted((d for d in docs if d.status == "ranked"), key=lambda d: d.ranking_barrier)
    return {
        "doc_type": "ranking",
        "ranked": [{"rank": k + 1, "surface": d.key.label, "material": d.key.material,
                    "barrier": d.ranking_barrier, "channel_only": d.channel_only} for k, d in enumerate(ranked)],
        "unranked": [{"surface": d.key.label, "status": d.status, "reason": d.reason}
                     for d in docs if d.status != "ranked"],
        "failed_flows": missing,
    }


def campaign_flow(campaign: Campaign) -> Flow:
    """The whole campaign as one jobflow Flow."""
    jobs = []
    for spec in campaign.materials:
        settings = dict(calculator_preset=campaign.calculator, slab_settings=campaign.slab_for(spec),
                        minima_settings=campaign.minima_settings, neb_protocol=campaign.neb)
        summary = SurfaceSummaryMaker(max_refinements=campaign.max_refinements, **settings)
        hops = HopsMaker(neb_maker=HopNebMaker(**settings), summary_maker=summary,
                         max_hop_length=campaign.max_hop_length, **settings)
        surface = SurfaceFlowMaker(minima_maker=MinimaMaker(**settings), hops_maker=hops)
        terminations = TerminationsMaker(surface_flow_maker=surface, only=spec.terminations, **settings)
        for miller in spec.facets:
            j = terminations.make(spec.material, list(miller))
            j.name = f"terminations {spec.material} {''.join(map(str, miller))}"
            jobs.append(j)
    ranking = rank_surfaces([j.output for j in jobs])
    ranking.name = f"ranking {campaign.name}"
    ranking.config = JobConfig(on_missing_references=OnMissing.NONE)  # one failed material must not stop it
    return Flow([*jobs, ranking], output=ranking.output, name=campaign.name)
