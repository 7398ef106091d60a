"""Climbing-image NEB between two relaxed minima, with the gates that decide whether a band is a barrier.

Plain functions on ASE ``Atoms``; calculators come in from the caller. Two stages (as fairchem's CatTSunami
recommends): a plain band relaxed to ``fmax + climb_threshold``, then the climbing image switched on and the
band relaxed to ``fmax``. ``method='improvedtangent'`` is always passed (ASE 3.29 changed its default).

A band can be checkpointed every N optimiser steps (:class:`NebCheckpoint`: positions, energies, forces, stage,
step, force calls and the optimiser's state) and resumed from one: the resumed run then takes exactly the steps
the uninterrupted run would have taken.

The modules: :mod:`~seiscreen.neb.protocol` (settings and result), :mod:`~seiscreen.neb.checkpoint` (a band in
progress on disk), :mod:`~seiscreen.neb.mirror` (a symmetric hop's half band served by symmetry),
:mod:`~seiscreen.neb.gates` (the verdict on a finished band), :mod:`~seiscreen.neb.band` (images, calculators,
force calls counted) and :mod:`~seiscreen.neb.driver` (:func:`run_neb` and its stages).
"""

from seiscreen.neb.band import (BandDyNEB, CountedBand, CountedDyNEB, CountedNEB, ForceCallCounter, interpolate_band,
                                unwrap_final, with_fixed_results)
from seiscreen.neb.checkpoint import NebCheckpoint
from seiscreen.neb.driver import run_neb
from seiscreen.neb.gates import (SLIP_TOLERANCE, band_slip, check_distinct_ends, follows_hop, join_bands, judge_band,
                                 slip_reason)
from seiscreen.neb.mirror import MIRROR_ARRAYS, MIRROR_DRIFT, MIRROR_TOLERANCE, BandMirror, find_band_mirror
from seiscreen.neb.protocol import OPTIMIZERS, USABLE, NebProtocol, NebResult

__all__ = [
    "MIRROR_ARRAYS", "MIRROR_DRIFT", "MIRROR_TOLERANCE", "OPTIMIZERS", "SLIP_TOLERANCE", "USABLE", "BandDyNEB",
    "BandMirror", "CountedBand", "CountedDyNEB", "CountedNEB", "ForceCallCounter", "NebCheckpoint", "NebProtocol",
    "NebResult", "band_slip", "check_distinct_ends", "find_band_mirror", "follows_hop", "interpolate_band",
    "join_bands", "judge_band", "run_neb", "slip_reason", "unwrap_final", "with_fixed_results",
]
