"""The descriptor panel's Maker: one job per material and preset, its bulk relaxed once and every part computed on
it; and the jobs a campaign with a ``descriptors:`` section adds (the deposited metal's reference first)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.build import bulk as ase_bulk
from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols
from jobflow import Job, JobConfig, OnMissing, job
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.campaign import Campaign
from seiscreen.catalog import load_bulk
from seiscreen.descriptor_schemas import DescriptorDoc, DescriptorSettings
from seiscreen.descriptors.bulk import BulkResult, relax_bulk
from seiscreen.descriptors.mechanical import MechanicalResult, compute_mechanical
from seiscreen.errors import UnknownNameError
from seiscreen.parallel import CalculatorProcessKilled
from seiscreen.schemas import Provenance, calculator_identity, content_hash
from seiscreen.store import find_done
from seiscreen.workflow.base import EXPOSE_STORE, CalculatorMaker, current_store

log = logging.getLogger(__name__)


def material_atoms(material: str) -> Atoms:
    """The material's bulk as the catalog (or its CIF) gives it, without oxidation states; an element the catalog
    lacks (a deposited metal such as Au in EMT tests) as ASE's reference crystal of it."""
    try:
        return AseAtomsAdaptor.get_atoms(load_bulk(material).structure.remove_oxidation_states())
    except UnknownNameError:
        if material not in chemical_symbols:
            raise
        return ase_bulk(material)


def _structure_identity(atoms: Atoms) -> dict:
    """What identifies a starting bulk: species, fractional positions and cell, rounded (float noise aside)."""
    return {"numbers": atoms.numbers.tolist(), "cell": np.round(atoms.cell.array, 5).tolist(),
            "scaled": np.round(atoms.get_scaled_positions(), 5).tolist()}


@dataclass
class DescriptorMaker(CalculatorMaker):
    """Relax a material's bulk once, then compute each descriptor that is on: one ``DescriptorDoc``."""

    name: str = "descriptors"
    settings: DescriptorSettings = field(default_factory=DescriptorSettings)
    reference_metal: str = "Na"  # the deposited metal: the campaign's adsorbate

    def content_hash(self, material: str, role: str = "material") -> str:
        """The document's identity: the starting bulk, the preset, the panel's settings and the reference metal
        (whose G the Monroe–Newman ratio divides by, computed with the same preset and settings)."""
        return content_hash("descriptors", structure=_structure_identity(material_atoms(material)), role=role,
                            calculator=calculator_identity(self.preset.provenance()),
                            settings=self.settings.model_dump(mode="json"), reference_metal=self.reference_metal)

    def _mechanical(self, bulk: BulkResult, calc: Calculator, reference: DescriptorDoc | None) -> MechanicalResult:
        own = reference.mechanical if reference is not None else None
        return compute_mechanical(bulk.atoms(), calc, self.settings.mechanical,
                                  own.shear_modulus_vrh_gpa if own else None, self.reference_metal,
                                  own.born_stable if own else None)

    def steps(self) -> dict[str, Callable]:
        """The parts computed on the relaxed bulk, by their ``DescriptorDoc`` field; a part whose settings are off
        is left out. A new descriptor: one entry here (the same name as its settings field and document part)."""
        steps = {"mechanical": self._mechanical}
        return {name: step for name, step in steps.items() if getattr(self.settings, name) is not None}

    @job(config=EXPOSE_STORE)
    def make(self, material: str, reference: DescriptorDoc | dict | None = None,
             role: str = "material") -> DescriptorDoc:
        """``reference``: the deposited metal's document (its G); ``role="reference"``: this is that document."""
        identity = self.content_hash(material, role)
        done = find_done(current_store(), "descriptors", identity)
        if done is not None:
            return DescriptorDoc.model_validate(done)
        reference = DescriptorDoc.model_validate(reference) if isinstance(reference, dict) else reference
        doc = DescriptorDoc(material=material, preset=self.preset.name, reference_metal=self.reference_metal,
                            role=role, settings=self.settings, content_hash=identity,
                            provenance=Provenance(calculator=self.preset.provenance(), slab_settings={},
                                                  minima_settings={}, parallel=self.parallel.provenance()))
        if not self.settings.needs_bulk:
            return doc
        calc = self.calculator
        parts, errors = {}, {}
        try:
            parts["bulk"] = relax_bulk(material_atoms(material), calc, self.settings.bulk)
        except CalculatorProcessKilled:
            raise
        except Exception as exc:  # noqa: BLE001 - stored with why; the campaign goes on
            log.exception("relaxing the bulk of %s failed", material)
            errors["bulk"] = f"{type(exc).__name__}: {exc}"
        for name, step in self.steps().items() if "bulk" in parts else ():
            try:
                parts[name] = step(parts["bulk"], calc, reference)
            except CalculatorProcessKilled:
                raise
            except Exception as exc:  # noqa: BLE001 - one part failing keeps the others
                log.exception("the %s descriptor of %s failed", name, material)
                errors[name] = f"{type(exc).__name__}: {exc}"
        if role == "reference" and parts.get("mechanical") is not None:  # the metal against itself: ratio 1
            own = parts["mechanical"]
            ratio = 1.0 if own.born_stable else None
            parts["mechanical"] = own.model_copy(update={
                "reference_shear_modulus_gpa": own.shear_modulus_vrh_gpa, "reference_born_stable": own.born_stable,
                "monroe_newman_ratio": ratio, "monroe_newman_satisfied": None if ratio is None else
                ratio >= self.settings.mechanical.monroe_newman_threshold})
        error = "; ".join(f"{k}: {v}" for k, v in errors.items()) or None
        return doc.model_copy(update={**parts, "errors": errors, "error": error})


def descriptor_jobs(campaign: Campaign) -> list[Job]:
    """The panel's jobs of a campaign with a ``descriptors:`` section: per deposited metal (the adsorbate) its own
    reference document, then one job per other material, each given the reference's output."""
    settings = campaign.descriptors
    if settings is None:
        return []
    jobs: list[Job] = []
    references: dict[str, Job] = {}
    for spec in campaign.materials:
        metal = spec.adsorbate or campaign.adsorbate
        maker = DescriptorMaker(calculator_preset=campaign.calculator, settings=settings, reference_metal=metal,
                                parallel=campaign.parallel)
        if metal not in references:
            reference = maker.make(metal, role="reference")
            reference.name = f"descriptors {metal} (reference) {campaign.calculator}"
            references[metal] = reference
            jobs.append(reference)
        if spec.material == metal:
            continue
        j = maker.make(spec.material, references[metal].output)
        j.name = f"descriptors {spec.material} {campaign.calculator}"
        j.config = JobConfig(on_missing_references=OnMissing.NONE, expose_store=True)  # a failed reference: no ratio
        jobs.append(j)
    return jobs
