"""The band engine: everything between a hop's two minima and its judged band, with no jobflow and no store.

- :mod:`~seiscreen.bands.level`: a preset's calculators for a structure, a band's images and its ends.
- :mod:`~seiscreen.bands.ends`: a hop's ends placed by symmetry, relaxed, checked for sliding.
- :mod:`~seiscreen.bands.warm`: starting bands from another band of the hop or from a cheaper level.
- :mod:`~seiscreen.bands.run`: one band run with checkpoint files it resumes from.
- :mod:`~seiscreen.bands.hop`: one hop, start to finish (used by the campaign's ``HopNebMaker``).
- :mod:`~seiscreen.bands.valleys`: a hop through the valleys of an earlier band.
- :mod:`~seiscreen.bands.smearing`: the ``same_scf_smearing`` gate.

The campaign (:class:`seiscreen.workflow.hops.HopNebMaker`) and ``seiscreen rerun-hop``
(:mod:`seiscreen.reproduce`) both compute their bands here.
"""

from seiscreen.bands.ends import SLIDE_TOLERANCE, HopEnds, placed_end, relaxed_hop_ends, relaxed_stored_ends
from seiscreen.bands.hop import HopBand, HopGeometry, compute_hop_band
from seiscreen.bands.level import FORCE_DELAY_VAR, CalculatorLevel, image_folder
from seiscreen.bands.run import CHECKPOINT_SECONDS, BandFiles, run_band
from seiscreen.bands.smearing import ends_smearing, same_smearing_gate
from seiscreen.bands.valleys import MAX_INTERMEDIATES, SAME_STATE, ThroughValleys, ValleyOutcome
from seiscreen.bands.warm import lower_level_band, moved_band, warm_positions

__all__ = ["CHECKPOINT_SECONDS", "FORCE_DELAY_VAR", "MAX_INTERMEDIATES", "SAME_STATE", "SLIDE_TOLERANCE",
           "BandFiles", "CalculatorLevel", "HopBand", "HopEnds", "HopGeometry", "ThroughValleys", "ValleyOutcome",
           "compute_hop_band", "ends_smearing", "image_folder", "lower_level_band", "moved_band", "placed_end",
           "relaxed_hop_ends", "relaxed_stored_ends", "run_band", "same_smearing_gate", "warm_positions"]
