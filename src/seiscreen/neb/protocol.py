"""What a band is computed with and what comes out: the NEB settings, the finished band, its usable statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ase import Atoms
from ase.optimize import BFGS, FIRE, MDMin
from pydantic import BaseModel, ConfigDict, Field

from seiscreen.checkpoints import plain_data

OPTIMIZERS = {"BFGS": BFGS, "FIRE": FIRE, "MDMin": MDMin}  # NebProtocol.optimizer -> ASE optimiser class
USABLE = ("accepted", "barrierless")  # band statuses whose saddle energy is known


class NebProtocol(BaseModel):
    """Every NEB setting that can change a barrier; stored with each hop so protocols are never mixed up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_images: int = Field(5, ge=1, description="intermediate images")
    spring_constant: float = Field(0.1, gt=0, description="eV/Å²")
    method: Literal["improvedtangent"] = "improvedtangent"
    optimizer: Literal["BFGS", "FIRE", "MDMin"] = "BFGS"
    # Softer than ASE's 70 eV/Å²: BFGS otherwise creeps along a band's soft adatom modes (docs/performance.md).
    optimizer_alpha: float = Field(15.0, gt=0, description="eV/Å², BFGS's initial Hessian guess (ASE's is 70)")
    dynamic: bool = Field(True, description="ASE's DyNEB: images already below fmax are not recomputed")
    interpolation: Literal["idpp", "linear"] = "idpp"
    fmax: float = Field(0.05, gt=0, description="eV/Å, climbing stage")
    climb_threshold: float = Field(0.4, ge=0, description="eV/Å above fmax at which the climbing image starts")
    max_steps_plain: int = Field(200, ge=0)
    max_steps_climb: int = Field(300, ge=1)
    endpoint_fmax: float = Field(0.02, gt=0, description="eV/Å for the two end minima")
    # How the band is computed, not what it converges to (a mirrored band ends with every image computed and the
    # climbing stage converged again, unmirrored): recorded per hop (HopDoc.mirrored), not in the protocol's
    # identity, so that stored hops keep their ids.
    mirror: bool = Field(True, exclude=True, description="on a symmetric hop, serve half the images by symmetry")
    # Gates
    interior_minimum_tolerance: float = Field(0.01, ge=0, description="eV deep on both sides: a missed minimum")
    runaway_energy: float = Field(3.0, gt=0, description="eV above the lower end: the band ran away")
    min_distance_ratio: float = Field(0.5, gt=0, description="x sum of covalent radii: atoms pushed together")
    min_hop_length: float = Field(0.3, ge=0, description="Å the adatom must travel between the relaxed ends")


@plain_data
@dataclass
class NebResult:
    """A finished band and its verdict. Energies are absolute (eV)."""

    images: list[Atoms] = field(repr=False)
    energies: list[float]
    converged: bool
    steps_plain: int
    steps_climb: int
    force_calls: int
    gates: dict[str, bool]
    status: Literal["accepted", "barrierless", "failed", "interior_minimum"]
    reason: str
    forward_barrier: float | None  # spline maximum - initial energy
    reverse_barrier: float | None
    saddle_energy: float | None  # absolute, from the spline fit
    saddle_image: int
    interior_minimum_image: int | None
    exchange: bool
    path: dict = field(default_factory=dict)  # reaction coordinate, spline (for plots)
    history: list[list[Atoms]] = field(default_factory=list, repr=False)  # every n-th band
    mirrored: bool = False  # half the band was served by the hop's symmetry (BandMirror) until the last check
