"""True minima through the real code with EMT: Au on Al(100), ASE's classic stand-in for an adatom hop."""

import numpy as np
import pytest

from seiscreen.calculators import get_preset
from seiscreen.minima import MinimaSettings, scan_surface
from seiscreen.surfaces.hops import build_hop_network
from seiscreen.surfaces.sites import Outcome
from seiscreen.surfaces.slabs import SlabSettings, make_terminations


@pytest.fixture(scope="module")
def au_on_al100(aluminium):
    # 2x2 Al(100) cell (5.73 Å), 4 planes with the lower 2 fixed: EMT relaxes it in well under a second.
    (term,) = make_terminations(aluminium, (1, 0, 0), SlabSettings(min_thickness=5, min_lateral_size=5.5))
    scan = scan_surface(term.to_atoms(), get_preset("emt").make(), MinimaSettings(adsorbate="Au"))
    return term, scan


def test_every_site_relaxes_into_the_hollow(au_on_al100):
    # EMT's Au on Al(100) sits in the 4-fold hollow; top and bridge are saddles/maxima. The kick makes sure
    # neither the top nor the bridge start stays where symmetry holds it.
    term, scan = au_on_al100
    assert [s.name for s in scan.sites] == ["top-Al", "bridge-Al-Al", "hollow4-Al4"]
    (minimum,) = scan.accepted
    assert minimum.site == "hollow4-Al4" and minimum.verified and minimum.outcome is Outcome.ADSORBED
    assert sorted(minimum.started_from) == ["bridge-Al-Al", "hollow4-Al4", "top-Al"]
    assert len(scan.minima) == 1  # merged: nothing rejected, three relaxations, one minimum


def test_adsorption_energy_uses_bulk_au_with_the_same_calculator(au_on_al100):
    _, scan = au_on_al100
    (minimum,) = scan.accepted
    assert minimum.adsorption_energy == pytest.approx(minimum.energy - scan.clean_energy - scan.adsorbate_reference)
    # EMT's fcc Au reference is its own zero of energy (~0 eV/atom at its lattice constant).
    assert abs(scan.adsorbate_reference) < 0.05


def test_hops_between_hollows(au_on_al100):
    # Hollows of Al(100) form a square net of side a/sqrt(2) = 2.864 Å; 4 per 2x2 cell, 4 neighbours each:
    # 8 hops of one class.
    _, scan = au_on_al100
    network = build_hop_network([m.frac_xy for m in scan.accepted], scan.symmetry)
    (hop,) = network.hops
    assert hop.multiplicity == 8
    assert hop.length == pytest.approx(4.05 / np.sqrt(2), abs=0.03)


def test_a_saddle_is_not_accepted_without_the_kick(aluminium):
    # Control for the kick: started exactly on the bridge with no kick and no verification, BFGS stays on the
    # bridge (the lateral force is zero by symmetry). The verified search above never reports it.
    from seiscreen.minima import relax
    from seiscreen.surfaces.sites import candidate_sites, name_site, placed

    (term,) = make_terminations(aluminium, (1, 0, 0), SlabSettings(min_thickness=5, min_lateral_size=5.5))
    atoms = term.to_atoms()
    (bridge,) = [s for s in candidate_sites(atoms, "Au") if s.name == "bridge-Al-Al"]
    stuck = placed(atoms, bridge.position, "Au")
    converged, _ = relax(stuck, get_preset("emt").make(), fmax=0.03, max_steps=200)
    assert converged and name_site(atoms, stuck.positions[-1, :2]) == "bridge-Al-Al"


def test_a_stalled_relaxation_starts_its_optimiser_again(aluminium, monkeypatch, stiff_bfgs):
    # Under GPAW an SCF that lands in another state teaches BFGS a Hessian so stiff that it then moves 1e-4 Å a
    # step (NaF(100): 220 steps at 0.05 eV/Å). Stand-in: the optimiser starts with such a Hessian.
    from seiscreen import minima
    from seiscreen.surfaces.sites import candidate_sites, placed

    (term,) = make_terminations(aluminium, (1, 0, 0), SlabSettings(min_thickness=5, min_lateral_size=5.5))
    atoms = term.to_atoms()
    (hollow,) = [s for s in candidate_sites(atoms, "Au") if s.name == "hollow4-Al4"]
    start = placed(atoms, hollow.position + [0.3, 0.1, 0.2], "Au")
    stiff = start.copy()
    stiff.calc = get_preset("emt").make()
    never_reset, _ = stiff_bfgs()
    assert not never_reset(stiff, logfile=None, maxstep=0.2, alpha=20.0).run(fmax=0.01, steps=200)  # the control
    Stiff, resets = stiff_bfgs()
    monkeypatch.setattr(minima, "BFGS", Stiff)
    converged, calls = minima.relax(start, get_preset("emt").make(), fmax=0.01, max_steps=200)
    assert converged and len(resets) == 2 and calls < 100


def test_a_start_that_lands_in_a_verified_basin_is_not_verified_again(au_on_al100):
    from seiscreen.minima import relax_and_verify
    from seiscreen.surfaces.sites import placed

    term, scan = au_on_al100
    (hollow,) = scan.accepted
    start = placed(scan.clean, hollow.position + [0.4, -0.2, 0.3], "Au")
    settings, calc = MinimaSettings(adsorbate="Au"), get_preset("emt").make()
    checked = relax_and_verify(start, scan.clean, "near-hollow", calc, settings, np.random.default_rng(0))
    known = relax_and_verify(start, scan.clean, "near-hollow", calc, settings, np.random.default_rng(0),
                             known=[hollow], symmetry=scan.symmetry)
    assert checked.verified and "verified_by" not in checked.details
    assert known.verified and known.details["verified_by"] == hollow.started_from[0]
    assert known.force_calls < checked.force_calls
    assert np.linalg.norm(known.position - checked.position) < 0.05


@pytest.mark.parametrize("surface", ["Au/Al(100)", "Cu/Cu(100)"])
def test_the_call_saving_search_finds_the_same_minima_with_fewer_calls(aluminium, surface):
    # Old (stop_in_known_basin and lowest_start_first off) against new (the defaults), same slab, same run: the
    # accepted minima agree in site and energy (1 meV), the new one uses fewer force calls, and each minimum is
    # represented by a start that relaxed there itself, not by one stopped on its way (a copy of it).
    from seiscreen.catalog import load_bulk

    bulk, settings, adsorbate = ((aluminium, SlabSettings(min_thickness=5, min_lateral_size=5.5), "Au")
                                 if surface == "Au/Al(100)" else (load_bulk("Cu"), SlabSettings(), "Cu"))
    (term,) = make_terminations(bulk, (1, 0, 0), settings)
    old, new = (scan_surface(term.to_atoms(), get_preset("emt").make(), MinimaSettings(adsorbate=adsorbate, **fields))
                for fields in ({"stop_in_known_basin": False, "lowest_start_first": False}, {}))
    assert [m.site for m in new.accepted] == [m.site for m in old.accepted] and old.accepted
    assert all(abs(a.energy - b.energy) < 1e-3 for a, b in zip(new.accepted, old.accepted, strict=True))
    assert sorted(sum((m.started_from for m in new.minima), [])) == sorted(s.name for s in new.sites)
    assert new.force_calls < old.force_calls
    assert not any(m.details.get("stopped_in_basin") for m in new.minima + old.minima)


def test_a_killed_minima_search_resumes_at_the_step_it_was_in(au_on_al100, tmp_path):
    # Each finished step (clean slab, reference, one file per start) is kept; losing the last start's file
    # is what a kill during that relaxation leaves. The rerun computes only that start and ends in the same minima.
    from ase.calculators.emt import EMT

    class Counting(EMT):
        calls = 0

        def calculate(self, *args, **kwargs):
            Counting.calls += 1
            super().calculate(*args, **kwargs)

    term, _ = au_on_al100
    settings = MinimaSettings(adsorbate="Au")
    first = scan_surface(term.to_atoms(), Counting(), settings, checkpoint=tmp_path)
    full = Counting.calls
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.json", "reference.json", "site-0.json",
                                                          "site-1.json", "site-2.json"]
    (tmp_path / "site-2.json").unlink()
    Counting.calls = 0
    resumed = scan_surface(term.to_atoms(), Counting(), settings, checkpoint=tmp_path)
    assert 0 < Counting.calls < full / 2
    assert [(m.site, round(m.energy, 6)) for m in resumed.minima] == [(m.site, round(m.energy, 6))
                                                                       for m in first.minima]


def test_a_seed_below_this_calculators_top_atom_starts_above_its_point(au_on_al100):
    # Another calculator's minimum in a vacancy of the top plane can lie below this calculator's relaxed top
    # atom; the seed starts at the touching height over its point instead of stopping the whole search.
    from seiscreen.surfaces.sites import CandidateSite

    term, scan = au_on_al100
    hollow = next(s for s in scan.sites if s.name == "hollow4-Al4").position
    inside = CandidateSite("seed-hollow", np.append(hollow[:2], scan.clean.positions[:, 2].max() - 1.0))
    seeded = scan_surface(term.to_atoms(), get_preset("emt").make(), MinimaSettings(adsorbate="Au"), seeds=[inside])
    seed = seeded.sites[-1]
    assert seed.name == "seed-hollow" and seed.position[2] > seeded.clean.positions[:, 2].max()
    (minimum,) = seeded.accepted
    assert "seed-hollow" in minimum.started_from and minimum.site == "hollow4-Al4"


def test_a_start_whose_atoms_leave_the_cell_is_rejected_and_the_search_goes_on(au_on_al100):
    # GPAW cannot place an atom near a non-periodic face of the cell (GridBoundsError): a Na(110) slab of two
    # planes came apart under the adatom and stopped its whole minima search. Stand-in: EMT that refuses the 5th
    # adatom calculation: each start computes its first state (3 calls), then the lowest, the hollow, steps on.
    from ase.calculators.emt import EMT

    from seiscreen.errors import AtomsLeftCell

    term, unbroken = au_on_al100

    class LeavesTheCell(EMT):
        adatom_calls = 0

        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            if atoms is not None and len(atoms) == len(unbroken.clean) + 1:
                LeavesTheCell.adatom_calls += 1
                if LeavesTheCell.adatom_calls == 5:
                    raise AtomsLeftCell("test: an atom is too close to the cell's non-periodic face")
            super().calculate(atoms, properties, system_changes)

    scan = scan_surface(term.to_atoms(), LeavesTheCell(), MinimaSettings(adsorbate="Au"))
    (left,) = [m for m in scan.minima if "left_cell" in m.details]
    assert left.started_from == ["hollow4-Al4"] and not left.verified and not left.accepted
    assert "non-periodic face" in left.details["left_cell"] and np.isfinite(left.energy)
    assert left.force_calls == 2 and left.details["rounds"] == 1  # judged where it last had an energy
    (hollow,) = scan.accepted  # the other starts find the hollow themselves
    assert sorted(hollow.started_from) == ["bridge-Al-Al", "top-Al"]
    assert hollow.energy == pytest.approx(unbroken.accepted[0].energy, abs=1e-3)


def test_a_frozen_slab_campaign_warns_and_its_minima_search_runs(caplog):
    """``n_fixed_layers`` at least the slab's layers (ASE's NEB tutorial: the whole slab frozen) is accepted with a
    warning; the search moves only the adatom, which still finds EMT's hollow on Al(100)."""
    from seiscreen.campaign import Campaign
    from seiscreen.schemas import atoms_from_dict
    from seiscreen.workflow.flows import plan_surfaces

    campaign = Campaign(name="frozen", calculator="emt", adsorbate="Au", materials=[{"material": "Al"}],
                        slab={"min_thickness": 5.0, "vacuum": 10.0, "min_lateral_size": 5.5, "n_fixed_layers": 10})
    with caplog.at_level("WARNING", logger="seiscreen.surfaces.slabs"):
        (planned,) = plan_surfaces(campaign)
    assert any("fixes every layer" in r.getMessage() for r in caplog.records)
    slab = atoms_from_dict(planned.slab.structure)
    assert planned.slab.termination["n_fixed_layers"] == planned.slab.termination["n_layers"] == 4
    scan = scan_surface(slab, get_preset("emt").make(), MinimaSettings(adsorbate="Au"))
    assert np.allclose(scan.clean.positions, slab.positions)  # nothing of the slab moved
    (minimum,) = scan.accepted
    assert minimum.site == "hollow4-Al4" and minimum.verified
    assert np.allclose(minimum.atoms.positions[:-1], slab.positions)
