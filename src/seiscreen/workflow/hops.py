"""The hop Makers: one NEB job per symmetry-unique hop (the band engine, :mod:`seiscreen.bands`), fanned out."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms
from jobflow import Flow, OutputReference, Response, job

from seiscreen import progress
from seiscreen.progress import Event
from seiscreen.bands import (SLIDE_TOLERANCE, BandFiles, HopGeometry, ThroughValleys, compute_hop_band,
                             lower_level_band, moved_band)
from seiscreen.errors import AtomsLeftCell, SeiscreenError
from seiscreen.hopgraph import matching_hop, hop_specs, symmetry_of
from seiscreen.neb import USABLE
from seiscreen.schemas import (HopDoc, HopGraph, HopSpec, MinimaDoc, WarmStart, atoms_from_dict, atoms_to_dict,
                               content_hash)
from seiscreen.store import checkpoint_folder, find_done
from seiscreen.verdicts import with_later_gates
from seiscreen.workflow.base import EXPOSE_STORE, CalculatorMaker, current_job_uuid, band_fields, current_store
from seiscreen.workflow.slabs import failed_surface, store_surface

if TYPE_CHECKING:
    from seiscreen.workflow.summary import SurfaceSummaryMaker

log = logging.getLogger(__name__)


def _through(via: HopDoc, states: list[dict]) -> dict:
    """``HopDoc.intermediate`` of a hop computed through the valleys of ``via``'s band (states: relaxed valleys)."""
    return {"band_of": via.job_uuid, "valley_image": via.interior_minimum_image, "states": states}


@dataclass
class HopNebMaker(CalculatorMaker):
    """One symmetry-unique hop: both ends copied from their relaxed minima, re-relaxed, then a gated CI-NEB
    (:func:`seiscreen.bands.compute_hop_band`)."""

    name: str = "hop neb"
    slide_tolerance: float = SLIDE_TOLERANCE  # Å: a relaxed end farther than this from its minimum slid away
    # Band checkpoints: every optimiser step, but at most one per CHECKPOINT_SECONDS after a stage's first.
    checkpoint_every: int = 1

    def content_hash(self, minima: MinimaDoc, hop: HopSpec, warm: WarmStart | None = None,
                     via: HopDoc | None = None) -> str:
        """Identity of one hop's NEB: its minima set, its two ends, every setting, and the band it starts from
        (``via``: the band with a valley it is computed through)."""
        minima_id = minima.content_hash or content_hash("minima-doc", doc=minima.model_dump(
            mode="json", exclude={"provenance"}))
        ends = {"start_minimum": hop.start_minimum, "end_minimum": hop.end_minimum,
                "start": np.round(hop.start, 6), "end": np.round(hop.end, 6)}
        through = {"via": via.content_hash or via.job_uuid} if via is not None else {}  # older hashes unchanged
        return content_hash("hop", minima=minima_id, hop=ends, slide_tolerance=self.slide_tolerance,
                            warm=warm_identity(warm), **through, **self.identity(neb=True))

    def band_calculators(self, run_dir: Path):
        """``make_calculator`` of run_neb for this level (:meth:`seiscreen.bands.CalculatorLevel.band_calculators`)."""
        return self.level.band_calculators(run_dir)

    def relax_ends(self, ends: list[tuple[Atoms, Path]], max_steps: int | None = None) -> list[tuple[bool, int]]:
        """Each end relaxed in place to the protocol's ``endpoint_fmax`` (:meth:`CalculatorLevel.relax_ends`)."""
        return self.level.relax_ends(ends, self.neb_protocol.endpoint_fmax,
                                     max_steps or self.minima_settings.max_steps)

    @job(data=["band", "trajectory"], config=EXPOSE_STORE)
    def make(self, minima: MinimaDoc, hop: HopSpec, warm: WarmStart | None = None, via: HopDoc | None = None,
             seeded_twin: str | None = None) -> HopDoc:
        """``warm``: the same hop from another fidelity (its band, resolved by jobflow before the job runs), or the
        preset that relaxes a band between this hop's relaxed ends: the band's start.
        ``via``: this hop's band with a valley the refinements could not make a node of: the hop is then
        computed as bands through that valley, relaxed (:class:`seiscreen.bands.ThroughValleys`).
        ``seeded_twin`` (a cold band): the content hash of the same hop's warm-started band; stored with its
        seed failed, it is this band already."""
        progress.emit(Event.HOP_STARTED, surface=minima.key.label, hop=hop.hop_id)
        identity = self.content_hash(minima, hop, warm, via)
        twin = unseeded_twin(seeded_twin) if warm is None and via is None else None
        with self.recording_frames("hop", identity, minima.key):
            try:
                if twin is not None:
                    BandFiles([p for p in self.checkpoint_paths(identity) if p is not None]).remove()  # not needed
                    doc = twin.model_copy(update={"job_uuid": current_job_uuid(), "same_band_as": twin.job_uuid,
                                                  "force_calls": 0, "alternatives": []})
                elif via is not None:
                    doc = self._run_via(minima, hop, via, identity)
                else:
                    doc = self._run(minima, hop, warm, identity)
            except (SeiscreenError, AtomsLeftCell) as exc:  # the same inputs would fail the same way: stored, reused
                doc = self._failed(minima, hop, str(exc))
            except Exception as exc:  # one failing hop must not stop the campaign: stored as failed, with why
                log.exception("hop %s %s failed", minima.key.label, hop.hop_id)
                doc = self._failed(minima, hop, f"{type(exc).__name__}: {exc}", error=True)
        if via is not None and doc.intermediate is None:  # failed before a valley: still a hop through valleys
            doc = doc.model_copy(update={"intermediate": _through(via, states=[])})
        progress.emit(Event.HOP_DONE, key=minima.key, surface=minima.key.label, hop=hop.hop_id, status=doc.status,
                      barrier=doc.forward_barrier)
        return doc.model_copy(update={"content_hash": identity})

    def checkpoint_paths(self, identity: str) -> tuple[Path, Path | None]:
        """(the copy in the store's checkpoint folder, found by a rerun by the hop's hash; the copy in the job's
        own folder, when jobflow made one: ``job_<time>-<id>``)."""
        local = Path.cwd() / "neb-checkpoint.npz" if Path.cwd().name.startswith("job_") else None
        return checkpoint_folder(current_store()) / f"neb-{identity}.npz", local

    def _run(self, minima: MinimaDoc, hop: HopSpec, warm: WarmStart | None, identity: str) -> HopDoc:
        """The hop's band from its minima (:func:`seiscreen.bands.compute_hop_band`)."""
        saved, local = self.checkpoint_paths(identity)
        files = BandFiles([p for p in (saved if identity else None, local) if p is not None],
                          meta={"hop_hash": identity, "label": f"{minima.key.label} {hop.hop_id}"})
        outcome = compute_hop_band(
            self.level, self.neb_protocol, hop_geometry(minima, hop), Path.cwd(), files,
            self.minima_settings.max_steps, self.slide_tolerance, seed=self._seed(minima, hop, warm),
            seeded_before=warm is not None, on_step=_step_reporter(minima, hop), checkpoint_every=self.checkpoint_every)
        if outcome.result is None:  # the ends slid: what relaxing them cost is all this hop spent
            return self._failed(minima, hop, outcome.failure, outcome.endpoints).model_copy(
                update={"force_calls": outcome.end_force_calls})
        return self._result_doc(minima, hop, outcome.result, endpoints=outcome.endpoints, warm_start=outcome.seeded,
                                scf_smearing=outcome.scf_smearing, resumed=outcome.resumed,
                                end_force_calls=outcome.end_force_calls)

    def _seed(self, minima: MinimaDoc, hop: HopSpec, warm: WarmStart | None):
        """The warm start as a function of the relaxed ends: a cheaper level's band, or another fidelity's."""
        if warm is None:
            return None
        if warm.relax_with:
            return lambda initial, final: self._relaxed_band(warm.relax_with, initial, final)
        prior = [atoms_from_dict(d) for d in warm.band]
        clean = atoms_from_dict(minima.clean_structure).positions
        return lambda initial, final: moved_band(prior, (warm.start, warm.end), (hop.start, hop.end),
                                                 symmetry_of(minima.slab), clean, initial, final,
                                                 self.neb_protocol.n_images)

    def _relaxed_band(self, preset_name: str, initial: Atoms, final: Atoms) -> list[np.ndarray] | None:
        """A cheaper level's band between these ends, or None (:func:`seiscreen.bands.lower_level_band`)."""
        return lower_level_band(preset_name, initial, final, self.neb_protocol)

    def _run_via(self, minima: MinimaDoc, hop: HopSpec, via: HopDoc, identity: str = "") -> HopDoc:
        """The hop as bands through the valley of its earlier band ``via``, relaxed (ThroughValleys)."""
        folder = checkpoint_folder(current_store()) / f"via-{identity}" if identity else None
        band = [atoms_from_dict(d) for d in via.band]
        for image in band:  # with this preset's periodicity
            if self.preset.slab_pbc is not None:
                image.pbc = self.preset.slab_pbc
        outcome = ThroughValleys(self.level, self.neb_protocol, self.minima_settings.max_steps, folder, Path.cwd(),
                                 _step_reporter(minima, hop), self.checkpoint_every).run(
            band, via.interior_minimum_image)
        intermediate = _through(via, outcome.states)
        if outcome.result is None:
            doc = self._failed(minima, hop, f"{outcome.failure} (tried from the band of refinement {via.refinement})",
                               via.endpoints).model_copy(update={"force_calls": outcome.force_calls,
                                                                 "intermediate": intermediate})
        else:
            intermediate["barriers"] = outcome.barriers  # of each band, in path order
            doc = self._result_doc(minima, hop, outcome.result, endpoints=via.endpoints, intermediate=intermediate,
                                   warm_start=via.warm_start, resumed=outcome.resumed)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)  # finished: the document replaces the steps
        return doc

    def _result_doc(self, minima: MinimaDoc, hop: HopSpec, result, end_force_calls: int = 0, **extra) -> HopDoc:
        """The hop document of a judged band; ``end_force_calls``: what relaxing its ends cost, outside the band."""
        every = max(1, len(result.history) // 10)  # keep about ten bands, as quacc's Summarize.neb does
        return self._hop_doc(
            minima, hop, status=result.status, reason=result.reason, **band_fields(result),
            forward_barrier=result.forward_barrier, reverse_barrier=result.reverse_barrier,
            saddle_energy=result.saddle_energy, path=result.path, exchange=result.exchange,
            interior_minimum_image=result.interior_minimum_image, force_calls=result.force_calls + end_force_calls,
            mirrored=result.mirrored,
            trajectory=[[atoms_to_dict(im) for im in images] for images in result.history[::every]], **extra)

    def _failed(self, minima: MinimaDoc, hop: HopSpec, reason: str, endpoints: dict | None = None,
                error: bool = False) -> HopDoc:
        return self._hop_doc(minima, hop, status="failed", reason=reason, gates={}, forward_barrier=None,
                             reverse_barrier=None, saddle_energy=None,
                             start_energy=minima.minima[hop.start_minimum].energy, image_energies=[], path={},
                             exchange=False, interior_minimum_image=None, endpoints=endpoints or {}, force_calls=0,
                             steps_plain=0, steps_climb=0, error=error)

    def _hop_doc(self, minima: MinimaDoc, hop: HopSpec, **results) -> HopDoc:
        """The hop's identity and protocol, with the results of this attempt."""
        return HopDoc(key=minima.key, refinement=minima.refinement, hop_id=hop.hop_id,
                      start_minimum=hop.start_minimum, end_minimum=hop.end_minimum,
                      start_site=minima.minima[hop.start_minimum].site,
                      end_site=minima.minima[hop.end_minimum].site, start=list(hop.start),
                      end=list(hop.end), length=hop.length, multiplicity=hop.multiplicity,
                      bypass=hop.bypass, job_uuid=current_job_uuid(),
                      provenance=self.provenance(with_neb=True), **results)


def hop_geometry(minima: MinimaDoc, hop: HopSpec) -> HopGeometry:
    """The hop spec ``hop`` on its minima document, as the band engine takes it."""
    start, end = minima.minima[hop.start_minimum], minima.minima[hop.end_minimum]
    return HopGeometry(atoms_from_dict(start.structure), np.array(start.frac_xy), atoms_from_dict(end.structure),
                       np.array(end.frac_xy), np.array(hop.start), np.array(hop.end), symmetry_of(minima.slab),
                       atoms_from_dict(minima.clean_structure).positions)


def _step_reporter(minima: MinimaDoc, hop: HopSpec) -> Callable[[str, int, float], None]:
    """A band's ``on_step``: each optimiser step as a ``neb_step`` progress event (``seiscreen status``)."""
    def on_step(stage: str, step: int, fmax: float) -> None:
        progress.emit(Event.NEB_STEP, surface=minima.key.label, hop=hop.hop_id, stage=stage, step=step,
                      fmax=round(fmax, 4))

    return on_step


def unseeded_twin(seeded_hash: str | None) -> HopDoc | None:
    """The same hop's warm-started band (content hash ``seeded_hash``) when it is stored and started from IDPP:
    its seed failed its gates (``lower_level_band``) or did not fit its ends. A cold band would then repeat it step
    for step (measured with GPAW: docs/notes/2026-11-27-gpaw-na2se100.md). A band resumed from a checkpoint counts:
    it is the same IDPP start. A band stopped by an error is not used."""
    if seeded_hash is None:
        return None
    stored = find_done(current_store(), "hop", seeded_hash, load=True)
    if stored is None or stored.get("warm_start") or stored.get("error"):
        return None
    return HopDoc.model_validate(stored)


def warm_identity(warm: WarmStart | None) -> dict | None:
    """What a warm start contributes to an identity: the job whose band it is (before the band is fetched) or
    the band's rounded positions (after)."""
    if warm is None:
        return None
    start, end = np.round(warm.start, 6), np.round(warm.end, 6)
    if warm.relax_with:  # a band the named lower fidelity relaxes between this level's ends
        return {"start": start, "end": end, "relax_with": warm.relax_with}
    band = warm.band
    if isinstance(band, OutputReference):
        source = band.uuid
    elif isinstance(band, dict) and "uuid" in band:  # a serialised reference
        source = band["uuid"]
    else:
        source = content_hash("band", positions=[np.round(atoms_from_dict(d).positions, 4) for d in band or []])
    return {"start": start, "end": end, "band": source}


@dataclass
class HopsMaker(CalculatorMaker):
    """Enumerate the hops between the minima and fan out one NEB job per symmetry-unique hop."""

    name: str = "hops"
    neb_maker: HopNebMaker | None = None
    summary_maker: SurfaceSummaryMaker | None = None
    max_hop_length: float = 6.0
    # In a funnel: the lower fidelity, which relaxes a band between this level's ends for every hop it has no band
    # of (the levels' minima differ: on NaF(100) CHGNet's are the hollow, GPAW's on top of F).
    seed_band_preset: str | None = None
    # Every warm-started hop also from a cold IDPP start; the lower saddle is the hop's (lower_saddle).
    cold_bands: bool = False

    @job(config=EXPOSE_STORE)
    def make(self, minima: MinimaDoc, reuse: list[HopDoc] | None = None, warm: list[WarmStart] | None = None,
             surface_hash: str | None = None):
        """``reuse``: hops already computed (before a refinement); ``warm``: another fidelity's hops whose bands
        seed the NEB of the same hop (jobflow has resolved their band references when this job runs);
        ``surface_hash``: the identity the surface document will carry. Hops finished in the store by an earlier
        run (same hash) are reused."""
        if not minima.minima:
            summary = self.summary_maker.make(minima, [], HopGraph(nodes=[], edges=[]), hops_maker=self,
                                              surface_hash=surface_hash)
            return Response(replace=Flow([summary], output=summary.output))
        try:
            specs, graph = hop_specs(minima, self.max_hop_length)
        except SeiscreenError as exc:  # stored with why, never a surface silently missing from the ranking
            key = minima.key
            failed = store_surface(failed_surface(key.material, list(key.miller), key.adsorbate, key.calculator,
                                                  f"no hop network: {exc}", self.provenance(True), minima.slab))
            return Response(replace=Flow([failed], output=failed.output))
        symmetry = symmetry_of(minima.slab)
        store = current_store()
        jobs, outputs, new_bands = [], [], 0
        for spec in specs:
            # A refinement that changed nothing would only repeat the bands with valleys: kept too, and the
            # summary then goes through their valleys (SurfaceSummaryMaker).
            statuses = USABLE + (("interior_minimum",) if minima.same_network else ())
            previous = matching_hop(spec, reuse or [], symmetry, statuses)
            if previous is not None:  # computed before a refinement added minima elsewhere: keep it
                outputs.append(previous.model_copy(update=spec.model_dump(include={
                    "hop_id", "start_minimum", "end_minimum", "multiplicity"})))
                continue
            same = next((w for w in warm or [] if symmetry.equivalent_segments(
                w.start, w.end, spec.start, spec.end, tol=0.3)), None)
            if same is None and self.seed_band_preset:
                same = WarmStart(start=spec.start, end=spec.end, relax_with=self.seed_band_preset)
            starts = [same, None] if same is not None and self.cold_bands else [same]
            bands = [self.band_job(minima, spec, start, store, jobs, twin=same if start is None else None)
                     for start in starts]
            new_bands += sum(not isinstance(band, HopDoc) for band in bands)  # the others came from the store
            if len(bands) == 1:
                outputs.append(bands[0])
            else:
                lower = lower_saddle(bands)
                lower.name = f"lower saddle {minima.key.label} {spec.hop_id}"
                jobs.append(lower)
                outputs.append(lower.output)
        progress.emit(Event.HOPS_PLANNED, key=minima.key, surface=minima.key.label, n=new_bands,
                      refinement=minima.refinement)
        summary = self.summary_maker.make(minima, outputs, graph, hops_maker=self, surface_hash=surface_hash)
        summary.name = f"summary {minima.key.label}"
        return Response(replace=Flow([*jobs, summary], output=summary.output))


    def band_job(self, minima: MinimaDoc, spec: HopSpec, warm: WarmStart | None, store, jobs: list,
                 twin: WarmStart | None = None):
        """The hop's band from ``warm`` (None: IDPP): stored by an earlier run, or a new NEB job added to ``jobs``.
        ``twin``: for a cold band, the warm start of the same hop's other band (which may turn out to be IDPP)."""
        stored = find_done(store, "hop", self.neb_maker.content_hash(minima, spec, warm), load=True)
        if stored is not None:  # finished by an earlier run of the campaign
            progress.emit(Event.HOP_REUSED, surface=minima.key.label, hop=spec.hop_id)
            return with_later_gates(HopDoc.model_validate(stored))
        seeded = self.neb_maker.content_hash(minima, spec, twin) if twin is not None else None
        neb = self.neb_maker.make(minima, spec, warm=warm, seeded_twin=seeded)
        neb.name = f"neb {minima.key.label} {spec.hop_id}" + ("" if warm else " (cold)" if self.cold_bands else "")
        jobs.append(neb)
        return neb.output


@job(data=["band", "trajectory"])
def lower_saddle(bands: list[HopDoc]) -> HopDoc:
    """Of one hop's bands started differently (warm and cold), the usable one with the lower saddle, the others
    listed in its ``alternatives``: two converged bands of a hop can end on different saddles, and the hop's
    barrier is the lower one. With no usable band, the first (the warm one) with why."""
    usable = [b for b in bands if b.status in USABLE and b.saddle_energy is not None]
    best = min(usable, key=lambda b: b.saddle_energy) if usable else bands[0]
    others = [{"job_uuid": b.job_uuid, "warm_start": b.warm_start, "status": b.status, "reason": b.reason,
               "forward_barrier": b.forward_barrier, "force_calls": b.force_calls} for b in bands if b is not best]
    return best.model_copy(update={"alternatives": others})
