"""Cell convergence (issue 37, item 3): judging a series, the campaign section, and an EMT campaign end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from jobflow import run_locally
from typer.testing import CliRunner

from seiscreen.campaign import Campaign, load_campaign
from seiscreen.catalog import load_bulk
from seiscreen.cli import app
from seiscreen.convergence import Cell, ConvergenceSettings, cell_series, judge_series, map_positions
from seiscreen.errors import SeiscreenError
from seiscreen.workflow.flows import campaign_flow
from seiscreen.results import load_results
from seiscreen.schemas import atoms_from_dict
from seiscreen.store import open_store
from seiscreen.surfaces.slabs import SlabSettings, make_terminations

UNCHECKED = {"saddle_check": False}  # exits, reruns and cells here, not saddle checks (tests/workflow/test_kinetics.py)

SLAB = SlabSettings(min_thickness=5.0, vacuum=10.0, min_lateral_size=5.5)  # workflows/emt-demo.yaml


def cell(axis, size, barrier, status="ranked", thickness=6.0, ads=-1.0):
    return Cell(axis, size, thickness, int(size * 4), barrier, ads, status)


# ------------------------------------------------------------------ judging a series (no jobflow)


def test_a_series_whose_last_step_is_within_tolerance_is_converged():
    verdict = judge_series([cell("first", 5.7, 0.30), cell("lateral", 8.6, 0.35), cell("lateral", 11.5, 0.36)], 0.02)
    assert verdict.status == "converged" and verdict.reason == ""
    assert verdict.converged == {"lateral": True, "thickness": None}
    assert verdict.last_change["lateral"] == pytest.approx(0.01)
    assert verdict.cell_term == pytest.approx(0.01)
    assert verdict.ranked_barrier == 0.36


def test_a_series_still_moving_is_unconverged_with_its_last_change_as_cell_term():
    verdict = judge_series([cell("first", 5.7, 0.30), cell("lateral", 8.6, 0.36)], 0.02)
    assert verdict.status == "unconverged" and verdict.converged["lateral"] is False
    assert verdict.cell_term == pytest.approx(0.06)
    assert "lateral" in verdict.reason and "+0.060" in verdict.reason


def test_a_missing_or_failed_cell_leaves_the_series_unconverged_and_unranked():
    missing = Cell("lateral", None, None, None, None, None, "missing")
    verdict = judge_series([cell("first", 5.7, 0.30), missing], 0.02)
    assert verdict.status == "unconverged" and verdict.ranked_barrier is None and verdict.cell_term is None
    assert "missing" in verdict.reason
    failed = judge_series([cell("first", 5.7, 0.30), cell("lateral", 8.6, None, status="no_path")], 0.02)
    assert failed.status == "unconverged" and "no_path" in failed.reason


def test_the_cell_term_is_the_larger_last_change_of_the_two_axes():
    cells = [cell("first", 5.7, 0.30), cell("lateral", 8.6, 0.31), cell("thickness", 8.6, 0.325, thickness=8.0)]
    verdict = judge_series(cells, 0.02)
    assert verdict.converged == {"lateral": True, "thickness": True}
    assert verdict.last_change["lateral"] == pytest.approx(0.01)
    assert verdict.last_change["thickness"] == pytest.approx(0.015)
    assert verdict.cell_term == pytest.approx(0.015) and verdict.ranked_barrier == 0.325


def test_two_sizes_that_give_the_same_cell_do_not_count_as_converged():
    verdict = judge_series([cell("first", 5.7, 0.30), cell("lateral", 5.7, 0.30)], 0.02)
    assert verdict.status == "unconverged" and "same cell" in verdict.reason


def test_a_size_that_gives_the_cell_before_counts_once():
    # Na(100) under CHGNet: 9 Å gives a 12.1 Å cell, 13 and 17 Å both a 17.2 Å one: judged over 12.1 -> 17.2 Å.
    cells = [cell("first", 12.1, 0.134), cell("lateral", 17.2, 0.132), cell("lateral", 17.2, 0.132)]
    verdict = judge_series(cells, 0.02)
    assert verdict.status == "converged" and verdict.last_change["lateral"] == pytest.approx(-0.002)
    moved = judge_series([cell("first", 12.1, 0.10), *cells[1:]], 0.02)
    assert moved.status == "unconverged" and "moved +0.032 eV" in moved.reason


def test_the_cells_form_an_l_lateral_first_then_thickness_at_the_largest_lateral_size():
    cells = cell_series(ConvergenceSettings(lateral=[9, 13], thickness=[6, 8, 10]), SLAB)
    assert [(c.axis, c.slab.min_lateral_size, c.slab.min_thickness) for c in cells] == [
        ("first", 9, 6), ("lateral", 13, 6), ("thickness", 13, 8), ("thickness", 13, 10)]
    assert all(c.slab.vacuum == SLAB.vacuum for c in cells)
    only_lateral = cell_series(ConvergenceSettings(lateral=[5.5, 8.5]), SLAB)
    assert [c.slab.min_thickness for c in only_lateral] == [SLAB.min_thickness] * 2


@pytest.mark.parametrize("bigger", [SlabSettings(min_thickness=5.0, vacuum=10.0, min_lateral_size=8.5),
                                    SlabSettings(min_thickness=7.0, vacuum=10.0, min_lateral_size=8.5)])
def test_a_minimum_maps_onto_the_same_site_of_the_larger_cell(bigger):
    """A hollow site of 2x2 Al(100) lands on a hollow of the 3x3 cell, also where the thicker slab ends in the
    other stacking layer; the height above the top plane is kept."""
    (small,) = make_terminations(load_bulk("Al"), (1, 0, 0), SLAB)
    (large,) = make_terminations(load_bulk("Al"), (1, 0, 0), bigger)
    old, new = small.to_atoms(), large.to_atoms()
    top = old.positions[old.positions[:, 2] > old.positions[:, 2].max() - 0.5]
    hollow = np.append(top[:, :2].mean(axis=0) if len(top) == 4 else _hollow(top, old), old.positions[:, 2].max() + 1.6)
    (mapped,) = map_positions([hollow], old, small.supercell_matrix, new, large.supercell_matrix)
    assert mapped[2] - new.positions[:, 2].max() == pytest.approx(1.6)
    assert _in_plane_distances(new, mapped)[:4] == pytest.approx([_in_plane_distances(old, hollow)[0]] * 4, abs=1e-6)


def _hollow(top, atoms):
    a, b = atoms.cell.array[0, :2] / 2, atoms.cell.array[1, :2] / 2  # 2x2 cell: half a cell vector is one period
    return top[0, :2] + (a + b) / 2


def _in_plane_distances(atoms, point):
    """In-plane distances from ``point`` to the top-plane atoms and their periodic images, sorted."""
    top = atoms.positions[atoms.positions[:, 2] > atoms.positions[:, 2].max() - 0.5, :2]
    shifts = [i * atoms.cell.array[0, :2] + j * atoms.cell.array[1, :2] for i in (-1, 0, 1) for j in (-1, 0, 1)]
    return sorted(float(np.linalg.norm(p + s - point[:2])) for p in top for s in shifts)


# ------------------------------------------------------------------ the campaign section


def write(tmp_path, text):
    path = tmp_path / "campaign.yaml"
    path.write_text("name: t\ncalculator: emt\nadsorbate: Au\nmaterials:\n  - material: Al\n" + text)
    return path


@pytest.mark.parametrize("text, message", [
    ("convergence: {lateral: [8.5, 5.5]}", r"convergence.lateral: sizes \[8.5, 5.5\] must increase"),
    ("convergence: {lateral: [5.5, 5.5]}", "must increase"),
    ("convergence: {thickness: [6, 0]}", "must be positive"),
    ("convergence: {lateral: [9]}", "needs at least two sizes in 'lateral' or 'thickness'"),
    ("convergence: {}", "needs at least two sizes"),
    ("convergence: {lateral: [9, 13], tolerence: 0.1}",
     r"unknown key 'convergence.tolerence' \(did you mean 'tolerance'\?\): allowed keys are lateral, thickness"),
    ("convergence: {lateral: [9, 13], tolerance: 0}", "convergence.tolerance"),
    ("convergence: {lateral: [4, 9]}", "convergence.lateral: 4.0 Å puts the adatom's periodic images closer"),
    ("convergence: {lateral: [9, 13]}\nfidelities: [emt, ml]", "convergence with fidelities is not supported"),
])
def test_a_bad_convergence_section_is_one_clear_error(tmp_path, text, message):
    with pytest.raises(SeiscreenError, match=message):
        load_campaign(write(tmp_path, text + "\n"))


def test_a_good_convergence_section_is_read(tmp_path):
    campaign = load_campaign(write(tmp_path, "convergence: {lateral: [9, 13, 17], thickness: [6, 8]}\n"))
    assert campaign.convergence == ConvergenceSettings(lateral=[9, 13, 17], thickness=[6, 8], tolerance=0.02)


# ------------------------------------------------------------------ EMT end to end


def emt_campaign(**changes) -> Campaign:
    return Campaign(**{"name": "emt-conv", "calculator": "emt", "adsorbate": "Au", "materials": [{"material": "Al"}],
                       "slab": SLAB, "kinetics": UNCHECKED, **changes})


def run(tmp_path_factory, campaign) -> str:
    """Run ``campaign`` into a new store folder; its path."""
    path = str(tmp_path_factory.mktemp("store"))
    run_locally(campaign_flow(campaign), store=open_store(path), log=False)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The convergence campaign, and the same campaign run at each size alone."""
    return {"series": run(tmp_path_factory, emt_campaign(convergence={"lateral": [5.5, 8.5]})),
            **{size: run(tmp_path_factory, emt_campaign(slab=SLAB.model_copy(update={"min_lateral_size": size})))
               for size in (5.5, 8.5)}}


def outputs(path: str, doc_type: str) -> list[dict]:
    return [d["output"] for d in open_store(path, create=False).query({"output.doc_type": doc_type},
                                                                       properties=["output"])]


def convergence_doc(path: str) -> dict:
    (doc,) = outputs(path, "convergence")
    return doc


def test_each_cell_has_the_barrier_of_the_campaign_run_at_that_size_alone(stores):
    doc = convergence_doc(stores["series"])
    assert [c["requested_lateral"] for c in doc["cells"]] == [5.5, 8.5]
    assert doc["cells"][0]["n_atoms"] < doc["cells"][1]["n_atoms"]
    assert doc["cells"][1]["lateral"] >= 8.5 > doc["cells"][0]["lateral"] >= 5.5
    for cell_, size in zip(doc["cells"], (5.5, 8.5), strict=True):
        (alone,) = load_results(stores[size]).surfaces.itertuples()
        assert cell_["status"] == "ranked" == alone.status
        # Within 1 meV (issue 37's determinism): the larger cell's search has the smaller cell's minima as extra
        # starts, so another start can reach the same minimum first (the search stops the rest in its basin).
        assert cell_["barrier"] == pytest.approx(alone.barrier, abs=1e-3)
        assert cell_["adsorption_energy"] == pytest.approx(alone.adsorption_energy, abs=1e-3)
        assert cell_["n_atoms"] == alone.slab_atoms
    assert doc["last_change"]["lateral"] == pytest.approx(doc["cells"][1]["barrier"] - doc["cells"][0]["barrier"])
    assert doc["cell_term"] == pytest.approx(abs(doc["last_change"]["lateral"]))
    assert doc["ranked_barrier"] == doc["cells"][1]["barrier"]
    assert doc["converged"] == {"lateral": abs(doc["last_change"]["lateral"]) <= 0.02, "thickness": None}


def test_the_larger_cell_starts_from_the_smaller_cells_minima(stores):
    doc = convergence_doc(stores["series"])
    searches = {len(atoms_from_dict(d["slab"]["structure"])): d for d in outputs(stores["series"], "minima")}
    smaller, larger = searches[doc["cells"][0]["n_atoms"]], searches[doc["cells"][1]["n_atoms"]]
    assert doc["cells"][0]["seeds"] == 0 and doc["cells"][1]["seeds"] == len(smaller["minima"]) > 0
    starts = {s for m in larger["minima"] + larger["rejected"] for s in m["started_from"]}
    assert {f"seed-cell0-{m['site']}" for m in smaller["minima"]} <= starts
    assert not any(s.startswith("seed-") for m in smaller["minima"] for s in m["started_from"])


def test_results_rank_the_surface_by_its_largest_cell_with_the_cell_term_in_its_uncertainty(stores):
    results = load_results(stores["series"])
    (row,) = results.convergence.itertuples()
    doc = convergence_doc(stores["series"])
    assert row.status == doc["status"] and row.cell_term == pytest.approx(doc["cell_term"]) and row.n_cells == 2
    surfaces = results.surfaces.set_index("slab_atoms")
    largest, smaller = surfaces.loc[doc["cells"][1]["n_atoms"]], surfaces.loc[doc["cells"][0]["n_atoms"]]
    assert smaller.status == "smaller_cell" and pd.isna(smaller["rank"])
    assert largest.cell_term == pytest.approx(doc["cell_term"])
    assert largest.barrier_uncertainty >= doc["cell_term"] - 1e-12
    if doc["status"] == "converged":
        assert largest.status == "ranked" and largest["rank"] == 1
        assert list(results.ranking["barrier"]) == [doc["ranked_barrier"]]


@pytest.mark.slow
def test_an_unconverged_surface_is_flagged_and_not_ranked(tmp_path_factory):
    store = run(tmp_path_factory, emt_campaign(convergence={"lateral": [5.5, 8.5], "tolerance": 1e-9}))
    results = load_results(store)
    (row,) = results.convergence.itertuples()
    assert row.status == "unconverged" and "tolerance" in row.reason
    assert results.ranking.empty
    assert "unconverged" in set(results.surfaces["status"])
    table = CliRunner().invoke(app, ["results", "--store", store, "--convergence"], env={"COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    assert "unconverged" in table.output and "cell convergence" in table.output


@pytest.mark.slow
def test_status_and_the_log_show_the_series_verdict_not_its_last_cells(tmp_path, monkeypatch):
    """`seiscreen status` and a batch log say "unconverged" where the largest cell alone is ranked."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("name: t\ncalculator: emt\nadsorbate: Au\nmaterials:\n  - material: Al\n"
                                     "slab: {min_thickness: 5.0, vacuum: 10.0, min_lateral_size: 5.5}\n"
                                     "convergence: {lateral: [5.5, 8.5], tolerance: 1.0e-9}\n")
    ran = CliRunner().invoke(app, ["run", "c.yaml", "--store", "s"], env={"COLUMNS": "300"})
    assert ran.exit_code == 0, ran.output
    assert "cell series Al(100) 100-s0.250: unconverged" in ran.output
    status = CliRunner().invoke(app, ["status", "--store", "s"], env={"COLUMNS": "300"})
    assert status.exit_code == 0 and "unconverged" in status.output and "ranked" not in status.output, status.output
