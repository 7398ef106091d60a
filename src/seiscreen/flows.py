"""Flows: one dynamic flow per (material, facet, termination), and the campaign that ranks them.

Flow makers receive the job makers they run (as quacc's recipes receive jobs), so a test or a user can swap
any step, e.g. an EMT NEB maker, without touching the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, JobConfig, Maker, OnMissing, OutputReference, Response, job

from seiscreen.campaign import Campaign
from seiscreen.jobs import (USABLE, HopNebMaker, HopsMaker, MinimaMaker, SurfaceSummaryMaker, TerminationsMaker,
                            current_store, symmetry_of, warm_identity)
from seiscreen.schemas import MinimaDoc, SlabDoc, SurfaceDoc, atoms_from_dict, content_hash
from seiscreen.errors import SeiscreenError
from seiscreen.store import done_surfaces, find_done
from seiscreen.surfaces.slabs import SlabSettings


@dataclass
class SurfaceFlowMaker(Maker):
    """minima -> hops (fans out one NEB per symmetry-unique hop) -> surface summary."""

    name: str = "surface"
    minima_maker: MinimaMaker = field(default_factory=MinimaMaker)
    hops_maker: HopsMaker = field(default_factory=HopsMaker)

    def content_hash(self, slab: SlabDoc, seeds: list[dict] | None = None, warm: list[dict] | None = None) -> str:
        """Identity of the surface document this flow ends in: its minima's identity plus every hop setting."""
        return self.content_hashes(slab, seeds, warm)[0]

    def content_hashes(self, slab: SlabDoc, seeds: list[dict] | None = None,
                       warm: list[dict] | None = None) -> list[str]:
        """:meth:`content_hash`, then the identity from each earlier identity of its minima
        (``MinimaMaker.content_hashes``): lookups try them all."""
        hops = self.hops_maker
        return [content_hash("surface", minima=minima, warm=[warm_identity(w) for w in warm or []],
                             max_hop_length=hops.max_hop_length,
                             max_refinements=hops.summary_maker.max_refinements if hops.summary_maker else None,
                             slide_tolerance=hops.neb_maker.slide_tolerance if hops.neb_maker else None,
                             **({"seed_band_preset": hops.seed_band_preset} if hops.seed_band_preset else {}),
                             **({"cold_bands": True} if hops.cold_bands else {}),
                             **({"bypass_hops": True} if hops.summary_maker and hops.summary_maker.bypass_hops
                                else {}),
                             **hops.identity(neb=True))
                for minima in self.minima_maker.content_hashes(slab, seeds)]

    def make(self, slab: SlabDoc, seeds: list[dict] | None = None, warm: list[dict] | None = None,
             store=None) -> Flow:
        """``store``: where finished minima are looked up (default: the running job's store, when exposed)."""
        surface_hash = self.content_hash(slab, seeds, warm)
        stored = find_done(store or current_store(), "minima", self.minima_maker.content_hashes(slab, seeds))
        jobs = []
        if stored is not None:  # found by an earlier run: the hops start from it
            minima_output = MinimaDoc.model_validate(stored)
        else:
            minima = self.minima_maker.make(slab, seeds=seeds)
            minima.name = f"minima {slab.key.label}"
            jobs.append(minima)
            minima_output = minima.output
        hops = self.hops_maker.make(minima_output, warm=warm, surface_hash=surface_hash)
        hops.name = f"hops {slab.key.label}"
        return Flow([*jobs, hops], output=hops.output, name=f"surface {slab.key.label}")


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


def _makers(campaign: Campaign, calculator: str, slab: SlabSettings,
            adsorbate: str | None = None) -> tuple[SurfaceFlowMaker, dict]:
    settings = dict(calculator_preset=calculator, slab_settings=slab,
                    minima_settings=campaign.minima_settings_for(adsorbate), neb_protocol=campaign.neb,
                    parallel=campaign.parallel)
    summary = SurfaceSummaryMaker(max_refinements=campaign.max_refinements, bypass_hops=campaign.bypass_hops,
                                  **settings)
    hops = HopsMaker(neb_maker=HopNebMaker(**settings), summary_maker=summary,
                     max_hop_length=campaign.max_hop_length, **settings)
    return SurfaceFlowMaker(minima_maker=MinimaMaker(**settings), hops_maker=hops), settings


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


def plan_surfaces(campaign: Campaign) -> list[PlannedSurface]:
    """Every surface of the campaign, cut now (cheap, no calculator): bad materials, facets, termination ids and
    elements the calculator cannot treat fail here with a one-line SeiscreenError, before any store is touched."""
    planned = []
    for spec in campaign.materials:
        slab_settings = campaign.slab_for(spec)
        surface, settings = _makers(campaign, campaign.calculator, slab_settings, spec.adsorbate)
        # Cut at the catalog's lattice: enough to check everything (polarity does not depend on the lattice scale).
        settings = {**settings, "slab_settings": slab_settings.model_copy(update={"lattice": "experimental"})}
        terminations = TerminationsMaker(surface_flow_maker=surface, **settings)
        for miller in spec.facets:
            docs = terminations.slab_docs(spec.material, list(miller))
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
    planned = plan_surfaces(campaign)
    done = done_surfaces(store, [(p.content_hash, *p.earlier) for p in planned if p.content_hash])
    return {p.label: p.content_hash in done for p in planned}


def campaign_flow(campaign: Campaign, store=None, planned: list[PlannedSurface] | None = None) -> Flow:
    """The whole campaign as one jobflow Flow (with the fidelity funnel when the campaign lists fidelities).

    With ``store`` (a connected JobStore), a facet whose surfaces are all finished there gets no job at all: its
    stored documents go straight to the ranking. Anything else is looked up again, surface by surface, minima and
    hop by hop, inside the running jobs; so the flow only computes what is missing.
    """
    if planned is None:
        planned = plan_surfaces(campaign) if store is not None else []
    done = {}
    if store is not None:
        done = done_surfaces(store, [(p.content_hash, *p.earlier) for p in planned if p.content_hash])
    jobs, surfaces = [], []
    for spec in campaign.materials:
        surface, settings = _makers(campaign, campaign.calculator, campaign.slab_for(spec), spec.adsorbate)
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
    return Flow([*jobs, ranking, *extra], output=ranking.output, name=campaign.name)


def _flatten(groups: list) -> list[SurfaceDoc]:
    return [SurfaceDoc.model_validate(s) if isinstance(s, dict) else s
            for group in groups if group is not None
            for s in (group if isinstance(group, list) else [group]) if s is not None]


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
    chosen = funnel_candidates(_flatten(surfaces), campaign.top_k)
    calculator = campaign.fidelities[level]
    flows, outputs = [], []
    for doc in chosen:
        surface, _ = _makers(campaign, calculator, SlabSettings(**doc.provenance.slab_settings), doc.key.adsorbate)
        surface.hops_maker.seed_band_preset = campaign.fidelities[level - 1]  # for hops it has no band of
        surface.hops_maker.cold_bands = campaign.cold_bands
        slab = doc.slab.model_copy(update={"key": doc.key.model_copy(update={"calculator": calculator})})
        seeds = [{"name": m["site"], "position": m["position"]} for m in doc.minima]
        warm = [{"start": h.start, "end": h.end, "band": OutputReference(h.job_uuid, (("a", "band"),))}
                for h in doc.hops if h.job_uuid and h.status in USABLE]
        done = find_done(current_store(), "surface", surface.content_hashes(slab, seeds=seeds, warm=warm))
        if done is not None:  # this fidelity finished it in an earlier run
            outputs.append(SurfaceDoc.model_validate(done))
            continue
        flows.append(surface.make(slab, seeds=seeds, warm=warm))
        outputs.append(flows[-1].output)
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

    lower = _flatten(lower)
    higher_by_surface = {(d.key.material, d.key.miller, d.key.termination_id): d for d in _flatten(higher)}
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
