"""Saddle checks and D(T) in a campaign (issue 33), end to end with EMT (Au on Al(100): one hollow per cell, one hop
class to the four neighbouring hollows), where both have closed forms to hold them to."""

import math

import pytest
from jobflow import run_locally
from typer.testing import CliRunner

from seiscreen.cli import app
from seiscreen.hopgraph import hop_specs
from seiscreen.kinetic_schemas import ModesDoc
from seiscreen.kinetics import KineticsSettings, apply_checks
from seiscreen.results import load_results
from seiscreen.schemas import HopDoc, MinimaDoc, SaddleCheckDoc
from seiscreen.store import open_store
from seiscreen.verdicts import summarise_surface
from seiscreen.workflow.flows import campaign_flow
from seiscreen.workflow.saddles import LOWER_BY
from tests.workflow.test_pipeline_emt import emt_campaign

KB = 8.617333262e-5  # eV/K


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("kinetics") / "store"
    store = open_store(path)
    run_locally(campaign_flow(emt_campaign(kinetics={"second_band": True})), store=store, log=False)
    return path


def test_the_hollow_to_hollow_hop_is_checked_and_is_a_first_order_saddle(store_path):
    results = load_results(str(store_path))
    (hop,) = results.hops.itertuples()
    assert hop.status == "accepted" and hop.first_order_saddle
    assert hop.tangent_overlap >= 0.7 and hop.imaginary_frequency > 0
    assert 1e11 < hop.attempt_forward < 1e14 and hop.attempt_reverse == pytest.approx(hop.attempt_forward, rel=0.05)
    checks = [SaddleCheckDoc.model_validate(c["output"]) for c in open_store(str(store_path)).query(
        {"output.doc_type": "saddle_check"}, properties=["output"])]
    assert len(checks) == 2  # the hop's band and the limiting hop's second band (test below)
    (doc,) = [c for c in checks if c.attempt_forward == hop.attempt_forward]
    assert len(doc.atoms) > 1 and doc.saddle.n_imaginary == 1 and doc.start.n_imaginary == doc.end.n_imaginary == 0
    assert doc.force_calls == 3 * 2 * 3 * len(doc.atoms)  # three states, central differences over the shell


def test_the_limiting_hop_gets_a_second_band_pushed_across_it(store_path):
    """The surface's limiting hop is computed again from its band pushed across the hop, unmirrored: on this
    surface it finds the same saddle (within LOWER_BY), so the first band is kept and the second is listed in its
    alternatives; the surface's force calls count both bands and every Hessian."""
    store = open_store(str(store_path))
    (surface,) = store.query({"output.doc_type": "surface"}, properties=["output"])
    (summary,) = surface["output"]["hops"]
    kept = next(HopDoc.model_validate(d["output"]) for d in store.query(
        {"output.doc_type": "hop"}, properties=["output"], load=True)
        if any(a.get("second_band") for a in d["output"]["alternatives"]))
    (second,) = [a for a in kept.alternatives if a.get("second_band")]
    assert second["status"] == "accepted" and not second["lower"]
    assert second["forward_barrier"] == pytest.approx(kept.forward_barrier, abs=LOWER_BY + 0.005)
    assert summary["content_hash"] == kept.content_hash and summary["job_uuid"] == kept.job_uuid
    (minima,) = store.query({"output.doc_type": "minima"}, properties=["output.force_calls"])
    checks = store.query({"output.doc_type": "saddle_check"}, properties=["output.force_calls"])
    hessians = sum(c["output"]["force_calls"] for c in checks)
    assert surface["output"]["force_calls"] == (minima["output"]["force_calls"] + kept.force_calls
                                                + second["force_calls"] + hessians)


def test_diffusion_on_a_square_lattice_of_one_site_is_gamma_a_squared(store_path):
    results = load_results(str(store_path))
    (surface,) = results.surfaces.itertuples()
    (hop,) = results.hops.itertuples()
    # One site per cell, hops of length a to its four neighbours at rate G = nu exp(-E / kT): D = G a^2.
    rate = hop.attempt_forward * math.exp(-surface.barrier / (KB * 300.0))
    assert surface.d_300 == pytest.approx(rate * hop.length ** 2 * 1e-16, rel=1e-6)
    assert surface.diffusion_activation == pytest.approx(surface.barrier, abs=1e-6)  # a T-independent prefactor
    assert surface.diffusion_rank == 2 and surface.attempt_frequencies == "vineyard"
    assert surface.rank_diffusion == 1
    assert math.isnan(surface.d_300_lower)  # EMT has no measured barrier ± to give D(300 K) a range


def test_results_rank_by_diffusion(store_path):
    shown = CliRunner().invoke(app, ["results", "--store", str(store_path), "--rank-by", "diffusion"],
                               env={"COLUMNS": "300"})
    text = " ".join(shown.output.split())
    assert shown.exit_code == 0 and "ranked by diffusion" in text and "D(300 K)" in text
    bad = CliRunner().invoke(app, ["results", "--store", str(store_path), "--rank-by", "speed"])
    assert bad.exit_code == 2 and "unknown --rank-by 'speed'" in bad.output


def test_a_hop_that_fails_its_check_is_never_ranked(store_path):
    store = open_store(str(store_path))
    hop = HopDoc.model_validate(next(iter(store.query({"output.doc_type": "hop"}, properties=["output"],
                                                      load=True)))["output"])
    (minima,) = store.query({"output.doc_type": "minima"}, properties=["output"], load=True)
    minima = MinimaDoc.model_validate(minima["output"])
    check = store.query_one({"output.doc_type": "saddle_check", "output.hop_content_hash": hop.content_hash},
                            properties=["output"])
    second_order = SaddleCheckDoc.model_validate(check["output"]).model_copy(update={
        "first_order_saddle": False, "attempt_forward": None, "attempt_reverse": None,
        "saddle": ModesDoc(frequencies=[-2e12, -1e12, 3e12], n_imaginary=2, passed=False,
                           reason="2 imaginary modes, not 1: not a first-order saddle")})
    (judged,) = apply_checks([hop], [second_order])
    assert judged.status == "failed" and not judged.gates["first_order_saddle"]
    assert "climbing image: 2 imaginary modes" in judged.reason
    _, graph = hop_specs(minima, 6.0)
    assert summarise_surface(minima, [judged], graph, hop.provenance).status != "ranked"


def test_saddle_checks_are_on_for_ml_and_emt_and_off_for_dft_unless_asked():
    default = KineticsSettings()
    assert default.checks_saddles("emt") and default.checks_saddles("chgnet") and not default.checks_saddles("gpaw")
    assert KineticsSettings(saddle_check=True).checks_saddles("gpaw")
    assert not KineticsSettings(saddle_check=False).checks_saddles("chgnet")


def test_a_band_on_a_higher_order_saddle_is_computed_again_off_it(tmp_path):
    """Au on Al(100) at EMT's own lattice: the symmetric (mirrored) band climbs to the bridge, which has a second
    imaginary mode across the hop. The band pushed along that mode converges on a first-order saddle, which is kept
    and ranked; the bridge band is listed among its alternatives, never ranked. (The two climbing images lie within
    a few meV: at the bands' fmax of 0.05 eV/Å a soft sideways mode leaves that much, 0.351 against 0.348 eV.)"""
    from tests.workflow.test_pipeline_emt import SLAB

    store = open_store(tmp_path / "store")
    run_locally(campaign_flow(emt_campaign(slab={**SLAB.model_dump(), "lattice": "calculator"})), store=store,
                log=False)
    results = load_results(store)
    (surface,) = results.surfaces.itertuples()
    bridge, kept = sorted(results.hops.itertuples(), key=lambda h: h.first_order_saddle)
    assert not bridge.first_order_saddle and kept.first_order_saddle and surface.status == "ranked"
    assert kept.forward_barrier == pytest.approx(bridge.forward_barrier, abs=0.02)  # the same hop, off the ridge
    assert surface.barrier == pytest.approx(kept.forward_barrier, abs=0.005)
    (doc,) = store.query({"output.doc_type": "surface"}, properties=["output"])
    (summary,) = doc["output"]["hops"]
    assert summary["first_order_saddle"] and summary["forward_barrier"] == kept.forward_barrier


def test_the_report_shows_d_300_beside_the_barrier(store_path, tmp_path):
    from seiscreen.report.html import write_report

    page = write_report(open_store(str(store_path)), tmp_path / "report", bands=False).index.read_text()
    (surface,) = load_results(str(store_path)).surfaces.itertuples()
    assert "D(300 K) (cm²/s)" in page and f"{surface.d_300:.1e}" in page
