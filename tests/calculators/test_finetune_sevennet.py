"""seiscreen.finetune with SevenNet-0 as the base model: fine-tuned on EMT frames standing in for DFT ones (those of
test_finetune.py), and its ``ml-ft:<name>`` preset of code ``sevennet``.

One fine-tune (module fixture: 15 training frames, 2 epochs, about 40 s on one core) serves every test.
"""

from __future__ import annotations

import numpy as np
import pytest

from seiscreen.errors import SeiscreenError

from .test_finetune import assert_manifest_records_frames, emt_frames, tampered_copy

pytest.importorskip("sevenn")


@pytest.fixture(scope="module")
def frames():
    return emt_frames("AuAl", 20, seed=1) + emt_frames("Cu", 4, seed=2)


@pytest.fixture(scope="module")
def trained(frames, tmp_path_factory):
    """SevenNet-0 fine-tuned with Cu held out: (models directory, manifest)."""
    from seiscreen.finetune import FinetuneSettings, finetune

    models = tmp_path_factory.mktemp("models")
    settings = FinetuneSettings(base_model="7net-0", epochs=2, holdout_materials=["Cu"], validation_fraction=0.3)
    return models, finetune(frames, models / "auonal7", settings)


def test_the_base_model_picks_the_code_and_its_default_rate():
    from seiscreen.finetune import FinetuneSettings
    from seiscreen.finetune_chgnet import DEFAULT_LEARNING_RATE as CHGNET_RATE
    from seiscreen.finetune_sevennet import DEFAULT_LEARNING_RATE as SEVENNET_RATE
    from seiscreen.finetuned_models import base_code

    assert FinetuneSettings().base_model == "0.3.0" and FinetuneSettings().learning_rate == CHGNET_RATE
    assert FinetuneSettings(base_model="7net-0").learning_rate == SEVENNET_RATE != CHGNET_RATE
    assert FinetuneSettings(base_model="7net-0", learning_rate=1e-3).learning_rate == 1e-3  # given: kept
    assert [base_code(name) for name in ("0.3.0", "7net-0", "7net-l3i5")] == ["chgnet", "sevennet", "sevennet"]


def test_an_unknown_sevennet_base_is_refused_in_one_line(frames, tmp_path):
    from seiscreen.finetune import FinetuneSettings, finetune

    with pytest.raises(SeiscreenError, match="base_model '7net-nothing'.*Valid pretrained model names") as caught:
        finetune(frames, tmp_path / "bad", FinetuneSettings(base_model="7net-nothing", holdout_materials=["Cu"]))
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_finetuned_sevennet_beats_the_base_model_and_the_manifest_records_the_frames(trained, frames):
    from seiscreen.finetune import split_frames

    models, manifest = trained
    assert manifest.validation.finetuned.force_mae < manifest.validation.base.force_mae
    assert manifest.validation.base_refit.force_mae == pytest.approx(manifest.validation.base.force_mae, rel=1e-5)
    # EMT's zero is not SevenNet's: the refit per-species shift removes most of the energy error before training.
    assert manifest.validation.base_refit.energy_mae_per_atom < 0.1 * manifest.validation.base.energy_mae_per_atom
    assert manifest.base_model == "7net-0" and manifest.base_code == "sevennet" and manifest.sevenn_version
    assert manifest.split == split_frames(frames, manifest.settings) and len(manifest.history["val_f"]) == 2
    assert manifest.weights_file == "sevennet-finetuned.pt"
    assert_manifest_records_frames(manifest, frames, models / "auonal7")


@pytest.mark.slow
def test_ml_ft_preset_is_a_sevennet_preset_that_computes_the_trained_energies(trained, frames, monkeypatch):
    from seiscreen.calculators import get_preset
    from seiscreen.finetune import load_finetuned
    from seiscreen.finetune_sevennet import FrameSet, predict

    models, manifest = trained
    monkeypatch.setenv("SEISCREEN_MODELS", str(models))
    preset = get_preset("ml-ft:auonal7")
    assert preset.code == "sevennet" and preset.parameters == {
        "model": "7net-0", "finetuned": "auonal7", "weights_sha256": manifest.weights_sha256}
    assert str(models) not in repr(preset.provenance())
    frame = frames[0].copy()
    frame.calc = preset.make()
    energy, forces = frame.get_potential_energy(), frame.get_forces()
    base = frames[0].copy()
    base.calc = get_preset("sevennet").make()
    assert abs(energy - base.get_potential_energy()) > 1.0  # the refit shift alone moves it by eV
    model, loaded = load_finetuned(models / "auonal7")  # the weights file read on its own: the same numbers
    assert loaded == manifest
    (per_atom, predicted), = predict(model, FrameSet([frames[0]], model).graphs)
    assert energy == pytest.approx(per_atom * len(frame), abs=1e-4)
    assert np.allclose(forces, predicted, atol=1e-4)


@pytest.mark.slow
def test_changed_sevennet_weights_are_refused(trained, tmp_path, monkeypatch):
    models, _ = trained
    preset = tampered_copy(models / "auonal7", tmp_path / "models" / "copied", monkeypatch)
    assert preset.code == "sevennet"
    with pytest.raises(SeiscreenError, match="the weights changed"):
        preset.make()
