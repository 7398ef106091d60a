"""Finite-difference Hessians, normal modes, saddle and minimum checks and the Vineyard prefactor.

Against theory (quadratic potentials whose Hessian, modes and prefactor are known in closed form), against ASE's
own ``Vibrations``, and on EMT's Cu adatom on Cu(100): the hollow a minimum, the bridge (from a CI-NEB between two
hollows) a first-order saddle along the band, the top site a second-order one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import add_adsorbate, fcc100
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms, FixCartesian
from ase.mep import NEB
from ase.optimize import BFGS

from seiscreen.errors import SeiscreenError
from seiscreen.vibrations import (DEFAULT_SHELL_RADIUS, TANGENT_OVERLAP_THRESHOLD, band_tangent, check_minimum,
                                  check_saddle, finite_difference_hessian, hop_rate, normal_modes, shell_indices,
                                  vineyard_prefactor)

CU = 3.61  # Å, EMT's Cu lattice constant
HZ_PER_SQRT_EV_A2_AMU = 1.5633e13  # sqrt(1 eV / (1 Å^2 * 1 amu)) / (2 pi) = sqrt(1.602177e-19 / 1.660539e-47) / 2pi


class Quadratic(Calculator):
    """E = 1/2 sum_i k_i (x_i - x0_i)^2 over every Cartesian coordinate: Hessian diag(k), exactly."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, stiffness: np.ndarray, origin: np.ndarray):
        super().__init__()
        self.stiffness, self.origin = np.asarray(stiffness, float), np.asarray(origin, float)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        shift = self.atoms.positions - self.origin
        self.results = {"energy": 0.5 * float(np.sum(self.stiffness * shift**2)),
                        "forces": -self.stiffness * shift}


def one_atom(stiffness: tuple[float, float, float]) -> tuple[Atoms, Quadratic]:
    atoms = Atoms("Na", positions=[[1.0, 2.0, 3.0]], cell=[10, 10, 10], pbc=False)
    return atoms, Quadratic(np.array([stiffness]), atoms.positions.copy())


def modes_of(stiffness):
    atoms, calc = one_atom(stiffness)
    hessian, calls = finite_difference_hessian(atoms, calc, [0])
    return atoms, hessian, calls, normal_modes(atoms, hessian, [0])


def frequency(k: float, mass: float) -> float:
    """Hz of a harmonic oscillator of stiffness k (eV/Å^2), negative for k < 0."""
    return math.copysign(math.sqrt(abs(k) / mass) * HZ_PER_SQRT_EV_A2_AMU, k)


# ------------------------------------------------------------------------------------------------ theory


def test_quadratic_hessian_modes_and_force_calls_match_theory():
    atoms, hessian, calls, modes = modes_of((2.0, -0.5, 4.0))
    assert calls == 6  # 2 * 3n, n = 1
    np.testing.assert_allclose(hessian, np.diag([2.0, -0.5, 4.0]), atol=1e-9)
    mass = atoms.get_masses()[0]
    np.testing.assert_allclose(modes.frequencies, [frequency(k, mass) for k in (-0.5, 2.0, 4.0)], rtol=1e-4)
    assert modes.imaginary == 1
    assert atoms.positions.tolist() == [[1.0, 2.0, 3.0]]  # the caller's atoms are not moved


def test_saddle_along_its_tangent_passes_and_across_it_fails():
    _, _, _, modes = modes_of((2.0, -0.5, 4.0))  # unstable along y
    along = check_saddle(modes, np.array([[0.1, -1.0, 0.0]]))
    assert along.passed and along.reason == "" and along.imaginary == 1
    assert along.overlap == pytest.approx(1 / math.sqrt(1.01))
    across = check_saddle(modes, np.array([[1.0, 0.0, 0.3]]))
    assert not across.passed and across.overlap == pytest.approx(0.0, abs=1e-9)
    assert "off the band" in across.reason


def test_tangent_is_mass_weighted_as_the_modes():
    # Masses 1 and 16 (H, O), unstable when both move along x together: Cartesian d = (1,0,0, 1,0,0), mass-weighted
    # e = M^1/2 d / |.| = (1,0,0, 4,0,0) / sqrt(17). The band moving both atoms alike overlaps fully; e itself read as
    # a Cartesian tangent becomes M^1/2 e ~ (1,0,0, 16,0,0): overlap (1 + 64) / sqrt(17 * 257).
    atoms = Atoms("HO", positions=[[0, 0, 0], [3, 0, 0]], cell=[10, 10, 10])
    atoms.set_masses([1.0, 16.0])
    e = np.array([1, 0, 0, 4, 0, 0]) / math.sqrt(17)
    others, _ = np.linalg.qr(np.column_stack([e, np.eye(6)[:, 1:]]))  # e and five directions orthogonal to it
    mass_weighted = -0.3 * np.outer(e, e) + others[:, 1:] @ np.diag([1.0, 2, 3, 4, 5]) @ others[:, 1:].T
    root = np.repeat([1.0, 4.0], 3)
    modes = normal_modes(atoms, root[:, None] * mass_weighted * root[None, :], [0, 1])
    assert check_saddle(modes, np.array([[1.0, 0, 0], [1.0, 0, 0]])).overlap == pytest.approx(1.0)
    assert check_saddle(modes, e.reshape(2, 3)).overlap == pytest.approx(65 / math.sqrt(17 * 257))


def test_vineyard_prefactor_of_a_quadratic_saddle_is_the_lost_frequency():
    # Minimum k = (1, 3, 6); saddle k = (1, -2, 6): the product of 3 over the product of the 2 real ones is nu(3).
    atoms, _, _, minimum = modes_of((1.0, 3.0, 6.0))
    _, _, _, saddle = modes_of((1.0, -2.0, 6.0))
    assert check_minimum(minimum).passed and not check_minimum(saddle).passed
    assert "1 imaginary modes" in check_minimum(saddle).reason
    assert vineyard_prefactor(minimum, saddle) == pytest.approx(frequency(3.0, atoms.get_masses()[0]), rel=1e-4)


def test_hop_rate_is_arrhenius_with_boltzmann_in_ev():
    k_b = 8.617333262e-5  # eV/K, CODATA 2018 (ASE's CODATA 2014 differs by 3e-6: hence rel=1e-4)
    assert hop_rate(1e13, 0.0, 300.0) == pytest.approx(1e13)
    assert hop_rate(1e13, 0.2, 300.0) == pytest.approx(1e13 * math.exp(-0.2 / (k_b * 300.0)), rel=1e-4)
    assert hop_rate(2e12, 0.5, 600.0) / hop_rate(2e12, 0.5, 300.0) == pytest.approx(
        math.exp(0.5 / k_b * (1 / 300 - 1 / 600)), rel=1e-4)


@pytest.mark.parametrize("call, message", [
    (lambda: hop_rate(1e13, 0.2, 0.0), "temperature"),
    (lambda: hop_rate(-1.0, 0.2, 300.0), "prefactor"),
    (lambda: vineyard_prefactor(modes_of((1, 3, 6))[3], modes_of((-1, -2, 6))[3]), "imaginary modes"),
    (lambda: normal_modes(Atoms("Na"), np.eye(6), [0]), "Hessian over 1 atoms"),
    (lambda: finite_difference_hessian(*one_atom((1, 1, 1)), [0], delta=0.0), "delta"),
    (lambda: finite_difference_hessian(*one_atom((1, 1, 1)), [0, 0]), "twice"),
    (lambda: shell_indices(Atoms("Na"), 3, 1.0), "not an atom index"),
    (lambda: shell_indices(Atoms("Na"), 0, -1.0), "radius"),
])
def test_bad_input_raises_one_clear_error(call, message):
    with pytest.raises(SeiscreenError, match=message):
        call()


# ------------------------------------------------------------------------------------------------ EMT Cu(100)


def cu_slab(site: str, shift: float = 0.0, lateral_fixed: bool = False) -> Atoms:
    """A Cu adatom on a 3x3x3 Cu(100) slab (bottom plane fixed), relaxed with EMT to 1e-3 eV/Å."""
    slab = fcc100("Cu", size=(3, 3, 3), a=CU, vacuum=7.0)
    bottom = FixAtoms(mask=slab.positions[:, 2] < slab.positions[:, 2].min() + 0.5)
    add_adsorbate(slab, "Cu", 1.8 if site == "hollow" else 2.3, site)
    slab.positions[-1, 0] += shift
    # the top site is a stationary point by symmetry: held there laterally while the heights relax
    slab.set_constraint([bottom, FixCartesian(len(slab) - 1, mask=(True, True, False))] if lateral_fixed else bottom)
    slab.calc = EMT()
    BFGS(slab, logfile=None).run(fmax=1e-3, steps=500)
    slab.set_constraint(bottom)
    return slab


@pytest.fixture(scope="module")
def cu100():
    """Hollow minimum, CI-NEB band (3 images) to the next hollow, and the top site; about half a second of EMT."""
    start, end = cu_slab("hollow"), cu_slab("hollow", shift=CU / math.sqrt(2))
    images = [start, *(start.copy() for _ in range(3)), end]
    for image in images[1:-1]:
        image.calc = EMT()
    neb = NEB(images, climb=True, method="improvedtangent")
    neb.interpolate()
    BFGS(neb, logfile=None).run(fmax=1e-3, steps=500)
    return {"minimum": start, "images": images, "top": cu_slab("ontop", lateral_fixed=True)}


def modes_at(atoms: Atoms, radius: float = DEFAULT_SHELL_RADIUS, shell: list[int] | None = None):
    shell = shell or shell_indices(atoms, -1, radius)
    hessian, _ = finite_difference_hessian(atoms, EMT(), shell)
    return normal_modes(atoms, hessian, shell)


def test_shell_holds_the_adatom_and_its_free_neighbours_through_the_cell_edge():
    slab = fcc100("Cu", size=(3, 3, 2), a=CU, vacuum=7.0)
    slab.set_constraint(FixAtoms(mask=slab.positions[:, 2] < slab.positions[:, 2].min() + 0.5))
    add_adsorbate(slab, "Cu", 1.8, "hollow")
    slab.positions[-1, :2] = 0.5 * CU / math.sqrt(2) * np.array([-1, -1])  # the hollow at the cell's corner
    top = [i for i in range(len(slab) - 1) if slab.positions[i, 2] > slab.positions[:-1, 2].max() - 0.1]
    assert shell_indices(slab, -1, 0.0) == [len(slab) - 1]
    # 4 top-plane atoms at a/2 in-plane, 1.8 Å below: 2.53 Å; 3 of them only through the cell's edges
    near = shell_indices(slab, len(slab) - 1, 2.6)
    assert len(near) == 5 and set(near[:-1]) <= set(top)
    assert shell_indices(slab, -1, 50.0) == [*top, len(slab) - 1]  # never the fixed bottom plane


def test_hessian_matches_ase_vibrations(cu100, tmp_path):
    from ase.vibrations import Vibrations

    minimum = cu100["minimum"]
    shell = shell_indices(minimum, -1, 3.0)
    hessian, calls = finite_difference_hessian(minimum, EMT(), shell, delta=0.01)
    atoms = minimum.copy()
    atoms.calc = EMT()
    vib = Vibrations(atoms, indices=shell, delta=0.01, name=str(tmp_path / "vib"))
    vib.run()
    assert calls == 6 * len(shell)
    np.testing.assert_allclose(hessian, vib.get_vibrations().get_hessian_2d(), atol=1e-8)
    # ASE's frequencies (cm^-1) in Hz: c = 2.99792458e10 cm/s
    ase_hz = np.sort(vib.get_frequencies().real) * 2.99792458e10
    np.testing.assert_allclose(normal_modes(minimum, hessian, shell).frequencies, ase_hz, rtol=1e-4)


def test_hollow_is_a_minimum(cu100):
    check = check_minimum(modes_at(cu100["minimum"]))
    assert check.passed and check.imaginary == 0 and check.lowest_frequency > 1e12


def test_bridge_is_a_first_order_saddle_along_the_band(cu100):
    images = cu100["images"]
    climbing = int(np.argmax([image.get_potential_energy() for image in images]))
    assert climbing == 2  # the symmetric hop's middle image: the bridge
    check = check_saddle(modes_at(images[climbing]), band_tangent(images, climbing))
    assert check.passed, check.reason
    assert check.imaginary == 1 and check.overlap > TANGENT_OVERLAP_THRESHOLD and check.imaginary_frequency < 0
    assert not check_minimum(modes_at(images[climbing])).passed


def test_top_site_is_a_second_order_saddle_and_fails(cu100):
    images = cu100["images"]
    check = check_saddle(modes_at(cu100["top"]), band_tangent(images, 2))
    assert not check.passed and check.imaginary == 2
    assert check.reason.startswith("2 imaginary modes")


@pytest.fixture(scope="module")
def prefactors(cu100):
    """Vineyard prefactor (Hz) of the hollow-bridge hop per shell radius (Å), the same shell at both ends."""
    minimum, saddle = cu100["minimum"], cu100["images"][2]
    out = {}
    for radius in (0.0, 3.0, 5.0):
        shell = sorted(set(shell_indices(minimum, -1, radius)) | set(shell_indices(saddle, -1, radius)))
        out[radius] = vineyard_prefactor(modes_at(minimum, shell=shell), modes_at(saddle, shell=shell))
    return out


def test_vineyard_prefactor_is_a_surface_attempt_frequency(prefactors):
    # Measured: 3.19e12 (adatom only), 4.04e12 (3 Å: 5 atoms), 5.85e12 Hz (5 Å: 19 atoms, every free one).
    assert all(1e12 < nu < 1e14 for nu in prefactors.values())


def test_prefactor_changes_by_less_than_a_factor_two_between_shells(prefactors):
    # An equal-mass metal couples the adatom strongly to its neighbours: the shell moves the prefactor by 25-45 %
    # a step (measured above), never by a factor 2; the ML study (docs/notes/2026-12-06-htst-shell.md) sets the default.
    values = [prefactors[r] for r in (0.0, 3.0, 5.0)]
    assert all(0.5 < b / a < 2.0 for a, b in zip(values, values[1:], strict=False))
