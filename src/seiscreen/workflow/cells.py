"""Cell convergence as a pipeline step: each surface in growing cells, seeded by the smaller cell, judged."""

from __future__ import annotations

from jobflow import Flow, JobConfig, OnMissing, OutputReference, Response, job

from seiscreen import progress
from seiscreen.progress import Event
from seiscreen.campaign import Campaign, MaterialSpec
from seiscreen.convergence import Cell, cell_geometry, cell_series, judge_series, map_positions
from seiscreen.schemas import ConvergenceCell, ConvergenceDoc, MinimumSeed, SlabDoc, SurfaceDoc, atoms_from_dict
from seiscreen.store import find_done_job
from seiscreen.surfaces.slabs import SlabSettings
from seiscreen.workflow.base import current_store
from seiscreen.workflow.slabs import TerminationsMaker, failed_surface, store_surface
from seiscreen.kinetics import KineticsSettings
from seiscreen.workflow.surface import SurfaceFlowMaker, flatten_surfaces, surface_makers


def cell_slab(campaign: Campaign, spec: MaterialSpec, cell: int) -> SlabSettings:
    """The slab settings of cell ``cell`` of the material's convergence series (without convergence: its own)."""
    base = campaign.slab_for(spec)
    if campaign.convergence is None:
        return base
    return cell_series(campaign.convergence, base)[cell].slab


def cell_kinetics(campaign: Campaign, spec: MaterialSpec, cell: int) -> KineticsSettings:
    """The kinetics settings of cell ``cell``: only the largest cell of a series is ranked, so only its hops are
    checked by their Hessians (the smaller cells' D(T) takes the assumed attempt frequency)."""
    if campaign.convergence is None or cell + 1 == len(cell_series(campaign.convergence, campaign.slab_for(spec))):
        return campaign.kinetics
    return campaign.kinetics.model_copy(update={"saddle_check": False})


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
    earlier = [flatten_surfaces([group]) for group in earlier or []]
    surface, settings = surface_makers(campaign, campaign.calculator, cell_slab(campaign, spec, cell), spec.adsorbate,
                                       cell_kinetics(campaign, spec, cell))
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


def cell_seeds(smaller: SurfaceDoc, slab: SlabDoc, cell: int) -> list[MinimumSeed]:
    """The smaller cell's minima as starting points on ``slab``: mapped through the lattice (convergence.
    map_positions), named after the cell they come from."""
    if not smaller.minima:
        return []
    old = atoms_from_dict(smaller.slab.structure)
    new = atoms_from_dict(slab.structure)
    positions = map_positions([m["position"] for m in smaller.minima], old,
                              smaller.slab.termination["supercell_matrix"], new,
                              slab.termination["supercell_matrix"])
    return [MinimumSeed(name=f"cell{cell - 1}-{m['site']}", position=[round(float(x), 6) for x in p])
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
    progress.emit(Event.CONVERGENCE_DONE, key=doc.key, surface=doc.key.label, status=doc.status,
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
