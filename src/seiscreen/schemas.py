"""Pydantic documents: the only things the store ever sees.

Every document names its surface (material, facet, termination id, adsorbate, calculator preset) and carries
the protocol that produced its numbers. Structures are ASE JSON dicts (constraints and info survive the trip).
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import numpy as np
from ase import Atoms
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seiscreen.kinetic_schemas import DiffusionSummary, ModesDoc

VERSIONED_PACKAGES = ("seiscreen", "ase", "pymatgen", "jobflow", "maggma", "numpy", "spglib")


def atoms_to_dict(atoms: Atoms) -> dict:
    """ASE's own JSON encoding: keeps constraints (fixed layers), info and, for results, nothing else."""
    from ase.io.jsonio import encode  # ase.io pulls scipy (~0.4 s): not at import, for `seiscreen results`

    clean = atoms.copy()
    clean.calc = None
    return json.loads(encode(clean))


def atoms_from_dict(data: dict) -> Atoms:
    from ase.io.jsonio import decode

    return decode(json.dumps(data))


def atom_count(data: dict) -> int:
    """The number of atoms of a structure stored as ASE JSON (:func:`atoms_to_dict`), read off its ``numbers``
    without decoding the structure (which imports ``ase.io``)."""
    numbers = data.get("numbers")
    if isinstance(numbers, dict) and "__ndarray__" in numbers:  # ASE's encoding of an array: [shape, dtype, flat]
        return int(numbers["__ndarray__"][0][0])
    if isinstance(numbers, list):
        return len(numbers)
    return len(atoms_from_dict(data))


def structure_fingerprint(data: dict) -> dict:
    """What identifies a stored structure: species, positions and cell rounded to 1e-5 Å, periodicity and fixed
    atoms (ASE JSON key order and float noise below that do not change an identity), every atom on a periodic
    cell face taken at the face at fraction 0: pymatgen puts a slab's face atoms at 0 on one machine and at 1
    on another (float noise), and Na3P(001)'s minima, hours of GPAW, were searched again under a new identity."""
    return structure_fingerprints(data)[0]


def structure_fingerprints(data: dict) -> list[dict]:
    """:func:`structure_fingerprint`, then (if it differs) the fingerprint identities had before face atoms were
    moved to fraction 0: what lookups of documents stored before then also try."""
    atoms = atoms_from_dict(data)
    fixed = sorted({int(i) for c in atoms.constraints for i in getattr(c, "index", [])})
    at_far_face = np.isclose(atoms.cell.scaled_positions(atoms.positions), 1.0, rtol=0.0, atol=1e-9) & atoms.pbc
    out: list[dict] = []
    for positions in (atoms.positions - at_far_face.astype(float) @ atoms.cell.array, atoms.positions):
        fingerprint = {"numbers": atoms.numbers.tolist(), "positions": np.round(positions, 5).tolist(),
                       "cell": np.round(atoms.cell.array, 5).tolist(), "pbc": atoms.pbc.tolist(), "fixed": fixed}
        if fingerprint not in out:
            out.append(fingerprint)
    return out


# Minima-search fields added later (fewer force calls; a last state verified); False is the search before they
# existed, hashed as it was then.
LEGACY_OFF = ("stop_in_known_basin", "lowest_start_first", "verify_last")


def minima_identity(settings: dict) -> dict:
    """Minima-search settings as hashed: a call-saving field at its old behaviour (False) is left out, so a search
    with them off keeps the identity it had before they existed (content hashes and protocol ids alike)."""
    return {k: v for k, v in settings.items() if not (k in LEGACY_OFF and v is False)}


# Kept in a document's provenance, left out of its identity: the code's version (see content_hash) and the device
# an ML model ran on (CPU or GPU: the same numbers within float round-off, as on another machine).
_NOT_IDENTITY = ("package_version", "device")


def calculator_identity(provenance: dict) -> dict:
    """A preset's provenance without the code's version and the model's device: see :func:`content_hash`."""
    return {k: v for k, v in provenance.items() if k not in _NOT_IDENTITY}


def content_hash(kind: str, **inputs) -> str:
    """The identity of a computed document: a hash of every input that changes its numbers.

    Package versions are left out on purpose: a patch release of numpy or ASE must not make a rerun throw away
    days of DFT. They are stored with every document (``provenance.versions``) for anyone who wants to compare.
    """
    text = json.dumps({"kind": kind, **inputs}, sort_keys=True, default=_jsonable, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return str(value)


def package_versions() -> dict[str, str | None]:
    return dict(_installed_versions())  # a copy: documents may be edited


@functools.cache  # installed versions do not change within a process; each lookup reads package metadata
def _installed_versions() -> tuple[tuple[str, str | None], ...]:
    out = []
    for name in VERSIONED_PACKAGES:
        try:
            out.append((name, version(name)))
        except PackageNotFoundError:
            out.append((name, None))
    return tuple(out)


class MinimumSeed(BaseModel):
    """An extra start of a minima search: a minimum another fidelity (or a smaller cell) found.

    Site classes are always searched too; a seed only adds a start (``MinimaMaker.make``).
    """

    name: str = Field(description="where it comes from, e.g. the other level's site label; the start is named "
                      "seed-<name>")
    position: list[float] = Field(description="the adatom's Cartesian position on this slab, Å (x, y, z)")


class SplitHop(BaseModel):
    """A hop whose band had a valley, and where that valley relaxed to (``MinimaDoc.split_hops``).

    The hop network routes such a hop through the valley's minimum instead of rebuilding it
    (:func:`seiscreen.surfaces.hops.build_hop_network`).
    """

    start: list[float] = Field(description="the hop's start, fractional in-plane")
    end: list[float] = Field(description="the hop's end, fractional in-plane")
    valley: list[float] = Field(description="the copy of the minimum the valley relaxed into next to the hop, "
                                "fractional in-plane in the frame of start and end")


class HopSpec(BaseModel):
    """One symmetry-unique hop as a NEB job's input (``hopgraph.hop_specs``): its minima, ends and weight.

    Its content hash reads only the two minima and the two ends (``HopNebMaker.content_hash``).
    """

    hop_id: str = Field(description="hop<index>-m<start>-m<end>, e.g. hop0-m0-m1")
    index: int = Field(description="the hop class: its place among the surface's hops; graph edges refer to it")
    start_minimum: int = Field(description="index of the start minimum (MinimaDoc.minima)")
    end_minimum: int = Field(description="index of the end minimum")
    start: list[float] = Field(description="the start, fractional in-plane")
    end: list[float] = Field(description="the end, fractional in-plane")
    length: float = Field(description="in-plane length, Å")
    multiplicity: int = Field(description="symmetry copies of the hop in the cell (both directions)")
    bypass: bool = Field(False, description="a hop the Gabriel neighbour test left out, computed because it "
                         "could lower the percolation level (hopgraph.bypass_specs)")

    @classmethod
    def of(cls, hop: HopDoc, index: int) -> HopSpec:
        """The spec of a computed hop (its class index ``index``: its place among the surface's hops)."""
        return cls(index=index, **hop.model_dump(include={"hop_id", "start_minimum", "end_minimum", "start", "end",
                                                          "length", "multiplicity", "bypass"}))


class GraphEdgeSpec(BaseModel):
    """One edge of a surface's hop graph: a hop between two minima copies of the cell, maybe into a next cell."""

    i: int = Field(description="the start node (HopGraph.nodes)")
    j: int = Field(description="the end node")
    image: list[int] = Field(description="the periodic image of the cell the end node lies in (two integers)")
    hop: int = Field(description="the hop class it is a copy of (HopSpec.index)")
    i_minimum: int = Field(description="the minimum behind node i")
    j_minimum: int = Field(description="the minimum behind node j")


class HopGraph(BaseModel):
    """A surface's periodic hop graph for percolation (``hopgraph.hop_specs``): nodes are the copies of the
    minima in one cell, edges the copies of the hops."""

    nodes: list[int] = Field(description="per node: the index of the minimum it is a copy of")
    positions: list[list[float]] = Field(default_factory=list, description="per node: its fractional in-plane "
                                         "position in the cell (empty in graphs made before it was kept)")
    edges: list[GraphEdgeSpec] = Field(description="every copy of every hop between the nodes")
    bypass: list[str] | None = Field(None, description="hop ids of the bypass hops (hopgraph.bypass_specs) the "
                                     "graph was widened with; None: bypass hops not yet looked for")

    @property
    def bypass_ids(self) -> set[str]:
        """The bypass hops' ids (empty before any were looked for)."""
        return set(self.bypass or ())


class WarmStart(BaseModel):
    """Where a hop's band starts instead of IDPP: the same hop's band at another fidelity, or a band a cheaper
    level relaxes between this level's ends (``HopNebMaker.make``).

    ``band`` may hold a jobflow ``OutputReference`` (typed ``Any`` here: schemas imports no jobflow). Passed to a
    job, the warm start is serialised with it and jobflow resolves the reference inside the model before the job
    runs (``jobflow.core.reference.find_and_resolve_references``), so the job sees the images themselves.
    """

    start: list[float] = Field(description="the other band's hop start, fractional in-plane")
    end: list[float] = Field(description="the other band's hop end, fractional in-plane")
    band: Any = Field(None, description="the other band's final images (ASE JSON dicts), or a jobflow "
                      "OutputReference to them (or its serialised dict) until the job that takes it runs")
    relax_with: str | None = Field(None, description="instead of a band: the calculator preset that relaxes a "
                                   "band between this level's relaxed ends (bands.lower_level_band)")

    @model_validator(mode="after")
    def _one_source(self) -> WarmStart:
        if (self.band is None) == (self.relax_with is None):
            raise ValueError("a warm start names either its band or relax_with (the level that relaxes one)")
        return self


class Provenance(BaseModel):
    """How a number was made: calculator, every protocol, versions, date and machine."""

    calculator: dict[str, Any]
    slab_settings: dict[str, Any]
    minima_settings: dict[str, Any]
    neb_protocol: dict[str, Any] | None = None
    parallel: dict[str, Any] | None = None  # MPI ranks and images at once, where calculations left the job's process
    versions: dict[str, str | None] = Field(default_factory=package_versions)
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    machine: str = Field(default_factory=lambda: f"{platform.node()} {platform.machine()} {platform.system()}")


class SurfaceKey(BaseModel):
    """Which surface, adatom and calculator a document belongs to."""

    model_config = ConfigDict(frozen=True)

    material: str
    miller: tuple[int, int, int]
    termination_id: str
    adsorbate: str
    calculator: str

    @property
    def facet(self) -> str:
        return "(" + "".join(str(i) for i in self.miller) + ")"

    @property
    def label(self) -> str:
        return f"{self.material}{self.facet} {self.termination_id}"


class SlabDoc(BaseModel):
    doc_type: Literal["slab"] = "slab"
    key: SurfaceKey
    termination: dict[str, Any]  # polarity, reconstruction, symmetry, supercell, layers
    structure: dict  # unrelaxed slab, bottom layers fixed (ASE JSON)
    symmetry: dict[str, list]  # in-plane operations of the unrelaxed slab (rotations, translations, lattice)


class MinimumDoc(BaseModel):
    index: int  # rank by energy among accepted minima; -1 for rejected
    site: str
    started_from: list[str]
    outcome: str
    verified: bool
    energy: float
    adsorption_energy: float | None
    frac_xy: list[float]
    position: list[float]
    details: dict[str, Any]
    force_calls: int
    structure: dict


class MinimaDoc(BaseModel):
    doc_type: Literal["minima"] = "minima"
    key: SurfaceKey
    slab: SlabDoc
    clean_energy: float | None  # None only when the search failed (``error``)
    clean_structure: dict
    adsorbate_reference: float | None
    minima: list[MinimumDoc]  # accepted, index order
    rejected: list[MinimumDoc]
    force_calls: int
    refinement: int = 0  # how many times minima found inside NEB bands were added
    # Hops whose band had a valley, and where it relaxed to. The hop network routes such a hop through the valley's
    # minimum instead of rebuilding it (surfaces/hops.py).
    split_hops: list[SplitHop] = []
    # Set by a refinement that left the hop network as it was (verdicts.same_network): no further round is run.
    same_network: bool = False
    # Set by the one refinement started from valleys below every minimum (verdicts.deeper_valleys), and kept by later
    # rounds: a surface gets one such refinement.
    deeper_refined: bool = False
    provenance: Provenance
    content_hash: str | None = None  # identity of the inputs (seiscreen.schemas.content_hash): reruns reuse it
    error: str | None = None  # the search raised (calculator error): no minima, retried by a rerun


class HopDoc(BaseModel):
    doc_type: Literal["hop"] = "hop"
    key: SurfaceKey
    refinement: int = 0  # the minima set (MinimaDoc.refinement) this hop was built between
    hop_id: str
    start_minimum: int
    end_minimum: int
    start_site: str
    end_site: str
    start: list[float]  # fractional in-plane
    end: list[float]
    length: float
    multiplicity: int
    bypass: bool = Field(False, description="a hop the Gabriel neighbour test left out, computed because it could "
                         "lower the percolation level (hopgraph.bypass_specs); never refined, never blocks the ranking")
    status: Literal["accepted", "barrierless", "failed", "interior_minimum"]
    reason: str = ""
    gates: dict[str, bool]
    forward_barrier: float | None
    reverse_barrier: float | None
    saddle_energy: float | None  # absolute
    start_energy: float  # absolute energy of the start minimum the barrier refers to
    image_energies: list[float]  # relative to the start image
    path: dict[str, Any]
    exchange: bool
    interior_minimum_image: int | None
    endpoints: dict[str, Any]  # how far each relaxed end moved from its minimum (slid?)
    warm_start: bool = False  # band started from another fidelity's band instead of IDPP
    # A cold band not computed: the job whose band it is, the same hop's warm-started band whose seed failed and
    # which therefore started from IDPP too (the same band, every number equal; workflow.hops.HopNebMaker.make).
    same_band_as: str | None = None
    # A symmetric hop: half the band served as the other half's mirror copy, then every image computed and the
    # band converged again (neb.BandMirror); the end is then the start's exact copy.
    mirrored: bool = False
    # GPAW: the SCF smearing (eV) each band image's energy was computed at, start to end (None: unknown); SCF
    # retries raise it, and a band that mixes smearings fails the gate same_scf_smearing (bands.same_smearing_gate).
    scf_smearing: list[float | None] | None = None
    # Other bands of this hop, started differently, whose saddle was higher or that failed (workflow.hops.lower_saddle):
    # job_uuid, warm_start, status, reason, forward_barrier, force_calls.
    alternatives: list[dict[str, Any]] = Field(default_factory=list)
    job_uuid: str | None = None  # the NEB job that made it (its band is in the data store under this job)
    force_calls: int  # every force call of this hop: its two ends re-relaxed and its band, before a resume too
    steps_plain: int
    steps_climb: int
    provenance: Provenance
    content_hash: str | None = None  # identity of the inputs: a rerun reuses a stored hop with the same hash
    error: bool = False  # failed by an exception (not a gate): a rerun computes it again instead of reusing it
    resumed: dict[str, Any] | None = None  # checkpoint the band resumed from: stage, step, force_calls before
    # Computed as bands through the relaxed valleys of an earlier band: "states" (each valley's energy from the
    # start and how far its adatom lies from each end), "barriers" of the bands in path order, "band_of" (the
    # earlier band's job) (bands.ThroughValleys).
    intermediate: dict[str, Any] | None = None
    band: list[dict] = Field(default_factory=list)  # final images: routed to the data store
    trajectory: list[list[dict]] = Field(default_factory=list)  # every n-th band: data store

    @field_validator("trajectory", mode="before")
    @classmethod
    def _history_left_in_store(cls, value):
        """A hop passed between jobs comes without its band's history (store.REFERENCE_LOAD): the data store's
        reference to it reads as no history; the history stays under the job that made the band."""
        return [] if isinstance(value, dict) and "blob_uuid" in value else value


class HopRerunDoc(BaseModel):
    """A stored hop's NEB recomputed from its stored ends (``seiscreen rerun-hop``), beside its stored barrier.

    Saved (``--save``), it is how far the barrier moves with the NEB protocol: ``load_results`` carries the
    largest such change of a surface's limiting hop as that surface's ``protocol_sensitivity``. A rerun with
    another preset (``preset``) is the same hop at another level: listed, never part of that uncertainty.
    """

    doc_type: Literal["hop_rerun"] = "hop_rerun"
    key: SurfaceKey
    refinement: int = 0
    hop_id: str
    hop_job_uuid: str  # the stored hop's NEB job
    start: Literal["cold", "band"]  # a new band between the stored ends, or the stored final band
    neb_changes: dict[str, Any]  # settings changed from the stored protocol ({} = the same protocol)
    preset: str | None = None  # the calculator preset it was recomputed with, where not the hop's (key.calculator)
    stored_status: str
    stored_barrier: float | None
    status: str
    barrier: float | None
    reason: str = ""
    force_calls: int  # the band's and the two recomputed ends'
    end_energy_drift: float | None  # largest |recomputed - stored| energy of its fixed states: the calculator itself
    # The stored hop's relaxed valleys the rerun went through (one band between each two states, as the campaign
    # computed it); 0: one band between the ends.
    through_valleys: int = 0
    notes: list[str] = []  # what differs from the stored computation (calculator settings, valleys)
    provenance: Provenance  # the rerun's: today's preset, the protocol as rerun
    # The rerun's band, as a hop keeps its own (empty where the rerun failed before a band): the evidence behind
    # ``barrier`` (a rerun at another level is that level's only barrier of the hop).
    start_energy: float | None = None  # eV, absolute
    image_energies: list[float] = []  # relative to the start image
    gates: dict[str, bool] = {}
    steps_plain: int = 0
    steps_climb: int = 0
    scf_smearing: list[float | None] | None = None  # GPAW: per band image, start to end (HopDoc.scf_smearing)
    band: list[dict] = Field(default_factory=list)  # final images: routed to the data store

    @property
    def label(self) -> str:
        return f"{self.key.label} {self.hop_id}"

    @property
    def difference(self) -> float | None:
        """Rerun minus stored barrier (eV)."""
        if self.barrier is None or self.stored_barrier is None:
            return None
        return self.barrier - self.stored_barrier


class HopSummary(BaseModel):
    hop_id: str
    start_minimum: int
    end_minimum: int
    start: list[float]
    end: list[float]
    status: str
    reason: str
    forward_barrier: float | None
    reverse_barrier: float | None
    saddle_energy: float | None
    multiplicity: int
    length: float
    exchange: bool
    warm_start: bool = False
    bypass: bool = False  # HopDoc.bypass
    force_calls: int = 0
    job_uuid: str | None = None
    content_hash: str | None = None
    error: bool = False
    first_order_saddle: bool | None = None  # SaddleCheckDoc.first_order_saddle; None: not checked
    attempt_forward: float | None = None  # Hz, Vineyard prefactor from the start minimum (SaddleCheckDoc)
    attempt_reverse: float | None = None  # Hz, from the end minimum


class SurfaceDoc(BaseModel):
    doc_type: Literal["surface"] = "surface"
    key: SurfaceKey
    status: Literal["ranked", "incomplete", "no_path", "no_minima", "failed"]  # failed: an exception, see reason
    reason: str = ""
    n_minima: int
    lowest_site: str | None
    adsorption_energy: float | None
    barrier_2d: float | None
    barrier_1d: float | None
    lowest_hop_barrier: float | None
    channel_only: bool
    limiting_hop_1d: str | None
    limiting_hop_2d: str | None
    path_hops_1d: list[str]
    path_hops_2d: list[str]
    directions_1d: list[list[int]]
    directions_2d: list[list[int]]
    hops: list[HopSummary]
    minima: list[dict[str, Any]]  # index, site, energy, adsorption energy, position (no structures)
    force_calls: int
    provenance: Provenance
    slab: SlabDoc | None  # the surface itself, so a later fidelity can start from it (None: slab cutting failed)
    content_hash: str | None = None  # identity of the inputs: a rerun reuses a stored surface with the same hash
    # An incomplete surface's barrier is still bounded: [lower, upper] with every failed hop as easy as it can be
    # (its saddle at its higher end) and without it (upper None: no path without them). verdicts.summarise_surface.
    barrier_bounds: list[float | None] | None = None
    diffusion: DiffusionSummary | None = None  # tracer D(T) of the verified hop network (kinetics.surface_diffusion)

    @property
    def reusable(self) -> bool:
        """Finished for good: no part failed by an exception (those are retried by a rerun)."""
        return self.status != "failed" and not any(h.error for h in self.hops)

    @property
    def ranking_barrier(self) -> float | None:
        """2D barrier; the 1D one where the surface only has channels (flagged by ``channel_only``)."""
        return self.barrier_1d if self.channel_only else self.barrier_2d


class SaddleCheckDoc(BaseModel):
    """A hop's climbing image and relaxed ends judged by their harmonic modes (``workflow.saddles``), with the
    hop's Vineyard attempt frequencies: k = attempt * exp(-barrier / kT) in each direction."""

    doc_type: Literal["saddle_check"] = "saddle_check"
    key: SurfaceKey
    hop_id: str
    hop_content_hash: str | None = Field(description="the checked hop's content hash")
    shell_radius: float = Field(description="Å around the moving atom: the free atoms whose Hessian is computed")
    delta: float = Field(description="Å, the finite-difference step")
    atoms: list[int] = Field(description="indices of the shell's atoms in the band's images")
    saddle: ModesDoc
    start: ModesDoc
    end: ModesDoc
    first_order_saddle: bool = Field(description="one imaginary mode at the climbing image, along the band, and "
                                     "none at either end: the gate of the same name")
    attempt_forward: float | None = Field(description="Hz, Vineyard prefactor start -> end (None: gate failed)")
    attempt_reverse: float | None = Field(description="Hz, end -> start")
    sideways: list[list[float]] | None = Field(None, description="a failed climbing image: its imaginary mode that "
                                               "leads off the band, per atom of ``atoms`` (Å, the largest 1)")
    force_calls: int
    provenance: Provenance
    content_hash: str | None = None


class ConvergenceCell(BaseModel):
    """One cell of a surface's convergence series (convergence.cell_series)."""

    axis: Literal["first", "lateral", "thickness"] = Field(description="the axis this cell grew along from the "
                                                            "previous one (first: the smallest cell)")
    requested_lateral: float = Field(description="min_lateral_size asked for, Å")
    requested_thickness: float = Field(description="min_thickness asked for, Å")
    lateral: float | None = Field(None, description="shortest in-plane period of the supercell actually used, Å")
    thickness: float | None = Field(None, description="distance between the outer atomic planes actually used, Å")
    n_atoms: int | None = Field(None, description="atoms in the slab (no adatom)")
    barrier: float | None = Field(None, description="the surface's ranking barrier in this cell, eV (None unless "
                                  "ranked)")
    adsorption_energy: float | None = Field(None, description="the lowest minimum's adsorption energy, eV")
    status: str = Field(description="the surface document's status in this cell, or 'missing' (its flow failed)")
    seeds: int = Field(0, description="minima of the previous cell given to this cell's search as extra starts")
    surface_hash: str | None = Field(None, description="content_hash of this cell's surface document")


class ConvergenceDoc(BaseModel):
    """A surface computed in growing cells: the series, the verdict per axis and the value that is ranked."""

    doc_type: Literal["convergence"] = "convergence"
    key: SurfaceKey = Field(description="the surface (material, facet, termination id, adsorbate, calculator)")
    cells: list[ConvergenceCell] = Field(description="the series, smallest cell first")
    tolerance: float = Field(description="largest last change (eV) of a converged axis")
    converged: dict[str, bool | None] = Field(description="per axis (lateral, thickness): converged; None where "
                                              "the axis has a single size (not tested)")
    last_change: dict[str, float | None] = Field(description="per axis: barrier of its last cell minus that of the "
                                                 "one before, eV (None: not tested or a cell without barrier)")
    adsorption_change: dict[str, float | None] = Field(description="per axis: the same change of the lowest "
                                                       "minimum's adsorption energy, eV")
    cell_term: float | None = Field(description="the largest |last change| over the axes, eV: the cell's share of "
                                    "the barrier's uncertainty")
    ranked_barrier: float | None = Field(description="the largest cell's barrier, eV: the value ranked")
    status: Literal["converged", "unconverged"] = Field(description="unconverged: some axis moved more than the "
                                                        "tolerance, or a cell has no barrier; never ranked")
    reason: str = Field("", description="why it is unconverged, per axis")
    provenance: Provenance = Field(description="the largest cell's provenance")
