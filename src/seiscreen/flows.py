"""Flows: one dynamic flow per (material, facet, termination), and the campaign that ranks them.

Flow makers receive the job makers they run (as quacc's recipes receive jobs), so a test or a user can swap
any step, e.g. an EMT NEB maker, without touching the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, JobConfig, Maker, OnMissing, OutputReference, Response, job

from seiscreen import progress
from seiscreen.campaign import Campaign, MaterialSpec
from seiscreen.convergence import Cell, cell_geometry, cell_series, judge_series, map_positions
from seiscreen.jobs import (USABLE, HopNebMaker, HopsMaker, MinimaMaker, SurfaceSummaryMaker, TerminationsMaker,
                            current_store, failed_surface, store_surface, symmetry_of, warm_identity)
from seiscreen.schemas import (ConvergenceCell, ConvergenceDoc, MinimaDoc, SlabDoc, SurfaceDoc, atoms_from_dict,
                               content_hash)
from seiscreen.errors import SeiscreenError
from seiscreen.store import done_surfaces, find_done, find_done_job
from seiscreen.surfaces.hops import ON_THE_EDGE, POSITION_NOISE
from seiscreen.surfaces.slabs import SlabSettings

# Which left-out hops are bypass candidates (surfaces.hops.bypass_hops): part of a surface's identity.
BYPASS_RULE = {"position_noise": POSITION_NOISE, "on_the_edge": ON_THE_EDGE}


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
                             **({"bypass_hops": BYPASS_RULE} if hops.summary_maker and hops.summary_maker.bypass_hops
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
        slab_settings = cell_slab(campaign, spec, 0)  # with convergence: its first (smallest) cell
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
    if campaign.convergence is not None:
        return convergence_flow(campaign)
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


# ------------------------------------------------------------------ cell convergence


def cell_slab(campaign: Campaign, spec: MaterialSpec, cell: int) -> SlabSettings:
    """The slab settings of cell ``cell`` of the material's convergence series (without convergence: its own)."""
    base = campaign.slab_for(spec)
    if campaign.convergence is None:
        return base
    return cell_series(campaign.convergence, base)[cell].slab


def convergence_flow(campaign: Campaign) -> Flow:
    """Every surface in growing cells (one series per material and facet), ranked by its largest cell."""
    jobs, series = [], []
    for k, spec in enumerate(campaign.materials):
        for miller in spec.facets:
            j = convergence_cell(campaign, k, list(miller))
            j.name = f"cell 0 {spec.material} {''.join(map(str, miller))}"
            jobs.append(j)
            series.append(j.output)
    ranking = rank_converged(series)
    ranking.name = f"ranking {campaign.name}"
    ranking.config = JobConfig(on_missing_references=OnMissing.NONE)
    return Flow([*jobs, ranking], output=ranking.output, name=campaign.name)


@job(config=JobConfig(expose_store=True, on_missing_references=OnMissing.NONE))
def convergence_cell(campaign: Campaign, material: int, miller: list[int], cell: int = 0,
                     earlier: list | None = None) -> Response:
    """Cell ``cell`` of (material, facet): its surfaces, each seeded with the previous cell's minima of the same
    termination; then the next cell, or after the last one a ConvergenceDoc per termination."""
    spec = campaign.materials[material]
    n_cells = len(cell_series(campaign.convergence, campaign.slab_for(spec)))
    earlier = [_flatten([group]) for group in earlier or []]
    surface, settings = _makers(campaign, campaign.calculator, cell_slab(campaign, spec, cell), spec.adsorbate)
    try:
        docs = TerminationsMaker(surface_flow_maker=surface, only=spec.terminations,
                                 **settings).slab_docs(spec.material, miller)
    except Exception as exc:  # noqa: BLE001 - the series stops here; its surfaces are judged with this cell missing
        docs, reason = [], f"slab cutting failed: {type(exc).__name__}: {exc}"
        flows = [store_surface(failed_surface(spec.material, miller, settings["minima_settings"].adsorbate,
                                              campaign.calculator, reason, surface.hops_maker.provenance(True)))]
        outputs = [flows[0].output]
    else:
        flows, outputs = _cell_surfaces(surface, docs, earlier[-1] if earlier else [], cell)
    if cell + 1 < n_cells and docs:
        onward = convergence_cell(campaign, material, miller, cell + 1, [*earlier, outputs])
        onward.name = f"cell {cell + 1} {spec.material} {''.join(map(str, miller))}"
        return Response(replace=Flow([*flows, onward], output=onward.output))
    judges = []
    for tid in dict.fromkeys(d.key.termination_id for group in [*earlier, docs] for d in group):
        per_cell = [next((d for d in group if d.key.termination_id == tid), None) for group in earlier]
        here = next((o for d, o in zip(docs, outputs, strict=False) if d.key.termination_id == tid), None)
        judge = convergence_doc(campaign, material, [*per_cell, here])
        judge.config = JobConfig(on_missing_references=OnMissing.NONE)
        judge.name = f"convergence {spec.material} {''.join(map(str, miller))} {tid}"
        judges.append(judge)
    return Response(replace=Flow([*flows, *judges], output=[j.output for j in judges]))


def _cell_surfaces(surface: SurfaceFlowMaker, docs: list[SlabDoc], previous: list[SurfaceDoc],
                   cell: int) -> tuple[list[Flow], list]:
    """The surface flows of one cell, or references to finished ones."""
    store = current_store()
    flows, outputs = [], []
    for doc in docs:
        before = next((p for p in previous if p.key.termination_id == doc.key.termination_id and p.slab), None)
        seeds = cell_seeds(before, doc, cell) if before else None
        done = find_done_job(store, "surface", surface.content_hashes(doc, seeds=seeds))
        if done is not None:
            outputs.append(OutputReference(done["uuid"]))
            continue
        flows.append(surface.make(doc, seeds=seeds))
        flows[-1].name = f"{flows[-1].name} cell {cell}"
        outputs.append(flows[-1].output)
    return flows, outputs


def cell_seeds(smaller: SurfaceDoc, slab: SlabDoc, cell: int) -> list[dict]:
    """The smaller cell's minima as starting points on ``slab``: mapped through the lattice (convergence.
    map_positions), named after the cell they come from."""
    if not smaller.minima:
        return []
    old = atoms_from_dict(smaller.slab.structure)
    new = atoms_from_dict(slab.structure)
    positions = map_positions([m["position"] for m in smaller.minima], old,
                              smaller.slab.termination["supercell_matrix"], new,
                              slab.termination["supercell_matrix"])
    return [{"name": f"cell{cell - 1}-{m['site']}", "position": [round(float(x), 6) for x in p]}
            for m, p in zip(smaller.minima, positions, strict=True)]


@job
def convergence_doc(campaign: Campaign, material: int, surfaces: list) -> ConvergenceDoc:
    """Judge one termination's series (``surfaces``: its document in each cell, None where missing)."""
    spec = campaign.materials[material]
    specs = cell_series(campaign.convergence, campaign.slab_for(spec))
    docs = [SurfaceDoc.model_validate(s) if isinstance(s, dict) else s for s in surfaces]
    docs += [None] * (len(specs) - len(docs))
    # A cell's seeds: the previous cell's minima (cell_seeds), where that cell has a slab.
    seeds = [0] + [len(d.minima) if d is not None and d.slab is not None else 0 for d in docs[:-1]]
    cells = [_cell(*args) for args in zip(specs, docs, seeds, strict=True)]
    verdict = judge_series([Cell(c.axis, c.lateral, c.thickness, c.n_atoms, c.barrier, c.adsorption_energy,
                                 c.status) for c in cells], campaign.convergence.tolerance)
    present = [d for d in docs if d is not None]
    doc = ConvergenceDoc(key=present[-1].key, cells=cells, tolerance=campaign.convergence.tolerance,
                         converged=verdict.converged, last_change=verdict.last_change,
                         adsorption_change=verdict.adsorption_change, cell_term=verdict.cell_term,
                         ranked_barrier=verdict.ranked_barrier, status=verdict.status, reason=verdict.reason,
                         provenance=present[-1].provenance)
    progress.emit("convergence_done", key=doc.key, surface=doc.key.label, status=doc.status,
                  barrier=doc.ranked_barrier, cell_term=doc.cell_term, reason=doc.reason)
    return doc


def _cell(spec, doc: SurfaceDoc | None, seeds: int) -> ConvergenceCell:
    """One cell of the series from its surface document (None: its flow failed)."""
    requested = dict(axis=spec.axis, requested_lateral=spec.slab.min_lateral_size,
                     requested_thickness=spec.slab.min_thickness)
    if doc is None:
        return ConvergenceCell(**requested, status="missing")
    lateral = thickness = n_atoms = None
    if doc.slab is not None:
        atoms = atoms_from_dict(doc.slab.structure)
        (lateral, thickness), n_atoms = cell_geometry(atoms), len(atoms)
    ranked = doc.status == "ranked"
    return ConvergenceCell(**requested, lateral=lateral, thickness=thickness, n_atoms=n_atoms,
                           barrier=doc.ranking_barrier if ranked else None, adsorption_energy=doc.adsorption_energy,
                           status=doc.status, seeds=seeds, surface_hash=doc.content_hash)


@job
def rank_converged(series: list) -> dict:
    """Order the converged surfaces by their largest cell's barrier; unconverged ones listed with why."""
    docs = [ConvergenceDoc.model_validate(d) if isinstance(d, dict) else d
            for group in series if group is not None for d in group if d is not None]
    ranked = sorted((d for d in docs if d.status == "converged"), key=lambda d: d.ranked_barrier)
    return {
        "doc_type": "ranking",
        "ranked": [{"rank": k + 1, "surface": d.key.label, "material": d.key.material, "barrier": d.ranked_barrier,
                    "cell_term": d.cell_term} for k, d in enumerate(ranked)],
        "unranked": [{"surface": d.key.label, "status": d.status, "reason": d.reason}
                     for d in docs if d.status != "converged"],
        "failed_flows": sum(1 for group in series if group is None),
    }
