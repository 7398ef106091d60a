"""Stability against Na metal: hand-made energies whose reaction energies follow by arithmetic, the catalog's
competing phases, bad input, and one CHGNet check of sign against the known sodiation of Bi (NaBi + 2 Na -> Na3Bi)."""

import pytest

from seiscreen.descriptors.stability import StabilitySettings, competing_phases, compute_stability
from seiscreen.errors import SeiscreenError

# eV/atom. Hull (x_Na, E): Bi (0, -4.0), NaBi (1/2, -3.0), Na3Bi (3/4, -2.2), Na (1, -1.3); Na3Bi lies 0.05 below
# the line NaBi-Na (-2.15), so NaBi + 2 Na -> Na3Bi releases 4(-2.2) - 2(-3.0) - 2(-1.3) = -0.2 eV: -0.1 eV per Na.
NA_BI = {"Na": -1.3, "Bi": -4.0, "NaBi": -3.0, "Na3Bi": -2.2}
# Na-Sn made up: NaSn + 2 Na -> Na3Sn releases 4(-2.0) - 2(-2.5) - 2(-1.0) = -1.0 eV (-0.5 per Na); Na2Sn at
# x = 2/3 lies above the line NaSn-Na3Sn (-2.5 + (1/6)/(1/4) * 0.5 = -2.1667) by 0.0667 eV/atom, so it is skipped.
NA_SN = {"Na": -1.0, "Sn": -3.0, "NaSn": -2.5, "Na2Sn": -2.1, "Na3Sn": -2.0}


def test_coating_that_reacts_gives_the_hand_computed_energy_per_na():
    result = compute_stability("NaBi", NA_BI)
    assert result.reaction_energy_ev_per_metal_atom == pytest.approx(-0.1, abs=1e-9)
    assert not result.stable_against_metal and result.products == ["Na3Bi"]
    assert result.metal_per_formula_unit == pytest.approx(2.0)
    assert result.energy_above_hull_ev_per_atom == pytest.approx(0.0, abs=1e-9)
    assert result.method == "phase diagram" and result.phases_missing == []


def test_na_richest_phase_is_stable_and_an_unfavourable_product_is_not_formed():
    assert compute_stability("Na3Bi", NA_BI).reaction_energy_ev_per_metal_atom == 0.0
    above_line = {**NA_BI, "Na3Bi": -2.1}  # 0.05 eV/atom above the line NaBi-Na
    result = compute_stability("NaBi", above_line)
    assert result.stable_against_metal and result.reaction_energy_ev_per_metal_atom == 0.0
    assert result.products == ["NaBi"] and result.metal_per_formula_unit == 0.0
    assert compute_stability("Na3Bi", above_line).energy_above_hull_ev_per_atom == pytest.approx(0.05, abs=1e-9)


def test_reaction_runs_to_the_na_richest_stable_phase_past_an_unstable_one():
    result = compute_stability("NaSn", NA_SN)
    assert result.products == ["Na3Sn"]
    assert result.reaction_energy_ev_per_metal_atom == pytest.approx(-0.5, abs=1e-9)
    assert result.metal_per_formula_unit == pytest.approx(2.0)
    assert compute_stability("Na2Sn", NA_SN).energy_above_hull_ev_per_atom == pytest.approx(0.2 / 3, abs=1e-9)


def test_missing_element_reference_uses_the_line_coating_na():
    no_bi = {k: v for k, v in NA_BI.items() if k != "Bi"}
    result = compute_stability("NaBi", no_bi, missing=["Na2Bi5"])
    assert result.method == "pseudo-binary" and result.energy_above_hull_ev_per_atom is None
    assert result.reaction_energy_ev_per_metal_atom == pytest.approx(-0.1, abs=1e-9)
    assert result.phases_missing == ["Bi", "Na2Bi5"]
    halide = compute_stability("NaF", {"Na": -1.3, "NaF": -4.5})
    assert halide.stable_against_metal and halide.phases_missing == ["F"]


def test_na_poorer_phase_without_its_element_does_not_enter_the_pseudo_binary():
    result = compute_stability("Na3Sn", {k: v for k, v in NA_SN.items() if k != "Sn"})
    assert result.stable_against_metal and result.phases_missing == ["Sn"]


def test_another_metal_from_the_settings():
    li = {"Li": -1.9, "Bi": -4.0, "LiBi": -3.3, "Li3Bi": -2.6}  # 4(-2.6) - 2(-3.3) - 2(-1.9) = 0: no gain
    result = compute_stability("LiBi", li, StabilitySettings(metal="Li"))
    assert result.metal == "Li" and result.stable_against_metal


@pytest.mark.parametrize(("coating", "phases", "match"), [
    ("NaBi", {"NaBi": -3.0, "Bi": -4.0}, "no energy for Na"),
    ("NaBi", {"Na": -1.3, "Bi": -4.0}, "no energy for NaBi"),
    ("BiF3", {"Na": -1.3, "BiF3": -4.0}, "holds no Na"),
    ("NaBi", {"Na": -1.3, "NaBi": -3.0, "not a formula!": -1.0}, "not a chemical formula"),
])
def test_bad_input_is_one_clear_error(coating, phases, match):
    with pytest.raises(SeiscreenError, match=match):
        compute_stability(coating, phases)


def test_competing_phases_of_the_catalog():
    bismuth = competing_phases("NaBi")
    assert set(bismuth.present) == {"NaBi", "Na3Bi", "Bi", "Na"} and bismuth.missing == []
    assert "Na2In" in competing_phases("NaIn").missing
    assert competing_phases("NaF").missing == ["F"]
    assert set(competing_phases("NaZn13").present) == {"NaZn13", "Zn", "Na"}
    with pytest.raises(SeiscreenError, match="unknown material"):
        competing_phases("NaQ")


@pytest.mark.slow
def test_chgnet_nabi_reacts_with_na_to_na3bi():
    """Sodiation of Bi anodes runs Bi -> NaBi -> Na3Bi (operando XRD, J. Power Sources 379, 1-9 (2018)): NaBi is
    not stable in contact with Na metal."""
    from matcalc import RelaxCalc

    from seiscreen.calculators import get_preset
    from seiscreen.catalog import load_bulk

    calculator = get_preset("ml").make()
    energies = {}
    for name in ("Na", "Bi", "NaBi", "Na3Bi"):
        structure = load_bulk(name).structure.copy()
        structure.remove_oxidation_states()
        relaxed = RelaxCalc(calculator, fmax=0.05).calc(structure.get_primitive_structure())
        energies[name] = relaxed["energy"] / len(relaxed["final_structure"])
    result = compute_stability("NaBi", energies)
    assert result.reaction_energy_ev_per_metal_atom < 0 and result.products == ["Na3Bi"]
    assert compute_stability("Na3Bi", energies).stable_against_metal
