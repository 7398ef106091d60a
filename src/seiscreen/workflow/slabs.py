"""Slabs: every termination of a facet cut (polarity checked), the bulk relaxed when asked, one flow each."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ase.calculators.calculator import Calculator
from jobflow import Flow, JobConfig, Maker, OutputReference, Response, job
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen import progress
from seiscreen.progress import Event
from seiscreen.catalog import Bulk, load_bulk, make_bulk
from seiscreen.schemas import Provenance, SlabDoc, SurfaceDoc, SurfaceKey, atoms_to_dict
from seiscreen.store import find_done_job
from seiscreen.surfaces.slabs import Termination, make_terminations, with_supercell
from seiscreen.surfaces.symmetry import SurfaceSymmetry
from seiscreen.workflow.base import EXPOSE_STORE, CalculatorMaker, current_store

log = logging.getLogger(__name__)


def relaxed_bulk(bulk: Bulk, calc: Calculator, fmax: float = 0.005) -> Bulk:
    """The bulk with its cell and positions relaxed by ``calc``, symmetry kept (FixSymmetry)."""
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    atoms = AseAtomsAdaptor.get_atoms(bulk.structure.copy().remove_oxidation_states())
    atoms.set_constraint(FixSymmetry(atoms))
    atoms.calc = calc
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=fmax, steps=300)
    atoms.set_constraint()
    structure = AseAtomsAdaptor.get_structure(atoms)
    return make_bulk(bulk.name, structure, bulk.oxidation_states, f"{bulk.source}; relaxed with the campaign's "
                     "calculator", bulk.entry)


def slab_doc(termination: Termination, adsorbate: str, calculator: str) -> SlabDoc:
    symmetry = SurfaceSymmetry.from_structure(termination.slab)
    key = SurfaceKey(material=termination.material, miller=termination.miller,
                     termination_id=termination.termination_id, adsorbate=adsorbate, calculator=calculator)
    return SlabDoc(key=key, termination=termination.metadata(), structure=atoms_to_dict(termination.to_atoms()),
                   symmetry={"rotations": symmetry.rotations.tolist(), "translations": symmetry.translations.tolist(),
                             "lattice": symmetry.lattice.tolist()})


@dataclass
class TerminationsMaker(CalculatorMaker):
    """Cut every termination of (material, facet) and fan out one surface flow per termination."""

    name: str = "terminations"
    surface_flow_maker: Maker | None = None  # seiscreen.flows.SurfaceFlowMaker
    only: list[str] | None = None  # termination ids to keep (None: all)

    @job(config=EXPOSE_STORE)
    def make(self, material: str, miller: list[int], slabs: list[SlabDoc] | None = None):
        """``slabs``: the facet's slab documents when the caller already cut them (campaign_flow's plan)."""
        try:
            docs = [SlabDoc.model_validate(s) for s in slabs] if slabs else self.slab_docs(material, miller)
        except Exception as exc:  # noqa: BLE001 - one material failing must not stop the campaign
            log.exception("cutting %s %s failed", material, miller)
            failed = store_surface(failed_surface(material, miller, self.minima_settings.adsorbate, self.preset.name,
                                                  f"slab cutting failed: {type(exc).__name__}: {exc}",
                                                  self.provenance(True)))
            return Response(replace=Flow([failed], output=[failed.output]))
        progress.emit(Event.SURFACES_PLANNED, material=material, miller=miller, n=len(docs))
        store = current_store()
        flows, outputs = [], []
        for doc in docs:
            done = find_done_job(store, "surface", self.surface_flow_maker.content_hashes(doc))
            if done is not None:  # finished by an earlier run: referred to, not recomputed and not copied
                progress.emit(Event.SURFACE_REUSED, key=doc.key, surface=doc.key.label)
                outputs.append(OutputReference(done["uuid"]))
                continue
            progress.emit(Event.SURFACE_PENDING, key=doc.key, surface=doc.key.label)
            flow = self.surface_flow_maker.make(doc)
            flows.append(flow)
            outputs.append(flow.output)
        if not flows:
            return outputs  # references only: the stored output points at the finished documents
        gather = gather_references(outputs)
        return Response(replace=Flow([*flows, gather], output=gather.output, name=f"{material} {miller}"))

    def slab_docs(self, material: str, miller: list[int], store=None,
                  stored: list[dict] | None = None) -> list[SlabDoc]:
        """The slab documents of every kept termination of (material, facet): what the surface flows start from,
        each in the supercell a store already computed it in (:func:`stored_supercell`): ``stored`` (that store's
        cells, :func:`stored_cells`), else those of ``store``, else of the running job's store."""
        bulk = load_bulk(material)
        if self.slab_settings.lattice == "calculator":
            bulk = relaxed_bulk(bulk, self.calculator)
        terminations = make_terminations(bulk, tuple(miller), self.slab_settings)
        if self.only is not None:
            terminations = [t for t in terminations if t.termination_id in self.only]
        adsorbate = self.minima_settings.adsorbate
        if stored is None:
            stored = stored_cells(store if store is not None else current_store(), material, adsorbate)
        return [slab_doc(stored_supercell(t, stored), adsorbate, self.preset.name) for t in terminations]


# Termination metadata that names the cell's basis, not the surface: it differs between equivalent supercells.
_BASIS_FIELDS = {"supercell_matrix", "cell_angles", "cell_lengths"}


def stored_cells(store, material: str, adsorbate: str) -> list[dict]:
    """The termination metadata of every minima search ``store`` holds for (material, adatom), oldest first."""
    if store is None:
        return []
    criteria = {"output.doc_type": "minima", "output.key.material": material, "output.key.adsorbate": adsorbate}
    found = sorted(store.query(criteria, properties=["output.slab.termination", "completed_at"]),
                   key=lambda d: d.get("completed_at") or "")
    return [meta for d in found if (meta := ((d.get("output") or {}).get("slab") or {}).get("termination"))]


def stored_supercell(termination: Termination, stored: list[dict]) -> Termination:
    """The termination in the equivalent supercell that a store first computed it in (``stored``:
    :func:`stored_cells`), else as cut, in its canonical cell. A store written before the canonical choice keeps
    its documents and numbers; a fresh store always gets the canonical cell
    (docs/notes/2026-12-07-supercell-noise.md)."""
    if not termination.alternatives:
        return termination
    wanted = termination.metadata()
    options = {termination.supercell_matrix, *termination.alternatives}
    for meta in stored:
        matrix = tuple(tuple(int(x) for x in row) for row in meta.get("supercell_matrix") or [])
        if matrix in options and _same_cut(meta, wanted):
            return with_supercell(termination, matrix)
    return termination


def _same_cut(stored: dict, wanted: dict) -> bool:
    """Whether two terminations' metadata describe one slab up to the supercell's basis."""
    shared = (set(stored) & set(wanted)) - _BASIS_FIELDS
    if any(stored[k] != wanted[k] for k in shared):
        return False
    a, b = stored.get("cell_lengths"), wanted.get("cell_lengths")
    return not (a and b) or (sorted(a[:2]) == sorted(b[:2]) and a[2] == b[2])


@job(config=JobConfig(resolve_references=False))
def gather_references(references: list) -> list:
    """The surfaces of one facet as references, new and reused alike: a flow's output may only refer to its own
    jobs, and a reused surface must be referred to (its document stays the only copy), not copied."""
    return references


@job
def store_surface(doc: SurfaceDoc) -> SurfaceDoc:
    """A surface document as its own job output (a failure found while planning), so the store sees one document
    per surface and never a list of them."""
    return doc


def failed_surface(material: str, miller: list[int], adsorbate: str, calculator: str, reason: str,
                   provenance: Provenance, slab: SlabDoc | None = None) -> SurfaceDoc:
    """A surface (or a whole facet, termination "-") whose computation raised: stored with why, never ranked."""
    key = slab.key if slab is not None else SurfaceKey(material=material, miller=tuple(miller), termination_id="-",
                                                       adsorbate=adsorbate, calculator=calculator)
    return SurfaceDoc(status="failed", reason=reason, key=key, n_minima=0, lowest_site=None, adsorption_energy=None,
                      barrier_2d=None, barrier_1d=None, lowest_hop_barrier=None, channel_only=False,
                      limiting_hop_1d=None, limiting_hop_2d=None, path_hops_1d=[], path_hops_2d=[], directions_1d=[],
                      directions_2d=[], hops=[], minima=[], force_calls=0, provenance=provenance, slab=slab)
