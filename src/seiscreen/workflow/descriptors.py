"""The descriptor panel's Maker: one job per material and preset, its bulk relaxed once and every part computed on
it; and the jobs a campaign with a ``descriptors:`` section adds (the deposited metal's reference first, then the
competing phases the stability of the materials needs, each relaxed once and shared by the materials of its system)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk as ase_bulk
from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols
from jobflow import Job, JobConfig, OnMissing, job
from pymatgen.core import Composition
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.campaign import Campaign
from seiscreen.catalog import load_bulk, load_catalog
from seiscreen.descriptor_schemas import DescriptorDoc, DescriptorSettings
from seiscreen.descriptors.bulk import BulkResult, relax_bulk
from seiscreen.descriptors.gap import GapResult, GapSettings, compute_gap
from seiscreen.descriptors.mechanical import MechanicalResult, compute_mechanical
from seiscreen.descriptors.stability import CompetingPhases, StabilityResult, competing_phases, compute_stability
from seiscreen.descriptors.transport import TransportResult, compute_transport
from seiscreen.errors import UnknownNameError
from seiscreen.parallel import CalculatorProcessKilled
from seiscreen.schemas import Provenance, atoms_to_dict, calculator_identity, content_hash, structure_fingerprint
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


def system_phases(material: str) -> CompetingPhases:
    """The phases the stability of ``material`` needs: the catalog's competing phases of its system; for a CIF, the
    catalog's phases of its elements and, for an element the catalog lacks, ASE's reference crystal of it (an
    element without one, such as F, is missing)."""
    catalog = load_catalog()
    if material in catalog:
        return competing_phases(material)
    system = set(material_atoms(material).get_chemical_symbols())
    inside = {name: e for name, e in catalog.items() if {x.symbol for x in Composition(e.formula)} <= system}
    present = [name for name, e in inside.items() if e.file]
    missing = [name for name, e in inside.items() if not e.file]
    formulas = {Composition(inside[name].formula).reduced_formula for name in present}
    for element in sorted(system - formulas):
        try:
            material_atoms(element)
            present.append(element)
        except (UnknownNameError, ValueError, KeyError):  # no reference crystal (F, Cl, ...)
            missing.append(element)
    present += [] if material in present else [material]
    return CompetingPhases(chemical_system="-".join(sorted(system)), present=present, missing=missing)


def _structure_identity(atoms: Atoms) -> dict:
    """What identifies a starting bulk: the project's structure fingerprint (atoms at a cell face taken at
    fraction 0, so the same CIF read on another machine has the same identity)."""
    return structure_fingerprint(atoms_to_dict(atoms))


def gap_hash(material: str, settings: GapSettings) -> str:
    """The band gap's identity: the starting structure and the gap settings (GPAW, whatever the preset)."""
    return content_hash("gap", structure=_structure_identity(material_atoms(material)),
                        settings=settings.model_dump(mode="json"))


class NotApplicable(Exception):  # noqa: N818 - a part that does not apply to this material: stored as skipped
    """A part that does not apply to the material (stored in ``DescriptorDoc.skipped``, not an error)."""


@dataclass
class StepInputs:
    """What a part may need beside the relaxed bulk and the calculator."""

    material: str
    role: str = "material"
    reference: DescriptorDoc | None = None  # the deposited metal's document (its G, its relaxed energy)
    phases: dict[str, DescriptorDoc | None] = field(default_factory=dict)  # competing phases' documents, by name


def _formula(atoms: Atoms) -> str:
    return Composition(atoms.get_chemical_formula()).reduced_formula


@dataclass
class DescriptorMaker(CalculatorMaker):
    """Relax a material's bulk once, then compute each descriptor that is on: one ``DescriptorDoc``."""

    name: str = "descriptors"
    settings: DescriptorSettings = field(default_factory=DescriptorSettings)
    reference_metal: str = "Na"  # the deposited metal: the campaign's adsorbate

    def content_hash(self, material: str, role: str = "material") -> str:
        """The document's identity: the starting bulk, the preset, the panel's settings and the reference metal
        (whose G the Monroe–Newman ratio divides by, computed with the same preset and settings); with stability
        on, the names of the competing phases it is judged against."""
        phases = (sorted(system_phases(material).present) if self.settings.stability is not None
                  and role == "material" else None)
        return content_hash("descriptors", structure=_structure_identity(material_atoms(material)), role=role,
                            calculator=calculator_identity(self.preset.provenance()),
                            settings=self.settings.model_dump(mode="json"), reference_metal=self.reference_metal,
                            **({"phases": phases} if phases is not None else {}))

    def _mechanical(self, bulk: BulkResult, calc: Calculator, inputs: StepInputs) -> MechanicalResult:
        own = inputs.reference.mechanical if inputs.reference is not None else None
        return compute_mechanical(bulk.atoms(), calc, self.settings.mechanical,
                                  own.shear_modulus_vrh_gpa if own else None, self.reference_metal,
                                  own.born_stable if own else None)

    def _holds_metal(self, bulk: BulkResult, inputs: StepInputs) -> None:
        """Stability and transport concern the deposited metal in a compound of it."""
        if inputs.role == "reference":
            raise NotApplicable(f"the deposited metal {self.reference_metal} itself")
        if self.reference_metal not in bulk.atoms().get_chemical_symbols():
            raise NotApplicable(f"{inputs.material} holds no {self.reference_metal}")

    def _stability(self, bulk: BulkResult, calc: Calculator, inputs: StepInputs) -> StabilityResult:
        """The reaction with the metal from the relaxed energies per atom of the material, the reference metal and
        the competing phases' documents (one lost or failed is listed as missing)."""
        self._holds_metal(bulk, inputs)
        own = _formula(bulk.atoms())
        if inputs.reference is None or inputs.reference.bulk is None:
            raise ValueError(f"no relaxed {self.reference_metal} reference: its document failed")
        energies = {self.reference_metal: inputs.reference.bulk.energy_per_atom}
        missing = list(system_phases(inputs.material).missing)
        for name, doc in inputs.phases.items():
            if doc is None or doc.bulk is None:
                missing.append(name)
                continue
            formula = _formula(doc.bulk.atoms())
            energies[formula] = min(doc.bulk.energy_per_atom, energies.get(formula, np.inf))  # polymorphs: lowest
        energies[own] = bulk.energy_per_atom
        return compute_stability(own, energies, self.settings.stability, missing)

    def _transport(self, bulk: BulkResult, calc: Calculator, inputs: StepInputs) -> TransportResult:
        """The deposited metal's vacancy (and interstitial) hops in a supercell of the relaxed bulk, a fresh
        calculator for each relaxation and band image."""
        self._holds_metal(bulk, inputs)
        return compute_transport(bulk.atoms(), lambda: self.calculator, self.settings.transport)

    def _gap(self, bulk: BulkResult, calc: Calculator, inputs: StepInputs) -> GapResult:
        """The PBE gap from GPAW (not the preset) at the material's starting geometry, reused from any document of
        the store with the same ``gap_hash`` (another preset's, another campaign's)."""
        if inputs.role == "reference":
            raise NotApplicable(f"the deposited metal {self.reference_metal} itself")
        key = gap_hash(inputs.material, self.settings.gap)
        store = current_store()
        found = [] if store is None else list(store.query(
            {"output.doc_type": "descriptors", "output.gap_hash": key, "output.gap": {"$ne": None}},
            properties=["output.gap"], limit=1))
        if found:
            return GapResult.model_validate(found[0]["output"]["gap"])
        geometry = ("catalog (experimental, structures/catalog.yaml)" if inputs.material in load_catalog()
                    else f"as given ({inputs.material})")
        return compute_gap(material_atoms(inputs.material), self.settings.gap, geometry=geometry)

    def steps(self) -> dict[str, Callable]:
        """The parts computed on the relaxed bulk, by their ``DescriptorDoc`` field; a part whose settings are off
        is left out. A new descriptor: one entry here (the same name as its settings field and document part)."""
        steps = {"mechanical": self._mechanical, "stability": self._stability, "transport": self._transport,
                 "gap": self._gap}
        return {name: step for name, step in steps.items() if getattr(self.settings, name) is not None}

    @job(config=EXPOSE_STORE)
    def make(self, material: str, reference: DescriptorDoc | dict | None = None, role: str = "material",
             phases: dict[str, Any] | None = None) -> DescriptorDoc:
        """``reference``: the deposited metal's document (its G and energy); ``role="reference"``: this is that
        document; ``role="phase"``: a competing phase, its bulk relaxed only; ``phases``: the competing phases'
        documents by name (None where one was lost)."""
        identity = self.content_hash(material, role)
        done = find_done(current_store(), "descriptors", identity)
        if done is not None:
            return DescriptorDoc.model_validate(done)
        doc = DescriptorDoc(material=material, preset=self.preset.name, reference_metal=self.reference_metal,
                            role=role, settings=self.settings, content_hash=identity,
                            provenance=Provenance(calculator=self.preset.provenance(), slab_settings={},
                                                  minima_settings={}, parallel=self.parallel.provenance()))
        if not self.settings.needs_bulk and role != "phase":
            return doc
        inputs = StepInputs(material, role, _document(reference),
                            {name: _document(d) for name, d in (phases or {}).items()})
        parts, errors, skipped = self._parts(inputs)
        if role == "reference" and parts.get("mechanical") is not None:  # the metal against itself: ratio 1
            own = parts["mechanical"]
            ratio = 1.0 if own.born_stable else None
            parts["mechanical"] = own.model_copy(update={
                "reference_shear_modulus_gpa": own.shear_modulus_vrh_gpa, "reference_born_stable": own.born_stable,
                "monroe_newman_ratio": ratio, "monroe_newman_satisfied": None if ratio is None else
                ratio >= self.settings.mechanical.monroe_newman_threshold})
        if parts.get("gap") is not None:
            parts["gap_hash"] = gap_hash(material, self.settings.gap)
        error = "; ".join(f"{k}: {v}" for k, v in errors.items()) or None
        return doc.model_copy(update={**parts, "errors": errors, "skipped": skipped, "error": error})

    def _parts(self, inputs: StepInputs) -> tuple[dict, dict[str, str], dict[str, str]]:
        """(parts by field, errors by part, skipped parts with why): the bulk relaxed, then every step on it."""
        calc = self.calculator
        parts, errors, skipped = {}, {}, {}
        try:
            parts["bulk"] = relax_bulk(material_atoms(inputs.material), calc, self.settings.bulk)
        except CalculatorProcessKilled:
            raise
        except Exception as exc:  # noqa: BLE001 - stored with why; the campaign goes on
            log.exception("relaxing the bulk of %s failed", inputs.material)
            errors["bulk"] = f"{type(exc).__name__}: {exc}"
        for name, step in self.steps().items() if "bulk" in parts else ():
            try:
                parts[name] = step(parts["bulk"], calc, inputs)
            except NotApplicable as why:
                skipped[name] = str(why)
            except CalculatorProcessKilled:
                raise
            except Exception as exc:  # noqa: BLE001 - one part failing keeps the others
                log.exception("the %s descriptor of %s failed", name, inputs.material)
                errors[name] = f"{type(exc).__name__}: {exc}"
        return parts, errors, skipped


def _document(value: DescriptorDoc | dict | None) -> DescriptorDoc | None:
    return DescriptorDoc.model_validate(value) if isinstance(value, dict) else value


def descriptor_jobs(campaign: Campaign) -> list[Job]:
    """The panel's jobs of a campaign with a ``descriptors:`` section: per deposited metal (the adsorbate) its own
    reference document; with stability on, one document per competing phase of the materials' systems (relaxed
    once, shared by every material of the system); then one job per other material, given their outputs."""
    if campaign.descriptors is None:
        return []
    jobs: list[Job] = []
    references: dict[str, Job] = {}
    phase_jobs: dict[tuple[str, str], Job] = {}
    for spec in campaign.materials:
        metal = spec.adsorbate or campaign.adsorbate
        settings = campaign.descriptors.for_metal(metal)
        maker = DescriptorMaker(calculator_preset=campaign.calculator, settings=settings, reference_metal=metal,
                                parallel=campaign.parallel)
        if metal not in references:
            reference = maker.make(metal, role="reference")
            reference.name = f"descriptors {metal} (reference) {campaign.calculator}"
            references[metal] = reference
            jobs.append(reference)
        if spec.material == metal:
            continue
        phases = {}
        for name in _phase_names(spec.material, metal) if settings.stability is not None else ():
            if (metal, name) not in phase_jobs:
                phase = replace(maker, settings=settings.bulk_only()).make(name, role="phase")
                phase.name = f"descriptors {name} (phase) {campaign.calculator}"
                phase_jobs[(metal, name)] = phase
                jobs.append(phase)
            phases[name] = phase_jobs[(metal, name)].output
        j = maker.make(spec.material, references[metal].output, phases=phases)
        j.name = f"descriptors {spec.material} {campaign.calculator}"
        j.config = JobConfig(on_missing_references=OnMissing.NONE, expose_store=True)  # a failed reference: no ratio
        jobs.append(j)
    return jobs


def _phase_names(material: str, metal: str) -> list[str]:
    """The competing phases of the material's system other than the material and the metal (the reference); none
    for a material without the metal (its stability does not apply)."""
    if metal not in material_atoms(material).get_chemical_symbols():
        return []
    return [name for name in system_phases(material).present if name not in (material, metal)]
