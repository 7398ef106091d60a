"""The kinetic parts of the stored documents: the harmonic modes of a hop's climbing image and ends, and a surface's
diffusion coefficients. Plain pydantic, nothing of seiscreen, so that :mod:`seiscreen.schemas` can use them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ModesDoc(BaseModel):
    """The finite-difference Hessian's normal modes at one state, over the atoms of the shell."""

    frequencies: list[float] = Field(description="Hz, ascending; imaginary modes as negative numbers")
    n_imaginary: int = Field(description="modes below -IMAGINARY_TOLERANCE (vibrations.py)")
    passed: bool = Field(description="a minimum: no imaginary mode; a saddle: exactly one, along the band")
    reason: str = Field("", description="why it failed, in one line")
    tangent_overlap: float | None = Field(None, description="saddles: |cos| between the imaginary mode and the "
                                          "band's tangent at the climbing image, both mass-weighted")


class DiffusionSummary(BaseModel):
    """A surface's adatom tracer diffusion from its hop network (:mod:`seiscreen.surfaces.diffusion`)."""

    temperatures: list[float] = Field(description="K")
    tensors: list[list[list[float]]] = Field(description="cm^2/s, the 2x2 in-plane tensor at each temperature")
    coefficients: list[float] = Field(description="cm^2/s, trace/2 at each temperature (<r^2> = 4 D t)")
    activation_energy: float = Field(description="eV, the Arrhenius slope of the coefficients over the temperatures")
    prefactor: float = Field(description="cm^2/s, D0 of the Arrhenius fit")
    activation_energy_slowest: float | None = Field(None, description="eV, the Arrhenius slope of the smallest "
                                                    "principal value (the 2D barrier at low T); None in channels")
    d_300: float = Field(description="cm^2/s, at 300 K (from the same network)")
    rank: int = Field(description="2: diffusion in the plane; 1: along channels only; 0: none")
    attempt_frequencies: str = Field(description="'vineyard': every rate's prefactor from the hop's Hessians; "
                                     "'assumed': a fixed attempt frequency where a hop has no verified modes")
    hops_used: list[str] = Field(description="the hop classes whose rates enter")
