"""The descriptor panel end to end with EMT (Al, a Au adatom: Au is the deposited metal), its campaign key and its
reuse by content hash. Stability against the metal and bulk transport need a compound of the metal: an L1_2 Au3Cu
cell (a CIF; its competing phases Cu and Au from ASE) gets the panel alone, in the same store."""

import json

import pandas as pd
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read, write
from jobflow import Flow, run_locally
from typer.testing import CliRunner

from seiscreen.cli import app
from seiscreen.descriptor_schemas import DescriptorSettings
from seiscreen.descriptors.bulk import relax_bulk
from seiscreen.descriptors.mechanical import compute_mechanical
from seiscreen.descriptors.stability import compute_stability
from seiscreen.descriptors.transport import compute_transport
from seiscreen.errors import SeiscreenError
from seiscreen.results import load_results
from seiscreen.store import open_store
from seiscreen.workflow.descriptors import descriptor_jobs
from seiscreen.workflow.flows import campaign_flow
from tests.workflow.test_pipeline_emt import UNCHECKED, emt_campaign

# Transport in a 32-atom Au3Cu cell (2x2x2 conventional, 7.9 Å wide) keeps the test fast; the GPAW gap, coarse,
# for Al only (a metal whatever the settings).
GAP = {"pw_cutoff_eV": 250, "kpt_density_start": 1.0, "max_meshes": 2, "band_path": False}
DESCRIPTORS = {"mechanical": {"relax_ions": False}, "transport": {"min_image_distance": 7.0}, "gap": GAP}


def au3cu(folder) -> str:
    """L1_2 Au3Cu (Cu on the corners, Au on the face centres: Au sites connected in 3D), as a CIF."""
    atoms = bulk("Au", "fcc", a=3.95, cubic=True)
    atoms.symbols[0] = "Cu"
    write(folder / "Au3Cu.cif", atoms)
    return str(folder / "Au3Cu.cif")


def run_panel(store, cif: str) -> None:
    """The EMT campaign (Al), then the panel alone for the Au3Cu CIF (no surface of it is computed)."""
    run_locally(campaign_flow(emt_campaign(descriptors=DESCRIPTORS, kinetics=UNCHECKED)), store=store, log=False)
    alloy = emt_campaign(materials=[{"material": cif}], descriptors={**DESCRIPTORS, "gap": False})
    run_locally(Flow(descriptor_jobs(alloy)), store=store, log=False)


@pytest.fixture(scope="module")
def panel_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    store = open_store(folder)
    store.folder = folder  # for the command line
    store.cif = au3cu(tmp_path_factory.mktemp("cif"))
    run_panel(store, store.cif)
    return store


def test_panel_row_per_material_with_barrier_sodiophilicity_and_moduli(panel_store):
    results = load_results(panel_store)
    panel = results.descriptors.set_index("material")
    assert set(panel.index) == {"Al", "Au", panel_store.cif} and panel.loc["Au", "role"] == "reference"
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
    # Al holds no Au: its stability against Au and the bulk transport of Au do not apply (not errors).
    assert al["skipped"] == "stability: Al holds no Au; transport: Al holds no Au" and pd.isna(al["bulk_barrier"])


def test_stability_and_bulk_barrier_match_the_engines_called_directly(panel_store):
    row = load_results(panel_store).descriptors.set_index("material").loc[panel_store.cif]
    assert not row["errors"] and not row["skipped"]
    settings = DescriptorSettings(**DESCRIPTORS).for_metal("Au")
    relaxed = {name: relax_bulk(atoms, EMT()) for name, atoms in
               {"Au": bulk("Au"), "Cu": bulk("Cu"), "Au3Cu": read(panel_store.cif)}.items()}
    direct = compute_stability("Au3Cu", {k: v.energy_per_atom for k, v in relaxed.items()}, settings.stability)
    assert row["stable_against_na"] == direct.stable_against_metal
    assert row["reaction_energy_per_na"] == pytest.approx(direct.reaction_energy_ev_per_metal_atom, abs=1e-6)
    assert row["energy_above_hull"] == pytest.approx(direct.energy_above_hull_ev_per_atom, abs=1e-5)
    transport = compute_transport(relaxed["Au3Cu"].atoms(), EMT, settings.transport)
    assert transport.vacancy.supercell_atoms == 32 and transport.percolation_barrier_eV is not None
    assert row["bulk_barrier"] == pytest.approx(transport.percolation_barrier_eV, abs=1e-3)
    assert row["bulk_vacancy_barrier"] == row["bulk_barrier"] and pd.isna(row["bulk_interstitial_barrier"])


def test_competing_phases_are_documents_of_their_own_shared_and_not_panel_rows(panel_store):
    docs = [d["output"] for d in panel_store.query({"output.doc_type": "descriptors"}, properties=["output"])]
    phases = [d for d in docs if d["role"] == "phase"]
    assert [d["material"] for d in phases] == ["Cu"]  # Au is the reference metal's own document
    assert phases[0]["bulk"] is not None and phases[0]["stability"] is None and phases[0]["mechanical"] is None
    (alloy,) = [d for d in docs if d["material"] == panel_store.cif]
    assert alloy["stability"]["phases_present"] == ["Au", "Cu", "CuAu3"]  # pymatgen's reduced formulas
    assert alloy["transport"]["vacancy"]["hops"][0]["status"] in ("accepted", "barrierless")
    assert "Cu" not in set(load_results(panel_store).descriptors["material"])


def test_band_gap_from_gpaw_and_reused_by_another_documents_settings(panel_store, monkeypatch):
    al = load_results(panel_store).descriptors.set_index("material").loc["Al"]
    assert al["band_gap_kind"] == "metal" and al["band_gap_ev"] == 0.0  # Al is a metal

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr("seiscreen.workflow.descriptors.compute_gap", fail)
    other = {**DESCRIPTORS, "mechanical": {"relax_ions": False, "fmax": 0.02}, "stability": False,
             "transport": False}  # another document of Al, the same gap settings: its gap is the stored one
    run_locally(Flow(descriptor_jobs(emt_campaign(descriptors=other))), store=panel_store, log=False)
    docs = [d["output"] for d in panel_store.query({"output.doc_type": "descriptors", "output.material": "Al"},
                                                    properties=["output"])]
    assert len(docs) == 2 and not any(d["errors"] for d in docs)
    assert docs[0]["gap"] == docs[1]["gap"] and docs[0]["gap_hash"] == docs[1]["gap_hash"]


def test_stability_metal_is_the_deposited_metal():
    with pytest.raises(SeiscreenError, match="descriptors.stability.metal 'Na'"):
        emt_campaign(descriptors={"stability": {"metal": "Na"}})
    assert emt_campaign(descriptors={"transport": {"species": "Au"}}).descriptors.transport.species == "Au"


def test_a_rerun_reuses_the_stored_documents(panel_store, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr("seiscreen.workflow.descriptors.relax_bulk", fail)  # any computation would store an error
    before = panel_store.count({"output.doc_type": "descriptors"})
    run_panel(panel_store, panel_store.cif)
    docs = list(panel_store.query({"output.doc_type": "descriptors"}, properties=["output"]))
    # Au (reference, twice: the alloy's panel has the gap off), Al, Cu (phase), Au3Cu: each stored again, reused
    assert len(docs) == before + 5 and not any(d["output"]["error"] for d in docs)
    by_hash: dict = {}
    for d in docs:
        by_hash.setdefault(d["output"]["content_hash"], set()).add(
            json.dumps([d["output"][k] for k in ("mechanical", "stability", "transport", "gap")], sort_keys=True))
    assert all(len(parts) == 1 for parts in by_hash.values())  # each document twice, the same numbers


def test_results_command_prints_the_panel(panel_store):
    result = CliRunner().invoke(app, ["results", "--descriptors", "--format", "json", "--store",
                                      str(panel_store.folder)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["material"] for r in rows} == {"Al", "Au", panel_store.cif}
    (alloy,) = [r for r in rows if r["material"] == panel_store.cif]
    assert alloy["bulk_barrier"] > 0 and alloy["stable_against_na"] is True
    table = CliRunner().invoke(app, ["results", "--descriptors", "--store", str(panel_store.folder)])
    assert table.exit_code == 0 and "G/G(Au)" in table.output and "bulk barrier" in table.output
    assert f"{alloy['bulk_barrier']:.3f}" in table.output and "stable" in table.output and "metal" in table.output


def test_campaign_key_switches(tmp_path):
    from seiscreen.campaign import Campaign, load_campaign

    assert emt_campaign().descriptors is None and emt_campaign(descriptors=None).descriptors is None
    assert emt_campaign(descriptors={}).descriptors.enabled() == ["mechanical", "sodiophilicity", "stability",
                                                                  "transport", "gap"]
    off = {"mechanical": False, "stability": False, "transport": False, "gap": False}
    campaign = emt_campaign(descriptors=off)
    assert campaign.descriptors.enabled() == ["sodiophilicity"]
    # a campaign handed to a job is serialised and read back: what is off stays off
    for c in (emt_campaign(), campaign):
        assert Campaign.model_validate(c.model_dump()).descriptors == c.descriptors
    # in a campaign file, an empty key means on with the defaults
    path = tmp_path / "c.yaml"
    path.write_text("name: c\ncalculator: emt\nadsorbate: Au\nmaterials: [{material: Al}]\n"
                    "descriptors:\n  mechanical:\n  gap: false\n")
    assert load_campaign(path).descriptors.enabled() == ["mechanical", "sodiophilicity", "stability", "transport"]
    path.write_text("name: c\ncalculator: emt\nadsorbate: Au\nmaterials: [{material: Al}]\ndescriptors:\n")
    assert len(load_campaign(path).descriptors.enabled()) == 5


def test_report_shows_the_panel_its_figure_and_the_claims(panel_store, tmp_path):
    from seiscreen.report.html import write_report

    report = write_report(panel_store, tmp_path / "report", bands=False)
    page = report.index.read_text(encoding="utf-8")
    assert "Descriptor panel" in page and "G/G(Au)" in page and "bulk barrier (eV)" in page and "vs Au" in page
    assert "PBE gap (eV)" in page and ">metal<" in page  # Al's gap
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


@pytest.mark.slow
def test_chgnet_panel_finds_nabi_reacting_with_na_through_shared_phase_documents(tmp_path):
    from seiscreen.calculators import get_preset
    from seiscreen.campaign import Campaign
    from seiscreen.workflow.descriptors import material_atoms

    off = {"mechanical": False, "transport": False, "gap": False}
    campaign = Campaign(name="nabi", calculator="chgnet", materials=[{"material": "NaBi"}, {"material": "Na3Bi"}],
                        descriptors=off)
    store = open_store(tmp_path)
    run_locally(Flow(descriptor_jobs(campaign)), store=store, log=False)
    docs = [d["output"] for d in store.query({"output.doc_type": "descriptors"}, properties=["output"])]
    # Each competing phase relaxed once: Bi shared by both materials, each material a phase of the other
    assert sorted(d["material"] for d in docs if d["role"] == "phase") == ["Bi", "Na3Bi", "NaBi"]
    panel = load_results(store).descriptors.set_index("material")
    assert not panel.loc["NaBi", "stable_against_na"] and panel.loc["NaBi", "reaction_products"] == "Na3Bi"
    assert panel.loc["Na3Bi", "stable_against_na"]  # the Na-richest Na-Bi phase
    calc = get_preset("chgnet").make()
    energies = {name: relax_bulk(material_atoms(name), calc).energy_per_atom for name in ("Na", "Bi", "NaBi", "Na3Bi")}
    direct = compute_stability("NaBi", energies)
    assert panel.loc["NaBi", "reaction_energy_per_na"] == pytest.approx(direct.reaction_energy_ev_per_metal_atom,
                                                                         abs=2e-3)
    assert direct.reaction_energy_ev_per_metal_atom < 0


def test_measured_moduli_are_shown_beside_the_panels_and_reduce_to_the_hand_vrh_formulas():
    from seiscreen.report.html import _measured_moduli
    from seiscreen.report.literature import load_literature

    literature = load_literature()
    nacl = next(m for m in literature.moduli if m.material == "NaCl")
    c11, c12, c44 = nacl.c11_gpa, nacl.c12_gpa, nacl.c44_gpa
    g_voigt = (c11 - c12 + 3 * c44) / 5  # cubic hand formulas
    g_reuss = 5 * (c11 - c12) * c44 / (4 * c44 + 3 * (c11 - c12))
    assert nacl.moduli()["shear_modulus_vrh_gpa"] == pytest.approx((g_voigt + g_reuss) / 2)
    assert nacl.moduli()["bulk_modulus_vrh_gpa"] == pytest.approx((c11 + 2 * c12) / 3)
    table = _measured_moduli(panel(material=["NaCl", "NaBr"], bulk_modulus_gpa=[28.8, 18.5],
                                   shear_modulus_gpa=[8.2, 5.7]), literature)
    assert "28.8 / 24.6" in table and "8.2 / 14.5" in table and "Whitfield 1976" in table
    assert "NaBr" not in table and "E (GPa)" not in table  # NaBr: nothing measured; NaCl's source gives no E
    assert _measured_moduli(panel(material=["NaBr"], bulk_modulus_gpa=[18.5], shear_modulus_gpa=[5.7]),
                            literature) == ""


def test_a_bulk_only_measurement_is_compared_on_the_bulk_modulus_alone():
    from seiscreen.report.html import _measured_moduli
    from seiscreen.report.literature import load_literature
    from seiscreen.report.panel import compare_moduli

    literature = load_literature()
    naf = next(m for m in literature.moduli if m.material == "NaF")
    assert naf.bulk_gpa == 46.79 and naf.kind == "isothermal" and naf.temperature_k == 295
    assert naf.measured() == {"bulk": 46.79, "shear": None, "youngs": None}
    frame = panel(material=["NaF"], bulk_modulus_gpa=[44.2], shear_modulus_gpa=[28.0], youngs_modulus_gpa=[69.4])
    (row,) = compare_moduli(frame, literature).to_dict("records")
    assert row["bulk"] == 44.2 and row["bulk_measured"] == 46.79 and row["conditions"] == "isothermal, 295 K"
    assert row["shear"] == 28.0 and row["shear_measured"] != row["shear_measured"]  # NaN: the source gives no G
    table = _measured_moduli(frame, literature)
    assert "44.2 / 46.8" in table and "28.0 / -" in table and "J. Appl. Cryst. 2025" in table
    assert "(isothermal, 295 K)" in table


def test_the_results_table_shows_the_moduli_against_experiment(capsys):
    from seiscreen.cli_tables import print_measured_moduli
    from seiscreen.report.panel import compare_moduli

    frame = panel(material=["Na", "NaCl"], bulk_modulus_gpa=[5.3, 28.8], shear_modulus_gpa=[0.5, 8.2],
                  youngs_modulus_gpa=[1.3, 22.5])
    compared = compare_moduli(frame)
    assert list(compared["source"]) == ["Whitfield 1976", "M. J. Wang 2020", "matmake.com (handbooks)"]
    print_measured_moduli(compared)
    out = capsys.readouterr().out
    assert "1.3 / 4.6" in out and "0.5 / 2.5" in out and "8.2 / 14.5" in out
