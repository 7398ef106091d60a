"""jobflow Makers, one per physical step. Each job: build the calculator, run plain functions, summarise.

The ``calculator`` property is the one thing a subclass overrides (as in atomate2); everything else is
shared. Flows are assembled in :mod:`seiscreen.flows`.

Reruns: every computing Maker has a ``content_hash(...)`` of the inputs of its ``make``; the document it makes
carries that hash, and the job that would create it first looks it up in the store (``find_done``) and reuses a
finished one instead. Jobs that plan others run with ``expose_store`` for that.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from jobflow import Flow, JobConfig, Maker, OutputReference, Response, job
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen import progress
from seiscreen.bands import (SLIDE_TOLERANCE, BandFiles, CalculatorLevel, HopGeometry, ThroughValleys, compute_hop_band,
                             lower_level_band, moved_band)
from seiscreen.calculators import CalculatorPreset, get_preset
from seiscreen.catalog import Bulk, load_bulk, make_bulk
from seiscreen.errors import AtomsLeftCell, SeiscreenError
from seiscreen.minima import (MinimaSettings, Minimum, ScanCheckpoint, merge_equivalent, relax_and_verify, scan_surface)
from seiscreen.neb import (USABLE, NebProtocol, band_slip, follows_hop, slip_reason)
from seiscreen.parallel import CalculatorProcessKilled, ParallelSettings
from seiscreen.schemas import (HopDoc, HopSummary, MinimaDoc, MinimumDoc, Provenance, SlabDoc, SurfaceDoc,
                               SurfaceKey, atoms_from_dict, atoms_to_dict, calculator_identity, content_hash,
                               structure_fingerprints)
from seiscreen.store import checkpoint_folder, find_done, find_done_job
from seiscreen.surfaces.hops import build_hop_network, bypass_hops
from seiscreen.surfaces.percolation import GraphEdge, could_lower, percolation_barrier
from seiscreen.surfaces.sites import CandidateSite, Outcome
from seiscreen.surfaces.slabs import SlabSettings, Termination, make_terminations
from seiscreen.surfaces.symmetry import SurfaceSymmetry

log = logging.getLogger(__name__)

EXPOSE_STORE = JobConfig(expose_store=True)  # planning jobs look up finished work in the store


def _through(via: HopDoc, states: list[dict]) -> dict:
    """``HopDoc.intermediate`` of a hop computed through the valleys of ``via``'s band (states: relaxed valleys)."""
    return {"band_of": via.job_uuid, "valley_image": via.interior_minimum_image, "states": states}


def current_store():
    """The store of the running job (jobs configured with ``expose_store``), else None: then nothing is reused."""
    from jobflow import CURRENT_JOB

    return getattr(CURRENT_JOB, "store", None)


def band_fields(result) -> dict:
    """What a hop document and a saved rerun both keep of a finished band (``NebResult``): its start energy, the
    energies relative to it, the gates, the steps and the final images (routed to the data store)."""
    e0 = result.energies[0]
    return dict(start_energy=e0, image_energies=[e - e0 for e in result.energies], gates=result.gates,
                steps_plain=result.steps_plain, steps_climb=result.steps_climb,
                band=[atoms_to_dict(image) for image in result.images])


@dataclass
class CalculatorMaker(Maker):
    """Shared by every step that computes energies: the preset, the settings, and the provenance they make."""

    name: str = "calculation"
    calculator_preset: str = "ml"
    slab_settings: SlabSettings = field(default_factory=SlabSettings)
    minima_settings: MinimaSettings = field(default_factory=MinimaSettings)
    neb_protocol: NebProtocol = field(default_factory=NebProtocol)
    # Where the calculations run (MPI ranks, images at once): not in identity(), it changes no number.
    parallel: ParallelSettings = field(default_factory=ParallelSettings)

    @property
    def preset(self) -> CalculatorPreset:
        return get_preset(self.calculator_preset)

    @property
    def calculator(self) -> Calculator:
        """The one property a subclass overrides to swap the engine."""
        return CalculatorLevel(self.preset, self.parallel).default_calculator()

    @property
    def level(self) -> CalculatorLevel:
        """This step's calculators for the band engine (:class:`seiscreen.bands.CalculatorLevel`)."""
        return CalculatorLevel(self.preset, self.parallel, calculator=lambda: self.calculator)

    def image_calculator(self, atoms: Atoms, directory: Path | None = None) -> Calculator:
        """A calculator for one structure (:meth:`seiscreen.bands.CalculatorLevel.image_calculator`)."""
        return self.level.image_calculator(atoms, directory)

    def identity(self, neb: bool = False) -> dict:
        """The settings of this maker that change its numbers (package versions excluded: see content_hash)."""
        out = {"calculator": calculator_identity(self.preset.provenance()),
               "minima_settings": self.minima_settings.model_dump(mode="json")}
        if neb:
            out["neb_protocol"] = self.neb_protocol.model_dump(mode="json")
        return out

    def provenance(self, with_neb: bool = False) -> Provenance:
        return Provenance(calculator=self.preset.provenance(), slab_settings=self.slab_settings.model_dump(),
                          minima_settings=self.minima_settings.model_dump(),
                          neb_protocol=self.neb_protocol.model_dump() if with_neb else None,
                          parallel=self.parallel.provenance())


# --------------------------------------------------------------------------------------------- slabs


def relaxed_bulk(bulk: Bulk, calc: Calculator, fmax: float = 0.005) -> Bulk:
    """The bulk with its cell and positions relaxed by ``calc``, symmetry kept (FixSymmetry)."""
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    atoms = AseAtomsAdaptor.get_atoms(bulk.structure.copy().remove_oxidation_states())
    atoms.set_constraint(FixSymmetry(atoms))
    atoms.calc = calc
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=fmax, steps=300)
    atoms.set_constraint()
    structure = AseAtomsAdaptor.get_structure(atoms)
    return make_bulk(bulk.name, structure, bulk.oxidation_states, f"{bulk.source}; relaxed with the campaign's "
                     "calculator", bulk.entry)


def slab_doc(termination: Termination, adsorbate: str, calculator: str) -> SlabDoc:
    symmetry = SurfaceSymmetry.from_structure(termination.slab)
    key = SurfaceKey(material=termination.material, miller=termination.miller,
                     termination_id=termination.termination_id, adsorbate=adsorbate, calculator=calculator)
    return SlabDoc(key=key, termination=termination.metadata(), structure=atoms_to_dict(termination.to_atoms()),
                   symmetry={"rotations": symmetry.rotations.tolist(), "translations": symmetry.translations.tolist(),
                             "lattice": symmetry.lattice.tolist()})


def symmetry_of(slab: SlabDoc) -> SurfaceSymmetry:
    return SurfaceSymmetry.from_dict(slab.symmetry)


@dataclass
class TerminationsMaker(CalculatorMaker):
    """Cut every termination of (material, facet) and fan out one surface flow per termination."""

    name: str = "terminations"
    surface_flow_maker: Maker | None = None  # seiscreen.flows.SurfaceFlowMaker
    only: list[str] | None = None  # termination ids to keep (None: all)

    @job(config=EXPOSE_STORE)
    def make(self, material: str, miller: list[int], slabs: list[SlabDoc] | None = None):
        """``slabs``: the facet's slab documents when the caller already cut them (campaign_flow's plan)."""
        try:
            docs = [SlabDoc.model_validate(s) for s in slabs] if slabs else self.slab_docs(material, miller)
        except Exception as exc:  # noqa: BLE001 - one material failing must not stop the campaign
            log.exception("cutting %s %s failed", material, miller)
            failed = store_surface(failed_surface(material, miller, self.minima_settings.adsorbate, self.preset.name,
                                                  f"slab cutting failed: {type(exc).__name__}: {exc}",
                                                  self.provenance(True)))
            return Response(replace=Flow([failed], output=[failed.output]))
        progress.emit("surfaces_planned", material=material, miller=miller, n=len(docs))
        store = current_store()
        flows, outputs = [], []
        for doc in docs:
            done = find_done_job(store, "surface", self.surface_flow_maker.content_hashes(doc))
            if done is not None:  # finished by an earlier run: referred to, not recomputed and not copied
                progress.emit("surface_reused", key=doc.key, surface=doc.key.label)
                outputs.append(OutputReference(done["uuid"]))
                continue
            progress.emit("surface_pending", key=doc.key, surface=doc.key.label)
            flow = self.surface_flow_maker.make(doc)
            flows.append(flow)
            outputs.append(flow.output)
        if not flows:
            return outputs  # references only: the stored output points at the finished documents
        gather = gather_references(outputs)
        return Response(replace=Flow([*flows, gather], output=gather.output, name=f"{material} {miller}"))

    def slab_docs(self, material: str, miller: list[int]) -> list[SlabDoc]:
        """The slab documents of every kept termination of (material, facet): what the surface flows start from."""
        bulk = load_bulk(material)
        if self.slab_settings.lattice == "calculator":
            bulk = relaxed_bulk(bulk, self.calculator)
        terminations = make_terminations(bulk, tuple(miller), self.slab_settings)
        if self.only is not None:
            terminations = [t for t in terminations if t.termination_id in self.only]
        return [slab_doc(t, self.minima_settings.adsorbate, self.preset.name) for t in terminations]


@job(config=JobConfig(resolve_references=False))
def gather_references(references: list) -> list:
    """The surfaces of one facet as references, new and reused alike: a flow's output may only refer to its own
    jobs, and a reused surface must be referred to (its document stays the only copy), not copied."""
    return references


@job
def store_surface(doc: SurfaceDoc) -> SurfaceDoc:
    """A surface document as its own job output (a failure found while planning), so the store sees one document
    per surface and never a list of them."""
    return doc


def failed_surface(material: str, miller: list[int], adsorbate: str, calculator: str, reason: str,
                   provenance: Provenance, slab: SlabDoc | None = None) -> SurfaceDoc:
    """A surface (or a whole facet, termination "-") whose computation raised: stored with why, never ranked."""
    key = slab.key if slab is not None else SurfaceKey(material=material, miller=tuple(miller), termination_id="-",
                                                       adsorbate=adsorbate, calculator=calculator)
    return SurfaceDoc(status="failed", reason=reason, key=key, n_minima=0, lowest_site=None, adsorption_energy=None,
                      barrier_2d=None, barrier_1d=None, lowest_hop_barrier=None, channel_only=False,
                      limiting_hop_1d=None, limiting_hop_2d=None, path_hops_1d=[], path_hops_2d=[], directions_1d=[],
                      directions_2d=[], hops=[], minima=[], force_calls=0, provenance=provenance, slab=slab)


# --------------------------------------------------------------------------------------------- minima


def minimum_doc(m: Minimum) -> MinimumDoc:
    return MinimumDoc(index=m.index, site=m.site, started_from=m.started_from, outcome=m.outcome.value,
                      verified=m.verified, energy=m.energy, adsorption_energy=m.adsorption_energy,
                      frac_xy=m.frac_xy.tolist(), position=m.position.tolist(), details=m.details,
                      force_calls=m.force_calls, structure=atoms_to_dict(m.atoms))


@dataclass
class MinimaMaker(CalculatorMaker):
    """Relax the clean slab and every candidate site; keep verified, symmetry-distinct minima."""

    name: str = "minima"

    def content_hash(self, slab: SlabDoc, seeds: list[dict] | None = None) -> str:
        return self.content_hashes(slab, seeds)[0]

    def content_hashes(self, slab: SlabDoc, seeds: list[dict] | None = None) -> list[str]:
        """The search's identity, then the one it had before a slab's face atoms were all taken at fraction 0
        (``schemas.structure_fingerprints``), if that differs: lookups try both."""
        key = slab.key.model_dump(mode="json", exclude={"calculator"})  # the preset is in identity()
        return [content_hash("minima", surface=key, structure=structure,
                             seeds=[{"name": s["name"], "position": np.round(s["position"], 4)} for s in seeds or []],
                             **self.identity()) for structure in structure_fingerprints(slab.structure)]

    @job(config=EXPOSE_STORE)  # the store names the checkpoint folder of a long (DFT) search
    def make(self, slab: SlabDoc, seeds: list[dict] | None = None) -> MinimaDoc:
        """``seeds``: extra starts {"name", "position"} (another fidelity's minima); site classes always run."""
        progress.emit("minima_started", key=slab.key, surface=slab.key.label)
        identities = self.content_hashes(slab, seeds)
        identity = identities[0]
        extra = [CandidateSite(f"seed-{s['name']}", np.array(s["position"])) for s in seeds or []]
        folders = [checkpoint_folder(current_store()) / f"minima-{i}" for i in identities]
        saved = next((folder for folder in folders if folder.exists()), folders[0])  # begun under either
        try:
            scan = scan_surface(atoms_from_dict(slab.structure), self.calculator, self.minima_settings,
                                _adsorbate_bulk(self.minima_settings.adsorbate), seeds=extra, checkpoint=saved)
        except Exception as exc:  # noqa: BLE001 - stored as a failed surface with why; the campaign goes on
            log.exception("minima of %s failed", slab.key.label)
            return MinimaDoc(key=slab.key, slab=slab, clean_energy=None, clean_structure=slab.structure,
                             adsorbate_reference=None, minima=[], rejected=[], force_calls=0,
                             provenance=self.provenance(), content_hash=identity,
                             error=f"minima search failed: {type(exc).__name__}: {exc}")
        shutil.rmtree(saved, ignore_errors=True)  # finished: its document replaces the checkpoint
        accepted = [minimum_doc(m) for m in scan.accepted]
        rejected = [minimum_doc(m) for m in scan.minima if not m.accepted]
        progress.emit("minima_done", surface=slab.key.label, n=len(accepted))
        return MinimaDoc(key=slab.key, slab=slab, clean_energy=scan.clean_energy,
                         clean_structure=atoms_to_dict(scan.clean), adsorbate_reference=scan.adsorbate_reference,
                         minima=accepted, rejected=rejected, force_calls=scan.force_calls,
                         provenance=self.provenance(), content_hash=identity)


def _adsorbate_bulk(element: str) -> Atoms | None:
    """The catalog's bulk of the adsorbate element (bcc Na for Na) when there is one; else ASE's default."""
    try:
        return AseAtomsAdaptor.get_atoms(load_bulk(element).structure.remove_oxidation_states())
    except Exception:  # not in the catalog: ase.build.bulk(element) is used
        return None


# --------------------------------------------------------------------------------------------- hops


@dataclass
class HopNebMaker(CalculatorMaker):
    """One symmetry-unique hop: both ends copied from their relaxed minima, re-relaxed, then a gated CI-NEB
    (:func:`seiscreen.bands.compute_hop_band`)."""

    name: str = "hop neb"
    slide_tolerance: float = SLIDE_TOLERANCE  # Å: a relaxed end farther than this from its minimum slid away
    # Band checkpoints: every optimiser step, but at most one per CHECKPOINT_SECONDS after a stage's first.
    checkpoint_every: int = 1

    def content_hash(self, minima: MinimaDoc, hop: dict, warm: dict | None = None,
                     via: HopDoc | None = None) -> str:
        """Identity of one hop's NEB: its minima set, its two ends, every setting, and the band it starts from
        (``via``: the band with a valley it is computed through)."""
        minima_id = minima.content_hash or content_hash("minima-doc", doc=minima.model_dump(
            mode="json", exclude={"provenance"}))
        ends = {k: hop[k] for k in ("start_minimum", "end_minimum")}
        ends.update({k: np.round(hop[k], 6) for k in ("start", "end")})
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
    def make(self, minima: MinimaDoc, hop: dict, warm: dict | None = None, via: HopDoc | None = None,
             seeded_twin: str | None = None) -> HopDoc:
        """``warm``: the same hop from another fidelity, {"start", "end", "band"}: its band is the start.
        ``via``: this hop's band with a valley the refinements could not make a node of: the hop is then
        computed as bands through that valley, relaxed (:class:`seiscreen.bands.ThroughValleys`).
        ``seeded_twin`` (a cold band): the content hash of the same hop's warm-started band; stored with its
        seed failed, it is this band already."""
        progress.emit("hop_started", surface=minima.key.label, hop=hop["hop_id"])
        identity = self.content_hash(minima, hop, warm, via)
        twin = unseeded_twin(seeded_twin) if warm is None and via is None else None
        try:
            if twin is not None:
                BandFiles([p for p in self.checkpoint_paths(identity) if p is not None]).remove()  # not needed
                doc = twin.model_copy(update={"job_uuid": _current_job_uuid(), "same_band_as": twin.job_uuid,
                                              "force_calls": 0, "alternatives": []})
            elif via is not None:
                doc = self._run_via(minima, hop, via, identity)
            else:
                doc = self._run(minima, hop, warm, identity)
        except (SeiscreenError, AtomsLeftCell) as exc:  # the same inputs would fail the same way: stored, reused
            doc = self._failed(minima, hop, str(exc))
        except Exception as exc:  # one failing hop must not stop the campaign: stored as failed, with why
            log.exception("hop %s %s failed", minima.key.label, hop["hop_id"])
            doc = self._failed(minima, hop, f"{type(exc).__name__}: {exc}", error=True)
        if via is not None and doc.intermediate is None:  # failed before a valley: still a hop through valleys
            doc = doc.model_copy(update={"intermediate": _through(via, states=[])})
        progress.emit("hop_done", key=minima.key, surface=minima.key.label, hop=hop["hop_id"], status=doc.status,
                      barrier=doc.forward_barrier)
        return doc.model_copy(update={"content_hash": identity})

    def checkpoint_paths(self, identity: str) -> tuple[Path, Path | None]:
        """(the copy in the store's checkpoint folder, found by a rerun by the hop's hash; the copy in the job's
        own folder, when jobflow made one: ``job_<time>-<id>``)."""
        local = Path.cwd() / "neb-checkpoint.npz" if Path.cwd().name.startswith("job_") else None
        return checkpoint_folder(current_store()) / f"neb-{identity}.npz", local

    def _run(self, minima: MinimaDoc, hop: dict, warm: dict | None, identity: str) -> HopDoc:
        """The hop's band from its minima (:func:`seiscreen.bands.compute_hop_band`)."""
        saved, local = self.checkpoint_paths(identity)
        files = BandFiles([p for p in (saved if identity else None, local) if p is not None],
                          meta={"hop_hash": identity, "label": f"{minima.key.label} {hop['hop_id']}"})
        outcome = compute_hop_band(
            self.level, self.neb_protocol, hop_geometry(minima, hop), Path.cwd(), files,
            self.minima_settings.max_steps, self.slide_tolerance, seed=self._seed(minima, hop, warm),
            seeded_before=bool(warm), on_step=_step_reporter(minima, hop), checkpoint_every=self.checkpoint_every)
        if outcome.result is None:
            return self._failed(minima, hop, outcome.failure, outcome.endpoints)
        return self._result_doc(minima, hop, outcome.result, endpoints=outcome.endpoints, warm_start=outcome.seeded,
                                scf_smearing=outcome.scf_smearing, resumed=outcome.resumed)

    def _seed(self, minima: MinimaDoc, hop: dict, warm: dict | None):
        """The warm start as a function of the relaxed ends: a cheaper level's band, or another fidelity's."""
        if not warm:
            return None
        if warm.get("relax_with"):
            return lambda initial, final: self._relaxed_band(warm["relax_with"], initial, final)
        prior = [atoms_from_dict(d) for d in warm["band"]]
        clean = atoms_from_dict(minima.clean_structure).positions
        return lambda initial, final: moved_band(prior, (warm["start"], warm["end"]), (hop["start"], hop["end"]),
                                                 symmetry_of(minima.slab), clean, initial, final,
                                                 self.neb_protocol.n_images)

    def _relaxed_band(self, preset_name: str, initial: Atoms, final: Atoms) -> list[np.ndarray] | None:
        """A cheaper level's band between these ends, or None (:func:`seiscreen.bands.lower_level_band`)."""
        return lower_level_band(preset_name, initial, final, self.neb_protocol)

    def _run_via(self, minima: MinimaDoc, hop: dict, via: HopDoc, identity: str = "") -> HopDoc:
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

    def _result_doc(self, minima: MinimaDoc, hop: dict, result, **extra) -> HopDoc:
        every = max(1, len(result.history) // 10)  # keep about ten bands, as quacc's Summarize.neb does
        return self._hop_doc(
            minima, hop, status=result.status, reason=result.reason, **band_fields(result),
            forward_barrier=result.forward_barrier, reverse_barrier=result.reverse_barrier,
            saddle_energy=result.saddle_energy, path=result.path, exchange=result.exchange,
            interior_minimum_image=result.interior_minimum_image, force_calls=result.force_calls,
            mirrored=result.mirrored,
            trajectory=[[atoms_to_dict(im) for im in images] for images in result.history[::every]], **extra)

    def _failed(self, minima: MinimaDoc, hop: dict, reason: str, endpoints: dict | None = None,
                error: bool = False) -> HopDoc:
        return self._hop_doc(minima, hop, status="failed", reason=reason, gates={}, forward_barrier=None,
                             reverse_barrier=None, saddle_energy=None,
                             start_energy=minima.minima[hop["start_minimum"]].energy, image_energies=[], path={},
                             exchange=False, interior_minimum_image=None, endpoints=endpoints or {}, force_calls=0,
                             steps_plain=0, steps_climb=0, error=error)

    def _hop_doc(self, minima: MinimaDoc, hop: dict, **results) -> HopDoc:
        """The hop's identity and protocol, with the results of this attempt."""
        return HopDoc(key=minima.key, refinement=minima.refinement, hop_id=hop["hop_id"],
                      start_minimum=hop["start_minimum"], end_minimum=hop["end_minimum"],
                      start_site=minima.minima[hop["start_minimum"]].site,
                      end_site=minima.minima[hop["end_minimum"]].site, start=list(hop["start"]),
                      end=list(hop["end"]), length=hop["length"], multiplicity=hop["multiplicity"],
                      bypass=hop.get("bypass", False), job_uuid=_current_job_uuid(),
                      provenance=self.provenance(with_neb=True), **results)


def hop_geometry(minima: MinimaDoc, hop: dict) -> HopGeometry:
    """The hop spec ``hop`` on its minima document, as the band engine takes it."""
    start, end = (minima.minima[hop[f"{name}_minimum"]] for name in ("start", "end"))
    return HopGeometry(atoms_from_dict(start.structure), np.array(start.frac_xy), atoms_from_dict(end.structure),
                       np.array(end.frac_xy), np.array(hop["start"]), np.array(hop["end"]), symmetry_of(minima.slab),
                       atoms_from_dict(minima.clean_structure).positions)


def _step_reporter(minima: MinimaDoc, hop: dict) -> Callable[[str, int, float], None]:
    """A band's ``on_step``: each optimiser step as a ``neb_step`` progress event (``seiscreen status``)."""
    def on_step(stage: str, step: int, fmax: float) -> None:
        progress.emit("neb_step", surface=minima.key.label, hop=hop["hop_id"], stage=stage, step=step,
                      fmax=round(fmax, 4))

    return on_step


def unseeded_twin(seeded_hash: str | None) -> HopDoc | None:
    """The same hop's warm-started band (content hash ``seeded_hash``) when it is stored and started from IDPP:
    its seed failed its gates (``lower_level_band``) or did not fit its ends. A cold band would then repeat it step
    for step: on GPAW's Na2Se(100) two hops computed both ways gave the same barrier to the last digit twice,
    6 and 17 minutes of two cores per band. A band resumed from a checkpoint counts: it is the same IDPP start
    (with EMT a resumed NEB repeats the unbroken one's steps exactly, tests/test_reliability.py; with GPAW the
    images' SCF restarts from scratch, and two such hops of Na2Se(100) came out 0.002-0.003 eV apart). A band
    stopped by an error is not used."""
    if seeded_hash is None:
        return None
    stored = find_done(current_store(), "hop", seeded_hash, load=True)
    if stored is None or stored.get("warm_start") or stored.get("error"):
        return None
    return HopDoc.model_validate(stored)


def _current_job_uuid() -> str | None:
    from jobflow import CURRENT_JOB

    return CURRENT_JOB.job.uuid if CURRENT_JOB.job is not None else None


def warm_identity(warm: dict | None) -> dict | None:
    """What a warm start contributes to an identity: the job whose band it is (before the band is fetched) or
    the band's rounded positions (after)."""
    if warm is None:
        return None
    if warm.get("relax_with"):  # a band the named lower fidelity relaxes between this level's ends
        return {"start": np.round(warm["start"], 6), "end": np.round(warm["end"], 6), "relax_with": warm["relax_with"]}
    band = warm.get("band")
    if isinstance(band, OutputReference):
        source = band.uuid
    elif isinstance(band, dict) and "uuid" in band:  # a serialised reference
        source = band["uuid"]
    else:
        source = content_hash("band", positions=[np.round(atoms_from_dict(d).positions, 4) for d in band or []])
    return {"start": np.round(warm["start"], 6), "end": np.round(warm["end"], 6), "band": source}


def hop_specs(minima: MinimaDoc, max_length: float) -> tuple[list[dict], dict]:
    """The symmetry-unique hops (as job inputs) and the cell's graph for percolation: the minimum behind each
    node, and every edge."""
    return _as_specs(_network(minima, max_length))


def _network(minima: MinimaDoc, max_length: float):
    splits = [(s["start"], s["end"], s["valley"]) for s in minima.split_hops]
    return build_hop_network([np.array(m.frac_xy) for m in minima.minima], symmetry_of(minima.slab), max_length,
                             splits)


def _as_specs(network) -> tuple[list[dict], dict]:
    specs = [{"hop_id": h.hop_id, "index": h.index, "start_minimum": h.start_minimum, "end_minimum": h.end_minimum,
              "start": h.start.tolist(), "end": h.end.tolist(), "length": h.length, "multiplicity": h.multiplicity}
             for h in network.hops]
    edges = [{"i": e.i, "j": e.j, "image": list(e.image), "hop": e.hop,
              "i_minimum": network.nodes[e.i].minimum, "j_minimum": network.nodes[e.j].minimum}
             for e in network.edges]
    return specs, {"nodes": [n.minimum for n in network.nodes], "edges": edges}


def bypass_specs(minima: MinimaDoc, hops: list[HopDoc], graph: dict, max_length: float) -> tuple[list[dict], list]:
    """The hops the neighbour test left out that could lower the surface's percolation level as computed from
    ``hops`` (:func:`~seiscreen.surfaces.hops.bypass_hops`, :func:`~seiscreen.surfaces.percolation.could_lower`):
    their specs (indices after the hops') and graph edges. Empty when none could."""
    network = _network(minima, max_length)
    if len(network.hops) != len(hops) or len(network.edges) != len(graph["edges"]):
        return [], []  # not the network these hops were computed on
    splits = [(s["start"], s["end"], s["valley"]) for s in minima.split_hops]
    extra = bypass_hops(network, symmetry_of(minima.slab), max_length, splits)
    energies, edges = _graph_edges(minima, hops, graph)
    barrier = percolation_barrier(energies, edges)
    level = barrier.two_d.level if barrier.two_d.level is not None else barrier.one_d.level
    level = np.inf if level is None else level
    wanted = {e.hop for e in extra.edges if could_lower(energies, edges, GraphEdge(e.i, e.j, e.image, 0.0), level)}
    specs, bypass_graph = _as_specs(extra)
    # Numbered after the hops, in class order, as the summary reads hop indices (the hop ids follow).
    renumber = {s["index"]: len(hops) + k for k, s in enumerate(s for s in specs if s["index"] in wanted)}
    keep = [{**s, "index": renumber[s["index"]],
             "hop_id": f"hop{renumber[s['index']]}-m{s['start_minimum']}-m{s['end_minimum']}"}
            for s in specs if s["index"] in wanted]
    return keep, [{**e, "hop": renumber[e["hop"]]} for e in bypass_graph["edges"] if e["hop"] in wanted]


def _graph_edges(minima: MinimaDoc, hops: list[HopDoc], graph: dict) -> tuple[list[float], list[GraphEdge]]:
    """Node energies and the edges of the usable hops (a barrierless hop joins its ends at its higher end)."""
    saddles = {h.hop_id: h.saddle_energy for h in hops if h.status in USABLE}
    by_index = {k: h.hop_id for k, h in enumerate(hops)}  # hop class index -> id (hops come in class order)
    energies = [minima.minima[m].energy for m in graph["nodes"]]
    edges = [GraphEdge(e["i"], e["j"], tuple(e["image"]), saddles[by_index[e["hop"]]], by_index[e["hop"]])
             for e in graph["edges"] if by_index.get(e["hop"]) in saddles]
    return energies, edges


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
    def make(self, minima: MinimaDoc, reuse: list[HopDoc] | None = None, warm: list[dict] | None = None,
             surface_hash: str | None = None):
        """``reuse``: hops already computed (before a refinement); ``warm``: another fidelity's hops
        {"start", "end", "band"} whose bands seed the NEB of the same hop; ``surface_hash``: the identity the
        surface document will carry. Hops finished in the store by an earlier run (same hash) are reused."""
        if not minima.minima:
            summary = self.summary_maker.make(minima, [], {"nodes": [], "edges": []}, hops_maker=self,
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
            previous = _matching_hop(spec, reuse or [], symmetry, statuses)
            if previous is not None:  # computed before a refinement added minima elsewhere: keep it
                outputs.append(previous.model_copy(update={"hop_id": spec["hop_id"], "start_minimum": spec[
                    "start_minimum"], "end_minimum": spec["end_minimum"], "multiplicity": spec["multiplicity"]}))
                continue
            same = next((w for w in warm or [] if symmetry.equivalent_segments(
                w["start"], w["end"], spec["start"], spec["end"], tol=0.3)), None)
            if same is None and self.seed_band_preset:
                same = {"start": spec["start"], "end": spec["end"], "relax_with": self.seed_band_preset}
            starts = [same, None] if same is not None and self.cold_bands else [same]
            bands = [self.band_job(minima, spec, start, store, jobs, twin=same if start is None else None)
                     for start in starts]
            new_bands += sum(not isinstance(band, HopDoc) for band in bands)  # the others came from the store
            if len(bands) == 1:
                outputs.append(bands[0])
            else:
                lower = lower_saddle(bands)
                lower.name = f"lower saddle {minima.key.label} {spec['hop_id']}"
                jobs.append(lower)
                outputs.append(lower.output)
        progress.emit("hops_planned", key=minima.key, surface=minima.key.label, n=new_bands,
                      refinement=minima.refinement)
        summary = self.summary_maker.make(minima, outputs, graph, hops_maker=self, surface_hash=surface_hash)
        summary.name = f"summary {minima.key.label}"
        return Response(replace=Flow([*jobs, summary], output=summary.output))


    def band_job(self, minima: MinimaDoc, spec: dict, warm: dict | None, store, jobs: list, twin: dict | None = None):
        """The hop's band from ``warm`` (None: IDPP): stored by an earlier run, or a new NEB job added to ``jobs``.
        ``twin``: for a cold band, the warm start of the same hop's other band (which may turn out to be IDPP)."""
        stored = find_done(store, "hop", self.neb_maker.content_hash(minima, spec, warm), load=True)
        if stored is not None:  # finished by an earlier run of the campaign
            progress.emit("hop_reused", surface=minima.key.label, hop=spec["hop_id"])
            return with_later_gates(HopDoc.model_validate(stored))
        seeded = self.neb_maker.content_hash(minima, spec, twin) if twin is not None else None
        neb = self.neb_maker.make(minima, spec, warm=warm, seeded_twin=seeded)
        neb.name = f"neb {minima.key.label} {spec['hop_id']}" + ("" if warm else " (cold)" if self.cold_bands else "")
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


def _matching_hop(spec: dict, previous: list[HopDoc], symmetry: SurfaceSymmetry,
                  statuses: tuple[str, ...] = USABLE) -> HopDoc | None:
    for doc in previous:
        if doc.status in statuses and symmetry.equivalent_segments(doc.start, doc.end, spec["start"], spec["end"],
                                                                       tol=0.2):
            return doc
    return None


def same_network(before: MinimaDoc, minima: list[MinimumDoc], splits: list[dict]) -> bool:
    """A refinement that leaves the hop network as it was: the same minima at the same places (energies may be
    lower) and no split not recorded before. Its hops would be the same bands again."""
    def close(a, b) -> bool:
        return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), atol=1e-4))

    if len(minima) != len(before.minima) or not all(close(m.frac_xy, o.frac_xy) for m, o in zip(
            minima, before.minima, strict=True)):
        return False
    known = before.split_hops
    return all(any(all(close(s[k], o[k]) for k in ("start", "end", "valley")) for o in known) for s in splits)


# --------------------------------------------------------------------------------------------- summary


@dataclass
class RefineMinimaMaker(CalculatorMaker):
    """Relax (with the kick-and-return check) from each valley found inside a band; merge with the old minima."""

    name: str = "refine minima"

    def content_hash(self, minima: MinimaDoc, split: list[HopDoc], deeper: bool = False) -> str:
        # "routes": refined minima record where each valley went (split_hops); ones stored before that cannot
        # route a split hop, and reusing them would rebuild it again.
        return content_hash("refined-minima", routes="valley-splits-merged", minima=minima.content_hash,
                            split=sorted(h.content_hash or h.hop_id for h in split), **self.identity(),
                            **({"deeper": True} if deeper else {}))

    @job(config=EXPOSE_STORE)  # the store names the checkpoint folder of the valleys' relaxations (DFT: minutes)
    def make(self, minima: MinimaDoc, split: list[HopDoc], deeper: bool = False) -> MinimaDoc:
        """``deeper``: the valleys are below every minimum (``deeper_valleys``), the surface's one such round."""
        clean = atoms_from_dict(minima.clean_structure)
        symmetry = symmetry_of(minima.slab)
        calc = self.calculator
        progress.emit("minima_refining", key=minima.key, surface=minima.key.label, valleys=len(split),
                      refinement=minima.refinement + 1)
        identity = self.content_hash(minima, split, deeper)
        # One file per relaxed valley, as in a minima search: a killed refinement resumes at the valley it was in.
        saved = checkpoint_folder(current_store()) / f"refine-{identity}"
        checkpoint = ScanCheckpoint(saved)
        new, splits = [], []
        for k, hop in enumerate(split):
            # Start from the band's valley image itself: the slab around it is already relaxed.
            image = atoms_from_dict(hop.band[hop.interior_minimum_image])
            # One random stream per valley, so a resumed refinement kicks the rest as an unbroken one would.
            rng = np.random.default_rng([self.minima_settings.seed, minima.refinement + 1, k])
            try:
                # No "verified by a known minimum one basin away" here: the band rose between the valley and
                # its ends, so a valley within one basin of an end is just what needs its own verification.
                found = checkpoint.cached(f"valley-{k}", lambda image=image, hop=hop, rng=rng: relax_and_verify(
                    image, clean, f"valley-of-{hop.hop_id}", calc, self.minima_settings, rng))
            except CalculatorProcessKilled:  # the run is being stopped: no valley result, nothing stored
                raise
            except Exception as exc:  # noqa: BLE001 - one bad valley must not lose the others
                log.warning("relaxing the valley of %s failed: %s", hop.hop_id, exc)
                continue
            found.adsorption_energy = found.energy - minima.clean_energy - minima.adsorbate_reference
            new.append((hop, found))
        merged = merge_equivalent([_minimum_from_doc(d) for d in minima.minima] + [f for _, f in new], symmetry)
        accepted = [minimum_doc(m) for m in merged if m.accepted]
        for hop, found in new:
            # Where the valley went, so the next network routes the hop through it: the copy of the minimum it
            # was merged into (by energy and position), not its own relaxed position, which can lie nearer
            # another minimum of that basin (Na2Se(100): 0.17 Å from the hop's end, 0.23 Å from the lower
            # minimum it had merged into), and then the hop was rebuilt round after round.
            holders = [m for m in accepted if found.started_from[0] in m.started_from]  # a label of an older
            holder = min(holders, key=lambda m: abs(m.energy - found.energy), default=None)  # round may repeat
            if found.accepted and holder is not None:
                splits.append({"start": list(hop.start), "end": list(hop.end),
                               "valley": _valley_next_to_hop(hop, holder.frac_xy, symmetry).tolist()})
        progress.emit("minima_refined", surface=minima.key.label, n=len(accepted))
        shutil.rmtree(saved, ignore_errors=True)  # finished: its document replaces the checkpoint
        return minima.model_copy(update={
            "same_network": same_network(minima, accepted, splits),
            "minima": accepted, "rejected": minima.rejected + [minimum_doc(f) for _, f in new if not f.accepted],
            "refinement": minima.refinement + 1, "provenance": self.provenance(),
            "split_hops": minima.split_hops + splits, "deeper_refined": minima.deeper_refined or deeper,
            "force_calls": minima.force_calls + sum(f.force_calls for _, f in new),
            "content_hash": identity})


@dataclass
class SurfaceSummaryMaker(CalculatorMaker):
    """Gate-aware summary of one surface: refine minima found inside bands, then the percolation barrier."""

    name: str = "surface summary"
    max_refinements: int = 2
    # Also compute the hops the neighbour test left out that could lower the percolation level (bypass_specs).
    bypass_hops: bool = True

    @job(config=EXPOSE_STORE)
    def make(self, minima: MinimaDoc, hops: list[HopDoc], graph: dict, hops_maker: HopsMaker | None = None,
             surface_hash: str | None = None):
        bypass = set(graph.get("bypass", ()))  # extra hops: never refined or split, never blocking the ranking
        split = [h for h in hops if h.status == "interior_minimum" and h.band and h.hop_id not in bypass]
        if split and minima.refinement < self.max_refinements and hops_maker is not None and not minima.same_network:
            return self._refined(minima, split, hops, hops_maker, surface_hash)
        if split and hops_maker is not None and hops_maker.neb_maker is not None:
            # Refinements used up and valleys still there: ones the hop network cannot hold as nodes (a valley
            # relaxing next to a hop's end: the same site, another state of the slab). Each such hop is computed
            # as bands through its valleys, then summarised again.
            return self._through_valleys(minima, hops, graph, hops_maker, split, surface_hash)
        deeper = deeper_valleys(minima, hops)
        if deeper and hops_maker is not None and not minima.deeper_refined:
            # A band through valleys relaxed into a state below the lowest minimum that no relaxation has judged
            # yet: the minima search may have missed the surface's lowest state. One refinement (even past
            # max_refinements) starts from it; after that such a surface stays unranked, with why.
            return self._refined(minima, deeper, hops, hops_maker, surface_hash, deeper=True)
        if (self.bypass_hops and minima.minima and not minima.error and "bypass" not in graph
                and hops_maker is not None and hops_maker.neb_maker is not None):
            specs, edges = bypass_specs(minima, hops, graph, hops_maker.max_hop_length)
            if specs:
                return self._with_bypass(minima, hops, graph, hops_maker, specs, edges, surface_hash)
        doc = summarise_surface(minima, hops, graph, self.provenance(with_neb=True))
        doc = doc.model_copy(update={"content_hash": surface_hash})
        progress.emit("surface_done", key=minima.key, surface=minima.key.label, status=doc.status,
                      barrier=doc.ranking_barrier, **({"reason": doc.reason} if doc.status == "failed" else {}))
        return doc

    def _refined(self, minima: MinimaDoc, split: list[HopDoc], hops: list[HopDoc], hops_maker: HopsMaker,
                 surface_hash: str | None, deeper: bool = False) -> Response:
        """Minima relaxed from the valleys of ``split`` (each band's ``interior_minimum_image``), then the hops."""
        settings = {f: getattr(self, f) for f in ("calculator_preset", "slab_settings", "minima_settings",
                                                  "neb_protocol")}
        refiner = RefineMinimaMaker(**settings)
        stored = find_done(current_store(), "minima", refiner.content_hash(minima, split, deeper))
        if stored is not None:  # refined by an earlier run: go straight to the new hops
            refined, jobs = MinimaDoc.model_validate(stored), []
        else:
            refine = refiner.make(minima, split, deeper)
            refine.name = f"refine minima {minima.key.label}"
            refined, jobs = refine.output, [refine]
        again = hops_maker.make(refined, reuse=[h for h in hops if h.status in (*USABLE, "interior_minimum")],
                                surface_hash=surface_hash)
        again.name = f"hops {minima.key.label} (refinement {minima.refinement + 1})"
        return Response(replace=Flow([*jobs, again], output=again.output))

    def _with_bypass(self, minima: MinimaDoc, hops: list[HopDoc], graph: dict, hops_maker: HopsMaker,
                     specs: list[dict], edges: list[dict], surface_hash: str | None) -> Response:
        """The bypass hops' bands (each from the store, or a new NEB job), then the summary with them."""
        store, jobs = current_store(), []
        bands = [hops_maker.band_job(minima, {**spec, "bypass": True}, None, store, jobs) for spec in specs]
        bands = [b.model_copy(update={"bypass": True}) if isinstance(b, HopDoc) else b for b in bands]
        progress.emit("hops_planned", key=minima.key, surface=minima.key.label, n=len(jobs),
                      refinement=minima.refinement)
        widened = {**graph, "edges": [*graph["edges"], *edges], "bypass": [spec["hop_id"] for spec in specs]}
        summary = self.make(minima, [*hops, *bands], widened, hops_maker=hops_maker, surface_hash=surface_hash)
        summary.name = f"summary {minima.key.label} (bypass hops)"
        return Response(replace=Flow([*jobs, summary], output=summary.output))

    def _through_valleys(self, minima: MinimaDoc, hops: list[HopDoc], graph: dict, hops_maker: HopsMaker,
                         split: list[HopDoc], surface_hash: str | None) -> Response:
        store, jobs, resolved, neb_maker = current_store(), [], [], hops_maker.neb_maker
        for hop in hops:
            if not any(hop is s for s in split):
                resolved.append(hop)
                continue
            spec = hop.model_dump(include={"hop_id", "start_minimum", "end_minimum", "start", "end", "length",
                                           "multiplicity"})
            stored = find_done(store, "hop", neb_maker.content_hash(minima, spec, via=hop), load=True)
            if stored is not None:  # finished by an earlier run of the campaign
                resolved.append(with_later_gates(HopDoc.model_validate(stored)))
                continue
            neb = neb_maker.make(minima, spec, via=hop)
            neb.name = f"neb {minima.key.label} {hop.hop_id} (through its valley)"
            jobs.append(neb)
            resolved.append(neb.output)
        progress.emit("hops_planned", key=minima.key, surface=minima.key.label, n=len(jobs),
                      refinement=minima.refinement)
        # Hops through valleys have none left (a band that has one past MAX_INTERMEDIATES fails), so this summary
        # splits nothing; with hops_maker it can still refine from a valley deeper than every minimum.
        summary = self.make(minima, resolved, graph, hops_maker=hops_maker, surface_hash=surface_hash)
        summary.name = f"summary {minima.key.label}"
        return Response(replace=Flow([*jobs, summary], output=summary.output))


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


def summarise_surface(minima: MinimaDoc, hops: list[HopDoc], graph: dict, provenance: Provenance) -> SurfaceDoc:
    """Percolation barrier from the usable hops; a failed hop that could open a lower path blocks the ranking."""
    summaries = [HopSummary(**h.model_dump(include=set(HopSummary.model_fields))) for h in hops]
    common = dict(key=minima.key, n_minima=len(minima.minima), hops=summaries,
                  minima=[{"index": m.index, "site": m.site, "energy": m.energy, "outcome": m.outcome,
                           "adsorption_energy": m.adsorption_energy, "started_from": m.started_from,
                           "position": m.position, "frac_xy": m.frac_xy} for m in minima.minima],
                  slab=minima.slab,
                  force_calls=minima.force_calls + sum(h.force_calls + sum(a["force_calls"] for a in h.alternatives)
                                                       for h in hops), provenance=provenance)
    empty = dict(barrier_2d=None, barrier_1d=None, lowest_hop_barrier=None, channel_only=False, limiting_hop_1d=None,
                 limiting_hop_2d=None, path_hops_1d=[], path_hops_2d=[], directions_1d=[], directions_2d=[])
    if minima.error:
        return SurfaceDoc(status="failed", reason=minima.error, lowest_site=None, adsorption_energy=None, **common,
                          **empty)
    if not minima.minima:
        return SurfaceDoc(status="no_minima", reason=_no_minima_reason(minima.rejected),
                          lowest_site=None, adsorption_energy=None, **common, **empty)
    lowest = minima.minima[0]
    # Barrierless hops (a band rising to its higher end) join their ends at that end's energy.
    by_index = [h.hop_id for h in hops]  # hop class index -> id (hops come in class order)
    energies, edges = _graph_edges(minima, hops, graph)
    barrier = percolation_barrier(energies, edges)
    bypass = set(graph.get("bypass", ()))  # extra hops beyond the neighbour network: used when usable, else left out
    unresolved = [h.hop_id for h in hops if h.status not in USABLE and h.hop_id in bypass]
    failed = [h for h in hops if h.status not in USABLE and h.hop_id not in bypass]
    # The easiest elementary hop with a resolved barrier, in either direction (barrierless ones have none).
    lowest_hop = min((min(h.forward_barrier, h.reverse_barrier) for h in hops if h.status == "accepted"),
                     default=None)
    result = dict(barrier_2d=barrier.two_d.barrier, barrier_1d=barrier.one_d.barrier,
                  lowest_hop_barrier=lowest_hop, channel_only=barrier.channel_only,
                  limiting_hop_1d=barrier.one_d.limiting_hop, limiting_hop_2d=barrier.two_d.limiting_hop,
                  path_hops_1d=list(barrier.one_d.path_hops), path_hops_2d=list(barrier.two_d.path_hops),
                  directions_1d=[list(t) for t in barrier.one_d.directions],
                  directions_2d=[list(t) for t in barrier.two_d.directions])
    # A saddle never lies below the higher of its two ends, so a failed hop whose higher end is at or above
    # the percolation level cannot open a lower path: it does not block the ranking. Any other failed hop does.
    level = barrier.two_d.level
    blocking = [h for h in failed if level is None or _higher_end(minima, h) < level - 1e-6]
    bounds = None
    easiest = _with_failed_barrierless(energies, edges, graph, by_index, blocking, minima) if blocking else None
    # A valley relaxed (hops through valleys) below the lowest minimum: the search missed the surface's lowest
    # state, from which its barrier would have to be measured.
    deeper = [(h.hop_id, h.start_energy + state["energy"]) for h in hops if h.intermediate
              for state in h.intermediate.get("states", [])
              if h.start_energy + state["energy"] < lowest.energy - BELOW_LOWEST]
    if deeper:
        hop_id, energy = min(deeper, key=lambda d: d[1])
        status = "incomplete"
        rejected = rejected_state_at(minima, energy)
        moved = (rejected.details or {}).get("max_surface_displacement") if rejected else None
        why = (f"a state the minima gates rejected ({rejected.outcome}"
               + (f", a slab atom moved {moved:.2f} Å" if moved is not None else "")
               + "): the surface rearranges under this calculator" if rejected else
               "the minima search missed a lower state")
        reason = (f"{hop_id}: a valley relaxed {lowest.energy - energy:.3f} eV below the lowest minimum "
                  f"({lowest.site}), {why}; the barrier is not measured from it")
    elif barrier.one_d.level is None and not failed:
        status, reason = "no_path", "the accepted hops do not connect a minimum to its periodic images"
    elif blocking and barrier.two_d.level is not None and _same_barriers(easiest, barrier):
        # Even with no barrier at all those hops leave both percolation levels where they are.
        status = "ranked"
        reason = (f"{len(blocking)} failed hop(s) below the percolation level cannot lower it even with no "
                  "barrier: " + ", ".join(f"{h.hop_id} ({h.status})" for h in blocking))
    elif blocking:
        status, reason = "incomplete", "; ".join(f"{h.hop_id}: {h.status} ({h.reason})" for h in blocking)
        if easiest.channel_only:  # ranked by the 1D barrier at best: bound that one
            bounds = [easiest.one_d.barrier, barrier.one_d.barrier]
        else:
            bounds = [easiest.two_d.barrier, barrier.two_d.barrier]
    else:
        status = "ranked"
        reason = (f"{len(failed)} failed hop(s) end above the percolation level and cannot lower it: "
                  + ", ".join(h.hop_id for h in failed)) if failed else ""
    if unresolved:
        reason = "; ".join(filter(None, [reason, f"bypass hop(s) {', '.join(unresolved)} not usable, left out"]))
    return SurfaceDoc(status=status, reason=reason, lowest_site=lowest.site, adsorption_energy=lowest.adsorption_energy,
                      barrier_bounds=bounds, **common, **result)


def _higher_end(minima: MinimaDoc, hop: HopDoc) -> float:
    """The energy of the hop's higher end minimum: no saddle of the hop lies below it."""
    return max(minima.minima[hop.start_minimum].energy, minima.minima[hop.end_minimum].energy)


def _with_failed_barrierless(energies, edges, graph, by_index, failed, minima):
    """The percolation with every failed hop as easy as a hop can be: its saddle at its higher end (a saddle never
    lies below it). Its barriers are lower bounds; those without the failed hops are upper bounds."""
    lowest = {h.hop_id: _higher_end(minima, h) for h in failed}
    extra = [GraphEdge(e["i"], e["j"], tuple(e["image"]), lowest[by_index[e["hop"]]], by_index[e["hop"]])
             for e in graph["edges"] if by_index[e["hop"]] in lowest]
    return percolation_barrier(energies, edges + extra)


def _same_barriers(a, b) -> bool:
    def same(x, y) -> bool:
        return (x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-9)

    return same(a.one_d.barrier, b.one_d.barrier) and same(a.two_d.barrier, b.two_d.barrier)
