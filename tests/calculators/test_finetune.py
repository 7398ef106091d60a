"""seiscreen.finetune: CHGNet fine-tuned on EMT frames standing in for DFT ones, and the ``ml-ft:<name>`` preset.

The "DFT": EMT on rattled 2x2x3 Al(100) slabs with an Au adatom (the trained material) and Cu(100) slabs with a Cu
adatom (the held-out one). One fine-tune (module fixture) serves the tests that need a trained model.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from ase import Atoms
from ase.build import add_adsorbate, fcc100
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from seiscreen.errors import SeiscreenError, UnknownNameError

pytest.importorskip("chgnet")

EPOCHS = 3  # enough to beat the base model's forces on this system; a few seconds an epoch on one core


def emt_frames(material: str, n: int, seed: int = 0) -> list[Atoms]:
    """``n`` EMT frames of ``material`` ("AuAl": Au on Al(100), "Cu": Cu on Cu(100)): the adatom at a random
    lateral place 1.6-2.2 Å above the top layer, every atom rattled by 0.08 Å; energy and forces from EMT."""
    host, adatom, a = {"AuAl": ("Al", "Au", 4.05), "Cu": ("Cu", "Cu", 3.61)}[material]
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        slab = fcc100(host, size=(2, 2, 3), a=a, vacuum=6.0)
        xy = rng.random(2) @ slab.cell[:2, :2]
        add_adsorbate(slab, adatom, height=rng.uniform(1.6, 2.2), position=tuple(xy))
        slab.positions += rng.normal(0.0, 0.08, slab.positions.shape)
        slab.calc = EMT()
        energy, forces = slab.get_potential_energy(), slab.get_forces()
        slab.calc = SinglePointCalculator(slab, energy=energy, forces=forces)
        slab.info.update(preset="emt", material=material,
                         frame_id=hashlib.sha256(slab.positions.tobytes()).hexdigest()[:16])
        frames.append(slab)
    return frames


@pytest.fixture(scope="module")
def frames() -> list[Atoms]:
    return emt_frames("AuAl", 40, seed=1) + emt_frames("Cu", 8, seed=2)


@pytest.fixture(scope="module")
def trained(frames, tmp_path_factory):
    """One fine-tune with Cu held out: (models directory, manifest)."""
    from seiscreen.finetune import FinetuneSettings, finetune

    models = tmp_path_factory.mktemp("models")
    settings = FinetuneSettings(epochs=EPOCHS, holdout_materials=["Cu"])
    return models, finetune(frames, models / "auonal", settings)


def test_split_is_by_frame_id_not_order_and_holds_out_materials(frames):
    from seiscreen.finetune import FinetuneSettings, split_frames

    settings = FinetuneSettings(holdout_materials=["Cu"])
    split = split_frames(frames, settings)
    assert split == split_frames(frames[::-1], settings)
    assert split == split_frames([frames[i] for i in np.random.default_rng(3).permutation(len(frames))], settings)
    cu = {a.info["frame_id"] for a in frames if a.info["material"] == "Cu"}
    assert set(split.test) == cu and not cu & set(split.train + split.validation)
    assert sorted(split.train + split.validation + split.test) == sorted(a.info["frame_id"] for a in frames)
    assert split.validation and split.train
    other_seed = split_frames(frames, FinetuneSettings(holdout_materials=["Cu"], seed=1))
    assert other_seed.validation != split.validation  # the seed is part of the hash
    # A frame keeps its set when other frames come or go.
    fewer = split_frames(frames[:20] + frames[-4:], settings)  # the last frames are Cu
    assert set(fewer.validation) <= set(split.validation) and set(fewer.train) <= set(split.train)


def test_bad_frames_and_settings_are_refused_in_one_line(frames):
    from seiscreen.finetune import FinetuneSettings, split_frames

    settings = FinetuneSettings()
    no_forces = frames[0].copy()
    no_forces.calc = SinglePointCalculator(no_forces, energy=1.0)
    no_forces.info = dict(frames[0].info)
    cases = [([], "no frames"), ([no_forces], "has no forces"), ([frames[0], frames[0]], "repeated"),
             ([Atoms("Cu")], "no info\\['frame_id'\\]")]
    for bad, message in cases:
        with pytest.raises(SeiscreenError, match=message):
            split_frames(bad, settings)
    with pytest.raises(SeiscreenError, match="unknown freeze mode 'top'"):
        FinetuneSettings(freeze="top")
    with pytest.raises(SeiscreenError, match="fine-tune setting epochs"):
        FinetuneSettings(epochs=0)
    with pytest.raises(SeiscreenError, match="unknown fine-tune setting 'learning_rte': allowed are base_model"):
        FinetuneSettings(learning_rte=1e-3)
    with pytest.raises(SeiscreenError, match="holdout material.*Ag have no frames"):
        split_frames(frames, FinetuneSettings(holdout_materials=["Ag"]))


@pytest.mark.slow
def test_finetuned_forces_beat_the_base_model_and_the_manifest_lists_the_split(trained, frames):
    from seiscreen.finetune import FinetuneSettings, split_frames

    models, manifest = trained
    validation = manifest.validation
    assert validation.finetuned.force_mae < validation.base.force_mae
    assert validation.base_refit.force_mae == pytest.approx(validation.base.force_mae, rel=1e-5)  # refs: no force
    assert validation.base_refit.energy_mae_per_atom < validation.base.energy_mae_per_atom
    assert manifest.test is not None and manifest.test.finetuned.n_frames == len(manifest.split.test)
    assert manifest.split == split_frames(frames, manifest.settings)
    assert validation.finetuned.n_frames == len(manifest.split.validation)
    assert len(manifest.history["val_f"]) == EPOCHS
    assert manifest.settings == FinetuneSettings(epochs=EPOCHS, holdout_materials=["Cu"])
    assert_manifest_records_frames(manifest, frames, models / "auonal")


def assert_manifest_records_frames(manifest, frames: list[Atoms], folder) -> None:
    """The manifest (and its copy in ``folder``) lists every frame once, the Cu ones as the test set, and the
    reference shifts of the trained elements only (the Cu frames were never seen)."""
    from seiscreen.finetune import FinetuneManifest

    assert manifest.n_frames == len(frames) and manifest.dft_preset == "emt"
    assert sorted(manifest.split.train + manifest.split.validation + manifest.split.test) == sorted(
        a.info["frame_id"] for a in frames)
    assert set(manifest.split.test) == {a.info["frame_id"] for a in frames if a.info["material"] == "Cu"}
    assert set(manifest.reference_shifts) == {"Al", "Au"}
    assert FinetuneManifest.model_validate_json((folder / "manifest.json").read_text()) == manifest


@pytest.mark.slow
def test_ml_ft_preset_builds_the_finetuned_calculator(trained, frames, monkeypatch):
    from seiscreen.calculators import finetuned_preset, get_preset
    from seiscreen.finetune import load_finetuned
    from seiscreen.finetune_chgnet import predict

    models, manifest = trained
    monkeypatch.setenv("SEISCREEN_MODELS", str(models))
    preset = get_preset("ml-ft:auonal")
    assert preset.name == "ml-ft:auonal" and preset.code == "chgnet"
    assert preset.parameters["weights_sha256"] == manifest.weights_sha256
    assert preset.parameters["model"] == "0.3.0" and preset.parameters["finetuned"] == "auonal"
    assert str(models) not in repr(preset.provenance()) and "/" not in repr(preset.parameters)
    assert get_preset(str(models / "auonal")) == preset  # by the folder's path: the same preset
    assert finetuned_preset("ml-ft:auonal") == preset

    frame = frames[0].copy()
    frame.calc = preset.make()
    energy = frame.get_potential_energy()
    base = frames[0].copy()
    base.calc = get_preset("chgnet").make()
    assert abs(energy - base.get_potential_energy()) > 1e-3
    model, loaded = load_finetuned(models / "auonal")
    assert loaded == manifest
    from pymatgen.io.ase import AseAtomsAdaptor

    graph = model.graph_converter(AseAtomsAdaptor.get_structure(frames[0]))
    assert energy == pytest.approx(predict(model, [graph])[0][0] * len(frame), abs=1e-5)
    from seiscreen.batched import BandBatch

    batched, _ = BandBatch.for_preset(preset).predict([frames[0]])[0]  # a CHGNet band uses the same weights
    assert batched == pytest.approx(energy, abs=1e-5)


@pytest.mark.slow
def test_the_default_models_folder_is_the_one_seiscreen_started_in_not_the_job_folder(trained, tmp_path,
                                                                                         monkeypatch):
    from seiscreen import calculators, finetuned_models

    models, manifest = trained
    start = tmp_path / "campaign"
    shutil.copytree(models, start / "models")
    job = start / "store" / "runs" / "job_1"
    job.mkdir(parents=True)
    monkeypatch.delenv("SEISCREEN_MODELS", raising=False)
    monkeypatch.setattr(finetuned_models, "_STARTED_IN", start)
    monkeypatch.chdir(job)  # where a campaign's job computes
    preset = calculators.get_preset("ml-ft:auonal")
    assert preset.parameters["weights_sha256"] == manifest.weights_sha256
    assert preset.make() is not None


def tampered_copy(folder, copy, monkeypatch):
    """The preset of a copy of a model folder (found through SEISCREEN_MODELS), made before one byte of the copy's
    weights is flipped."""
    from seiscreen.calculators import get_preset

    shutil.copytree(folder, copy)
    monkeypatch.setenv("SEISCREEN_MODELS", str(copy.parent))
    preset = get_preset(f"ml-ft:{copy.name}")
    weights = copy / preset_weights_file(copy)
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of the tensors flipped
    weights.write_bytes(bytes(data))
    return preset


def preset_weights_file(folder) -> str:
    import json

    return json.loads((folder / "manifest.json").read_text())["weights_file"]


@pytest.mark.slow
def test_tampered_weights_unknown_names_and_folders_without_manifest(trained, frames, tmp_path, monkeypatch):
    from seiscreen.calculators import get_preset
    from seiscreen.finetune import load_finetuned

    models, manifest = trained
    copy = tmp_path / "models" / "copied"
    preset = tampered_copy(models / "auonal", copy, monkeypatch)
    with pytest.raises(SeiscreenError, match="the weights changed"):
        preset.make()
    with pytest.raises(SeiscreenError, match="the weights changed"):
        load_finetuned(copy)
    with pytest.raises(UnknownNameError, match=f"unknown fine-tuned model 'nothing'.*{tmp_path / 'models'}"):
        get_preset("ml-ft:nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeiscreenError, match="has no manifest.json"):
        get_preset(str(tmp_path / "empty"))
    with pytest.raises(SeiscreenError, match="already holds a fine-tuned model"):
        from seiscreen.finetune import finetune

        finetune(frames, copy)


@pytest.mark.slow
def test_finetuning_on_the_shipped_gpaw_frames_lowers_the_validation_force_error(tmp_path):
    """The CHGNet path on real DFT: the shipped gpaw-lcao-gamma frames, NaCl held out, two epochs."""
    from pathlib import Path

    from ase.io import read

    from seiscreen.finetune import FinetuneSettings, finetune

    shipped = Path(__file__).resolve().parents[2] / "results" / "gpaw-frames.extxyz.gz"
    frames = read(shipped, ":")
    manifest = finetune(frames, tmp_path / "gpaw", FinetuneSettings(epochs=2, holdout_materials=["NaCl"]))
    nacl = {f.info["frame_id"] for f in frames if f.info["material"] == "NaCl"}
    assert set(manifest.split.test) == nacl and manifest.dft_preset == "gpaw-lcao-gamma"
    assert manifest.validation.finetuned.force_mae < manifest.validation.base.force_mae
    assert manifest.validation.base_refit.energy_mae_per_atom < manifest.validation.base.energy_mae_per_atom
