"""Campaign files: the shipped ones validate, and every malformed one is one clear error."""

from pathlib import Path

import pytest

from seiscreen.campaign import load_campaign
from seiscreen.errors import SeiscreenError

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_campaigns_validate(path):
    campaign = load_campaign(path)
    assert campaign.materials


def test_quickstart_is_the_three_review_coatings_with_the_ml_potential():
    campaign = load_campaign(WORKFLOWS / "quickstart.yaml")
    assert campaign.calculator == "ml"
    assert [(m.material, m.facets) for m in campaign.materials] == [
        ("NaF", [(1, 0, 0)]), ("NaBr", [(1, 0, 0)]), ("Na2Se", [(1, 0, 0)])]


def write(tmp_path, text):
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    return path


BASE = "name: t\ncalculator: emt\nadsorbate: Au\nmaterials:\n  - material: Al\n"


@pytest.mark.parametrize("text, message", [
    (BASE + "matrials: []\n", r"unknown key 'matrials' \(did you mean 'materials'\?\): allowed keys are"),
    (BASE + "slab:\n  vacum: 12\n", r"unknown key 'slab.vacum' \(did you mean 'vacuum'\?\)"),
    (BASE + "neb:\n  n_image: 3\n", r"unknown key 'neb.n_image' \(did you mean 'n_images'\?\)"),
    ("name: t\nmaterials: []\n", "lists no materials"),
    ("materials:\n  - material: Al\n", "missing key 'name'"),
    (BASE.replace("emt", "vasp"), "unknown calculator preset 'vasp'"),
    (BASE + "minima:\n  adsorbate: Li\n", "conflicting settings: adsorbate 'Au' but minima.adsorbate 'Li'"),
    (BASE + "slab:\n  vacuum: 2\n", r"vacuum 2.0 Å is too small"),
    (BASE + "slab:\n  vacuum: -5\n", r"vacuum -5.0 Å is too small"),
    (BASE + "  - material: NaF\n    facets: ['000']\n", "Miller index"),
    ("name: [unclosed\n", "is not valid YAML"),
    (BASE + "    adsorbate: Qq\n", "materials.0.adsorbate: unknown adsorbate element 'Qq'"),
])
def test_bad_campaign_is_one_clear_error(tmp_path, text, message):
    with pytest.raises(SeiscreenError, match=message):
        load_campaign(write(tmp_path, text))


def test_missing_campaign_file(tmp_path):
    with pytest.raises(SeiscreenError, match="campaign file .* not found"):
        load_campaign(tmp_path / "nope.yaml")


def test_overrides_replace_top_level_keys(tmp_path):
    campaign = load_campaign(write(tmp_path, BASE), calculator="chgnet")
    assert campaign.calculator == "chgnet"


def test_a_material_may_carry_its_own_adatom(tmp_path):
    """Metal self-diffusion: Au on Al and Cu on Cu in one campaign, each surface keyed by its own adatom."""
    from seiscreen.workflow.flows import plan_surfaces

    text = BASE + "  - material: Cu\n    adsorbate: Cu\nslab:\n  min_thickness: 4\n  min_lateral_size: 5\n"
    planned = plan_surfaces(load_campaign(write(tmp_path, text)))
    assert {(p.material, p.slab.key.adsorbate) for p in planned} == {("Al", "Au"), ("Cu", "Cu")}
    assert len({p.content_hash for p in planned}) == len(planned)


def test_the_funnel_recomputes_every_screened_surface_unless_a_top_k_is_set():
    """A surface the screening level could not rank (a band that failed its gates) is no verdict on it: without
    top_k the next level gets it too, after the ranked ones; with top_k only the best ranked go on."""
    from types import SimpleNamespace

    from seiscreen.workflow.flows import funnel_candidates

    def surface(name, status, barrier=None, slab="slab"):
        return SimpleNamespace(name=name, status=status, ranking_barrier=barrier, slab=slab)

    docs = [surface("NaBr", "ranked", 0.19), surface("Na2Se", "incomplete", 0.125), surface("NaF", "ranked", 0.15),
            surface("NaI", "no_path"), surface("Na3P", "failed", slab=None)]
    assert [d.name for d in funnel_candidates(docs, None)] == ["NaF", "NaBr", "Na2Se", "NaI"]
    assert [d.name for d in funnel_candidates(docs, 1)] == ["NaF"]
