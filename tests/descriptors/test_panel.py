"""The descriptor panel end to end with EMT (Al, a Au adatom: Au is the deposited metal), its campaign key and its
reuse by content hash."""

import json

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from jobflow import run_locally
from typer.testing import CliRunner

from seiscreen.cli import app
from seiscreen.descriptor_schemas import DescriptorSettings
from seiscreen.descriptors.bulk import relax_bulk
from seiscreen.descriptors.mechanical import compute_mechanical
from seiscreen.results import load_results
from seiscreen.store import open_store
from seiscreen.workflow.flows import campaign_flow
from tests.workflow.test_pipeline_emt import UNCHECKED, emt_campaign


@pytest.fixture(scope="module")
def panel_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    store = open_store(folder)
    store.folder = folder  # for the command line
    run_locally(campaign_flow(emt_campaign(descriptors={"mechanical": {"relax_ions": False}}, kinetics=UNCHECKED)),
                store=store, log=False)
    return store


def test_panel_row_per_material_with_barrier_sodiophilicity_and_moduli(panel_store):
    results = load_results(panel_store)
    panel = results.descriptors.set_index("material")
    assert set(panel.index) == {"Al", "Au"} and panel.loc["Au", "role"] == "reference"
    al = panel.loc["Al"]
    (surface,) = results.surfaces.itertuples()
    assert al["barrier"] == pytest.approx(surface.barrier) and al["barrier_surface"].startswith("Al(100)")
    assert al["adsorption_energy"] == pytest.approx(surface.adsorption_energy)
    # The same numbers from the engines called directly on ASE's own crystals.
    settings = DescriptorSettings(mechanical={"relax_ions": False}).mechanical
    au = compute_mechanical(relax_bulk(bulk("Au"), EMT()).atoms(), EMT(), settings)
    own = compute_mechanical(relax_bulk(bulk("Al", a=4.05), EMT()).atoms(), EMT(), settings,
                             au.shear_modulus_vrh_gpa, "Au", au.born_stable)
    assert al["shear_modulus_gpa"] == pytest.approx(own.shear_modulus_vrh_gpa, rel=1e-3)
    assert al["monroe_newman_ratio"] == pytest.approx(own.shear_modulus_vrh_gpa / au.shear_modulus_vrh_gpa, rel=1e-3)
    assert al["monroe_newman_satisfied"] == (al["monroe_newman_ratio"] >= 2)
    assert panel.loc["Au", "monroe_newman_ratio"] == 1.0 and al["born_stable"] and not al["errors"]


def test_a_rerun_reuses_the_stored_documents(panel_store, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr("seiscreen.workflow.descriptors.relax_bulk", fail)  # any computation would store an error
    before = panel_store.count({"output.doc_type": "descriptors"})
    run_locally(campaign_flow(emt_campaign(descriptors={"mechanical": {"relax_ions": False}}, kinetics=UNCHECKED)),
                store=panel_store, log=False)
    docs = list(panel_store.query({"output.doc_type": "descriptors"}, properties=["output"]))
    assert len(docs) == 2 * before and not any(d["output"]["error"] for d in docs)
    assert len({json.dumps(d["output"]["mechanical"], sort_keys=True) for d in docs}) == 2


def test_results_command_prints_the_panel(panel_store):
    result = CliRunner().invoke(app, ["results", "--descriptors", "--format", "json", "--store",
                                      str(panel_store.folder)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["material"] for r in rows} == {"Al", "Au"}
    table = CliRunner().invoke(app, ["results", "--descriptors", "--store", str(panel_store.folder)])
    assert table.exit_code == 0 and "G/G(Au)" in table.output


def test_campaign_key_switches():
    assert emt_campaign().descriptors is None
    assert emt_campaign(descriptors=None).descriptors.enabled() == ["mechanical", "sodiophilicity"]
    assert emt_campaign(descriptors={"mechanical": False}).descriptors.enabled() == ["sodiophilicity"]


def test_report_shows_the_panel_its_figure_and_the_claims(panel_store, tmp_path):
    from seiscreen.report.html import write_report

    report = write_report(panel_store, tmp_path / "report", bands=False)
    page = report.index.read_text(encoding="utf-8")
    assert "Descriptor panel" in page and "G/G(Au)" in page
    assert (tmp_path / "report" / "figures" / "barrier-vs-monroe-newman.png") in report.figures
    assert "NaF has no descriptors in this store" in page  # the NaF claim on an Al campaign: undecidable


def panel(**columns):
    import pandas as pd

    return pd.DataFrame({"calculator": "chgnet", **columns})


def test_descriptor_claims_are_judged_like_orderings():
    from seiscreen.report.panel import judge_descriptor_claims

    def verdicts(frame):
        claims = judge_descriptor_claims(frame)
        return dict(zip(claims["claim"], claims["verdict"], strict=True))

    stiff = verdicts(panel(material=["NaF", "NaBr"], monroe_newman_ratio=[3.0, 1.0], barrier=[0.3, 0.1],
                           bulk_barrier=[None, 0.4]))
    assert stiff["wang2020-NaF-high-shear-modulus"] == "reproduced"
    assert stiff["luo2022-NaBr-bulk-barrier-above-surface"] == "reproduced"  # 0.4 > 0.1
    assert stiff["luo2022-Na3P-channels-below-NaBr-bulk"] == "undecidable"  # no Na3P
    assert stiff["luo2022-NaBr-wider-gap-than-Na3P"] == "undecidable"  # no band gap column
    soft = verdicts(panel(material=["NaF", "NaBr"], monroe_newman_ratio=[1.5, 1.0], barrier=[0.3, 0.5],
                          bulk_barrier=[None, 0.4]))
    assert soft["wang2020-NaF-high-shear-modulus"] == "violated"
    assert soft["luo2022-NaBr-bulk-barrier-above-surface"] == "violated"
