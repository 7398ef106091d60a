"""DFT single points recorded as training frames: a structure computed once in a folder of its own, its energy and
forces kept there as a frame (:mod:`seiscreen.frames`), where the store gathers them. A structure whose folder holds
its frame is not computed again, so a killed run resumes. This module knows no store and no jobflow: the structures
come from `seiscreen backfill-frames` (:mod:`seiscreen.frames_backfill`) or the active-learning loop."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from seiscreen.calculators import get_preset
from seiscreen.errors import SeiscreenError
from seiscreen.frames import FRAMES_FILE, read_frames, write_context


@dataclass
class StoredStructure:
    """One stored structure of a surface, with the energy the store gives it."""

    surface: str  # "NaF(100) 100-s0.250"
    key: dict  # the surface's key (material, miller, termination_id, calculator)
    kind: str  # "clean", "minimum" or "band image"
    label: str  # which one: the minimum's site, the hop and image
    atoms: Atoms
    stored_energy: float | None  # None: a structure given in a file (``structures_from_file``)
    content_hash: str  # of the document it comes from

    @property
    def folder_name(self) -> str:
        digest = hashlib.sha256(f"{self.content_hash}|{self.kind}|{self.label}".encode()).hexdigest()[:12]
        return f"{self.key['material']}-{''.join(map(str, self.key['miller']))}-{digest}"


def require_recording(preset: str) -> None:
    """Refuse a preset whose calculations are not training frames (an ML preset), in one line."""
    if not get_preset(preset).recording:
        raise SeiscreenError(f"preset {preset!r} records no training frames (an ML preset): backfill is for DFT")



@dataclass
class Recomputed:
    structure: StoredStructure
    energy: float  # recomputed, eV

    @property
    def deviation(self) -> float | None:
        """eV: recomputed minus stored energy (None: nothing stored to compare with)."""
        stored = self.structure.stored_energy
        return None if stored is None else self.energy - stored


def recompute(sample: list[StoredStructure], folder: Path, preset: str,
              on_done: Callable[[Recomputed, int], None] | None = None, tag: str = "backfill") -> Iterator[Recomputed]:
    """Single points with forces of ``sample``, each in its own folder under ``folder`` (the store's
    ``runs/backfill`` for `seiscreen backfill-frames`), each recorded there as a frame of kind
    ``"<tag> <structure.kind>"``."""
    require_recording(preset)
    calculator_preset = get_preset(preset)
    for n, structure in enumerate(sample, 1):
        where = folder / structure.folder_name
        done = read_frames(where / FRAMES_FILE) if (where / FRAMES_FILE).exists() else []
        if not done:
            where.mkdir(parents=True, exist_ok=True)
            key = structure.key
            write_context(where, kind=f"{tag} {structure.kind}", content_hash=structure.content_hash,
                          material=key["material"], facet="(" + "".join(map(str, key["miller"])) + ")",
                          termination=key["termination_id"])
            atoms = structure.atoms.copy()
            atoms.calc = calculator_preset.make(atoms, where)
            atoms.get_forces()
            done = read_frames(where / FRAMES_FILE)
        outcome = Recomputed(structure, done[-1].get_potential_energy())
        if on_done is not None:
            on_done(outcome, n)
        yield outcome
