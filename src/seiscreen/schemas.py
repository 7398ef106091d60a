"""Pydantic documents: the only things the store ever sees.

Every document names its surface (material, facet, termination id, adsorbate, calculator preset) and carries
the protocol that produced its numbers. Structures are ASE JSON dicts (constraints and info survive the trip).
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from ase import Atoms
from ase.io.jsonio import decode, encode
from pydantic import BaseModel, ConfigDict, Field

VERSIONED_PACKAGES = ("seiscreen", "ase", "pymatgen", "jobflow", "maggma", "numpy", "spglib")


def atoms_to_dict(atoms: Atoms) -> dict:
    """ASE's own JSON encoding: keeps constraints (fixed layers), info and, for results, nothing else."""
    clean = atoms.copy()
    clean.calc = None
    return json.loads(encode(clean))


def atoms_from_dict(data: dict) -> Atoms:
    return decode(json.dumps(data))


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


class Provenance(BaseModel):
    """How a number was made: calculator, every protocol, versions, date and machine."""

    calculator: dict[str, Any]
    slab_settings: dict[str, Any]
    minima_settings: dict[str, Any]
    neb_protocol: dict[str, Any] | None = None
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
    clean_energy: float
    clean_structure: dict
    adsorbate_reference: float
    minima: list[MinimumDoc]  # accepted, index order
    rejected: list[MinimumDoc]
    force_calls: int
    refinement: int = 0  # how many times minima found inside NEB bands were added
    provenance: Provenance


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
    job_uuid: str | None = None  # the NEB job that made it (its band is in the data store under this job)
    force_calls: int
    steps_plain: int
    steps_climb: int
    provenance: Provenance
    band: list[dict] = Field(default_factory=list)  # final images: routed to the data store
    trajectory: list[list[dict]] = Field(default_factory=list)  # every n-th band: data store


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
    force_calls: int = 0
    job_uuid: str | None = None


class SurfaceDoc(BaseModel):
    doc_type: Literal["surface"] = "surface"
    key: SurfaceKey
    status: Literal["ranked", "incomplete", "no_path", "no_minima"]
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
    slab: SlabDoc  # the surface itself, so a later fidelity can start from it

    @property
    def ranking_barrier(self) -> float | None:
        """2D barrier; the 1D one where the surface only has channels (flagged by ``channel_only``)."""
        return self.barrier_1d if self.channel_only else self.barrier_2d
