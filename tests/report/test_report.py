"""The review comparison on synthetic barrier tables, the literature data, and `seiscreen report` on a real
(EMT) campaign: every figure file written and referenced, bands that ASE reads back."""

import re
from pathlib import Path

import pandas as pd
import pytest
from ase.io import read
from jobflow import run_locally
from typer.testing import CliRunner

from seiscreen.campaign import Campaign, load_campaign
from seiscreen.cli import app
from seiscreen.workflow.flows import campaign_flow
from seiscreen.report import compare_orderings, load_literature
from seiscreen.report import plots
from seiscreen.report.html import write_report
from seiscreen.results import band_images, convergence_documents, hop_documents, surface_documents
from seiscreen.schemas import HopDoc, atoms_from_dict
from seiscreen.store import open_store
from seiscreen.surfaces.slabs import SlabSettings

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def surfaces(*rows, protocol="p1", calculator="ml"):
    """A surfaces table like load_results(store).surfaces: (material, barrier or status[, facet, ...])."""
    out = []
    for row in rows:
        material, value, *rest = row
        facet = rest[0] if rest else "(100)"
        termination = rest[1] if len(rest) > 1 else "t0"
        adsorbate = rest[2] if len(rest) > 2 else "Na"
        ranked = isinstance(value, float)
        out.append({"material": material, "facet": facet, "termination": termination, "adsorbate": adsorbate,
                    "calculator": calculator, "status": "ranked" if ranked else value,
                    "barrier": value if ranked else None,
                    "reason": "" if ranked else "hop1-m0-m1: failed (band did not converge)",
                    "protocol_id": protocol})
    return pd.DataFrame(out)


def claim(comparison, ordering, facet="(100)"):
    rows = comparison.claims[(comparison.claims["ordering"] == ordering) & (comparison.claims["facet"] == facet)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# ------------------------------------------------------------------------------------------ literature data


def test_literature_has_the_reviews_numbers_orderings_and_methods():
    lit = load_literature()
    values = {v.id: v for v in lit.values}
    assert values["cao2024-Na2Se-100"].value_ev == pytest.approx(0.1467)
    assert values["cao2024-NaF"].value_ev == pytest.approx(0.2671)
    assert not values["cao2024-NaF"].facet_stated  # the review names no facet for NaF
    na3p = values["shi2020-Na3P"]
    assert na3p.value_ev == pytest.approx(11.0 / 96.485, rel=1e-4) and not na3p.comparable
    kinds = {o.id: o.kind for o in lit.orderings}
    assert kinds["cao2024-Na2Se-below-NaF"] == "number"
    for ordering in ("choudhury2017-NaBr-lowest-halide", "tian2019-NaI-below-NaF", "moorthy2023-NaIn-lowest-alloy",
                     "fig3a-Mg-below-Na-Li-self", "cao2024-Na2Se-binds-Na-more-than-Na-metal",
                     "cao2024-Na15Sn4-binds-Na-more-than-Na-metal"):
        assert kinds[ordering] == "ordering-only"
    quantities = {o.id: o.quantity for o in lit.orderings}
    assert quantities["cao2024-Na15Sn4-binds-Na-more-than-Na-metal"] == "adsorption_energy"
    assert quantities["cao2024-Na2Se-below-NaF"] == "barrier"
    assert "implicit" in lit.sources["choudhury2017"].method
    assert {s.ref for s in lit.sources.values()} >= {71, 72, 74, 76, 77}
    catalog = (REPO / "structures" / "catalog.yaml").read_text()
    for o in lit.orderings:  # catalog names, so they meet the store's material names
        for material in [o.lower, *o.higher]:
            assert f"\n  {material}:" in catalog, material


def test_a_literature_file_with_an_unknown_source_is_refused(tmp_path):
    from seiscreen.errors import SeiscreenError

    bad = tmp_path / "lit.yaml"
    text = (REPO / "src" / "seiscreen" / "data" / "literature.yaml").read_text()
    bad.write_text(text.replace("source: tian2019", "source: nobody2020"))
    with pytest.raises(SeiscreenError, match="unknown source 'nobody2020'"):
        load_literature(bad)


@pytest.mark.parametrize("entry, message", [
    ("material: NaF\n    method: m\n", "moduli[4]: bad-NaF: gives no value: give c11_gpa, c12_gpa and c44_gpa, "
     "or at least one of bulk_gpa, shear_gpa, youngs_gpa"),
    ("material: NaF\n    c11_gpa: 97.0\n    method: m\n", "bad-NaF: gives only some of c11_gpa, c12_gpa, c44_gpa"),
    ("material: NaF\n    c11_gpa: 97.0\n    c12_gpa: 24.0\n    c44_gpa: 28.0\n    bulk_gpa: 46.8\n"
     "    method: m\n", "bad-NaF: gives both elastic constants and moduli"),
    ("material: NaF\n    bulk_gpa: 46.8\n    kind: isobaric\n    method: m\n", "moduli[4].kind: Input should be"),
    ("material: NaF\n    shear_gpa: -3.0\n    method: m\n", "moduli[4].shear_gpa: Input should be greater than 0"),
])
def test_a_malformed_moduli_entry_is_refused_with_one_line(tmp_path, entry, message):
    from seiscreen.errors import SeiscreenError

    bad = tmp_path / "lit.yaml"
    text = (REPO / "src" / "seiscreen" / "data" / "literature.yaml").read_text()
    bad.write_text(text.replace("\ncontext:\n", f"\n  - id: bad-NaF\n    source: jac2025naf\n    {entry}"
                                                  "    where: nowhere\ncontext:\n"))
    with pytest.raises(SeiscreenError) as refused:
        load_literature(bad)
    line = str(refused.value)
    assert line.startswith(f"literature file {bad} is not valid: ") and message in line and "\n" not in line


def test_the_shipped_moduli_give_a_tensor_or_the_moduli_their_source_gives():
    moduli = {m.id: m for m in load_literature().moduli}
    assert moduli["whitfield1976-NaCl"].has_tensor and moduli["whitfield1976-NaCl"].conditions() == ""
    assert moduli["jac2025-NaF"].measured() == {"bulk": 46.79, "shear": None, "youngs": None}
    assert moduli["wangmj2020-Na"].measured() == {"bulk": None, "shear": None, "youngs": 4.6}
    with pytest.raises(ValueError, match="gives moduli, not elastic constants"):
        moduli["jac2025-NaF"].moduli()


# ------------------------------------------------------------------------------------------ comparison logic


def test_an_ordering_reproduced_with_the_numbers_side_by_side():
    comparison = compare_orderings(surfaces(("Na2Se", 0.12), ("NaF", 0.21)))
    row = claim(comparison, "cao2024-Na2Se-below-NaF")
    assert row["verdict"] == "reproduced"
    assert "Na2Se 0.120 eV" in row["ours"] and "NaF 0.210 eV" in row["ours"]
    assert "0.147" in row["literature"] and "0.267" in row["literature"]
    pair = comparison.pairs[comparison.pairs["ordering"] == "cao2024-Na2Se-below-NaF"].iloc[0]
    assert pair["difference"] == pytest.approx(0.09) and pair["literature_lower"] == pytest.approx(0.1467)


def test_an_ordering_violated_names_the_pair_that_breaks_it():
    comparison = compare_orderings(surfaces(("NaF", 0.15), ("NaCl", 0.30), ("NaBr", 0.18)))
    row = claim(comparison, "choudhury2017-NaBr-lowest-halide")
    assert row["verdict"] == "violated"
    assert "vs NaF: violated" in row["detail"] and "vs NaCl: reproduced" in row["detail"]


def test_equal_barriers_do_not_reproduce_a_strict_ordering():
    comparison = compare_orderings(surfaces(("NaI", 0.2), ("NaF", 0.2)))
    assert claim(comparison, "tian2019-NaI-below-NaF")["verdict"] == "violated"


def test_a_failed_gate_makes_an_ordering_undecidable_and_says_which():
    comparison = compare_orderings(surfaces(("NaI", "incomplete"), ("NaF", 0.2)))
    row = claim(comparison, "tian2019-NaI-below-NaF")
    assert row["verdict"] == "undecidable"
    assert "NaI(100) t0 not ranked (incomplete: hop1-m0-m1: failed (band did not converge))" in row["detail"]


def bounded(table: pd.DataFrame, material: str, lower: float, upper: float | None) -> pd.DataFrame:
    """The material's (incomplete) row given the barrier range its failed hops leave."""
    table = table.copy()
    at = table["material"] == material
    table.loc[at, "barrier_lower"], table.loc[at, "barrier_upper"] = lower, upper
    return table


def test_an_incomplete_surface_decides_an_ordering_when_its_range_does_not_overlap():
    table = surfaces(("Na2Se", "incomplete"), ("NaF", 0.21))
    above = compare_orderings(bounded(table, "Na2Se", 0.25, 0.31))
    row = claim(above, "cao2024-Na2Se-below-NaF")
    assert row["verdict"] == "violated" and "Na2Se(100) between 0.250-0.310 eV" in row["detail"]
    assert claim(compare_orderings(bounded(table, "Na2Se", 0.05, 0.12)), "cao2024-Na2Se-below-NaF")["verdict"] \
        == "reproduced"
    overlap = claim(compare_orderings(bounded(table, "Na2Se", 0.15, None)), "cao2024-Na2Se-below-NaF")
    assert overlap["verdict"] == "undecidable" and "at least 0.150 eV" in overlap["detail"]


def test_an_incomplete_termination_below_the_ranked_ones_makes_the_material_a_range():
    table = surfaces(("Na2Se", 0.30, "(100)", "t0"), ("Na2Se", "incomplete", "(100)", "t1"), ("NaF", 0.21))
    table.loc[1, ["barrier_lower", "barrier_upper"]] = [0.10, None]  # t1 could be as low as 0.10 eV
    row = claim(compare_orderings(table), "cao2024-Na2Se-below-NaF")
    assert row["verdict"] == "undecidable" and "between 0.100-0.300 eV" in row["detail"]


def test_a_missing_material_makes_an_ordering_undecidable():
    comparison = compare_orderings(surfaces(("NaF", 0.15), ("NaBr", 0.12)))  # no NaCl
    row = claim(comparison, "choudhury2017-NaBr-lowest-halide")
    assert row["verdict"] == "undecidable"
    assert "vs NaF: reproduced" in row["detail"] and "NaCl(100) with no result in this store" in row["detail"]


def test_a_violation_wins_over_an_undecidable_pair():
    comparison = compare_orderings(surfaces(("NaF", 0.15), ("NaBr", 0.18)))  # NaCl missing, NaF below NaBr
    assert claim(comparison, "choudhury2017-NaBr-lowest-halide")["verdict"] == "violated"


def test_barriers_of_different_protocols_are_never_compared():
    table = pd.concat([surfaces(("Na2Se", 0.12), protocol="A"), surfaces(("NaF", 0.21), protocol="B")])
    comparison = compare_orderings(table)
    rows = comparison.claims[comparison.claims["ordering"] == "cao2024-Na2Se-below-NaF"]
    assert sorted(rows["protocol_id"]) == ["A", "B"] and (rows["verdict"] == "undecidable").all()


def test_a_protocol_without_any_of_the_materials_is_not_listed_for_that_ordering():
    # One store, two campaigns: the halides (protocol A) and the metals (protocol B) say nothing about each other.
    table = pd.concat([surfaces(("Na2Se", 0.12), ("NaF", 0.21), protocol="A"), surfaces(("Na", 0.05), protocol="B")])
    rows = compare_orderings(table).claims
    assert list(rows.loc[rows["ordering"] == "cao2024-Na2Se-below-NaF", "protocol_id"]) == ["A"]
    assert compare_orderings(surfaces(("Na", 0.05), protocol="B")).claims["verdict"].eq("undecidable").all()


def test_an_order_inside_the_presets_uncertainty_is_undecidable():
    # gpaw-lcao-gamma carries ±0.042 eV per barrier (docs/calculators.md): 0.02 eV apart cannot be ordered.
    close = surfaces(("Na2Se", 0.19), ("NaF", 0.21), calculator="gpaw-lcao-gamma").assign(barrier_uncertainty=0.042)
    row = claim(compare_orderings(close), "cao2024-Na2Se-below-NaF")
    assert row["verdict"] == "undecidable" and "within the ±0.059 eV uncertainty" in row["detail"]
    apart = surfaces(("Na2Se", 0.10), ("NaF", 0.25), calculator="gpaw-lcao-gamma").assign(barrier_uncertainty=0.042)
    row = claim(compare_orderings(apart), "cao2024-Na2Se-below-NaF")
    assert row["verdict"] == "reproduced" and "0.100 ± 0.042 eV" in row["detail"]


def test_the_lowest_ranked_termination_stands_for_the_facet_and_is_named():
    table = surfaces(("Na2Se", 0.30, "(100)", "t-a"), ("Na2Se", 0.10, "(100)", "t-b"), ("Na2Se", "no_path"),
                     ("NaF", 0.2))
    row = claim(compare_orderings(table), "cao2024-Na2Se-below-NaF")
    assert row["verdict"] == "reproduced"
    assert "Na2Se(100) t-b 0.100 eV (lowest of 2 ranked terminations)" in row["detail"]
    assert "t0 not ranked (no_path" in row["detail"]


def test_each_facet_is_judged_on_its_own():
    table = surfaces(("NaIn", 0.10, "(100)"), ("NaSn2", 0.2, "(100)"), ("NaZn13", 0.3, "(100)"),
                     ("NaBi", 0.25, "(100)"), ("NaIn", 0.40, "(111)"), ("NaSn2", 0.2, "(111)"),
                     ("NaZn13", 0.5, "(111)"), ("NaBi", 0.6, "(111)"))
    comparison = compare_orderings(table)
    assert claim(comparison, "moorthy2023-NaIn-lowest-alloy", "(100)")["verdict"] == "reproduced"
    assert claim(comparison, "moorthy2023-NaIn-lowest-alloy", "(111)")["verdict"] == "violated"


def test_metal_self_diffusion_compares_campaigns_of_one_calculator():
    table = pd.concat([surfaces(("Mg", 0.02, "(001)", "t0", "Mg"), protocol="mg"),
                       surfaces(("Na", 0.15, "(110)", "t0", "Na"), ("Na", 0.20, "(100)", "t0", "Na"), protocol="na"),
                       surfaces(("Li", 0.10, "(100)", "t0", "Li"), protocol="li")])
    row = claim(compare_orderings(table), "fig3a-Mg-below-Na-Li-self", "any")
    assert row["verdict"] == "reproduced" and row["protocol_id"] == "any"
    assert "Na(110) t0 0.150 eV" in row["detail"]  # each metal at its lowest ranked facet


def test_an_adsorption_ordering_compares_the_most_strongly_bound_minimum_of_any_finished_search():
    table = pd.DataFrame([
        {"material": m, "facet": f, "termination": t, "adsorbate": "Na", "calculator": "ml", "status": status,
         "barrier": barrier, "adsorption_energy": e_ads, "reason": "", "protocol_id": "p1"}
        for m, f, t, status, barrier, e_ads in [
            ("Na2Se", "(100)", "t0", "ranked", 0.25, -1.28),
            ("Na15Sn4", "(100)", "t0", "ranked", 0.46, -0.17),
            ("Na15Sn4", "(100)", "t1", "no_path", None, -0.59),  # no path for the NEB, but its minima count
            ("Na", "(100)", "t0", "ranked", 0.13, 0.15),
            ("Na", "(110)", "t0", "ranked", 0.05, -0.30)]])
    comparison = compare_orderings(table)
    row = claim(comparison, "cao2024-Na15Sn4-binds-Na-more-than-Na-metal", facet="any")
    assert row["verdict"] == "reproduced" and row["quantity"] == "adsorption_energy"
    assert "Na15Sn4(100) t1 E_ads -0.590 eV" in row["detail"] and "Na(110) t0 E_ads -0.300 eV" in row["detail"]
    assert claim(comparison, "cao2024-Na2Se-below-NaF")["quantity"] == "barrier"  # barriers stay barriers
    weak = table.assign(adsorption_energy=[-0.20, -0.17, -0.59, 0.15, -0.30])
    row = claim(compare_orderings(weak), "cao2024-Na2Se-binds-Na-more-than-Na-metal", facet="any")
    assert row["verdict"] == "violated" and "Na2Se(100) t0 E_ads -0.200 eV > Na(110)" in row["detail"]
    no_minima = table.assign(adsorption_energy=[None, None, None, 0.15, -0.30])
    row = claim(compare_orderings(no_minima), "cao2024-Na2Se-binds-Na-more-than-Na-metal", facet="any")
    assert row["verdict"] == "undecidable" and "Na2Se with no accepted minimum" in row["detail"]


def test_literature_numbers_beside_ours_and_an_empty_store():
    values = compare_orderings(surfaces(("NaF", 0.152))).values.set_index("id")
    assert values.loc["cao2024-NaF", "difference"] == pytest.approx(0.152 - 0.2671)
    assert pd.isna(values.loc["cao2024-Na2Se-100", "ours"])
    assert "not judged" in values.loc["shi2020-Na3P", "detail"]
    empty = compare_orderings(pd.DataFrame())
    assert (empty.claims["verdict"] == "undecidable").all()
    assert empty.claims["detail"].str.contains("no surfaces in this store").all()


def series(material, sizes, barriers, status="converged", tolerance=0.02, thickness=None):
    """A convergence document (as ``convergence_documents`` gives it) of cells grown laterally, then in thickness."""
    cells = [{"axis": "first" if k == 0 else "lateral", "lateral": size, "thickness": 6.0, "n_atoms": 20 * (k + 1),
              "barrier": barrier, "status": "ranked"}
             for k, (size, barrier) in enumerate(zip(sizes, barriers, strict=True))]
    if thickness:
        cells.append({"axis": "thickness", "lateral": sizes[-1], "thickness": thickness[0], "n_atoms": 99,
                      "barrier": thickness[1], "status": "ranked"})
    return {"key": {"material": material, "miller": [1, 0, 0], "termination_id": "t0", "adsorbate": "Na",
                    "calculator": "ml"}, "cells": cells, "tolerance": tolerance, "status": status,
            "ranked_barrier": cells[-1]["barrier"]}


def test_convergence_chart_draws_each_series_and_marks_the_unconverged():
    fig = plots.convergence_chart([series("NaF", [9.3, 13.5], [0.21, 0.20], thickness=(8.5, 0.205)),
                                   series("NaBr", [9.4, 13.4], [0.17, 0.23], status="unconverged")])
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["NaF(100) t0", "NaBr(100) t0 (unconverged)"]
    assert any("tolerance" in text for text in legend) and any("thickness" in text for text in legend)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["NaF(100) t0"].get_linestyle() == "-" and list(lines["NaF(100) t0"].get_xdata()) == [9.3, 13.5]
    assert lines["NaBr(100) t0 (unconverged)"].get_linestyle() == "--"
    assert lines["NaBr(100) t0 (unconverged)"].get_markerfacecolor() == "white"  # hollow
    assert any(t.get_text() == "8.5 Å" for t in ax.texts)  # the cell grown in thickness, labelled
    bands = ax.collections  # one ± tolerance band per series, around its largest cell's barrier
    assert len(bands) == 2
    assert bands[1].get_paths()[0].vertices[:, 1].min() == pytest.approx(0.23 - 0.02)
    assert "2 series, 1 converged, 1 unconverged" in ax.get_title()
    assert plots.convergence_chart([]).axes[0].texts[0].get_text() == "no convergence series"


def test_barrier_chart_overlays_literature_where_materials_match():
    table = surfaces(("NaF", 0.152), ("Na2Se", 0.25), ("Na3P", 0.3, "(001)"), ("NaBr", "incomplete"))
    fig = plots.barrier_chart(table, load_literature().values_frame())
    legend = " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert "Cao 2024 [77], DFT: NaF (100) assumed 0.267 eV" in legend
    assert "Na2Se (100) 0.147 eV" in legend and "(not a surface barrier)" in legend
    assert fig.axes[0].get_ylabel() == "Na adatom percolation barrier (eV)"
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any("not ranked" in t and "incomplete" in t for t in labels)


def test_barrier_chart_adds_a_log_panel_of_d300_with_the_barriers_range_when_surfaces_have_one():
    table = surfaces(("NaF", 0.15), ("NaCl", 0.10), ("NaBr", "incomplete"))
    assert len(plots.barrier_chart(table).axes) == 1  # no D(T): the bars alone
    table["d_300"] = [1e-6, 1e-5, None]
    table["d_300_lower"], table["d_300_upper"] = table["d_300"] / 10, table["d_300"] * 10
    fig = plots.barrier_chart(table)
    bars, panel = fig.axes
    assert panel.get_yscale() == "log" and panel.get_ylabel() == "D(300 K) (cm²/s)"
    points = panel.lines[0]  # ordered by barrier like the bars: NaCl, NaF; NaBr (not ranked) has none
    assert list(points.get_xdata()) == [0, 1] and list(points.get_ydata()) == [1e-5, 1e-6]
    lower_caps, upper_caps = (list(line.get_ydata()) for line in panel.lines[1:3])  # a factor 10 each way
    assert lower_caps == pytest.approx([1e-6, 1e-7]) and upper_caps == pytest.approx([1e-4, 1e-5])
    assert [t.get_text() for t in panel.get_xticklabels()][0].startswith("NaCl(100)")


# ------------------------------------------------------------------------------------------ on a real store


@pytest.fixture(scope="module")
def emt_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("emt") / "store"
    run_locally(campaign_flow(load_campaign(REPO / "workflows" / "emt-demo.yaml")), store=open_store(path),
                log=False)
    return path


def test_report_writes_every_figure_and_the_html_references_them(emt_store, tmp_path):
    report = write_report(emt_store, tmp_path / "report")
    names = {p.name for p in report.figures}
    assert "adsorption-vs-barrier.png" in names
    for prefix in ("barriers-", "top-Al-100", "neb-Al-100"):
        assert any(n.startswith(prefix) for n in names), (prefix, names)
    page = report.index.read_text()
    referenced = set(re.findall(r"<img src='([^']+)'", page))
    assert {f"figures/{n}" for n in names} == referenced
    for src in referenced:
        assert (report.index.parent / src).stat().st_size > 5000  # a real picture
    for text in ("Ranking", "Comparison with the review", "Cao 2024 [77]", "undecidable", "hop0-m0-m0",
                 "gates passed", "JDFT, implicit solvent", "with no result in this store"):
        assert text in page, text
    band = re.search(r"<a href='(bands/[^']+\.xyz)'", page).group(1)
    images = read(report.index.parent / band, ":")
    assert len(images) == 7 and images[0].constraints  # 5 images + ends, fixed layers kept
    assert (tmp_path / "report" / "tables" / "review-orderings.csv").exists()
    # no convergence documents in this store: no such section, figure or table
    assert "Cell convergence" not in page and "cell-convergence.png" not in names
    assert not (tmp_path / "report" / "tables" / "convergence.csv").exists()


@pytest.fixture(scope="module")
def convergence_store(tmp_path_factory):
    """Au on Al(100) with EMT in two cells (tests/workflow/test_convergence.py's campaign)."""
    path = tmp_path_factory.mktemp("conv") / "store"
    campaign = Campaign(name="emt-conv", calculator="emt", adsorbate="Au", materials=[{"material": "Al"}],
                        slab=SlabSettings(min_thickness=5.0, vacuum=10.0, min_lateral_size=5.5),
                        convergence={"lateral": [5.5, 8.5]})
    run_locally(campaign_flow(campaign), store=open_store(path), log=False)
    return path


def test_report_shows_the_cell_convergence_of_a_store_with_convergence_documents(convergence_store, tmp_path):
    (doc,) = convergence_documents(convergence_store)
    report = write_report(convergence_store, tmp_path / "report", bands=False)
    page = report.index.read_text()
    assert "<h2 id='cell-convergence'>Cell convergence</h2>" in page
    assert report.index.parent / "figures" / "cell-convergence.png" in report.figures
    assert "<img src='figures/cell-convergence.png'" in page
    assert (report.index.parent / "figures" / "cell-convergence.png").stat().st_size > 5000
    section = page.split("Cell convergence</h2>")[1].split("<h2")[0]
    assert "Al(100)" in section and f"{doc['cell_term']:.3f}" in section and doc["status"] in section
    for cell in doc["cells"]:  # every cell with its barrier
        assert f"({cell['n_atoms']}): {cell['barrier']:.3f} eV" in section
    assert f"{doc['last_change']['lateral']:+.3f} / -" in section
    assert (tmp_path / "report" / "tables" / "convergence.csv").exists()


def test_top_view_draws_a_failed_hop_dashed(emt_store):
    surface = surface_documents(emt_store)[0]
    surface["hops"][0] = {**surface["hops"][0], "status": "failed", "saddle_energy": None}
    fig = plots.top_view(surface)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "failed hop (no barrier)" in legend and fig.axes[0].get_xlabel() == "x (Å)"
    empty = {**surface, "status": "no_minima", "minima": [], "hops": [], "barrier_2d": None, "barrier_1d": None,
             "path_hops_2d": [], "channel_only": False}
    assert "not ranked: no_minima" in plots.top_view(empty).axes[0].get_title()
    assert plots.neb_profiles([]).axes[0].texts[0].get_text() == "no accepted hop: nothing to draw"


def test_band_images_carry_energies_for_ase_gui(emt_store):
    uuid, hop = next(iter(hop_documents(emt_store).items()))
    band = band_images(emt_store, uuid)
    energies = [image.get_potential_energy() - band[0].get_potential_energy() for image in band]
    assert energies == pytest.approx(hop["image_energies"])
    assert len(band_images(emt_store, uuid, trajectory=True)) >= 2


def test_a_hop_passed_to_another_job_brings_its_band_and_leaves_its_history_in_the_store(emt_store):
    uuid = next(iter(hop_documents(emt_store)))
    passed = HopDoc.model_validate(open_store(emt_store, create=False).get_output(uuid, load=True))  # as jobflow
    assert [atoms_from_dict(d).positions.tolist() for d in passed.band] == [
        image.positions.tolist() for image in band_images(emt_store, uuid)]
    assert passed.trajectory == []
    assert len(band_images(emt_store, uuid, trajectory=True)) >= 2


def test_a_kept_copy_whose_band_maker_is_not_in_the_store_shows_its_own_history(emt_store):
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    uuid = next(iter(hop_documents(emt_store)))
    output = open_store(emt_store, create=False).get_output(uuid, load=True)
    history = [[image for image in output["band"]]]
    store = JobStore(MemoryStore())
    store.connect()
    store.docs_store.update({"uuid": "copy", "index": 1, "output": {**output, "job_uuid": "made-elsewhere",
                                                                    "trajectory": history}}, key="uuid")
    (band,) = band_images(store, "copy", trajectory=True)
    assert [a.positions.tolist() for a in band] == [a.positions.tolist() for a in band_images(emt_store, uuid)]


def test_report_and_export_commands(emt_store, tmp_path):
    result = runner.invoke(app, ["report", "--store", str(emt_store), "--out", str(tmp_path / "r")],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "index.html" in result.output and "8 undecidable" in result.output  # every claim: no Na here
    result = runner.invoke(app, ["export-bands", "--store", str(emt_store), "--out", str(tmp_path / "b"),
                                 "--format", "traj"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    (traj,) = (tmp_path / "b").glob("*.traj")
    assert len(read(traj, ":")) == 7
    result = runner.invoke(app, ["export-bands", "--store", str(emt_store), "--out", str(tmp_path / "b"),
                                 "--format", "pdb"], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "unknown band format 'pdb'" in result.output
    result = runner.invoke(app, ["export-bands", "--store", str(emt_store), "--material", "NaF"],
                           env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "no hop with material NaF" in result.output
