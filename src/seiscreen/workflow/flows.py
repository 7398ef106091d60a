"""The campaign as one jobflow Flow: surfaces planned, computed or reused, ranked; the fidelity funnel."""

from __future__ import annotations

import os
from dataclasses import dataclass

from jobflow import Flow, JobConfig, OnMissing, Response, job

from seiscreen.campaign import Campaign
from seiscreen.errors import SeiscreenError
from seiscreen.hopgraph import symmetry_of
from seiscreen.schemas import SlabDoc, SurfaceDoc, atoms_from_dict
from seiscreen.store import done_surfaces, open_store
from seiscreen.workflow.descriptors import descriptor_jobs
from seiscreen.workflow.cells import cell_kinetics, cell_slab, convergence_flow
from seiscreen.workflow.slabs import TerminationsMaker
from seiscreen.workflow.surface import flatten_surfaces, recompute_surfaces, surface_makers


@job
def rank_surfaces(surfaces: list) -> dict:
    """Order every ranked surface by its barrier; others listed with their status and reason."""
    # A surface whose flow failed arrives as None (on_missing_references=NONE): listed as failed, not dropped.
    missing = sum(1 for group in surfaces if group is None)
    docs = flatten_surfaces(surfaces)
    ranked = sorted((d for d in docs if d.status == "ranked"), key=lambda d: d.ranking_barrier)
    return {
        "doc_type": "ranking",
        "ranked": [{"rank": k + 1, "surface": d.key.label, "material": d.key.material,
                    "barrier": d.ranking_barrier, "channel_only": d.channel_only} for k, d in enumerate(ranked)],
        "unranked": [{"surface": d.key.label, "status": d.status, "reason": d.reason}
                     for d in docs if d.status != "ranked"],
        "failed_flows": missing,
    }


@dataclass
class PlannedSurface:
    """One surface of the campaign before anything is computed, with the identity its document will carry."""

    material: str
    miller: tuple[int, int, int]
    slab: SlabDoc | None  # None when the slab needs the calculator (lattice: calculator): cut inside the flow
    content_hash: str | None
    earlier: tuple[str, ...] = ()  # the identities it had before (SurfaceFlowMaker.content_hashes): looked up too

    @property
    def label(self) -> str:
        return self.slab.key.label if self.slab else f"{self.material}({''.join(map(str, self.miller))})"


def plan_surfaces(campaign: Campaign, store=None) -> list[PlannedSurface]:
    """Every surface of the campaign, cut now (cheap, no calculator): bad materials, facets, termination ids and
    elements the calculator cannot treat fail here with a one-line SeiscreenError, before any store is touched.
    With ``store``: each slab in the supercell that store already computed it in (slabs.stored_supercell)."""
    planned = []
    for spec in campaign.materials:
        slab_settings = cell_slab(campaign, spec, 0)  # with convergence: its first (smallest) cell
        surface, settings = surface_makers(campaign, campaign.calculator, slab_settings, spec.adsorbate,
                                           cell_kinetics(campaign, spec, 0))
        # Cut at the catalog's lattice: enough to check everything (polarity does not depend on the lattice scale).
        settings = {**settings, "slab_settings": slab_settings.model_copy(update={"lattice": "experimental"})}
        terminations = TerminationsMaker(surface_flow_maker=surface, **settings)
        for miller in spec.facets:
            docs = terminations.slab_docs(spec.material, list(miller), store)
            _check_elements(campaign, spec.material, settings["minima_settings"].adsorbate, docs)
            ids = [d.key.termination_id for d in docs]
            unknown = sorted(set(spec.terminations or []) - set(ids))
            if unknown:
                raise SeiscreenError(f"{spec.material}{tuple(miller)}: no termination {', '.join(map(repr, unknown))} "
                                     f"(there are {', '.join(ids)}): fix 'terminations' (see `seiscreen slabs "
                                     f"{spec.material} {''.join(map(str, miller))}`)")
            docs = [d for d in docs if spec.terminations is None or d.key.termination_id in spec.terminations]
            if slab_settings.lattice == "calculator":  # the real cut needs the calculator's own lattice: in the flow
                planned.append(PlannedSurface(spec.material, tuple(miller), None, None))
                continue
            for doc in docs:
                identity, *earlier = surface.content_hashes(doc)
                planned.append(PlannedSurface(spec.material, tuple(miller), doc, identity, tuple(earlier)))
    return planned


def _check_elements(campaign: Campaign, material: str, adsorbate: str, docs: list[SlabDoc]) -> None:
    """Elements a preset cannot treat (EMT's few metals, the ML training set, GPAW's setups) would fail in the
    first job, hours later on a queue: refused here (campaign.check_elements)."""
    from seiscreen.campaign import check_elements

    elements = {adsorbate, *(s for d in docs for s in atoms_from_dict(d.structure).get_chemical_symbols())}
    for name in sorted({campaign.calculator, *(campaign.fidelities or [])}):
        check_elements(name, elements, f"{material} with {adsorbate}")


def surfaces_done(campaign: Campaign, store) -> dict[str, bool]:
    """Which surfaces of the campaign are already finished in ``store`` (a JobStore or location): {label: done}.
    Surfaces cut with the calculator's lattice cannot be known before running and count as not done."""
    if store is None or isinstance(store, (str, os.PathLike)):
        store = open_store(store, create=False)
    planned = plan_surfaces(campaign, store)
    done = done_surfaces(store, [(p.content_hash, *p.earlier) for p in planned if p.content_hash])
    return {p.label: p.content_hash in done for p in planned}


def campaign_flow(campaign: Campaign, store=None, planned: list[PlannedSurface] | None = None) -> Flow:
    """The whole campaign as one jobflow Flow (with the fidelity funnel when the campaign lists fidelities).

    With ``store`` (a connected JobStore), a facet whose surfaces are all finished there gets no job at all: its
    stored documents go straight to the ranking. Anything else is looked up again, surface by surface, minima and
    hop by hop, inside the running jobs; so the flow only computes what is missing.
    """
    descriptors = descriptor_jobs(campaign)  # the panel, per material, beside the surfaces (none when off)
    if campaign.convergence is not None:
        flow = convergence_flow(campaign)
        return Flow([flow, *descriptors], output=flow.output, name=campaign.name) if descriptors else flow
    if store is not None:  # cut again with the store: a surface it holds keeps the supercell it was computed in
        planned = plan_surfaces(campaign, store)
    elif planned is None:
        planned = []
    done = {}
    if store is not None:
        done = done_surfaces(store, [(p.content_hash, *p.earlier) for p in planned if p.content_hash])
    jobs, surfaces = [], []
    for spec in campaign.materials:
        surface, settings = surface_makers(campaign, campaign.calculator, campaign.slab_for(spec), spec.adsorbate)
        terminations = TerminationsMaker(surface_flow_maker=surface, only=spec.terminations, **settings)
        for miller in spec.facets:
            mine = [p for p in planned if p.material == spec.material and p.miller == tuple(miller)]
            if mine and all(p.content_hash in done for p in mine):
                surfaces.append([SurfaceDoc.model_validate(done[p.content_hash]) for p in mine])
                continue
            # Cut once: the plan's slabs travel into the job (None when the flow must cut at its own lattice).
            cut = [p.slab for p in mine] if mine and all(p.slab is not None for p in mine) else None
            j = terminations.make(spec.material, list(miller), cut)
            j.name = f"terminations {spec.material} {''.join(map(str, miller))}"
            jobs.append(j)
            surfaces.append(j.output)
    ranking = rank_surfaces(surfaces)
    ranking.name = f"ranking {campaign.name}"
    ranking.config = JobConfig(on_missing_references=OnMissing.NONE)  # one failed material must not stop it
    extra = []
    if campaign.fidelities:
        step = funnel(campaign, surfaces, 1)
        step.name = f"funnel {campaign.name} -> {campaign.fidelities[1]}"
        step.config = JobConfig(on_missing_references=OnMissing.NONE, expose_store=True)
        extra.append(step)
        if campaign.finetune is not None:  # the loop after the DFT level (results pulls pandas: imported here)
            from seiscreen.workflow.active_learning import active_learning_job

            extra.append(active_learning_job(campaign, surfaces, step.output))
    return Flow([*jobs, ranking, *extra, *descriptors], output=ranking.output, name=campaign.name)


def funnel_candidates(docs: list[SurfaceDoc], top_k: int | None) -> list[SurfaceDoc]:
    """The surfaces of a lower fidelity that the next one recomputes: its ``top_k`` ranked surfaces by barrier,
    or, without ``top_k``, every surface it screened, ranked first. A surface the lower level could not rank (a
    band that failed its gates, no percolating path) is no verdict on it: the higher level finds its own minima
    and bands, so it gets it too (unless its slab was never cut)."""
    ranked = sorted((d for d in docs if d.status == "ranked"), key=lambda d: d.ranking_barrier)
    if top_k:
        return ranked[:top_k]
    return ranked + [d for d in docs if d.status != "ranked" and d.slab is not None]


@job
def funnel(campaign: Campaign, surfaces: list, level: int):
    """Recompute the best surfaces of fidelity ``level - 1`` with fidelity ``level``, then compare the two."""
    chosen = funnel_candidates(flatten_surfaces(surfaces), campaign.top_k)
    calculator = campaign.fidelities[level]
    flows, outputs = recompute_surfaces(campaign, chosen, calculator, campaign.fidelities[level - 1])
    comparison = compare_fidelities(chosen, outputs, campaign.fidelities[level - 1], calculator)
    comparison.name = f"compare {campaign.fidelities[level - 1]} vs {calculator}"
    comparison.config = JobConfig(on_missing_references=OnMissing.NONE)
    jobs = [*flows, comparison]
    if level + 1 < len(campaign.fidelities):
        onward = funnel(campaign, outputs, level + 1)
        onward.config = JobConfig(on_missing_references=OnMissing.NONE, expose_store=True)
        jobs.append(onward)
    return Response(replace=Flow(jobs, output=comparison.output))


@job
def compare_fidelities(lower: list, higher: list, lower_name: str, higher_name: str) -> dict:
    """Per candidate both barriers and whether minima and hops agreed; rank agreement over the candidates."""
    from scipy.stats import kendalltau, spearmanr

    lower = flatten_surfaces(lower)
    higher_by_surface = {(d.key.material, d.key.miller, d.key.termination_id): d for d in flatten_surfaces(higher)}
    rows = []
    for low in lower:
        high = higher_by_surface.get((low.key.material, low.key.miller, low.key.termination_id))
        rows.append({
            "surface": low.key.label, "lower_barrier": low.ranking_barrier if low.status == "ranked" else None,
            "lower_status": low.status,
            "higher_barrier": high.ranking_barrier if high and high.status == "ranked" else None,
            "higher_status": high.status if high else "failed",
            "lower_sites": [m["site"] for m in low.minima],
            "higher_sites": [m["site"] for m in high.minima] if high else [],
            "same_lowest_site": bool(high and high.lowest_site == low.lowest_site),
            "same_hops": bool(high) and _same_hops(low, high),
            "warm_started_hops": sum(h.warm_start for h in high.hops) if high else 0,
        })
    both = [r for r in rows if r["lower_barrier"] is not None and r["higher_barrier"] is not None]
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
