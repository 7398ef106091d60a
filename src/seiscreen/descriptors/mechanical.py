"""Mechanical strength: the elastic tensor of a relaxed bulk, its Voigt–Reuss–Hill moduli, Born stability and the
Monroe–Newman ratio against the deposited metal.

The tensor comes from matcalc's ``ElasticityCalc`` (finite normal and shear strains of the cell, stress fitted
linearly per component with pymatgen's strain–stress machinery), with the calculator passed in. Moduli are the
Voigt–Reuss–Hill averages of pymatgen's ``ElasticTensor``; a crystal is mechanically (Born) stable when its 6x6
Voigt matrix is positive definite (Mouhat & Coudert, Phys. Rev. B 90, 224104 (2014)). Monroe and Newman
(J. Electrochem. Soc. 152, A396 (2005)) found that an interphase whose shear modulus exceeds about twice that of
the deposited metal suppresses roughening: the ratio G(coating) / G(metal), both from the same calculator, and
whether it reaches the threshold.
"""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from pydantic import BaseModel, ConfigDict, Field

from seiscreen.errors import SeiscreenError


class MechanicalSettings(BaseModel):
    """How the elastic tensor is computed; stored with every mechanical result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Up to 1 %, normal and shear: matcalc's default shear strains (up to 6 %) leave the linear regime (EMT Cu's
    # C44 comes out 9 % above a 0.2 % finite difference; 1 % agrees within 0.3 %), while 0.5 % still strains a
    # halide's cell to stresses (~0.1 GPa) well above an ML potential's stress noise.
    norm_strains: tuple[float, ...] = Field((-0.01, -0.005, 0.005, 0.01), min_length=1,
                                            description="normal strains applied to the cell (fractions, none zero)")
    shear_strains: tuple[float, ...] = Field((-0.01, -0.005, 0.005, 0.01), min_length=1,
                                             description="shear strains applied to the cell (deformation gradient's "
                                             "off-diagonal element, fractions, none zero)")
    # Relaxed-ion constants: an atom off an inversion centre (Na3P, the alloys) moves under strain, and the
    # clamped-ion tensor overestimates the moduli. Atoms on inversion centres (rocksalt, bcc) do not move.
    relax_ions: bool = Field(True, description="relax the atoms of each strained cell before its stress")
    fmax: float = Field(0.01, gt=0, description="eV/Å, the strained cells' relaxations (relax_ions)")
    monroe_newman_threshold: float = Field(2.0, gt=0, description="G(coating)/G(metal) at and above which a coating "
                                           "suppresses roughening (Monroe & Newman 2005)")

    def model_post_init(self, _context) -> None:
        if 0.0 in self.norm_strains or 0.0 in self.shear_strains:
            raise SeiscreenError("descriptors.mechanical: strains must be non-zero: drop the 0 from norm_strains / "
                                 "shear_strains (the unstrained cell is always computed)")


class MechanicalResult(BaseModel):
    """The elastic tensor of one relaxed bulk and what follows from it (GPa throughout)."""

    elastic_tensor_gpa: list[list[float]] = Field(description="6x6 Voigt matrix C_ij, GPa, in the cell's Cartesian "
                                                  "frame (conventional cell: the crystal axes)")
    bulk_modulus_voigt_gpa: float = Field(description="K_V, GPa")
    bulk_modulus_reuss_gpa: float = Field(description="K_R, GPa")
    bulk_modulus_vrh_gpa: float = Field(description="K = (K_V + K_R) / 2, GPa")
    shear_modulus_voigt_gpa: float = Field(description="G_V, GPa")
    shear_modulus_reuss_gpa: float = Field(description="G_R, GPa")
    shear_modulus_vrh_gpa: float = Field(description="G = (G_V + G_R) / 2, GPa")
    youngs_modulus_gpa: float = Field(description="E = 9KG / (3K + G) from the VRH K and G, GPa")
    born_stable: bool = Field(description="every eigenvalue of the Voigt matrix positive (Born criteria)")
    smallest_eigenvalue_gpa: float = Field(description="the Voigt matrix's smallest eigenvalue, GPa")
    # matcalc's mean R² is not kept: it averages over components that are zero by symmetry, whose noise fits
    # with R² near 0 (EMT Cu: 0.33 for an exact cubic tensor). An asymmetric fit shows noise or non-linearity.
    asymmetry_gpa: float = Field(description="largest |C_ij - C_ji|, GPa: the fit's noise (0 for an exact fit)")
    reference_metal: str | None = Field(None, description="the deposited metal G is compared with (the campaign's "
                                        "adsorbate, Na)")
    reference_shear_modulus_gpa: float | None = Field(None, description="G_VRH of the reference metal, same "
                                                      "calculator and settings, GPa")
    reference_born_stable: bool | None = Field(None, description="whether the reference metal's own tensor passed "
                                               "the Born criteria; False: no ratio (its G_VRH means nothing)")
    monroe_newman_ratio: float | None = Field(None, description="G / G(reference metal); None without a reference "
                                              "or with a Born-unstable one")
    monroe_newman_satisfied: bool | None = Field(None, description="ratio at least the threshold (2)")


def vrh_moduli(voigt: np.ndarray) -> dict[str, float]:
    """Voigt, Reuss and Hill bulk and shear moduli and Young's modulus of a 6x6 Voigt matrix (its units)."""
    from pymatgen.core.elasticity import ElasticTensor

    tensor = ElasticTensor.from_voigt(np.asarray(voigt, dtype=float))
    k, g = float(tensor.k_vrh), float(tensor.g_vrh)
    return {"bulk_modulus_voigt_gpa": float(tensor.k_voigt), "bulk_modulus_reuss_gpa": float(tensor.k_reuss),
            "bulk_modulus_vrh_gpa": k, "shear_modulus_voigt_gpa": float(tensor.g_voigt),
            "shear_modulus_reuss_gpa": float(tensor.g_reuss), "shear_modulus_vrh_gpa": g,
            "youngs_modulus_gpa": 9 * k * g / (3 * k + g)}


def born_stability(voigt: np.ndarray) -> tuple[bool, float]:
    """(stable, smallest eigenvalue): the Born criteria in their general form, a positive-definite Voigt matrix."""
    smallest = float(np.linalg.eigvalsh(0.5 * (np.asarray(voigt) + np.asarray(voigt).T)).min())
    return smallest > 0.0, smallest


def elastic_tensor(atoms: Atoms, calculator: Calculator, settings: MechanicalSettings) -> np.ndarray:
    """The 6x6 Voigt matrix (GPa) of ``atoms`` as given (already relaxed: not relaxed again)."""
    from matcalc import ElasticityCalc

    calc = ElasticityCalc(calculator, norm_strains=settings.norm_strains, shear_strains=settings.shear_strains,
                          fmax=settings.fmax, relax_structure=False, relax_deformed_structures=settings.relax_ions,
                          units_GPa=True, r2_min=-1.0)  # R²: see MechanicalResult.asymmetry_gpa
    bare = atoms.copy()
    bare.set_constraint()
    bare.calc = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen's chatter
        out = calc.calc(bare)
    return np.asarray(out["elastic_tensor"].voigt, dtype=float)


def compute_mechanical(atoms: Atoms, calculator: Calculator, settings: MechanicalSettings = MechanicalSettings(),
                       reference_shear_modulus_gpa: float | None = None,
                       reference_metal: str | None = None,
                       reference_born_stable: bool | None = None) -> MechanicalResult:
    """The mechanical descriptor of a relaxed bulk; with the deposited metal's G (same calculator and settings:
    :func:`compute_mechanical` on that metal's relaxed bulk), the Monroe–Newman ratio too, unless that metal's
    tensor is Born-unstable under the calculator (``reference_born_stable`` False): a negative C' makes its Reuss
    and so its VRH shear modulus meaningless."""
    voigt = elastic_tensor(atoms, calculator, settings)
    stable, smallest = born_stability(voigt)
    moduli = vrh_moduli(voigt)
    ratio = None
    usable = reference_born_stable is not False and (reference_shear_modulus_gpa or 0.0) > 0
    if usable:
        ratio = moduli["shear_modulus_vrh_gpa"] / reference_shear_modulus_gpa
    return MechanicalResult(elastic_tensor_gpa=np.round(voigt, 4).tolist(), **moduli, born_stable=stable,
                            smallest_eigenvalue_gpa=smallest, asymmetry_gpa=float(np.abs(voigt - voigt.T).max()),
                            reference_metal=reference_metal, reference_shear_modulus_gpa=reference_shear_modulus_gpa,
                            reference_born_stable=reference_born_stable,
                            monroe_newman_ratio=ratio,
                            monroe_newman_satisfied=(None if ratio is None
                                                     else ratio >= settings.monroe_newman_threshold))
