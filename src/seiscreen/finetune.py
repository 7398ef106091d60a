"""Fine-tune CHGNet or SevenNet on DFT frames, on CPU, into a model folder that a calculator preset can name.

A frame is an ASE ``Atoms`` with a single-point calculator holding ``energy`` (eV, total) and ``forces`` (eV/Å),
and ``atoms.info`` keys ``frame_id`` (unique), ``preset`` (the DFT preset) and, optionally, ``material``.

    manifest = finetune(frames, Path("models/naf-gpaw"), FinetuneSettings(holdout_materials=["NaBr"]))
    preset = get_preset("ml-ft:naf-gpaw")    # SEISCREEN_MODELS=models (the default); or get_preset("models/naf-gpaw")

Frames go to train, validation or test by a hash of their ``frame_id`` and the seed (:func:`split_frames`), never
by list order; every frame of a ``holdout_materials`` material goes to the test set and is never trained on. Before
training, the model's elemental reference energies (CHGNet's ``AtomRef``, SevenNet's per-species shift) are
shifted by the least-squares offset between the training frames' energies and its predictions: GPAW's total energies
and the models' (fit to Materials Project VASP) differ by several eV per atom, which would otherwise swamp the
force loss. Energies and forces are trained on; stress, where a frame has it, is not (GPAW's LCAO mode has
none). The model folder holds the weights (tensors only, read back without unpickling code) and ``manifest.json``
(:class:`FinetuneManifest`): the split, the settings, and the validation (and test) metrics of the base model, of
the base model with refit references, and of the fine-tuned model, all computed by one function (:func:`evaluate`).

The base model (``settings.base_model``) picks the code: a CHGNet name (``0.3.0``, the default) trains through
CHGNet's ``Trainer`` (:mod:`seiscreen.finetune_chgnet`), a SevenNet name (``7net-0``) through sevenn's
(:mod:`seiscreen.finetune_sevennet`); the split, the metrics and the manifest are this module's, shared.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import time
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
from ase import Atoms
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from seiscreen.calculators import FINETUNED_MANIFEST, _torch_threads, file_sha256, read_finetuned_manifest
from seiscreen.finetuned_models import base_code, read_finetuned_model
from seiscreen.errors import SeiscreenError

Freeze = Literal["none", "all-but-last"]
FREEZE_MODES: tuple[str, ...] = ("none", "all-but-last")
LOG_FILE = "train.log"


class FinetuneSettings(BaseModel):
    """How CHGNet (or SevenNet, ``base_model="7net-0"``) is fine-tuned; stored whole in the manifest.

    The defaults (``freeze="none"``, learning rate 3e-3, 10 epochs, batches of 8, energy and force weights 1) were
    measured on the GPAW frames of the review's surfaces (``gpaw-lcao-gamma``, 94 frames of six materials, NaCl's 8
    held out as the test set; ``benchmarks/finetune_settings.py --dft FRAMES --holdout NaCl``; one core;
    docs/notes/2026-12-06-training-frames-and-finetuning.md). Force MAE (eV/Å) after 10 epochs, base model 0.068 on
    validation and 0.104 on NaCl:

    | freeze | lr | validation | NaCl (held out) | val. energy (eV/atom) | s/epoch |
    |---|---|---|---|---|---|
    | all-but-last | 1e-3 | 0.044 | 0.076 | 0.0146 | 4.9 |
    | all-but-last | 3e-3 | 0.031 | 0.058 | 0.0088 | 5.0 |
    | none | 1e-3 | 0.030 | 0.068 | 0.0081 | 6.4 |
    | none | 3e-3 | 0.020 | 0.062 | 0.0078 | 6.5 |

    With 8 held-out frames, differences under ~0.01 eV/Å are noise; the default is the best on validation. On the
    EMT stand-in of the tests (docs/notes/2026-12-06-finetune-settings.md) the higher rate forgot an element never
    trained on (Cu) more; the NaCl frames hold Cl, trained on in no other material, and did not show that.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_model: str = Field("0.3.0", description="the pretrained model to start from: a CHGNet (CHGNet.load's "
                                                 "model_name, 0.3.0) or a SevenNet (sevenn's name, 7net-0)")
    epochs: int = Field(10, ge=1, description="passes over the training frames")
    learning_rate: float = Field(3e-3, gt=0, description="Adam's initial learning rate (cosine decay to 1/100); "
                                                         "when not given, the base model's code's default: CHGNet "
                                                         "3e-3, SevenNet 5e-4")
    energy_weight: float = Field(1.0, ge=0, description="weight of the energy (eV/atom) MSE in the loss")
    force_weight: float = Field(1.0, ge=0, description="weight of the force (eV/Å) MSE in the loss")
    freeze: Freeze = Field("none", description="'none': every weight trains; 'all-but-last': only the last atom "
                                               "and bond convolutions (SevenNet: interaction block), the readout and "
                                               "the elemental references")
    batch_size: int = Field(8, ge=1, description="frames per optimiser step")
    validation_fraction: float = Field(0.2, gt=0, lt=1, description="share of the non-held-out frames validated "
                                                                    "on (by frame_id hash, not list order)")
    seed: int = Field(0, description="seeds the split's hash, the weights' updates and the batch order")
    holdout_materials: list[str] = Field([], description="frames of these materials (info['material']) form the "
                                                         "test set: never trained or validated on")
    refit_references: bool = Field(True, description="shift the elemental reference energies to the training "
                                                     "frames before training (least squares)")

    @field_validator("freeze", mode="before")
    @classmethod
    def _known_freeze(cls, value: Any) -> Any:
        if value not in FREEZE_MODES:
            raise SeiscreenError(f"unknown freeze mode {value!r}: choose one of {', '.join(FREEZE_MODES)}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _code_default_rate(cls, data: Any) -> Any:
        """A learning rate not given is the base model's code's (a SevenNet forgets at CHGNet's rate)."""
        if isinstance(data, dict) and "learning_rate" not in data and isinstance(data.get("base_model"), str):
            data = {**data, "learning_rate": _backend(data["base_model"]).DEFAULT_LEARNING_RATE}
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _one_line(cls, data: Any, handler):
        try:
            return handler(data)
        except ValidationError as exc:  # bad settings: one line naming the field, as campaign files get
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            if error["type"] == "extra_forbidden":
                raise SeiscreenError(f"unknown fine-tune setting {where!r}: allowed are "
                                     f"{', '.join(cls.model_fields)}") from None
            raise SeiscreenError(f"fine-tune setting {where}: {error['msg']}") from None


class FrameMetrics(BaseModel):
    """One model's errors on a set of frames."""

    n_frames: int = Field(description="frames evaluated")
    energy_mae_per_atom: float = Field(description="eV/atom: mean |E/N predicted - E/N reference| over frames")
    force_mae: float = Field(description="eV/Å: mean |F predicted - F reference| over every force component")


class Comparison(BaseModel):
    """Three models on the same frames, computed by one function (:func:`evaluate`)."""

    base: FrameMetrics = Field(description="the pretrained model as it ships")
    base_refit: FrameMetrics = Field(description="the pretrained model with its elemental references refit to the "
                                                 "training frames (its forces are the base model's)")
    finetuned: FrameMetrics = Field(description="the fine-tuned model")


class FrameSplit(BaseModel):
    """Frame ids per set, each sorted."""

    train: list[str] = Field(description="frames trained on")
    validation: list[str] = Field(description="frames of the trained materials held out for validation")
    test: list[str] = Field(description="frames of the held-out materials (settings.holdout_materials)")


class FinetuneManifest(BaseModel):
    """``manifest.json`` of a fine-tuned model's folder: what was trained on, how, and how well."""

    name: str = Field(description="the folder's name: the preset is ml-ft:<name>")
    created: str = Field(description="UTC time the training finished (ISO 8601)")
    base_model: str = Field(description="the pretrained model fine-tuned")
    base_code: str = Field("chgnet", description="its code, the preset's: chgnet or sevennet")
    chgnet_version: str | None = Field(None, description="the chgnet package that trained it (CHGNet bases)")
    sevenn_version: str | None = Field(None, description="the sevenn package that trained it (SevenNet bases)")
    torch_version: str = Field(description="the torch package that trained it")
    dft_preset: str | None = Field(description="the DFT preset of every frame (info['preset'])")
    settings: FinetuneSettings = Field(description="the settings used")
    n_frames: int = Field(description="frames given (train + validation + test)")
    split: FrameSplit = Field(description="which frame went where, by frame_id")
    reference_shifts: dict[str, float] = Field(description="eV/atom added to each element's reference energy "
                                                           "before training (empty without refit_references)")
    trainable_parameters: int = Field(description="weights that were trained (the freeze mode's choice)")
    validation: Comparison = Field(description="metrics on the validation frames")
    test: Comparison | None = Field(description="metrics on the held-out materials' frames; None without any")
    history: dict[str, list[float]] = Field(description="per epoch: the trainer's train and validation MAEs "
                                                        "(e: eV/atom, f: eV/Å)")
    train_seconds: float = Field(description="wall seconds of the training epochs")
    seconds_per_epoch: float = Field(description="train_seconds / epochs (validation pass included)")
    wall_seconds: float = Field(description="wall seconds of the whole call (loading and evaluation included)")
    weights_file: str = Field(description="the weights' file name in the folder")
    weights_sha256: str = Field(description="sha256 of the weights file: the preset checks it before use")


def _frame_id(atoms: Atoms, index: int) -> str:
    frame_id = atoms.info.get("frame_id")
    if not isinstance(frame_id, str) or not frame_id:
        raise SeiscreenError(f"frame {index} has no info['frame_id']: record frames with their id")
    return frame_id


def check_frames(frames: list[Atoms]) -> str | None:
    """Refuse frames that cannot be trained on (none, no energy or forces, repeated ids, several DFT presets);
    returns their DFT preset (None when they name none)."""
    if not frames:
        raise SeiscreenError("no frames to fine-tune on: pass the recorded DFT frames")
    ids = [_frame_id(atoms, index) for index, atoms in enumerate(frames)]
    for frame_id, atoms in zip(ids, frames, strict=True):
        results = atoms.calc.results if atoms.calc is not None else {}
        for key in ("energy", "forces"):
            if results.get(key) is None:
                raise SeiscreenError(f"frame {frame_id} has no {key}: a frame needs a single-point calculator with "
                                     "energy and forces")
        if np.shape(results["forces"]) != (len(atoms), 3):
            raise SeiscreenError(f"frame {frame_id}: forces of shape {np.shape(results['forces'])} for "
                                 f"{len(atoms)} atoms")
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise SeiscreenError(f"frame ids repeated: {', '.join(repeated[:5])}: every frame needs its own frame_id")
    presets = sorted({str(atoms.info.get("preset")) for atoms in frames})
    if len(presets) > 1:
        raise SeiscreenError(f"frames of several DFT presets ({', '.join(presets)}): their energies do not share "
                             "a reference; fine-tune on one preset's frames")
    return frames[0].info.get("preset")


def _hash_fraction(frame_id: str, seed: int) -> float:
    """A number in [0, 1) fixed by the frame's id and the seed."""
    digest = hashlib.sha256(f"{seed}:{frame_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_frames(frames: list[Atoms], settings: FinetuneSettings) -> FrameSplit:
    """Frames to train, validation and test by ``frame_id``: held-out materials' frames to test, the others to
    validation where the hash of (seed, frame_id) falls below ``validation_fraction``. Independent of list order."""
    check_frames(frames)
    materials = {atoms.info.get("material") for atoms in frames}
    absent = sorted(set(settings.holdout_materials) - materials)
    if absent:
        raise SeiscreenError(f"holdout material(s) {', '.join(absent)} have no frames: the frames' materials are "
                             f"{', '.join(sorted(str(m) for m in materials))}")
    sets: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for atoms in frames:
        frame_id = atoms.info["frame_id"]
        if atoms.info.get("material") in settings.holdout_materials:
            sets["test"].append(frame_id)
        elif _hash_fraction(frame_id, settings.seed) < settings.validation_fraction:
            sets["validation"].append(frame_id)
        else:
            sets["train"].append(frame_id)
    for name in ("train", "validation"):
        if not sets[name]:
            raise SeiscreenError(f"no frame fell in the {name} set ({len(frames)} frames, validation_fraction "
                                 f"{settings.validation_fraction}, holdout {settings.holdout_materials}): add frames "
                                 "or change validation_fraction")
    return FrameSplit(**{name: sorted(ids) for name, ids in sets.items()})


class FrameTargets:
    """The DFT labels of frames, in the order given: ids, energies per atom (eV), forces (eV/Å); each code's
    ``FrameSet`` adds its graphs."""

    def __init__(self, frames: list[Atoms]) -> None:
        self.ids = [atoms.info["frame_id"] for atoms in frames]
        self.energies = np.array([atoms.calc.results["energy"] / len(atoms) for atoms in frames])
        self.forces = [np.asarray(atoms.calc.results["forces"], dtype=float) for atoms in frames]


def element_shifts(numbers: list[np.ndarray], residual: np.ndarray, intensive: bool) -> dict[int, float]:
    """The least-squares offset per element (by atomic number) that explains ``residual`` (one per frame: per atom
    when ``intensive``, total otherwise) from each frame's atomic numbers; elements never seen get none."""
    elements = sorted({int(z) for frame in numbers for z in frame})
    counts = np.array([[np.count_nonzero(frame == z) for z in elements] for frame in numbers], dtype=float)
    features = counts / counts.sum(axis=1, keepdims=True) if intensive else counts
    shift, *_ = np.linalg.lstsq(features, residual, rcond=None)
    return {z: float(value) for z, value in zip(elements, shift, strict=True)}


def check_history(history: dict[str, list[float]], settings: FinetuneSettings) -> None:
    """Refuse a training whose validation force error is missing for an epoch or not finite (diverged)."""
    if len(history["val_f"]) < settings.epochs or not np.all(np.isfinite(history["val_f"])):
        raise SeiscreenError(f"training diverged (NaN after {len(history['val_f'])} of {settings.epochs} epochs): "
                             f"lower learning_rate (now {settings.learning_rate})")


def _backend(base_model: str) -> ModuleType:
    """The module that fine-tunes the base model's code (``finetune_chgnet`` or ``finetune_sevennet``)."""
    return importlib.import_module(f"seiscreen.finetune_{base_code(base_model)}")


def evaluate(backend: ModuleType, model, frames: FrameTargets) -> FrameMetrics:
    """The model's energy (per atom) and force MAEs on the frames (the code's ``FrameSet``)."""
    predicted = backend.predict(model, frames.graphs)
    energy = np.mean([abs(e - ref) for (e, _), ref in zip(predicted, frames.energies, strict=True)])
    forces = np.concatenate([np.abs(f - ref).ravel() for (_, f), ref in zip(predicted, frames.forces, strict=True)])
    return FrameMetrics(n_frames=len(frames.ids), energy_mae_per_atom=float(energy), force_mae=float(forces.mean()))


def _prepare_out_dir(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if (out_dir / FINETUNED_MANIFEST).exists():
        raise SeiscreenError(f"{out_dir} already holds a fine-tuned model: numbers computed with it name its "
                             "weights, so fine-tune into a new folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def finetune(frames: list[Atoms], out_dir: Path, settings: FinetuneSettings | None = None) -> FinetuneManifest:
    """Fine-tune CHGNet or SevenNet (``settings.base_model``) on DFT frames, on CPU, into ``out_dir`` (weights,
    ``manifest.json``, ``train.log``).

    Args:
        frames: ASE Atoms with energy and forces (a single-point calculator) and info['frame_id'].
        out_dir: a new folder (or one without a manifest); its name is the model's (``ml-ft:<name>``).
        settings: how to train (defaults: :class:`FinetuneSettings`).

    Returns:
        The manifest written: the split, and base, refit and fine-tuned metrics on validation (and test) frames.

    Raises:
        SeiscreenError: no frames, frames without energy, forces or id, or a folder that already holds a model.
    """
    start = time.perf_counter()
    settings = settings or FinetuneSettings()
    dft_preset = check_frames(frames)
    split = split_frames(frames, settings)
    out_dir = _prepare_out_dir(out_dir)
    _torch_threads()
    backend = _backend(settings.base_model)
    model = backend.load_base(settings.base_model)
    by_id = {atoms.info["frame_id"]: atoms for atoms in frames}
    sets = {name: backend.FrameSet([by_id[i] for i in ids], model) for name, ids in split if ids}
    before = {name: evaluate(backend, model, data) for name, data in sets.items() if name != "train"}
    shifts = backend.refit_references(model, sets["train"]) if settings.refit_references else {}
    refit = {name: evaluate(backend, model, data) for name, data in sets.items() if name != "train"}
    trainable = backend.freeze_layers(model, settings.freeze)
    log = io.StringIO()
    history, seconds = backend.train(model, sets["train"], sets["validation"], settings, log)
    after = {name: evaluate(backend, model, data) for name, data in sets.items() if name != "train"}
    (out_dir / LOG_FILE).write_text(log.getvalue(), encoding="utf-8")
    sha256 = backend.save_weights(model, out_dir / backend.WEIGHTS_FILE)
    compare = {name: Comparison(base=before[name], base_refit=refit[name], finetuned=after[name]) for name in after}
    manifest = FinetuneManifest(
        name=out_dir.resolve().name, created=datetime.now(UTC).isoformat(timespec="seconds"),
        base_model=settings.base_model, base_code=base_code(settings.base_model),
        **{f"{backend.PACKAGE}_version": version(backend.PACKAGE)}, torch_version=version("torch"),
        dft_preset=dft_preset, settings=settings, n_frames=len(frames), split=split, reference_shifts=shifts,
        trainable_parameters=trainable, validation=compare["validation"], test=compare.get("test"),
        history=history, train_seconds=seconds, seconds_per_epoch=seconds / settings.epochs,
        wall_seconds=time.perf_counter() - start, weights_file=backend.WEIGHTS_FILE, weights_sha256=sha256)
    # The manifest last: a folder with one holds a complete model.
    (out_dir / FINETUNED_MANIFEST).write_text(json.dumps(manifest.model_dump(), indent=1), encoding="utf-8")
    return manifest


def committee_names(name: str, size: int) -> list[str]:
    """The model names of a committee of ``size`` trained as ``name`` (seeds seed, seed+1, ...): NAME, NAME-2, ..."""
    return [name if member == 0 else f"{name}-{member + 1}" for member in range(size)]


def load_finetuned(folder: Path) -> tuple[Any, FinetuneManifest]:
    """A fine-tuned model (a fresh CHGNet or SevenNet model, free to train further) and its manifest; weights whose
    sha256 differs from the manifest's are refused."""
    folder = Path(folder)
    manifest = FinetuneManifest.model_validate(read_finetuned_manifest(folder))
    path = folder / manifest.weights_file
    actual = file_sha256(path) if path.is_file() else "missing"
    if actual != manifest.weights_sha256:
        raise SeiscreenError(f"{path.resolve()} has sha256 {actual[:16]}, its manifest says "
                             f"{manifest.weights_sha256[:16]}: the weights changed; restore them or fine-tune again")
    return read_finetuned_model(path, manifest.base_code), manifest
