"""A store's training frames: the recorded calculations of its run folders, in an ASE database beside its documents.

Each frame (:mod:`seiscreen.frames`) is stored once, by its ``frame_id``, as an ``ase.db`` row (SQLite) holding the
structure, energy, forces (stress where computed), key-value pairs ``frame_id``, ``preset`` and, from the job
that computed it, ``kind`` (minima, hop, refine...), ``material``, ``facet``, ``termination``, and in its data the
job's ``content_hash``.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
from ase import Atoms

from seiscreen.errors import SeiscreenError
from seiscreen.frames import context_of, frame_files, frame_id, read_frames, write_context
from seiscreen.schemas import SurfaceKey

log = logging.getLogger(__name__)

FRAMES_DB = "frames.db"
# Key-value pairs (queried). A frame_id starts with a letter (frames.frame_id); a content hash may not, and ase.db
# refuses a string that reads as a number ("12e45"): it is kept in a row's data.
TAGS = ("frame_id", "preset", "kind", "material", "facet", "termination", "scf_rung", "smearing")
IDS = ("content_hash",)


def frames_database(runs: Path) -> Path:
    """The frames database of the store whose jobs run in folders under ``runs`` (``store_open.runs_folder``:
    ``<store folder>/runs``, or ``seiscreen-runs`` beside a MongoDB store's campaign)."""
    return runs / FRAMES_DB


def store_runs(store) -> Path | None:
    """The run folder of an opened store (a folder store's ``runs``); None for a results file or MongoDB."""
    database_path = getattr(getattr(store, "docs_store", None), "database_path", None)
    return Path(database_path) / "runs" if database_path else None


def collect_frames(runs: Path, database: Path) -> int:
    """Add every frame recorded under ``runs`` that ``database`` does not hold yet; the number added."""
    from ase.db import connect

    files = list(frame_files(runs))
    if not files:
        return 0
    added = 0
    with connect(database) as db:
        known = {row.get("frame_id") for row in db.select(columns=["id", "key_value_pairs"], include_data=False)}
        for path in files:
            context = context_of(path, runs)
            for frame in read_frames(path):
                frame.info["frame_id"] = frame_id(frame, frame.get_potential_energy())  # as recorded, or older
                if frame.info["frame_id"] in known:
                    continue
                info = {**context, **frame.info}
                db.write(frame, key_value_pairs=_tags(info), data={k: str(info[k]) for k in IDS if info.get(k)})
                known.add(frame.info["frame_id"])
                added += 1
    return added


@contextlib.contextmanager
def job_frames(recording: bool, kind: str, content_hash: str, key: SurfaceKey):
    """Around a job's calculations: the frames recorded under its folder (the working folder, one jobflow made)
    are tagged with the step ``kind``, the job's ``content_hash`` and its surface and, when it ends, failed or not,
    added to the store's frames database."""
    folder = Path.cwd()
    recording = recording and folder.name.startswith("job_")
    if recording:
        write_context(folder, kind=kind, content_hash=content_hash, material=key.material, facet=key.facet,
                      termination=key.termination_id)
    try:
        yield
    finally:
        if recording:
            try:
                collect_frames(folder, frames_database(folder.parent))
            except Exception as exc:  # noqa: BLE001 - they stay in the job folder: `seiscreen dataset` adds them
                log.warning("training frames of %s not added to the store yet: %s", folder.name, exc)


def _tags(info: dict) -> dict:
    """The key-value pairs ase.db keeps of a frame: the :data:`TAGS` present, as str, int or float."""
    return {k: _plain(v) for k, v in info.items() if k in TAGS and v is not None}


def _plain(value):
    """A number as Python int or float (extxyz reads numpy ones), anything else as str."""
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def load_frames(database: Path, preset: str | None = None, material: str | None = None) -> list[Atoms]:
    """The frames of ``database`` (of one preset, one material), oldest first; their tags in ``atoms.info``."""
    from ase.db import connect

    if not database.exists():
        return []
    query = {k: v for k, v in (("preset", preset), ("material", material)) if v is not None}
    frames = []
    with connect(database) as db:
        for row in db.select(**query, sort="id"):
            atoms = row.toatoms()
            atoms.info.update({k: row.get(k) for k in TAGS if k in row})
            atoms.info.update({k: row.data[k] for k in IDS if k in row.data})
            frames.append(atoms)
    return frames


def export_frames(frames: list[Atoms], out: Path) -> None:
    """Frames as extended XYZ (energy, forces, stress and tags), the format fine-tuning codes read."""
    if not frames:
        raise SeiscreenError("no training frames match: a DFT preset's campaign records them as it computes "
                             "(`seiscreen presets` says which record)")
    from ase.io import write  # ase.io pulls scipy (~0.4 s): imported where used

    plain = []
    for frame in frames:  # the job's content hash stays in the database: extxyz may read a hex hash as a number
        copy = frame.copy()
        copy.calc = frame.calc
        copy.info.pop("content_hash", None)
        plain.append(copy)
    write(str(out), plain, format="extxyz")
