"""The NEB gates on bands with known energy profiles (positions from a straight Au hop on Al(100))."""

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc100
from ase.calculators.singlepoint import SinglePointCalculator

from seiscreen.neb import NebProtocol, join_bands, judge_band


def band(energies, hop=2.864, overlap=False, round_the_cell=False):
    """Seven images of a Au adatom moving ``hop`` Å along x, with the given energies and zero forces.

    ``round_the_cell``: the inner images walk -x instead, to the end's periodic copy one cell over.
    """
    slab = fcc100("Al", size=(2, 2, 3), a=4.05, vacuum=8.0)
    add_adsorbate(slab, "Au", 1.7, "hollow")
    images = []
    for k, energy in enumerate(energies):
        image = slab.copy()
        image.positions[-1, 0] += hop * k / (len(energies) - 1)
        if round_the_cell and 0 < k < len(energies) - 1:
            image.positions[-1, 0] -= image.cell[0, 0] * k / (len(energies) - 1)
        if overlap and k == 3:
            image.positions[-1] = image.positions[-2] + [0.3, 0, 0]  # pushed into a surface atom
        image.calc = SinglePointCalculator(image, energy=energy, forces=np.zeros((len(image), 3)))
        images.append(image)
    return images


PROTOCOL = NebProtocol()


def test_a_clean_symmetric_band_is_accepted_with_forward_and_reverse_barriers():
    result = judge_band(band([0, 0.1, 0.3, 0.37, 0.3, 0.1, 0]), PROTOCOL, converged=True)
    assert result.status == "accepted" and all(result.gates.values())
    assert result.forward_barrier == pytest.approx(0.37, abs=0.01) and result.reverse_barrier == pytest.approx(0.37,
                                                                                                               abs=0.01)


def test_unconverged_band_fails():
    result = judge_band(band([0, 0.1, 0.3, 0.37, 0.3, 0.1, 0]), PROTOCOL, converged=False)
    assert result.status == "failed" and "not converged" in result.reason and not result.gates["converged"]


def test_valley_is_a_missed_minimum_even_at_the_ends_energy():
    result = judge_band(band([0, 0.3, 0.2, 0.0, 0.2, 0.3, 0], hop=5.73), PROTOCOL, converged=True)
    assert result.status == "interior_minimum" and result.interior_minimum_image == 3


def test_shallow_wiggle_is_not_a_valley():
    result = judge_band(band([0, 0.2, 0.3, 0.295, 0.3, 0.2, 0]), PROTOCOL, converged=True)
    assert result.status == "accepted"  # 5 meV dip < 10 meV tolerance


def test_monotonic_band_is_barrierless_with_the_saddle_at_the_higher_end():
    result = judge_band(band([0, 0.02, 0.06, 0.12, 0.16, 0.18, 0.19]), PROTOCOL, converged=True)
    assert result.status == "barrierless" and not result.gates["highest_image_interior"]
    assert result.saddle_energy == pytest.approx(0.19) and result.reverse_barrier == pytest.approx(0)


def test_runaway_band_fails():
    result = judge_band(band([0, 1, 3, 5, 3, 1, 0]), PROTOCOL, converged=True)
    assert result.status == "failed" and "ran away" in result.reason and result.forward_barrier is None


def test_atoms_pushed_through_each_other_fail():
    result = judge_band(band([0, 0.1, 0.3, 0.37, 0.3, 0.1, 0], overlap=True), PROTOCOL, converged=True)
    assert result.status == "failed" and "closest contact" in result.reason


def test_ends_in_the_same_place_are_not_a_hop():
    result = judge_band(band([0, 0.01, 0.02, 0.02, 0.02, 0.01, 0], hop=0.1), PROTOCOL, converged=True)
    assert result.status == "failed" and "same place" in result.reason


def test_a_band_that_went_round_the_cell_to_a_copy_of_its_end_is_another_hop():
    # Every step is short by minimum image, as ASE's springs see it, and the profile is clean, but the band is a
    # path to another neighbour (the cold GPAW NaF(100) band in a 6.55 Å cell did this).
    result = judge_band(band([0, 0.1, 0.3, 0.37, 0.3, 0.1, 0], round_the_cell=True), PROTOCOL, converged=True)
    assert result.status == "failed" and "round the cell" in result.reason and not result.gates["follows_hop"]
    assert judge_band(band([0, 0.1, 0.3, 0.37, 0.3, 0.1, 0]), PROTOCOL, converged=True).gates["follows_hop"]


def test_bands_through_intermediates_join_into_one_hop_as_hard_as_its_hardest_step():
    first = judge_band(band([0, 0.1, 0.25, 0.15, 0.1, 0.09, 0.08]), PROTOCOL, converged=True)  # to a state +0.08
    second = judge_band(band([0.08, 0.2, 0.3, 0.33, 0.2, 0.1, 0.0]), PROTOCOL, converged=True)
    joined = join_bands([first, second])
    assert joined.status == "accepted" and len(joined.images) == 13 and joined.interior_minimum_image is None
    assert joined.saddle_energy == pytest.approx(second.saddle_energy)
    assert joined.forward_barrier == pytest.approx(0.33, abs=0.01) and joined.reverse_barrier == pytest.approx(0.33,
                                                                                                                abs=0.01)
    assert joined.force_calls == first.force_calls + second.force_calls and all(joined.gates.values())
    path = joined.path  # one spline path end to end, as a single band's (the report draws it)
    assert len(path["energies"]) == 14 and path["path"] == sorted(path["path"])
    assert path["energies"][7] == pytest.approx(0.08) and max(path["fit_energies"]) == pytest.approx(0.33, abs=0.01)
    assert path["saddle_coordinate"] > path["path"][6]  # in the second band


def test_a_hop_through_intermediates_fails_when_one_of_its_bands_does():
    first = judge_band(band([0, 0.1, 0.25, 0.15, 0.1, 0.09, 0.08]), PROTOCOL, converged=True)
    unconverged = judge_band(band([0.08, 0.2, 0.3, 0.33, 0.2, 0.1, 0.0]), PROTOCOL, converged=False)
    joined = join_bands([first, unconverged])
    assert joined.status == "failed" and joined.saddle_energy is None and not joined.gates["converged"]
    assert "band 2 of 2" in joined.reason and "not converged" in joined.reason
