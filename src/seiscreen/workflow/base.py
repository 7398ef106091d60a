"""The base of every Maker: the calculator preset, the settings, and what they make (provenance)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms
from ase.calculators.calculator import Calculator
from jobflow import JobConfig, Maker

from seiscreen.bands import CalculatorLevel
from seiscreen.calculators import CalculatorPreset, get_preset
from seiscreen.minima import MinimaSettings
from seiscreen.neb import NebProtocol
from seiscreen.parallel import ParallelSettings
from seiscreen.schemas import Provenance, SurfaceKey, atoms_to_dict, calculator_identity, minima_identity
from seiscreen.store_frames import job_frames
from seiscreen.surfaces.slabs import SlabSettings

log = logging.getLogger(__name__)


EXPOSE_STORE = JobConfig(expose_store=True)  # planning jobs look up finished work in the store


def current_store():
    """The store of the running job (jobs configured with ``expose_store``), else None: then nothing is reused."""
    from jobflow import CURRENT_JOB

    return getattr(CURRENT_JOB, "store", None)


def current_job_uuid() -> str | None:
    from jobflow import CURRENT_JOB

    return CURRENT_JOB.job.uuid if CURRENT_JOB.job is not None else None


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
        """The preset named, its ML model on the campaign's ``parallel.device`` where one is set."""
        return get_preset(self.calculator_preset).on_device(self.parallel.device)

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

    def recording_frames(self, kind: str, identity: str, key: SurfaceKey):
        """Around a job's calculations: its training frames (DFT presets) tagged with the job and added to the
        store (:func:`seiscreen.store_frames.job_frames`)."""
        return job_frames(self.preset.recording, kind, identity, key)

    def identity(self, neb: bool = False) -> dict:
        """The settings of this maker that change its numbers (package versions excluded: see content_hash)."""
        out = {"calculator": calculator_identity(self.preset.provenance()),
               "minima_settings": minima_identity(self.minima_settings.model_dump(mode="json"))}
        if neb:
            out["neb_protocol"] = self.neb_protocol.model_dump(mode="json")
        return out

    def provenance(self, with_neb: bool = False) -> Provenance:
        return Provenance(calculator=self.preset.provenance(), slab_settings=self.slab_settings.model_dump(),
                          minima_settings=self.minima_settings.model_dump(),
                          neb_protocol=self.neb_protocol.model_dump() if with_neb else None,
                          parallel=self.parallel.provenance())
