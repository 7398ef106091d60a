"""The active-learning loop: EMT screens, EMT recording frames stands in for DFT, CHGNet is fine-tuned on them.

The engine's decisions are tested on plain numbers; the loop end to end (slow: a few minutes on one core) runs the
whole campaign twice, the second time reusing every model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from typer.testing import CliRunner

from seiscreen import calculators
from seiscreen.active_learning import ActiveLearningSettings, added_in, decide, round_frames, round_name
from seiscreen.cli import app
from seiscreen.committee import BarrierSpread

SETTINGS = ActiveLearningSettings(committee=2, spread_threshold=0.05, dft_budget=5, max_rounds=3)


def _frame(k: int, kind: str) -> Atoms:
    atoms = Atoms("Al", positions=[[0, 0, k]], cell=[5, 5, 5])
    atoms.calc = SinglePointCalculator(atoms, energy=float(k), forces=np.zeros((1, 3)))
    atoms.info.update(frame_id=f"f{k}", kind=kind, preset="emt-dft")
    return atoms


def test_the_loop_goes_on_only_while_a_spread_is_over_the_threshold_and_budget_and_rounds_remain():
    spreads = [BarrierSpread("A hop1", (0.10, 0.30)), BarrierSpread("B hop2", (0.10, 0.12)),
               BarrierSpread("C hop1", (0.2, 0.29))]
    going = decide(spreads, SETTINGS, 1, 0)
    assert going.stop is None and [s.label for s in going.flagged] == ["A hop1", "C hop1"]  # largest spread first
    assert going.single_points == 4  # two per disputed hop
    assert decide(spreads, SETTINGS, 1, 3).single_points == 2  # what the budget has left
    assert "budget spent (5 of 5" in decide(spreads, SETTINGS, 2, 5).stop
    assert "max_rounds (3)" in decide(spreads, SETTINGS, 3, 0).stop
    calm = decide([BarrierSpread("B hop2", (0.10, 0.12))], SETTINGS, 1, 0)
    assert "at most 0.05 eV" in calm.stop and calm.single_points == 0
    assert "no ranked surface" in decide([], SETTINGS, 1, 0).stop


def test_a_round_trains_on_the_frames_before_it_and_is_named_by_them():
    frames = [_frame(0, "minima"), _frame(1, "hop"), _frame(2, "active-learning r1 saddle"),
              _frame(3, "active-learning r2 start")]
    assert [added_in(f) for f in frames] == [None, None, 1, 2]
    assert [f.info["frame_id"] for f in round_frames(frames, 1)] == ["f0", "f1"]
    assert [f.info["frame_id"] for f in round_frames(frames, 2)] == ["f0", "f1", "f2"]
    first = round_name("al", 1, round_frames(frames, 1), SETTINGS)
    assert first == round_name("al", 1, round_frames(frames, 1)[::-1], SETTINGS)  # not the order: the frames
    assert first.startswith("al-r1-") and first != round_name("al", 1, frames[:1], SETTINGS)
    assert first != round_name("al", 1, round_frames(frames, 1), SETTINGS.model_copy(update={"epochs": 3}))


CAMPAIGN = ("name: t\nadsorbate: Au\nmaterials:\n  - material: Al\n"
            "slab:\n  min_thickness: 5.0\n  vacuum: 10.0\n  min_lateral_size: 5.5\n")


@pytest.mark.parametrize("text, message", [
    ("calculator: emt\nfinetune: {committee: 2}\n", "finetune needs fidelities: [ML preset, DFT preset]"),
    ("fidelities: [emt, chgnet]\nfinetune: {}\n", "the second fidelity 'chgnet' records no training frames"),
    ("fidelities: [emt, gpaw-lcao]\nfinetune: {committee: 1}\n", "finetune.committee: Input should be greater"),
    ("fidelities: [emt, gpaw-lcao]\nfinetune: {comittee: 3}\n", "unknown key 'finetune.comittee' (did you mean "
                                                                "'committee'?)"),
    ("fidelities: [emt, gpaw-lcao]\nfinetune: {dft_budget: -1}\n", "finetune.dft_budget: Input should be greater"),
])
def test_bad_loop_settings_are_one_line_before_anything_runs(text, message, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CAMPAIGN + text)
    result = CliRunner().invoke(app, ["run", str(path), "--store", str(tmp_path / "store")], env={"COLUMNS": "400"})
    line = result.output.strip()
    assert result.exit_code == 2 and line.startswith("error:") and "\n" not in line, result.output
    assert message in line and not (tmp_path / "store").exists()


# ----------------------------------------------------------------------------------------------- end to end (slow)

LOOP = {"committee": 2, "epochs": 1, "spread_threshold": 1e-4, "dft_budget": 2, "max_rounds": 3, "name": "al"}


def _rounds(location: str) -> list[dict]:
    from seiscreen.store import open_store

    docs = open_store(location, create=False).query({"output.doc_type": "active_learning_round"},
                                                    properties=["output", "completed_at"])
    return [d["output"] for d in sorted(docs, key=lambda d: d["completed_at"])]


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory):
    """The campaign run twice into one store: EMT screens Au on Al(100), "emt-dft" (EMT, recording frames) is the
    DFT level, the loop fine-tunes CHGNet committees of two. The budget (2 single points) ends it after round 2."""
    pytest.importorskip("chgnet")
    from rich.console import Console

    from seiscreen.campaign import Campaign
    from seiscreen.runner import run_campaign

    root = tmp_path_factory.mktemp("loop")
    stand_in = calculators.PRESETS["emt"].model_copy(update={"name": "emt-dft", "records_frames": True})
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(calculators.PRESETS, "emt-dft", stand_in)
        patch.setenv("SEISCREEN_MODELS", str(root / "models"))
        campaign = Campaign(name="al-loop", fidelities=["emt", "emt-dft"], adsorbate="Au",
                            materials=[{"material": "Al"}],
                            slab={"min_thickness": 5.0, "vacuum": 10.0, "min_lateral_size": 5.5},
                            kinetics={"saddle_check": False}, finetune=LOOP)
        location = str(root / "store")
        run_campaign(campaign, location, Console(quiet=True))
        first = _rounds(location)
        manifests = {p.parent.name: json.loads(p.read_text()) for p in (root / "models").glob("*/manifest.json")}
        run_campaign(campaign, location, Console(quiet=True))
    return location, root, first, manifests, campaign


@pytest.mark.slow
def test_the_loop_stops_on_the_budget_and_trains_on_what_it_added(loop_run):
    location, root, rounds, *_ = loop_run
    assert [r["round"] for r in rounds] == [1, 2]
    one, two = rounds
    assert one["stop"] is None and one["single_points"] == 2 and one["dft_spent"] == 2
    assert two["single_points"] == 0 and "budget spent (2 of 2" in two["stop"]
    assert two["n_frames"] == one["n_frames"] + 2 and (one["loop_frames"], two["loop_frames"]) == (0, 2)
    assert one["models"][0].startswith("al-r1-") and one["models"][1] == one["models"][0] + "-2"
    assert two["models"][0].startswith("al-r2-") and two["models"][0] != one["models"][0]
    from seiscreen.results import load_results

    added = [f for f in load_results(location).frames if str(f.info["kind"]).startswith("active-learning")]
    assert sorted(f.info["kind"] for f in added) == ["active-learning r1 saddle", "active-learning r1 start"]
    manifest = json.loads((Path(location) / "runs" / "active-learning" / "al" / "manifest.json").read_text())
    assert [r["round"] for r in manifest["rounds"]] == [1, 2] and manifest["rounds"][1]["stop"] == two["stop"]


@pytest.mark.slow
def test_each_ranked_barrier_carries_its_committee_spread_in_its_plus_minus(loop_run):
    from seiscreen.results import load_results

    location, root, rounds, _, campaign = loop_run
    last = rounds[-1]
    (row,) = last["spreads"]  # one surface, ranked at the fine-tuned level
    assert row["spread"] == pytest.approx(abs(row["member_barriers"][0] - row["member_barriers"][1]))
    assert row["spread"] > 0 and row["calculator"] == f"ml-ft:{last['models'][0]}"
    surfaces = load_results(location).surfaces
    (mine,) = surfaces[surfaces["calculator"] == row["calculator"]].itertuples()
    assert mine.committee_spread == pytest.approx(row["spread"]) and mine.barrier == pytest.approx(row["barrier"])
    assert mine.barrier_uncertainty == pytest.approx(row["spread"])  # ml-ft has no measured residual of its own
    assert surfaces[surfaces["calculator"] == "emt"]["committee_spread"].isna().all()
    shown = CliRunner().invoke(app, ["results", "--store", location], env={"COLUMNS": "300"})
    assert shown.exit_code == 0 and f"± {row['spread']:.3f}" in shown.output, shown.output
    assert "± includes the committee spread" in shown.output
    from seiscreen.cli_tables import loop_protocols

    assert loop_protocols(campaign, surfaces) == [mine.protocol_id]  # what `seiscreen run` prints after the funnel
    from seiscreen.report.html import write_report

    page = write_report(location, root / "report", bands=False).index.read_text()
    assert f"{mine.barrier:.3f} ± {row['spread']:.3f}" in page
    # Under each fine-tuned level's table (rounds 1 and 2), not under the EMT ones.
    assert page.count("± includes the committee spread") == surfaces["committee_spread"].notna().sum() == 2


@pytest.mark.slow
def test_a_rerun_reuses_every_round_s_models(loop_run):
    location, root, first, manifests, _ = loop_run
    again = _rounds(location)[len(first):]
    assert [r["round"] for r in again] == [1, 2]
    assert all(all(r["reused"]) for r in again) and not any(any(r["reused"]) for r in first)
    assert [r["models"] for r in again] == [r["models"] for r in first]
    now = {p.parent.name: json.loads(p.read_text()) for p in (root / "models").glob("*/manifest.json")}
    assert now == manifests and len(now) == 4  # two rounds of two: nothing trained again


def _fake_finetune(trained: list):
    """Stands in for seiscreen.finetune.finetune: records the call and writes a manifest of the frames' split."""
    from seiscreen.finetune import FinetuneManifest

    def finetune(frames, folder, settings):
        metrics = {"n_frames": 1, "energy_mae_per_atom": 0.0, "force_mae": 0.1}
        ids = sorted(f.info["frame_id"] for f in frames)
        manifest = FinetuneManifest(
            name=folder.name, created="now", base_model="0.3.0", torch_version="x", dft_preset="emt-dft",
            settings=settings, n_frames=len(frames), split={"train": ids[1:], "validation": ids[:1], "test": []},
            reference_shifts={}, trainable_parameters=1, test=None, history={},
            validation={"base": metrics, "base_refit": metrics, "finetuned": metrics}, train_seconds=0.0,
            seconds_per_epoch=0.0, wall_seconds=0.0, weights_file="w", weights_sha256="0")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").write_text(manifest.model_dump_json())
        trained.append((folder.name, settings.seed))
        return manifest

    return finetune


def test_a_committee_is_trained_where_missing_reused_where_done_and_never_mixed_with_other_frames(tmp_path,
                                                                                                monkeypatch):
    from seiscreen.active_learning import train_committee
    from seiscreen.errors import SeiscreenError

    trained = []
    monkeypatch.setattr("seiscreen.active_learning.finetune", _fake_finetune(trained))
    frames = [_frame(k, "hop") for k in range(4)]
    settings = SETTINGS.model_copy(update={"committee": 3})
    (tmp_path / "m-2").mkdir()  # a training killed before its manifest: trained again
    _fake_finetune([])(frames, tmp_path / "m", settings.finetune_settings(0))  # finished before the kill
    members = train_committee(frames, tmp_path, "m", settings)
    assert [(m.name, m.reused) for m in members] == [("m", True), ("m-2", False), ("m-3", False)]
    assert trained == [("m-2", 1), ("m-3", 2)]  # member k is seed k
    assert all(m.reused for m in train_committee(frames, tmp_path, "m", settings)) and len(trained) == 2
    with pytest.raises(SeiscreenError, match="holds a model of other frames"):
        train_committee(frames[:3], tmp_path, "m", settings)
