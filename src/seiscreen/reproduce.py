"""Rerun one stored hop and compare: its NEB recomputed from its stored ends, under its stored protocol and
calculator, beside the stored barrier.

For whoever checks a campaign's numbers, from a store or a shipped results file. ``start="cold"`` interpolates a
new band between the ends, as the campaign did; ``start="band"`` starts from the stored final band, which a
converged band should leave at once. ``neb`` overrides NEB settings (``{"n_images": 9, "fmax": 0.02}``): how much
the barrier moves with the protocol. ``preset`` recomputes the hop with another calculator preset (a screening
barrier checked at a higher level, e.g. ``gpaw-lcao-gamma`` -> ``gpaw-lcao``): the stored ends are relaxed with it
first, and an end that slides off its minimum fails the rerun, since that level's minima are elsewhere (a campaign
at that level finds them). A hop the campaign computed through relaxed valleys (``HopDoc.intermediate``) is rerun
the same way, one band between each two of its stored states (start, valleys, end), unless ``one_band``; with
``preset`` it is one band between its ends (the valleys are the stored level's states). By default nothing is
written (GPAW's image folders go to a temporary folder); ``save=True`` runs the rerun as a job of the store
(:class:`HopRerunMaker`), whose :class:`~seiscreen.schemas.HopRerunDoc` then widens the surface's uncertainty in
``load_results``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jobflow import JobConfig, Maker, job, run_locally
from pydantic import ValidationError

from seiscreen.bands import (SLIDE_TOLERANCE, BandFiles, CalculatorLevel, ends_smearing, relaxed_stored_ends, run_band,
                             same_smearing_gate)
from seiscreen.calculators import get_preset
from seiscreen.errors import SeiscreenError
from seiscreen.minima import MinimaSettings, ScanCheckpoint
from seiscreen.neb import NebCheckpoint, NebProtocol, find_band_mirror, join_bands
from seiscreen.parallel import ParallelSettings
from seiscreen.results import _as_store, band_images, hop_documents
from seiscreen.schemas import (HopRerunDoc, Provenance, SurfaceKey, atoms_from_dict, atoms_to_dict, calculator_identity,
                               content_hash)
from seiscreen.store_frames import job_frames
from seiscreen.store import EXPORT_SUFFIXES, checkpoint_folder, open_store, resolve_location, runs_folder, store_lock
from seiscreen.surfaces.symmetry import SurfaceSymmetry
from seiscreen.workflow.base import band_fields, current_store


def find_hop(store, hop: str) -> tuple[str, dict]:
    """The stored hop whose NEB job uuid is ``hop`` or starts with it: (job uuid, hop document)."""
    docs = hop_documents(store)
    matches = [uuid for uuid in docs if uuid.startswith(hop)] if len(hop) >= 8 else []
    if len(matches) != 1:
        what = "no hop" if not matches else f"{len(matches)} hops"
        raise SeiscreenError(f"{what} with job uuid {hop!r} in this store: pass the job_uuid column of "
                             "`seiscreen results --hops --format csv` (8 characters or more)")
    return matches[0], docs[matches[0]]


def preset_changed(stored: dict) -> bool:
    """Whether the preset a document names (its ``provenance["calculator"]``) now has other settings."""
    # Compared as stored (JSON): a tuple in a preset is a list in its documents.
    stored, today = (json.loads(json.dumps(calculator_identity(p), default=str)) for p in (
        stored, get_preset(stored["preset"]).provenance()))
    return stored != today


def rerun_hop(store, hop: str, start: str = "cold", neb: dict | None = None,
              workdir: str | Path | None = None, save: bool = False, parallel: dict | None = None,
              preset: str | None = None, one_band: bool = False) -> HopRerunDoc:
    """Recompute the stored hop ``hop`` (its NEB job uuid, or a prefix of 8+ characters) and compare.

    ``save``: run it as a job of ``store`` (a store folder or MongoDB URI, not a results file), so the rerun is
    stored beside the hop and judged with it. ``parallel``: :class:`~seiscreen.parallel.ParallelSettings` fields
    (MPI ranks, images at once) for the band's calculations. ``preset``: recompute with this calculator preset
    instead of the hop's own. ``one_band``: a hop stored through relaxed valleys rerun as one band between its
    ends (it may find the valleys again) instead of through them."""
    if start not in ("cold", "band"):
        raise SeiscreenError(f"unknown start {start!r}: use cold (a new band) or band (the stored one)")

    root = resolve_location(store) if store is None or isinstance(store, (str, os.PathLike)) else None
    if save and (root is None or root.endswith(EXPORT_SUFFIXES)):
        raise SeiscreenError("--save writes into a store, and a results file is read-only: pass the store folder "
                             "(or MongoDB URI) the file was exported from with --store")
    store = open_store(root, create=False, readonly=False) if save else _as_store(store)  # --save writes into it
    job_uuid, doc = find_hop(store, hop)
    images = band_images(store, job_uuid)
    if len(images) < 2:
        raise SeiscreenError(f"hop {_label(doc)} has no stored band ({doc['status']}: {doc['reason']}): nothing "
                             "to rerun")
    protocol = _protocol(doc, neb)  # a bad setting fails here, before any job or force call

    level = get_preset(preset or doc["key"]["calculator"])  # an unknown name fails here
    _parallel(parallel).check([level.code])
    other_level = None if level.name == doc["key"]["calculator"] else level.name
    bands = 1 + through_valleys(doc, one_band, other_level)
    if start == "band" and len(images) != bands * (protocol.n_images + 1) + 1:
        per_band = f"{bands} bands of {protocol.n_images} images" if bands > 1 else f"{protocol.n_images} images"
        raise SeiscreenError(f"the stored band of {_label(doc)} has {len(images) - 2} images, the protocol "
                             f"{per_band}: rerun it with --from cold")
    inputs = {"hop": {k: v for k, v in doc.items() if k not in ("band", "trajectory")}, "hop_job_uuid": job_uuid,
              "images": [atoms_to_dict(image) for image in images], "start": start, "neb": dict(neb or {}),
              "symmetry": _slab_symmetry(store, doc["key"]) if doc.get("mirrored") else None,
              "parallel": dict(parallel or {}),
              "preset": other_level, "one_band": one_band}
    if not save:
        with tempfile.TemporaryDirectory(prefix="seiscreen-rerun-", dir=workdir) as folder:
            return recompute_hop(**inputs, folder=Path(folder))

    rerun = HopRerunMaker().make(**inputs)
    with store_lock(root):  # one writer at a time: a campaign run into this store stops it here
        responses = run_locally(rerun, store=store, create_folders=True, root_dir=runs_folder(root), log=False)
    if rerun.uuid not in responses:  # the job raised: jobflow wrote no document
        raise SeiscreenError(f"the rerun of {_label(doc)} failed and nothing was saved: run it without --save "
                             "to see why")
    return responses[rerun.uuid][1].output


@dataclass
class HopRerunMaker(Maker):
    """One stored hop recomputed as a job, so that a saved rerun is a document of the store like any other."""
    name: str = "hop rerun"

    # The store names the checkpoint folder (a killed rerun resumes); the band goes to the data store.
    @job(data=["band"], config=JobConfig(expose_store=True))
    def make(self, hop: dict, hop_job_uuid: str, images: list[dict], start: str = "cold",
             neb: dict | None = None, symmetry: dict | None = None, parallel: dict | None = None,
             preset: str | None = None, one_band: bool = False) -> HopRerunDoc:

        # Everything that changes the rerun's numbers; not where it runs (parallel). The valleys only where the
        # rerun goes through them, so that a plain hop's identity is what it was.
        valleys = through_valleys(hop, one_band, preset)
        identity = content_hash("hop_rerun", hop_job_uuid=hop_job_uuid, images=images, start=start,
                                neb=neb or {}, preset=preset, symmetry=symmetry,
                                **({"through_valleys": valleys} if valleys else {}))
        key = SurfaceKey.model_validate(hop["key"])
        with job_frames(get_preset(preset or key.calculator).recording, "hop rerun", identity, key):
            return recompute_hop(hop, hop_job_uuid, images, start, neb, folder=Path.cwd(), symmetry=symmetry,
                                 parallel=parallel, preset=preset, one_band=one_band,
                                 checkpoint=checkpoint_folder(current_store()) / f"rerun-{identity}")


def _slab_symmetry(store, key: dict) -> dict | None:
    """The in-plane symmetry of the hop's slab (``SlabDoc.symmetry``), from its minima document."""
    criteria = {"output.doc_type": "minima", **{f"output.key.{name}": value for name, value in key.items()}}
    found = store.query_one(criteria, properties=["output.slab.symmetry"])
    return found["output"]["slab"]["symmetry"] if found else None


def _label(doc: dict) -> str:
    key = doc["key"]
    return f"{key['material']}({''.join(str(i) for i in key['miller'])}) {key['termination_id']} {doc['hop_id']}"


def _validated(model, fields: dict, what: str, hint: str = ""):
    """``model(**fields)``, or a one-line error naming each bad setting as pydantic does, and what it accepts."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SeiscreenError(f"bad {what} setting for the rerun ({problems}){hint}") from None


def _protocol(doc: dict, neb: dict | None):
    """The stored hop's NEB protocol with ``neb``'s changes, or a one-line error naming the bad setting."""
    return _validated(NebProtocol, {**doc["provenance"]["neb_protocol"], **(neb or {})}, "NEB",
                      f": the settings are {', '.join(NebProtocol.model_fields)}")


def _parallel(fields: dict | None):
    """ParallelSettings from ``fields``, or a one-line error naming the bad one."""
    return _validated(ParallelSettings, fields or {}, "parallel")


def through_valleys(hop: dict, one_band: bool = False, preset: str | None = None) -> int:
    """How many relaxed valleys a rerun of the stored hop document ``hop`` goes through: those the campaign
    computed it through (``HopDoc.intermediate``), or none with ``one_band`` or another level's ``preset`` (the
    valleys are states of the stored level)."""
    return 0 if one_band or preset else len((hop.get("intermediate") or {}).get("states") or [])


def recompute_hop(hop: dict, hop_job_uuid: str, images: list[dict], start: str, neb: dict | None,
                  folder: Path, symmetry: dict | None = None, parallel: dict | None = None,
                  preset: str | None = None, checkpoint: Path | None = None, one_band: bool = False) -> HopRerunDoc:
    """The NEB of the stored hop document ``hop`` recomputed between the ends of its stored band ``images``
    (ASE JSON), GPAW's files under ``folder``; a hop stored with a mirrored band (``HopDoc.mirrored``) is mirrored
    again by the slab's ``symmetry`` (``SlabDoc.symmetry``). With ``preset`` (another level than the hop's),
    the ends are relaxed with it before the band. A hop stored through relaxed valleys is one band between each
    two of its stored states, joined as the campaign joined them (``through_valleys``).

    ``checkpoint`` (a path without suffix): the relaxed ends are saved to ``<checkpoint>-ends.npz`` and the band
    to ``<checkpoint>.npz`` as it runs (through valleys: band k to ``<checkpoint>-k.npz``, and once finished to
    ``<checkpoint>-k.json``, plain data), and a rerun killed on the way resumes from them (all deleted once it is
    done)."""
    rerun = _HopRerun(hop, [atoms_from_dict(image) for image in images], neb, preset, one_band, parallel,
                      checkpoint)
    end_calls, failure, smearing = rerun.evaluated_states(folder)
    summary = rerun.summary(hop_job_uuid, start, neb)
    if failure:
        rerun.remove_checkpoints()
        return HopRerunDoc(**summary, status="failed", barrier=None, reason=failure, force_calls=end_calls)
    result, scf_smearing = rerun.bands(folder, start, symmetry, smearing)
    rerun.remove_checkpoints()
    return HopRerunDoc(**{**summary, "notes": rerun.notes}, status=result.status, barrier=result.forward_barrier,
                       reason=result.reason, force_calls=result.force_calls + end_calls, scf_smearing=scf_smearing,
                       **band_fields(result))


class _HopRerun:
    """One stored hop's rerun: its level and protocol, its stored states (start, valleys, end), its checkpoint
    files, and the notes that say how it was computed."""
    def __init__(self, hop: dict, band: list, neb: dict | None, preset: str | None, one_band: bool,
                 parallel: dict | None, checkpoint: Path | None):

        self.hop, self.preset, self.notes = hop, preset, []
        self.protocol = _protocol(hop, neb)
        self.level = CalculatorLevel(get_preset(preset or hop["key"]["calculator"]), _parallel(parallel))
        self.valleys = through_valleys(hop, one_band, preset)
        self._note_level_and_valleys()
        if self.valleys:  # as the campaign computes it (bands.ThroughValleys): the adatom may hardly move
            self.protocol = self.protocol.model_copy(update={"min_hop_length": 0.0})
        self.pieces = _pieces(band, self.valleys + 1)
        self.states = [self.pieces[0][0]] + [piece[-1] for piece in self.pieces]  # each band's fixed ends
        energies, stride = hop.get("image_energies") or [], len(self.pieces[0]) - 1
        self.stored_energies = ([hop["start_energy"] + energies[k * stride] for k in range(len(self.states))]
                                if len(energies) == len(band) and not preset else [None] * len(self.states))
        if self.level.preset.slab_pbc is not None:
            for image in self.states:
                image.pbc = self.level.preset.slab_pbc
        self._checkpoint_files(checkpoint)

    def _note_level_and_valleys(self) -> None:
        key, preset, stored = self.hop["key"], self.preset, through_valleys(self.hop)
        if preset:
            self.notes.append(f"recomputed with {preset!r}, stored with {key['calculator']!r}: the ends were "
                              f"relaxed with {preset!r} first")
        elif preset_changed(self.hop["provenance"]["calculator"]):
            self.notes.append(f"the preset {key['calculator']!r} has changed since: recomputed with today's settings")
        if self.valleys:
            self.notes.append(f"rerun as {self.valleys + 1} bands through the {self.valleys} relaxed valley(s) it was "
                              "stored through, as the campaign computed it (--one-band: one band between its ends)")
        elif stored:
            self.notes.append(f"stored through {stored} relaxed valley(s); a rerun between its ends may find them "
                              "again as interior minima")

    def _checkpoint_files(self, checkpoint: Path | None) -> None:
        """The ends', each band's in progress and each finished band's files (none without ``checkpoint``)."""
        n = len(self.pieces)
        self.ends_file = checkpoint.with_name(f"{checkpoint.name}-ends.npz") if checkpoint is not None else None
        self.band_files = ([None] * n if checkpoint is None else [checkpoint.with_suffix(".npz")] if not self.valleys
                           else [checkpoint.with_name(f"{checkpoint.name}-{k}.npz") for k in range(n)])
        self.finished = ([checkpoint.with_name(f"{checkpoint.name}-{k}.json") for k in range(n)]
                         if self.valleys and checkpoint is not None else [])

    def evaluated_states(self, folder: Path) -> tuple[int, str, list]:
        """The stored states evaluated (relaxed with another preset), or read back from a killed rerun's
        checkpoint: (force calls, why the rerun fails or "", SCF smearing per state)."""
        saved = NebCheckpoint.load(self.ends_file) if self.ends_file and self.ends_file.exists() else None
        self.resumes = [NebCheckpoint.load(path) if saved and path is not None and path.exists() else None
                        for path in self.band_files]
        if saved is not None:  # a killed rerun: its ends (hours of DFT with another preset) come back
            return self._resumed_states(saved)
        calls, failure, smearing = self._computed_states(folder)
        if self.ends_file is not None:
            states = self.states
            NebCheckpoint(stage="ends", step=0, steps_plain=0, force_calls=calls, optimizer="",
                          positions=np.array([image.positions for image in states]),
                          energies=np.array([image.get_potential_energy() for image in states]),
                          forces=np.array([image.get_forces(apply_constraint=False) for image in states]),
                          meta={"failure": failure, "scf_smearing": smearing}).save(self.ends_file)
        return calls, failure, smearing

    def _resumed_states(self, saved) -> tuple[int, str, list]:
        if self.valleys:
            self.states = saved.images(self.states[0])
        else:  # the band's copy when there is one: a mirrored band's end is the start's exact image
            self.states = list((self.resumes[0] or saved).end_images(self.states[0]))
        in_progress = [f"band {k + 1} {r.stage} step {r.step}" if self.valleys else f"{r.stage} step {r.step}"
                       for k, r in enumerate(self.resumes) if r is not None]
        self.notes.append(f"resumed from its checkpoint ({', '.join(in_progress) or 'ends'})")
        smearing = saved.meta.get("scf_smearing") or [None] * len(self.states)
        return saved.force_calls, saved.meta["failure"], smearing

    def _computed_states(self, folder: Path) -> tuple[int, str, list]:

        names = ["start", *(f"valley-{k}" for k in range(1, self.valleys + 1)), "end"]  # GPAW's folders
        calls, failure = len(self.states), ""
        if self.preset:  # the stored ends are the other level's minima: this level's are nearby, or elsewhere
            max_steps = MinimaSettings(**self.hop["provenance"]["minima_settings"]).max_steps
            calls, failure = relaxed_stored_ends(self.level, *self.states, folder, self.protocol.endpoint_fmax,
                                                 max_steps, SLIDE_TOLERANCE)
        else:  # a folder each: GPAW's output and restart file
            for name, image in zip(names, self.states, strict=True):
                image.calc = self.level.image_calculator(image, folder / name)
                image.get_potential_energy()  # now, so that its SCF record is there to read
        return calls, failure, ends_smearing(folder, names)

    def summary(self, hop_job_uuid: str, start: str, neb: dict | None) -> dict:
        """The rerun document's fields other than its results."""
        hop, provenance = self.hop, self.hop["provenance"]
        drifts = [abs(image.get_potential_energy() - e) for image, e in zip(self.states, self.stored_energies,
                                                                            strict=True) if e is not None]
        return dict(
            key=SurfaceKey(**hop["key"]), refinement=hop.get("refinement", 0), hop_id=hop["hop_id"],
            hop_job_uuid=hop_job_uuid, start=start, preset=self.preset,
            neb_changes={name: getattr(self.protocol, name) for name in neb or {}}, stored_status=hop["status"],
            stored_barrier=hop["forward_barrier"],
            through_valleys=self.valleys, end_energy_drift=max(drifts) if drifts else None, notes=self.notes,
            # Today's preset, the protocol as rerun, the stored slab and minima settings; versions, date, machine.
            provenance=Provenance(calculator=self.level.preset.provenance(), slab_settings=provenance["slab_settings"],
                                  minima_settings=provenance["minima_settings"],
                                  neb_protocol=self.protocol.model_dump(), parallel=self.level.parallel.provenance()))

    def bands(self, folder: Path, start: str, symmetry: dict | None, smearing: list):
        """Every band between consecutive states (each finished one kept), joined: (result, SCF smearing)."""
        mirror = self._mirror(symmetry)

        def band(k: int):
            where = folder / f"band-{k}" if self.valleys else folder  # several bands: a folder each
            result = run_band(self.level, self.states[k], self.states[k + 1], self.protocol, where,
                              BandFiles([self.band_files[k]] if self.band_files[k] else []), resume=self.resumes[k],
                              mirror=mirror, initial_band=[image.positions.copy() for image in self.pieces[k][1:-1]]
                              if start == "band" else None)
            return result, same_smearing_gate(result, where, smearing[k: k + 2])

        done = ScanCheckpoint(self.finished[0].parent if self.finished else None)
        outcomes = []
        for k in range(len(self.pieces)):
            outcomes.append(done.cached(self.finished[k].stem, lambda k=k: band(k)) if self.finished else band(k))
            _remove(self.band_files[k] if self.finished else None)  # a finished band replaces its NEB checkpoint
        results = [result for result, _ in outcomes]
        # Per image of the joined band, each valley once (None: not GPAW).
        first, *rest = (band_smearing for _, band_smearing in outcomes)
        scf_smearing = None if first is None else first + [v for later in rest for v in (later or [])[1:]]
        return (join_bands(results) if self.valleys else results[0]), scf_smearing

    def _mirror(self, symmetry: dict | None):
        """The hop's mirror where it was stored mirrored (a resumed band continues as it was computed)."""
        if not self.hop.get("mirrored") or self.resumes[0] is not None:
            return None
        mirror = find_band_mirror(*self.states, SurfaceSymmetry.from_dict(symmetry)) if symmetry else None
        if mirror is None:
            self.notes.append("stored as a mirrored band; no operation of the slab swaps its ends here: computed "
                              "in full")
        return mirror

    def remove_checkpoints(self) -> None:
        """Delete every checkpoint file: the rerun's document replaces them."""
        _remove(self.ends_file, *self.band_files, *self.finished)


def _pieces(band: list, bands: int) -> list[list]:
    """The stored band of a hop through relaxed valleys cut back into its ``bands`` bands (``join_bands`` shares
    each valley between the band before it and the band after it)."""
    stride, rest = divmod(len(band) - 1, bands)
    if rest or stride < 2:
        raise SeiscreenError(f"a stored band of {len(band)} images is not {bands} bands joined at their ends: rerun "
                             "it with --one-band")
    return [band[k * stride: (k + 1) * stride + 1] for k in range(bands)]


def _remove(*paths: Path | None) -> None:
    for path in paths:
        if path is not None:
            path.unlink(missing_ok=True)
