"""A bulk relaxed with a calculator, cell and positions: the structure every descriptor of a material starts from.

Plain functions on ASE ``Atoms``; the calculator is passed in. ``minima.relax`` is not reused: it relaxes
positions only (an adatom on a fixed cell) and resets a stalled BFGS for GPAW's SCF jumps; a bulk needs the cell
relaxed too (ASE's ``FrechetCellFilter``), with its space group kept.
"""

from __future__ import annotations

import json
from typing import Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.constraints import FixSymmetry
from ase.filters import FrechetCellFilter
from ase.io.jsonio import decode, encode
from ase.optimize import BFGS, FIRE
from pydantic import BaseModel, ConfigDict, Field

_OPTIMIZERS = {"BFGS": BFGS, "FIRE": FIRE}
_EV_PER_A3_IN_GPA = 160.21766208  # 1 eV/Å³ in GPa


class BulkSettings(BaseModel):
    """How a material's bulk is relaxed before any descriptor is computed on it; stored with every descriptor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Elastic constants are derivatives around the equilibrium: a residual stress of 0.1 GPa is ~1 % of a halide's
    # C44, so forces and the cell's generalised forces are relaxed tightly (ML bulks converge in tens of steps).
    fmax: float = Field(0.005, gt=0, description="eV/Å, largest force on an atom or on the cell (FrechetCellFilter "
                        "scales stress by the volume) at convergence")
    max_steps: int = Field(500, ge=1, description="optimiser steps before the relaxation is declared unconverged")
    optimizer: Literal["BFGS", "FIRE"] = Field("BFGS", description="ASE optimiser; FIRE where BFGS oscillates")
    keep_symmetry: bool = Field(True, description="hold the space group (ASE FixSymmetry): numerical noise of an ML "
                                "potential must not lower a cubic cell's symmetry, which the elastic tensor reflects")
    conventional: bool = Field(True, description="relax the conventional standard cell (pymatgen), so the elastic "
                               "tensor is in the crystal axes and cubic C11, C12, C44 read as tabulated")


class BulkResult(BaseModel):
    """A relaxed bulk: what the descriptor engines of one material share."""

    structure: dict = Field(description="the relaxed bulk, ASE JSON (``ase.io.jsonio``)")
    energy_per_atom: float = Field(description="eV/atom, the relaxed bulk's energy under the calculator")
    volume_per_atom: float = Field(description="Å³/atom, relaxed")
    converged: bool = Field(description="forces and cell below fmax within max_steps")
    steps: int = Field(description="optimiser steps taken")
    max_force: float = Field(description="eV/Å, largest force on an atom at the end")
    max_stress_gpa: float = Field(description="GPa, largest |component| of the residual stress at the end")

    def atoms(self) -> Atoms:
        """The relaxed bulk as ASE ``Atoms`` (no calculator)."""
        return decode(json.dumps(self.structure))


def conventional_cell(atoms: Atoms) -> Atoms:
    """The conventional standard cell of ``atoms`` (pymatgen's ``SpacegroupAnalyzer``), lattice along its axes."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    structure = AseAtomsAdaptor.get_structure(atoms)
    return AseAtomsAdaptor.get_atoms(SpacegroupAnalyzer(structure).get_conventional_standard_structure())


def relax_bulk(atoms: Atoms, calculator: Calculator, settings: BulkSettings = BulkSettings()) -> BulkResult:
    """Relax the cell and positions of ``atoms`` (not changed) with ``calculator``."""
    relaxed = conventional_cell(atoms) if settings.conventional else atoms.copy()
    relaxed.calc = None
    relaxed.set_constraint(FixSymmetry(relaxed) if settings.keep_symmetry else None)
    relaxed.calc = calculator
    optimizer = _OPTIMIZERS[settings.optimizer](FrechetCellFilter(relaxed), logfile=None)
    converged = bool(optimizer.run(fmax=settings.fmax, steps=settings.max_steps))
    energy = float(relaxed.get_potential_energy())
    forces, stress = relaxed.get_forces(), relaxed.get_stress(voigt=True)
    relaxed.set_constraint()
    clean = relaxed.copy()
    clean.calc = None
    return BulkResult(structure=json.loads(encode(clean)), energy_per_atom=energy / len(relaxed),
                      volume_per_atom=float(relaxed.get_volume() / len(relaxed)), converged=converged,
                      steps=int(optimizer.nsteps), max_force=float(np.linalg.norm(forces, axis=1).max()),
                      max_stress_gpa=float(np.abs(stress).max() * _EV_PER_A3_IN_GPA))
