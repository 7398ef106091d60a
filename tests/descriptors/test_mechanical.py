"""The bulk relaxation and the mechanical descriptor: EMT against plain ASE finite differences, hand formulas."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

from seiscreen.descriptors.bulk import BulkSettings, relax_bulk
from seiscreen.descriptors.mechanical import (MechanicalSettings, born_stability, compute_mechanical,
                                              vrh_moduli)
from seiscreen.errors import SeiscreenError

EV_A3_GPA = 160.21766208


@pytest.fixture(scope="module")
def relaxed_cu():
    return relax_bulk(bulk("Cu", "fcc", a=3.7), EMT())


def plain_ase_cubic_constants(a: float) -> tuple[float, float, float]:
    """C11, C12, C44 (GPa) of EMT fcc Cu at lattice constant ``a``: central differences of ASE's stress under a
    0.2 % normal strain and a 0.2 % tensorial shear strain of the conventional cell (atoms on inversion centres:
    no internal relaxation)."""
    def stress(strain: np.ndarray) -> np.ndarray:
        atoms = bulk("Cu", "fcc", a=a, cubic=True)
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
        atoms.calc = EMT()
        return atoms.get_stress(voigt=False) * EV_A3_GPA

    d = 0.002
    normal = np.zeros((3, 3))
    normal[0, 0] = d
    shear = np.zeros((3, 3))
    shear[1, 2] = shear[2, 1] = d
    c11 = (stress(normal)[0, 0] - stress(-normal)[0, 0]) / (2 * d)
    c12 = (stress(normal)[1, 1] - stress(-normal)[1, 1]) / (2 * d)
    c44 = (stress(shear)[1, 2] - stress(-shear)[1, 2]) / (2 * 2 * d)  # engineering shear strain 2d
    return c11, c12, c44


def test_relaxed_bulk_matches_a_plain_ase_cell_relaxation(relaxed_cu):
    reference = bulk("Cu", "fcc", a=3.7, cubic=True)
    reference.calc = EMT()
    BFGS(FrechetCellFilter(reference), logfile=None).run(fmax=1e-4)
    assert relaxed_cu.converged and relaxed_cu.steps > 0
    assert relaxed_cu.volume_per_atom == pytest.approx(reference.get_volume() / 4, rel=1e-3)
    assert relaxed_cu.energy_per_atom == pytest.approx(reference.get_potential_energy() / 4, abs=1e-4)
    assert len(relaxed_cu.atoms()) == 4  # the conventional cell
    assert relaxed_cu.max_stress_gpa < 0.1


def test_unconverged_relaxation_says_so():
    result = relax_bulk(bulk("Cu", "fcc", a=3.3), EMT(), BulkSettings(max_steps=1))
    assert not result.converged and result.steps == 1


def test_elastic_constants_match_plain_ase_finite_differences(relaxed_cu):
    result = compute_mechanical(relaxed_cu.atoms(), EMT(), MechanicalSettings(relax_ions=False))
    c = np.array(result.elastic_tensor_gpa)
    a = relaxed_cu.atoms().cell.lengths()[0]
    c11, c12, c44 = plain_ase_cubic_constants(a)
    assert c[0, 0] == pytest.approx(c11, rel=0.03) and c[2, 2] == pytest.approx(c11, rel=0.03)
    assert c[0, 1] == pytest.approx(c12, rel=0.03)
    assert c[3, 3] == pytest.approx(c44, rel=0.03) and c[5, 5] == pytest.approx(c44, rel=0.03)
    assert result.bulk_modulus_vrh_gpa == pytest.approx((c11 + 2 * c12) / 3, rel=0.03)
    assert result.born_stable and result.asymmetry_gpa < 1.0 and result.monroe_newman_ratio is None


def test_monroe_newman_ratio_against_a_reference_metal(relaxed_cu):
    result = compute_mechanical(relaxed_cu.atoms(), EMT(), MechanicalSettings(relax_ions=False),
                                reference_shear_modulus_gpa=10.0, reference_metal="Na")
    assert result.monroe_newman_ratio == pytest.approx(result.shear_modulus_vrh_gpa / 10.0)
    assert result.monroe_newman_satisfied == (result.shear_modulus_vrh_gpa >= 20.0)
    assert result.reference_metal == "Na"


def cubic(c11: float, c12: float, c44: float) -> np.ndarray:
    c = np.zeros((6, 6))
    c[:3, :3] = c12
    np.fill_diagonal(c[:3, :3], c11)
    c[3:, 3:] = np.eye(3) * c44
    return c


def test_vrh_moduli_of_a_cubic_tensor_follow_the_hand_formulas():
    c11, c12, c44 = 49.0, 12.6, 12.7  # NaCl-like, GPa
    moduli = vrh_moduli(cubic(c11, c12, c44))
    k = (c11 + 2 * c12) / 3
    g_v = (c11 - c12 + 3 * c44) / 5
    g_r = 5 * (c11 - c12) * c44 / (4 * c44 + 3 * (c11 - c12))
    g = (g_v + g_r) / 2
    assert moduli["bulk_modulus_voigt_gpa"] == pytest.approx(k) and moduli["bulk_modulus_reuss_gpa"] == pytest.approx(k)
    assert moduli["shear_modulus_voigt_gpa"] == pytest.approx(g_v)
    assert moduli["shear_modulus_reuss_gpa"] == pytest.approx(g_r)
    assert moduli["shear_modulus_vrh_gpa"] == pytest.approx(g)
    assert moduli["youngs_modulus_gpa"] == pytest.approx(9 * k * g / (3 * k + g))


@pytest.mark.parametrize(("tensor", "stable"), [
    (cubic(49.0, 12.6, 12.7), True),
    (cubic(10.0, 20.0, 5.0), False),  # C11 < C12: unstable against a tetragonal shear
    (cubic(49.0, 12.6, -1.0), False),  # C44 < 0
    (cubic(20.0, -12.0, 5.0), False),  # C11 + 2 C12 < 0: no bulk modulus
])
def test_born_criteria(tensor, stable):
    assert born_stability(tensor)[0] is stable


def test_zero_strain_is_refused_in_one_line():
    with pytest.raises(SeiscreenError, match="strains must be non-zero"):
        MechanicalSettings(norm_strains=(0.0, 0.01))
