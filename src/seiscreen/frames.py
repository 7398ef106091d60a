"""Training frames: every calculation of a recording preset (the DFT ones) kept as structure, energy and forces.

A recording calculator appends each finished calculation with forces to ``frames.extxyz`` in its own folder, at
once, so a killed job loses nothing computed. The job that ran it leaves ``frame-context.json`` in its run folder:
what was computed (the step, its content hash, the surface). :mod:`seiscreen.store_frames` gathers both into the
store's ASE database. This module knows no store and no jobflow.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator

FRAMES_FILE = "frames.extxyz"
CONTEXT_FILE = "frame-context.json"
PROPERTIES = ("energy", "free_energy", "forces", "stress")  # what a frame keeps of a calculator's results


def frame_id(atoms: Atoms, energy: float) -> str:
    """A frame's identity: its numbers, positions and cell (to 1e-5 Å) and energy (to 1e-5 eV). It starts with a
    letter: extended XYZ reads an info value that looks like a number ("12e45") back as one."""
    parts = [atoms.numbers.tobytes(), np.round(atoms.positions, 5).tobytes(),
             np.round(np.asarray(atoms.cell), 5).tobytes(), f"{energy:.5f}".encode()]
    return "f" + hashlib.sha256(b"|".join(parts)).hexdigest()[:16]


def as_frame(atoms: Atoms, results: dict, preset: str, **info) -> Atoms:
    """A copy of ``atoms`` (no constraints) holding ``results`` in a single-point calculator; ``info`` tags it."""
    frame = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    kept = {k: np.array(v) if k in ("forces", "stress") else float(v) for k, v in results.items() if k in PROPERTIES}
    frame.calc = SinglePointCalculator(frame, **kept)
    frame.info.update(preset=preset, frame_id=frame_id(frame, kept["energy"]), **info)
    return frame


def record(folder: Path, atoms: Atoms, results: dict, preset: str, **info) -> None:
    """Append one calculation with forces to ``folder/frames.extxyz`` in one write (a killed writer can leave
    only a truncated last frame, which :func:`read_frames` skips). Without forces, nothing is kept."""
    if "forces" not in results or "energy" not in results:
        return
    from ase.io import write  # ase.io pulls scipy (~0.4 s): imported where used

    buffer = io.StringIO()
    write(buffer, as_frame(atoms, results, preset, **info), format="extxyz")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / FRAMES_FILE, "a") as stream:
        stream.write(buffer.getvalue())
        stream.flush()
        os.fsync(stream.fileno())


def read_frames(path: Path) -> list[Atoms]:
    """The frames of one ``frames.extxyz``, a truncated last frame (a killed writer) left out."""
    from ase.io import iread

    frames = []
    try:
        for frame in iread(str(path), index=":", format="extxyz"):
            frames.append(frame)
    except Exception:  # noqa: BLE001 - a half-written last frame: the complete ones before it stand
        pass
    return frames


def write_context(folder: Path, **context) -> None:
    """What the job running in ``folder`` computes, for the frames recorded under it."""
    (folder / CONTEXT_FILE).write_text(json.dumps(context, sort_keys=True))


def context_of(frames_file: Path, root: Path) -> dict:
    """The context of the nearest folder at or above ``frames_file``'s own, up to ``root``; {} if none."""
    for folder in [frames_file.parent, *frames_file.parent.parents]:
        if (folder / CONTEXT_FILE).exists():
            return json.loads((folder / CONTEXT_FILE).read_text())
        if folder == root or root not in folder.parents:
            break
    return {}


def frame_files(root: Path) -> Iterator[Path]:
    """Every ``frames.extxyz`` under ``root`` (a store's run folders), in a stable order."""
    yield from sorted(root.rglob(FRAMES_FILE))


class RecordingCalculator(Calculator):
    """Any ASE calculator whose finished calculations with forces are also recorded (:func:`record`) into
    ``directory`` (the working folder at the time of each call, when None)."""

    def __init__(self, inner: Calculator, preset: str, directory: Path | None = None):
        super().__init__()
        self.inner, self.preset, self.folder = inner, preset, directory
        self.implemented_properties = list(inner.implemented_properties)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.inner.calculate(self.atoms, properties, system_changes)
        self.results = dict(self.inner.results)
        record(self.folder or Path.cwd(), self.atoms, self.results, self.preset)
