"""CHGNet's part of :mod:`seiscreen.finetune`: its graphs, predictions, elemental references (``AtomRef``) refit,
layers frozen, CHGNet's own ``Trainer``, and the weights written as tensors and plain data (read back by
``seiscreen.finetuned_models.read_finetuned_weights`` without unpickling code)."""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms

from seiscreen.errors import SeiscreenError
from seiscreen.finetune import FrameTargets, check_history, element_shifts
from seiscreen.finetuned_models import file_sha256

if TYPE_CHECKING:
    from pathlib import Path

    from seiscreen.finetune import FinetuneSettings

PACKAGE = "chgnet"
WEIGHTS_FILE = "chgnet-finetuned.pt"
#: Adam's rate when none is given (measured on the GPAW frames; see ``seiscreen.finetune.FinetuneSettings``).
DEFAULT_LEARNING_RATE = 3e-3


class FrameSet(FrameTargets):
    """Frames as one CHGNet model sees them: its graphs, the energies per atom (eV) and forces (eV/Å), in the
    order given."""

    def __init__(self, frames: list[Atoms], model) -> None:
        from pymatgen.io.ase import AseAtomsAdaptor

        super().__init__(frames)
        self.graphs = []
        for frame_id, atoms in zip(self.ids, frames, strict=True):
            try:
                self.graphs.append(model.graph_converter(AseAtomsAdaptor.get_structure(atoms), graph_id=frame_id))
            except ValueError as exc:  # an atom with no neighbour within the cut-off
                raise SeiscreenError(f"frame {frame_id}: CHGNet cannot make its graph ({exc})") from None

    def dataset(self) -> list[tuple[Any, dict[str, Any]]]:
        """(graph, targets) pairs as CHGNet's Trainer takes them (energies per atom)."""
        import torch
        from chgnet.model.model import TORCH_DTYPE

        return [(graph, {"e": torch.tensor(energy, dtype=TORCH_DTYPE), "f": torch.tensor(forces, dtype=TORCH_DTYPE)})
                for graph, energy, forces in zip(self.graphs, self.energies, self.forces, strict=True)]


def predict(model, graphs: list) -> list[tuple[float, np.ndarray]]:
    """(energy in eV/atom, forces in eV/Å) of each graph, in batches of 16 (the path every metric takes)."""
    with contextlib.redirect_stdout(io.StringIO()):
        predictions = model.predict_graph(graphs, task="ef", batch_size=16)
    predictions = [predictions] if isinstance(predictions, dict) else predictions
    return [(float(np.ravel(p["e"])[0]), np.asarray(p["f"], dtype=float)) for p in predictions]


def refit_references(model, frames: FrameSet) -> dict[str, float]:
    """Shift the model's elemental reference energies (its AtomRef) by the least-squares offset per element between
    the frames' energies and its predictions; returns the shifts (eV/atom) by element."""
    import torch
    from ase.data import chemical_symbols

    reference = model.composition_model
    numbers = [g.atomic_number.numpy() for g in frames.graphs]
    residual = frames.energies - np.array([e for e, _ in predict(model, frames.graphs)])
    if not reference.is_intensive:
        residual = residual * np.array([len(n) for n in numbers])
    shift = element_shifts(numbers, residual, intensive=reference.is_intensive)
    with torch.no_grad():
        for z, value in shift.items():
            reference.fc.weight[0, z - 1] += value
    return {chemical_symbols[z]: value for z, value in shift.items()}


def freeze_layers(model, freeze: str) -> int:
    """Fix the weights ``freeze`` says stay fixed; returns the number of weights left to train."""
    if freeze == "all-but-last":
        # What CHGNet reads out last: the last atom convolution, the bond convolution before it, the readout.
        keep = [model.atom_conv_layers[-1], model.bond_conv_layers[-1], model.readout_norm, model.mlp,
                model.composition_model]
        trainable = {id(p) for module in keep if module is not None for p in module.parameters()}
        for parameter in model.parameters():
            parameter.requires_grad = id(parameter) in trainable
    else:
        for parameter in model.parameters():
            parameter.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train(model, train: FrameSet, validation: FrameSet, settings: FinetuneSettings, log: io.StringIO):
    """CHGNet's Trainer over the training frames, validated each epoch; the model ends at its last epoch.
    Returns (history, seconds)."""
    import torch
    from chgnet.data.dataset import collate_graphs
    from chgnet.trainer import Trainer
    from torch.utils.data import DataLoader

    batches = torch.Generator().manual_seed(settings.seed)  # the batch order: seeded, not the global RNG
    loaders = [DataLoader(data.dataset(), batch_size=settings.batch_size, shuffle=shuffle, generator=batches,
                          collate_fn=collate_graphs) for data, shuffle in ((train, True), (validation, False))]
    with tempfile.TemporaryDirectory() as checkpoints, contextlib.redirect_stdout(log):
        trainer = Trainer(model=model, targets="ef", energy_loss_ratio=settings.energy_weight,
                          force_loss_ratio=settings.force_weight, optimizer="Adam", scheduler="CosLR",
                          criterion="MSE", epochs=settings.epochs, learning_rate=settings.learning_rate,
                          use_device="cpu", print_freq=10, torch_seed=settings.seed)
        start = time.perf_counter()
        # No test loader: with one, Trainer reloads its best-energy epoch; the validation metrics stay unbiased.
        trainer.train(*loaders, None, save_dir=checkpoints, train_composition_model=True)
        seconds = time.perf_counter() - start
    history = {f"{split}_{key}": [float(v) for v in trainer.training_history[key][split]]
               for key in ("e", "f") for split in ("train", "val")}
    check_history(history, settings)
    return history, seconds


def save_weights(model, path: Path) -> str:
    """The model's weights and arguments (tensors and plain data) to ``path``; returns their sha256."""
    import torch

    torch.save({"model": model.as_dict()}, path)
    return file_sha256(path)


def load_base(name: str):
    """A fresh copy of the pretrained model (the calculators' cached one is shared: never trained)."""
    from chgnet.model import CHGNet

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return CHGNet.load(model_name=name, use_device="cpu", verbose=False)
    except ValueError as exc:  # CHGNet's "Unknown model_name='...'"
        raise SeiscreenError(f"base_model {name!r}: {exc}: use a name CHGNet.load knows (0.3.0, the default)") from None


