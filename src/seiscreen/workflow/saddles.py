"""The saddle-check Maker: one job per accepted hop, its climbing image and ends judged by their harmonic modes
(:func:`seiscreen.bands.saddle.check_band`), stored as a :class:`~seiscreen.schemas.SaddleCheckDoc`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import job

from seiscreen import progress
from seiscreen.bands.saddle import BandModes, check_band
from seiscreen.kinetic_schemas import ModesDoc
from seiscreen.kinetics import KineticsSettings, alternative_entry
from seiscreen.progress import Event
from seiscreen.schemas import HopDoc, SaddleCheckDoc, atoms_from_dict, content_hash
from seiscreen.workflow.base import EXPOSE_STORE, CalculatorMaker

log = logging.getLogger(__name__)


@dataclass
class SaddleCheckMaker(CalculatorMaker):
    """A hop's climbing image a first-order saddle along its band and its ends minima, from finite-difference
    Hessians over a shell of atoms; the hop's Vineyard attempt frequencies."""

    name: str = "saddle check"
    kinetics: KineticsSettings = field(default_factory=KineticsSettings)

    def content_hash(self, hop: HopDoc) -> str:
        """Identity: the hop's own, the shell and step, and the calculator."""
        return content_hash("saddle-check", hop=hop.content_hash or hop.job_uuid, **self.kinetics.identity(),
                            calculator=self.identity()["calculator"])

    @job(config=EXPOSE_STORE)
    def make(self, hop: HopDoc) -> SaddleCheckDoc:
        """Three Hessians (climbing image, start, end) of ``hop``'s final band, which jobflow loads with it."""
        identity = self.content_hash(hop)
        images = [atoms_from_dict(d) for d in hop.band]
        for image in images:  # with this preset's periodicity, as the band was computed
            if self.preset.slab_pbc is not None:
                image.pbc = self.preset.slab_pbc
        energies = [hop.start_energy + e for e in hop.image_energies]
        with self.recording_frames("saddle_check", identity, hop.key):
            modes = check_band(images, energies, lambda atoms: self.image_calculator(atoms, Path.cwd()),
                               self.kinetics.shell_radius, self.kinetics.delta)
        forward, reverse = modes.attempts()
        progress.emit(Event.SADDLE_CHECKED, key=hop.key, surface=hop.key.label, hop=hop.hop_id,
                      passed=modes.first_order_saddle)
        return SaddleCheckDoc(key=hop.key, hop_id=hop.hop_id, hop_content_hash=hop.content_hash,
                              shell_radius=self.kinetics.shell_radius, delta=self.kinetics.delta, atoms=modes.atoms,
                              **_modes_fields(modes), first_order_saddle=modes.first_order_saddle,
                              attempt_forward=forward, attempt_reverse=reverse, force_calls=modes.force_calls,
                              sideways=None if (side := modes.sideways()) is None else side.tolist(),
                              provenance=self.provenance(with_neb=True), content_hash=identity)


def _modes_fields(modes: BandModes) -> dict[str, ModesDoc]:
    """The three states' modes as documents."""
    saddle = modes.saddle_check
    return {"saddle": ModesDoc(frequencies=modes.saddle.frequencies.tolist(), n_imaginary=saddle.imaginary,
                               passed=saddle.passed, reason=saddle.reason, tangent_overlap=saddle.overlap),
            **{name: ModesDoc(frequencies=analysis.frequencies.tolist(), n_imaginary=check.imaginary,
                              passed=check.passed, reason=check.reason)
               for name, analysis, check in (("start", modes.start, modes.start_check),
                                             ("end", modes.end, modes.end_check))}}


@job(data=["band", "trajectory"])
def instead_of_failed(band: HopDoc, failed: dict) -> HopDoc:
    """A hop's band computed off its higher-order saddle, with the failed band listed in its ``alternatives``."""
    return band.model_copy(update={"alternatives": [*band.alternatives, failed]})


# eV: a second band's saddle must lie this far below the first band's to replace it (bands converge to fmax 0.05
# eV/Å, which leaves meV on a soft sideways mode: docs/notes/2026-12-06-saddle-checks.md).
LOWER_BY = 1e-3


@job(data=["band", "trajectory"])
def lower_verified(first: HopDoc, second: HopDoc, check: SaddleCheckDoc) -> HopDoc:
    """Of a limiting hop's first band and its second band (pushed sideways), the second when it is a verified
    first-order saddle at least LOWER_BY eV lower, else the first; the other in ``alternatives`` (marked
    ``second_band``, with ``lower``: whether the second band found the lower saddle)."""
    lower = (second.status == "accepted" and check.first_order_saddle and second.saddle_energy is not None
             and first.saddle_energy is not None and second.saddle_energy < first.saddle_energy - LOWER_BY)
    kept, other = (second, first) if lower else (first, second)
    if lower:
        log.warning("%s %s: its second band found a lower first-order saddle, %.3f eV below the first",
                    first.key.label, first.hop_id, first.saddle_energy - second.saddle_energy)
    entry = alternative_entry(other, second_band=True, lower=lower)
    return kept.model_copy(update={"alternatives": [*kept.alternatives, entry]})
