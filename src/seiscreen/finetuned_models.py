"""Fine-tuned CHGNet and SevenNet model folders (``seiscreen.finetune`` writes them): where ``ml-ft:<name>`` finds
one, its manifest, and its weights checked against the sha256 a preset names. No model is loaded here but by
:func:`read_finetuned_model`."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

from seiscreen.errors import SeiscreenError, UnknownNameError

#: The file of a fine-tuned model's folder that describes it (``seiscreen.finetune.FinetuneManifest``); its
#: ``weights_file`` and ``weights_sha256`` name the weights beside it.
FINETUNED_MANIFEST = "manifest.json"
FINETUNED_PREFIX = "ml-ft:"
# Folders of fine-tuned presets made from a path in this process (name -> folder): the builder finds them again.
_FINETUNED_FOLDERS: dict[str, Path] = {}


# The working folder seiscreen started in: jobs run in folders of their own, where "./models" would be another one.
_STARTED_IN = Path.cwd()


def model_dirs() -> list[Path]:
    """Where ``ml-ft:<name>`` looks for the folder ``<name>``: the directories of the environment variable
    ``SEISCREEN_MODELS`` (``os.pathsep``-separated), ``./models`` when it is unset; a relative one is taken from
    the folder seiscreen started in, not from the job folder a calculation runs in."""
    entries = [entry for entry in os.environ.get("SEISCREEN_MODELS", "").split(os.pathsep) if entry]
    return [(_STARTED_IN / Path(entry).expanduser()).resolve() for entry in entries or ["models"]]


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_finetuned_manifest(folder: Path) -> dict[str, Any]:
    """A fine-tuned model folder's manifest as plain data; a folder without one is refused in one line."""
    path = Path(folder) / FINETUNED_MANIFEST
    if not path.is_file():
        raise SeiscreenError(f"{Path(folder).resolve()} has no {FINETUNED_MANIFEST}: not a fine-tuned model folder "
                             "(seiscreen.finetune.finetune writes one)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise SeiscreenError(f"{path.resolve()} is not JSON ({exc}): fine-tune again") from None
    missing = [key for key in ("base_model", "weights_file", "weights_sha256")
               if not isinstance(manifest, dict) or key not in manifest]
    if missing:
        raise SeiscreenError(f"{path.resolve()} lacks {', '.join(missing)}: not a fine-tuned model manifest; "
                             "fine-tune again")
    return manifest


def _finetuned_folders(name: str) -> list[Path]:
    """The folders called ``name`` that hold a manifest: in :func:`model_dirs`, then one given by path here."""
    folders = [directory / name for directory in model_dirs()]
    if name in _FINETUNED_FOLDERS:
        folders.append(_FINETUNED_FOLDERS[name])
    return list(dict.fromkeys(f for f in folders if (f / FINETUNED_MANIFEST).is_file()))


def _unknown_model(name: str) -> UnknownNameError:
    where = ", ".join(str(d) for d in model_dirs())
    return UnknownNameError(f"unknown fine-tuned model {name!r}: no folder {name}/{FINETUNED_MANIFEST} in {where} "
                            f"(the directories of SEISCREEN_MODELS, {os.pathsep}-separated; ./models when unset)")


def finetuned_weights(name: str, weights_sha256: str) -> Path:
    """The weights file of the fine-tuned model ``name``, found again by name and checked against
    ``weights_sha256``; weights that differ are refused in one line."""
    folders = _finetuned_folders(name)
    if not folders:
        raise _unknown_model(name)
    # Two folders of one name (two model directories): the one whose manifest names these weights.
    manifests = [(folder, read_finetuned_manifest(folder)) for folder in folders]
    folder, manifest = next(((f, m) for f, m in manifests if m["weights_sha256"] == weights_sha256), manifests[0])
    path = folder / manifest["weights_file"]
    actual = file_sha256(path) if path.is_file() else "missing"
    if actual != weights_sha256:
        raise SeiscreenError(f"fine-tuned model {name!r}: {path} has sha256 {actual[:16]}, the preset expects "
                             f"{weights_sha256[:16]}: the weights changed since the preset was made; restore them or "
                             "fine-tune again into a new folder")
    return path


def read_finetuned_weights(path: Path):
    """A fresh CHGNet model from a fine-tuned weights file (tensors and plain data only: no code is unpickled)."""
    import torch
    from chgnet.model import CHGNet

    state = torch.load(path, map_location="cpu", weights_only=True)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its parameter count
        return CHGNet.from_dict(state["model"])


def base_code(base_model: str) -> str:
    """The code of a pretrained model's name: ``sevennet`` for SevenNet's (``7net-...``), ``chgnet`` otherwise."""
    return "sevennet" if base_model.lower().startswith("7net") else "chgnet"


def read_finetuned_sevennet(path: Path):
    """A fresh SevenNet model from a fine-tuned weights file (its sevenn config as plain data and its tensors: no
    code is unpickled)."""
    import warnings

    import torch
    from sevenn.model_build import build_E3_equivariant_model

    state = torch.load(path, map_location="cpu", weights_only=True)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        model = build_E3_equivariant_model(dict(state["config"]))
    model.load_state_dict(state["model_state_dict"], strict=True)
    model.sevennet_config = state["config"]
    return model


def read_finetuned_model(path: Path, code: str = "chgnet"):
    """A fresh model of ``code`` (a manifest's ``base_code``) from its fine-tuned weights file."""
    return read_finetuned_sevennet(path) if code == "sevennet" else read_finetuned_weights(path)
