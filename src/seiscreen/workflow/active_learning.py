"""The active-learning loop as jobs, after the fidelity funnel: per round, fine-tune a committee on the store's DFT
frames, re-screen every surface of the first fidelity with it, judge the ranked barriers, and send the disputed
configurations to DFT for the next round. The decisions are the engine's (:mod:`seiscreen.active_learning`)."""

from __future__ import annotations

from pathlib import Path

from jobflow import Flow, Job, JobConfig, OnMissing, Response, job

from seiscreen.active_learning import (TAG, LoopManifest, RoundRecord, SpreadRow, added_in, decide,
                                       disputed_structures, round_frames, round_name, train_committee)
from seiscreen.campaign import Campaign
from seiscreen.committee import barrier_spreads, start_and_top
from seiscreen.errors import SeiscreenError
from seiscreen.finetuned_models import model_dirs
from seiscreen.neb import USABLE
from seiscreen.results import band_images
from seiscreen.schemas import SurfaceDoc
from seiscreen.single_points import StoredStructure, recompute
from seiscreen.store_frames import collect_frames, frames_database, load_frames, store_runs
from seiscreen.workflow.base import current_store
from seiscreen.workflow.surface import flatten_surfaces, recompute_surfaces

LOOP_CONFIG = JobConfig(on_missing_references=OnMissing.NONE, expose_store=True)


def active_learning_job(campaign: Campaign, screened: list, after) -> Job:
    """The loop's first round, after ``after`` (the funnel's DFT); ``screened``: the first fidelity's surfaces."""
    first = active_learning_round(campaign, screened, 1, 0, after)
    first.name, first.config = f"active learning {campaign.name} r1", LOOP_CONFIG
    return first


def loop_folder(campaign: Campaign) -> Path:
    """Where the loop keeps its manifest and its DFT single points: under the store's run folder."""
    runs = store_runs(current_store())
    if runs is None:  # a MongoDB store: the job runs in <runs>/job_<uuid>
        runs = Path.cwd().parent if Path.cwd().name.startswith("job_") else None
    if runs is None:
        raise SeiscreenError("the active-learning loop needs a run folder (a folder store, or `seiscreen run`)")
    return runs / TAG / campaign.finetune.prefix(campaign.name)


@job
def active_learning_round(campaign: Campaign, screened: list, round_: int, spent: int, after=None):
    """Fine-tune this round's committee (or find it trained), re-screen every screened surface with its first
    member, then judge (:func:`judge_round`)."""
    settings, dft = campaign.finetune, campaign.fidelities[-1]
    runs = loop_folder(campaign).parents[1]
    collect_frames(runs, frames_database(runs))
    frames = round_frames(load_frames(frames_database(runs), preset=dft), round_)
    name = round_name(settings.prefix(campaign.name), round_, frames, settings)
    members = train_committee(frames, model_dirs()[0], name, settings)
    surfaces = flatten_surfaces(screened)
    chosen = [d for d in surfaces if d.slab is not None]
    flows, outputs = recompute_surfaces(campaign, chosen, f"ml-ft:{name}", campaign.fidelities[0])
    trained = {"models": [m.name for m in members], "reused": [m.reused for m in members],
               "validation_force_mae": [m.manifest.validation.finetuned.force_mae for m in members],
               "dft_preset": dft, "n_frames": len(frames),
               "loop_frames": sum(added_in(f) is not None for f in frames)}
    judge = judge_round(campaign, chosen, outputs, round_, spent, trained)
    judge.name, judge.config = f"judge {campaign.name} r{round_}", LOOP_CONFIG
    return Response(replace=Flow([*flows, judge], output=judge.output))


@job
def judge_round(campaign: Campaign, screened: list, outputs: list, round_: int, spent: int, trained: dict):
    """The committee's spread on each ranked surface's limiting hop; DFT single points at the disputed ones and
    the next round, or the loop's end. Output: the round's :class:`RoundRecord`, also in the loop's manifest."""
    settings, folder = campaign.finetune, loop_folder(campaign)
    bands = limiting_bands(flatten_surfaces(outputs))
    members = [f"ml-ft:{m}" for m in trained["models"]]
    spreads = barrier_spreads([(label, start, top) for label, (_, _, start, top) in bands.items()], members)
    decision = decide(spreads, settings, round_, spent)
    pairs = {label: tuple(StoredStructure(doc.key.label, doc.key.model_dump(), kind, hop_id, atoms, None,
                                          f"{doc.content_hash}|r{round_}")
                          for kind, atoms in (("saddle", top), ("start", start)))
             for label, (doc, hop_id, start, top) in bands.items()}
    done = list(recompute(disputed_structures(decision, pairs), folder / "points", trained["dft_preset"],
                          tag=f"{TAG} r{round_}"))
    runs = folder.parents[1]
    collect_frames(runs, frames_database(runs))
    rows = [SpreadRow(surface=doc.key.label, content_hash=doc.content_hash, calculator=doc.key.calculator,
                      hop_id=hop_id, barrier=doc.ranking_barrier, member_barriers=list(s.barriers), spread=s.spread)
            for s, (doc, hop_id, _, _) in zip(spreads, bands.values(), strict=True)]
    record = RoundRecord(campaign=campaign.name, round=round_, **trained, threshold=settings.spread_threshold,
                         spreads=rows, flagged=[s.label.rsplit(" ", 1)[0] for s in decision.flagged],
                         single_points=len(done), dft_spent=spent + len(done), dft_budget=settings.dft_budget,
                         stop=decision.stop)
    manifest_file = folder / "manifest.json"
    before = LoopManifest.model_validate_json(manifest_file.read_text()) if manifest_file.is_file() else LoopManifest()
    manifest_file.write_text(before.with_round(record).model_dump_json(indent=1), encoding="utf-8")
    if decision.stop is not None:
        return record.model_dump()
    onward = active_learning_round(campaign, screened, round_ + 1, record.dft_spent)
    onward.name, onward.config = f"active learning {campaign.name} r{round_ + 1}", LOOP_CONFIG
    return Response(output=record.model_dump(), addition=Flow([onward]))


def limiting_bands(docs: list[SurfaceDoc]) -> dict:
    """Per ranked surface (label "<surface> <hop>"): its document, limiting hop's id, the band's start and highest
    image (from the store)."""
    bands = {}
    for doc in docs:
        limiting = doc.limiting_hop_1d if doc.channel_only else doc.limiting_hop_2d
        hop = next((h for h in doc.hops if h.hop_id == limiting and h.job_uuid and h.status in USABLE), None)
        if doc.status == "ranked" and hop is not None:
            bands[f"{doc.key.label} {hop.hop_id}"] = (doc, hop.hop_id,
                                                      *start_and_top(band_images(current_store(), hop.job_uuid)))
    return bands
