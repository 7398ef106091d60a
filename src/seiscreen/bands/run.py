"""One band run to completion with :func:`~seiscreen.neb.run_neb`, checkpointed to files it resumes from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import Atoms

from seiscreen.bands.level import CalculatorLevel
from seiscreen.neb import BandMirror, NebCheckpoint, NebProtocol, NebResult, run_neb, with_fixed_results

# At most one band checkpoint a second: a checkpoint (the band and the optimiser's Hessian, 0.5-7.6 MB) costs more
# than a cheap calculator's step (benchmarks/checkpoint_cost.py), and a kill then loses under a second of work.
CHECKPOINT_SECONDS = 1.0

StepReporter = Callable[[str, int, float], None]


@dataclass
class BandFiles:
    """Where a band in progress is checkpointed: written to every path, read back from the first.

    Args:
        paths: Checkpoint files (``.npz``); none: the band is not checkpointed.
        meta: Stored with each checkpoint; a checkpoint whose ``identity`` key differs is another band's.
    """

    paths: list[Path] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def load(self, n_images: int, n_atoms: int) -> NebCheckpoint | None:
        """The saved state of this very band, or None (none saved, or another band's, or another shape)."""
        if not self.paths or not self.paths[0].exists():
            return None
        state = NebCheckpoint.load(self.paths[0])
        if state is None or state.positions.shape != (n_images + 2, n_atoms, 3):
            return None
        identity = self.meta.get("hop_hash")
        return None if identity is not None and state.meta.get("hop_hash") != identity else state

    def save(self, state: NebCheckpoint) -> None:
        """Write ``state`` (with ``meta``) to every path."""
        if self.meta:
            state.meta = dict(self.meta)
        for path in self.paths:
            state.save(path)

    def remove(self) -> None:
        """Delete the checkpoints: the finished band's document replaces them (megabytes each)."""
        for path in self.paths:
            path.unlink(missing_ok=True)


def run_band(level: CalculatorLevel, initial: Atoms, final: Atoms, protocol: NebProtocol, run_dir: Path,
             files: BandFiles | None = None, resume: NebCheckpoint | None = None,
             initial_band: list[np.ndarray] | None = None, mirror: BandMirror | None = None,
             on_step: StepReporter | None = None, checkpoint_every: int = 1, freeze: bool = True) -> NebResult:
    """The band between two relaxed, unwrapped ends with ``level``'s calculators, images' files in ``run_dir``.

    Args:
        files: Checkpoints written as it runs (at most one per ``CHECKPOINT_SECONDS`` after a stage's first).
        resume: A saved state of this band to continue from.
        initial_band: Intermediate positions to start from instead of an IDPP interpolation.
        mirror: The hop's mirror operation (:func:`~seiscreen.neb.find_band_mirror`).
        on_step: Called with (stage, step, band fmax) after every optimiser step.
        freeze: Give the images their results without a calculator (for a band joined or judged later).

    Returns:
        The judged band.
    """
    save = files.save if files is not None and files.paths else None
    with level.band_calculators(run_dir) as make_calculator:
        result = run_neb(initial, final, make_calculator, protocol, on_step=on_step, initial_band=initial_band,
                         resume=resume, checkpoint=save, checkpoint_every=checkpoint_every,
                         checkpoint_seconds=CHECKPOINT_SECONDS, mirror=mirror)
    return replace(result, images=[with_fixed_results(image) for image in result.images]) if freeze else result
