"""Training frames: recorded as a recording preset computes, gathered into the store's ASE database, exported."""

from pathlib import Path

import numpy as np
import pytest
from ase.build import fcc100
from ase.calculators.emt import EMT
from ase.io import read, write
from typer.testing import CliRunner

from seiscreen import calculators
from seiscreen.calculators import CalculatorPreset
from seiscreen.cli import app
from seiscreen.errors import SeiscreenError
from seiscreen.frames import FRAMES_FILE, frame_id, read_frames, record
from seiscreen.results import load_results
from seiscreen.runner import run_campaign
from seiscreen.store import open_store
from seiscreen.store_frames import collect_frames, load_frames
from tests.workflow.test_pipeline_emt import emt_campaign


def _slab():
    atoms = fcc100("Al", (2, 2, 3), vacuum=5.0)
    atoms.calc = EMT()
    return atoms


def test_a_record_keeps_energy_and_forces_and_survives_a_truncated_tail(tmp_path):
    atoms = _slab()
    results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    record(tmp_path, atoms, results, "emt-dft", kind="minima")
    atoms.positions[0, 2] += 0.05
    record(tmp_path, atoms, {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}, "emt-dft")
    record(tmp_path, atoms, {"energy": 1.0}, "emt-dft")  # no forces: not a training frame
    with open(tmp_path / FRAMES_FILE, "a") as stream:
        stream.write("12\nLattice=\"4.0 0")  # a writer killed mid-frame
    first, second = read_frames(tmp_path / FRAMES_FILE)
    assert first.get_potential_energy() == pytest.approx(results["energy"])
    assert np.allclose(first.get_forces(), results["forces"])
    assert second.info["frame_id"] == frame_id(atoms, atoms.get_potential_energy()) != first.info["frame_id"]
    assert first.info["preset"] == "emt-dft" and first.info["kind"] == "minima"


def test_collecting_twice_adds_each_frame_once(tmp_path):
    atoms = _slab()
    record(tmp_path / "runs" / "job_1", atoms, {"energy": atoms.get_potential_energy(),
                                                "forces": atoms.get_forces()}, "emt-dft")
    database = tmp_path / "runs" / "frames.db"
    assert collect_frames(tmp_path / "runs", database) == 1
    assert collect_frames(tmp_path / "runs", database) == 0
    (frame,) = load_frames(database)
    assert np.allclose(frame.get_forces(), atoms.get_forces())


@pytest.fixture(scope="module")
def recorded_store(tmp_path_factory):
    """The EMT campaign run with EMT standing in for DFT (a recording preset), as `seiscreen run` runs it."""
    stand_in = CalculatorPreset(name="emt-dft", code="emt", description="EMT recording frames, as DFT does",
                                records_frames=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(calculators.PRESETS, "emt-dft", stand_in)
        location = str(tmp_path_factory.mktemp("frames") / "store")
        from rich.console import Console

        run_campaign(emt_campaign(calculator="emt-dft"), location, Console(quiet=True))
    return location


def test_a_campaign_records_every_calculation_with_its_job(recorded_store):
    frames = load_results(recorded_store).frames
    kinds = {f.info["kind"] for f in frames}
    assert {"minima", "hop"} <= kinds
    assert {f.info["material"] for f in frames} == {"Al"} and {f.info["preset"] for f in frames} == {"emt-dft"}
    store = open_store(recorded_store, create=False)
    hop_hashes = {d["output"]["content_hash"] for d in store.query({"output.doc_type": "hop"},
                                                                   properties=["output.content_hash"])}
    assert {f.info["content_hash"] for f in frames if f.info["kind"] == "hop"} <= hop_hashes
    for frame in frames[:: max(1, len(frames) // 5)]:  # the stored forces are the calculator's at that geometry
        atoms = frame.copy()
        atoms.calc = EMT()
        assert np.allclose(atoms.get_forces(), frame.get_forces(), atol=1e-6)
    assert len({f.info["frame_id"] for f in frames}) == len(frames)


def test_dataset_exports_the_frames_as_extended_xyz(recorded_store, tmp_path):
    out = tmp_path / "frames.extxyz"
    result = CliRunner().invoke(app, ["dataset", "--store", recorded_store, "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = read(out, ":")
    assert len(written) == len(load_results(recorded_store).frames) > 0
    assert "forces" in written[0].calc.results and written[0].info["preset"] == "emt-dft"
    again = CliRunner().invoke(app, ["dataset", "--store", recorded_store, "--out", str(out)])
    assert again.exit_code == 2 and "exists" in again.output
    none = CliRunner().invoke(app, ["dataset", "--store", recorded_store, "--out", str(tmp_path / "x.extxyz"),
                                    "--preset", "gpaw-lcao"])
    assert none.exit_code == 2 and "no training frames" in none.output


def test_an_ml_preset_records_nothing(tmp_path):
    assert not calculators.get_preset("chgnet").recording and not calculators.get_preset("emt").recording
    assert calculators.get_preset("gpaw-lcao").recording


def test_backfill_recomputes_a_sample_of_stored_structures_as_frames(recorded_store, tmp_path, monkeypatch):
    monkeypatch.setitem(calculators.PRESETS, "emt-dft", calculators.PRESETS["emt"].model_copy(
        update={"name": "emt-dft", "records_frames": True}))
    target = tmp_path / "target"
    args = ["backfill-frames", recorded_store, "--preset", "emt-dft", "--store", str(target), "--per-surface", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frames = load_frames(target / "runs" / "frames.db")
    # The clean slab and the minimum first, then the hop's images from the climbing one: each reproduces its
    # stored energy.
    assert sorted(f.info["kind"] for f in frames) == ["backfill band image"] * 2 + ["backfill clean",
                                                                                    "backfill minimum"]
    assert "[1/4] Al(100) 100-s0.250 clean" in result.output and "[2/4] Al(100) 100-s0.250 minimum" in result.output
    assert "max |Δ| 0.0000 eV" in result.output
    again = CliRunner().invoke(app, args)  # resumed: every structure's folder holds its frame
    assert again.exit_code == 0 and "(0 new)" in again.output
    wrong = CliRunner().invoke(app, [*args[:3], "emt", *args[4:]])
    assert wrong.exit_code == 2 and "records no training frames" in wrong.output


@pytest.mark.slow
def test_finetune_learns_a_store_s_frames_and_its_preset_reruns_a_stored_hop(recorded_store, tmp_path, monkeypatch):
    pytest.importorskip("chgnet")
    monkeypatch.setenv("SEISCREEN_MODELS", str(tmp_path / "models"))
    exported = tmp_path / "frames.extxyz"
    assert CliRunner().invoke(app, ["dataset", "--store", recorded_store, "--out", str(exported)]).exit_code == 0
    subset = tmp_path / "subset.extxyz"  # 40 of the campaign's frames: seconds an epoch on one core
    write(subset, read(exported, ":")[::3][:40], format="extxyz")
    result = CliRunner().invoke(app, ["finetune", "auonal", "--frames", str(subset), "--epochs", "3",
                                      "--committee", "2"])
    assert result.exit_code == 0, result.output
    from seiscreen.finetune import load_finetuned

    _, manifest = load_finetuned(tmp_path / "models" / "auonal")
    given = {f.info["frame_id"] for f in read(subset, ":")}
    assert set(manifest.split.train + manifest.split.validation) == given and manifest.dft_preset == "emt-dft"
    assert manifest.validation.finetuned.force_mae < manifest.validation.base.force_mae  # frames it never saw
    (hop,) = load_results(recorded_store).hops.itertuples()
    rerun = CliRunner().invoke(app, ["rerun-hop", hop.job_uuid, "--store", recorded_store,
                                     "--preset", "ml-ft:auonal"])
    assert rerun.exit_code == 0 and "rerun (ml-ft:auonal)" in rerun.output, rerun.output
    taken = CliRunner().invoke(app, ["finetune", "auonal", "--frames", str(subset)])
    assert taken.exit_code == 2 and "error:" in taken.output
    # The committee of the two seeds: every hop flagged at threshold 0, its start and saddle go to DFT.
    _, second = load_finetuned(tmp_path / "models" / "auonal-2")
    assert second.settings.seed == manifest.settings.seed + 1 and second.split != manifest.split
    chosen = tmp_path / "chosen.extxyz"
    judged = CliRunner().invoke(app, ["committee", "ml-ft:auonal", "ml-ft:auonal-2", "--store", recorded_store,
                                      "--threshold", "0", "--select", str(chosen)])
    assert judged.exit_code == 0 and "flagged" in judged.output, judged.output
    monkeypatch.setitem(calculators.PRESETS, "emt-dft", calculators.PRESETS["emt"].model_copy(
        update={"name": "emt-dft", "records_frames": True}))
    added = CliRunner().invoke(app, ["backfill-frames", "--structures", str(chosen), "--preset", "emt-dft",
                                     "--store", str(tmp_path / "more")])
    assert added.exit_code == 0, added.output
    frames = load_frames(tmp_path / "more" / "runs" / "frames.db")
    assert sorted(f.info["kind"] for f in frames) == ["backfill committee saddle", "backfill committee start"]


def test_finetune_refuses_a_store_of_several_presets_and_a_missing_file(recorded_store, tmp_path):
    missing = CliRunner().invoke(app, ["finetune", "x", "--frames", str(tmp_path / "none.extxyz")])
    assert missing.exit_code == 2 and "no frames file" in missing.output
    empty = CliRunner().invoke(app, ["finetune", "x", "--store", recorded_store, "--preset", "gpaw-lcao"])
    assert empty.exit_code == 2 and "no frames" in empty.output


def test_a_committee_s_spread_is_the_members_disagreement_on_the_barrier(monkeypatch, au_on_al100_hop_ends):
    from ase.calculators.emt import EMT

    from seiscreen.committee import barrier_spreads

    monkeypatch.setitem(calculators.PRESETS, "emt-asap", calculators.PRESETS["emt"].model_copy(
        update={"name": "emt-asap", "parameters": {"asap_cutoff": True}}))
    start, end = au_on_al100_hop_ends
    saddle = start.copy()
    saddle.positions[-1] = (start.positions[-1] + end.positions[-1]) / 2  # the bridge between the two hollows
    expected = []
    for calc in (EMT(), EMT(asap_cutoff=True)):
        energies = []
        for atoms in (start, saddle):
            atoms = atoms.copy()
            atoms.calc = calc
            energies.append(atoms.get_potential_energy())
        expected.append(energies[1] - energies[0])
    (judged,) = barrier_spreads([("hop", start, saddle)], ["emt", "emt-asap"])
    assert judged.barriers == pytest.approx(expected)
    assert judged.spread == pytest.approx(abs(expected[0] - expected[1])) and judged.spread > 0
    with pytest.raises(SeiscreenError, match="two members"):
        barrier_spreads([("hop", start, saddle)], ["emt"])


def test_the_shipped_gpaw_frames_are_trainable():
    """results/gpaw-frames.extxyz.gz: single points on the shipped GPAW results, one preset, ids unique."""
    from seiscreen.finetune import check_frames

    frames = read(Path(__file__).resolve().parents[2] / "results" / "gpaw-frames.extxyz.gz", ":")
    assert check_frames(frames) == "gpaw-lcao-gamma"
    assert {f.info["material"] for f in frames} == {"NaF", "NaCl", "NaBr", "NaI", "Na2Se", "Na3P"}
    for frame in frames:
        assert frame.info["frame_id"] == frame_id(frame, frame.get_potential_energy())
        assert np.isfinite(frame.get_forces()).all() and frame.info["kind"].startswith("backfill")
