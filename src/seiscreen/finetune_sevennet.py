"""SevenNet's part of :mod:`seiscreen.finetune`: a pretrained SevenNet (``7net-0``) fine-tuned through sevenn's own
API, in process: its checkpoint (``sevenn.util.load_checkpoint``), its graphs (``sevenn.train.dataload``), its
``Trainer`` and loss definitions (``PerAtomEnergyLoss``, ``ForceLoss``).

The same steps as CHGNet's (:mod:`seiscreen.finetune_chgnet`), one function each: the frames as graphs, predictions,
the elemental reference energies refit (SevenNet's per-species ``shift``), layers frozen, training, and the weights
written as tensors and plain data (read back by ``seiscreen.finetuned_models.read_finetuned_sevennet`` without
unpickling code).
"""

from __future__ import annotations

import contextlib
import io
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

PACKAGE = "sevenn"
WEIGHTS_FILE = "sevennet-finetuned.pt"
#: Adam's rate when none is given: the probe on this machine (5e-4 converged, sevenn's preset 4e-3 was too high for
#: tens of frames; docs/notes/2026-12-06-finetune-sevennet.md).
DEFAULT_LEARNING_RATE = 5e-4
_SHIFT = "rescale_atomic_energy.shift"
# Every weight SevenNet's own fine-tuning trains, plus the per-species energy shift (CHGNet's AtomRef trains too);
# the convolution denominators (avg. neighbours) and the per-species scale stay fixed.
_FIXED = ("denominator", "rescale_atomic_energy.scale")


class FrameSet(FrameTargets):
    """Frames as a SevenNet model sees them: its graphs (energy and forces as labels), in the order given."""

    def __init__(self, frames: list[Atoms], model) -> None:
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import atoms_to_graph

        super().__init__(frames)
        known = set(model.type_map)
        self.graphs = []
        for frame_id, atoms, forces in zip(self.ids, frames, self.forces, strict=True):
            unknown = sorted(set(atoms.get_chemical_symbols()) - {_symbol(z) for z in known})
            if unknown:
                raise SeiscreenError(f"frame {frame_id}: the SevenNet base model knows no {', '.join(unknown)}")
            labelled = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
            labelled.info["y_energy"] = float(atoms.calc.results["energy"])
            labelled.arrays["y_force"] = forces
            graph = atoms_to_graph(labelled, model.cutoff, transfer_info=False, y_from_calc=False)
            self.graphs.append(AtomGraphData.from_numpy_dict(graph))


def _symbol(number: int) -> str:
    from ase.data import chemical_symbols

    return chemical_symbols[number]


def load_base(name: str):
    """A fresh copy of the pretrained SevenNet ``name`` (a name sevenn knows, e.g. ``7net-0``), on the CPU."""
    import warnings

    from sevenn.util import load_checkpoint

    try:
        checkpoint = load_checkpoint(name)
    except ValueError as exc:  # sevenn's "Given ... does not exist. Valid pretrained model names: ..."
        raise SeiscreenError(f"base_model {name!r}: {' '.join(str(exc).split())}") from None
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        model = checkpoint.build_model()
    if model.modal_map:
        raise SeiscreenError(f"base_model {name!r} is multi-fidelity: fine-tune a single-head model (7net-0)")
    model.sevennet_config = checkpoint.config  # the architecture, written with the weights
    return model.to("cpu")


def _loader(graphs: list, batch_size: int, shuffle: bool = False, seed: int = 0):
    import torch
    from torch_geometric.loader import DataLoader

    return DataLoader(graphs, batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed) if shuffle else None)


def _per_graph(output) -> list[tuple[float, np.ndarray]]:
    """(energy in eV/atom, forces in eV/Å) per graph of a batch's output."""
    from sevenn import _keys as KEY

    atoms = output[KEY.NUM_ATOMS].detach().cpu().numpy().astype(int).ravel()
    energies = output[KEY.PRED_TOTAL_ENERGY].detach().cpu().numpy().ravel()
    forces = np.split(output[KEY.PRED_FORCE].detach().cpu().numpy().astype(float), np.cumsum(atoms)[:-1])
    return [(float(e / n), f) for e, n, f in zip(energies, atoms, forces, strict=True)]


def predict(model, graphs: list) -> list[tuple[float, np.ndarray]]:
    """(energy in eV/atom, forces in eV/Å) of each graph, in batches of 16 (the path every metric takes)."""
    model.eval()
    model.set_is_batch_data(True)
    out = []
    for batch in _loader(graphs, 16):
        out += _per_graph(model(batch.clone()))  # forces by autograd: no torch.no_grad here
    return out


def refit_references(model, frames: FrameSet) -> dict[str, float]:
    """Shift SevenNet's per-species energy ``shift`` (eV/atom, its elemental references) by the least-squares
    offset per element between the frames' energies and its predictions; returns the shifts by element."""
    import torch
    from ase.data import chemical_symbols

    numbers = [g["atomic_numbers"].numpy() for g in frames.graphs]
    predicted = np.array([e for e, _ in predict(model, frames.graphs)])
    residual = (frames.energies - predicted) * np.array([len(n) for n in numbers])  # total energies: extensive
    shift = element_shifts(numbers, residual, intensive=False)
    rescale = dict(model.named_parameters())[_SHIFT]
    with torch.no_grad():
        for z, value in shift.items():
            rescale[model.type_map[z]] += value
    return {chemical_symbols[z]: value for z, value in shift.items()}


def freeze_layers(model, freeze: str) -> int:
    """Fix the weights ``freeze`` says stay fixed ('none': all but the denominators and scales; 'all-but-last':
    also every interaction block but the last); returns the number of weights left to train."""
    last = f"{model.sevennet_config['num_convolution_layer'] - 1}_"
    for name, parameter in model.named_parameters():
        trainable = not any(part in name for part in _FIXED)
        if freeze == "all-but-last":  # the last interaction block, the readout and the energy shift
            trainable = trainable and name.startswith((last, "reduce_", _SHIFT))
        parameter.requires_grad = trainable
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class _Errors:
    """Mean absolute errors of the batches a sevenn ``Trainer`` passes (its error recorder's ``update``)."""

    def __init__(self) -> None:
        self.energy: list[float] = []
        self.forces: list[np.ndarray] = []

    def update(self, output) -> None:
        from sevenn import _keys as KEY

        atoms = output[KEY.NUM_ATOMS].detach().cpu().numpy().ravel()
        reference = output[KEY.ENERGY].detach().cpu().numpy().ravel()
        self.energy += list(np.abs([e for e, _ in _per_graph(output)] - reference / atoms))
        self.forces.append(np.abs((output[KEY.PRED_FORCE] - output[KEY.FORCE]).detach().cpu().numpy()).ravel())

    def maes(self) -> tuple[float, float]:
        return float(np.mean(self.energy)), float(np.mean(np.concatenate(self.forces)))


def train(model, train_set: FrameSet, validation: FrameSet, settings: FinetuneSettings, log: io.StringIO):
    """sevenn's ``Trainer`` over the training frames (Adam, cosine decay to 1/100 of the rate, Huber losses of
    SevenNet's own training on energy per atom and forces, weighted), validated each epoch; the model ends at its
    last epoch. Returns (history, seconds)."""
    import torch
    from sevenn.train.loss import ForceLoss, PerAtomEnergyLoss
    from sevenn.train.trainer import Trainer

    torch.manual_seed(settings.seed)
    losses = [(PerAtomEnergyLoss(criterion=torch.nn.HuberLoss(delta=0.01)), settings.energy_weight),
              (ForceLoss(criterion=torch.nn.HuberLoss(delta=0.01)), settings.force_weight)]
    trainer = Trainer(model, losses, torch.optim.Adam, {"lr": settings.learning_rate},
                      torch.optim.lr_scheduler.CosineAnnealingLR,
                      {"T_max": settings.epochs, "eta_min": settings.learning_rate / 100}, device="cpu")
    history: dict[str, list[float]] = {"train_e": [], "train_f": [], "val_e": [], "val_f": []}
    start = time.perf_counter()
    for epoch in range(settings.epochs):
        loader = _loader(train_set.graphs, settings.batch_size, shuffle=True, seed=settings.seed + epoch)
        for split, data, is_train in (("train", loader, True), ("val", _loader(validation.graphs, 16), False)):
            errors = _Errors()
            trainer.run_one_epoch((batch.clone() for batch in data), is_train=is_train, error_recorder=errors)
            energy, forces = errors.maes()
            history[f"{split}_e"].append(energy)
            history[f"{split}_f"].append(forces)
        trainer.scheduler_step()
        log.write(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items()) + "\n")
    check_history(history, settings)
    return history, time.perf_counter() - start


def _plain(value: Any) -> Any:
    """Config values as plain data (dicts, lists, numbers, strings): what ``torch.load(weights_only=True)`` reads."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # a torch.device and the like: meta data, not architecture


def save_weights(model, path: Path) -> str:
    """The model's architecture (its sevenn config, plain data) and weights (tensors) to ``path``; returns their
    sha256."""
    import torch

    torch.save({"config": _plain(model.sevennet_config), "model_state_dict": model.state_dict()}, path)
    return file_sha256(path)
