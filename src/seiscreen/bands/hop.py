"""One hop's band, start to finish: ends placed and relaxed (or resumed), a starting band, the gated CI-NEB."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from seiscreen.bands.ends import HopEnds, placed_end, relaxed_hop_ends
from seiscreen.bands.level import CalculatorLevel
from seiscreen.bands.run import BandFiles, StepReporter, run_band
from seiscreen.bands.smearing import same_smearing_gate
from seiscreen.neb import NebProtocol, NebResult, find_band_mirror
from seiscreen.surfaces.symmetry import SurfaceSymmetry

log = logging.getLogger(__name__)

# A starting band for these relaxed ends (intermediate positions), or None for an IDPP start.
Seed = Callable[[Atoms, Atoms], "list[np.ndarray] | None"]


@dataclass
class HopGeometry:
    """Where a hop runs: its two minima (relaxed structures and adatom positions) and its two nodes.

    Attributes:
        start_minimum: The relaxed structure of the start's minimum.
        start_frac: Its adatom's fractional xy.
        end_minimum: The relaxed structure of the end's minimum.
        end_frac: Its adatom's fractional xy.
        start: The hop's start node (fractional xy).
        end: The hop's end node (fractional xy, unwrapped: may lie outside the cell).
        symmetry: The slab's in-plane symmetry.
        clean_positions: The clean slab's positions, the reference the symmetry operations map.
    """

    start_minimum: Atoms
    start_frac: np.ndarray
    end_minimum: Atoms
    end_frac: np.ndarray
    start: np.ndarray
    end: np.ndarray
    symmetry: SurfaceSymmetry
    clean_positions: np.ndarray


@dataclass
class HopBand:
    """What computing one hop gives.

    Attributes:
        result: The judged band; None when the ends failed (``failure`` says why).
        endpoints: The ends' record: slides, energies, SCF smearing.
        seeded: Whether the band started from its seed (not IDPP).
        resumed: Where a killed run's checkpoint resumed it (stage, step, force calls), or None.
        scf_smearing: Per band image, for GPAW (the ``same_scf_smearing`` gate); None otherwise.
        failure: Why the hop has no band ("" when it has one).
        end_force_calls: What re-relaxing the two ends cost, not counted in ``result.force_calls`` (the band's).
    """

    result: NebResult | None
    endpoints: dict
    seeded: bool = False
    resumed: dict | None = None
    scf_smearing: list[float | None] | None = None
    failure: str = ""
    end_force_calls: int = 0


def compute_hop_band(level: CalculatorLevel, protocol: NebProtocol, hop: HopGeometry, run_dir: Path,
                     files: BandFiles, max_steps: int, slide_tolerance: float, seed: Seed | None = None,
                     seeded_before: bool = False, on_step: StepReporter | None = None,
                     checkpoint_every: int = 1) -> HopBand:
    """The band of one hop: resumed from ``files`` when a killed run left one, else from freshly relaxed ends.

    Args:
        level: The calculators.
        protocol: The NEB protocol.
        hop: The hop's minima and nodes.
        run_dir: Where the ends' and images' files go.
        files: The band's checkpoints (``meta["hop_hash"]`` names the band; others are ignored).
        max_steps: Optimiser steps of each end's relaxation.
        slide_tolerance: Å an end may move on re-relaxation and still be its minimum.
        seed: The starting band's positions for these ends (None: IDPP).
        seeded_before: Whether a checkpoint of before seeds were recorded counts as seeded.
        on_step: Progress of the band's optimiser.
        checkpoint_every: Optimiser steps between checkpoints.
    """
    template = hop.start_minimum.copy()
    if level.preset.slab_pbc is not None:  # as the images' calculators will set it (GPAW)
        template.pbc = level.preset.slab_pbc
    resume = files.load(protocol.n_images, len(template))
    if resume is not None:  # a killed run of this very hop: its ends and band come back from the checkpoint
        log.info("hop %s resumes from its checkpoint (%s step %d)", files.meta.get("label"), resume.stage,
                 resume.step)
        # A checkpoint from before the ends' calls were kept in it counts them as 0.
        ends = HopEnds(*resume.end_images(template), resume.meta["endpoints"],
                       force_calls=resume.meta.get("end_force_calls", 0))
    else:
        ends = _fresh_ends(level, protocol, hop, run_dir, max_steps, slide_tolerance)
        if ends.failure:
            return HopBand(None, ends.endpoints, failure=ends.failure, end_force_calls=ends.force_calls)
    band = seed(ends.initial, ends.final) if seed is not None and resume is None else None
    # A resumed band says whether it started from its seed; checkpoints from before this was recorded count as
    # seeded when a seed was asked for.
    seeded = band is not None if resume is None else bool(resume.meta.get("seeded", seeded_before))
    files.meta.update(endpoints=ends.endpoints, seeded=seeded, end_force_calls=ends.force_calls)
    mirror = find_band_mirror(ends.initial, ends.final, hop.symmetry) if resume is None else None
    result = run_band(level, ends.initial, ends.final, protocol, run_dir, files, resume=resume, initial_band=band,
                      mirror=mirror, on_step=on_step, checkpoint_every=checkpoint_every, freeze=False)
    smearing = same_smearing_gate(result, run_dir, ends.endpoints.get("scf_smearing"))
    files.remove()  # the finished band's document replaces its checkpoints
    resumed = None if resume is None else {"stage": resume.stage, "step": resume.step,
                                           "force_calls": resume.force_calls}
    return HopBand(result, ends.endpoints, seeded, resumed, smearing, end_force_calls=ends.force_calls)


def _fresh_ends(level: CalculatorLevel, protocol: NebProtocol, hop: HopGeometry, run_dir: Path, max_steps: int,
                slide_tolerance: float) -> HopEnds:
    placed = tuple(placed_end(minimum, frac, node, hop.symmetry, hop.clean_positions) for minimum, frac, node in (
        (hop.start_minimum, hop.start_frac, hop.start), (hop.end_minimum, hop.end_frac, hop.end)))
    return relaxed_hop_ends(level, placed, (hop.start, hop.end), hop.symmetry, protocol.endpoint_fmax, max_steps,
                            slide_tolerance, run_dir)

