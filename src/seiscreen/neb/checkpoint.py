"""A band in progress on disk: its images' results, stage, step, force calls, mirror and optimiser state.

Written atomically (temporary file, fsync, rename) and read back as plain arrays and JSON, never pickles: the
resumed band takes exactly the steps the uninterrupted one would have taken.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.optimize.bfgs import BFGSMethod
from ase.optimize.optimize import Optimizer

from seiscreen.neb.mirror import MIRROR_ARRAYS, BandMirror

log = logging.getLogger("seiscreen.neb")

# Optimiser attributes that make up its state, per optimiser (BFGS: the Hessian is saved separately).
_OPTIMIZER_STATE = {"BFGS": ("pos0", "forces0", "maxstep"), "FIRE": ("vel", "dt", "a", "Nsteps", "e_last", "r_last",
                                                                     "vel_last"),
                    "MDMin": ("v", "dt")}


@dataclass
class NebCheckpoint:
    """A band in progress: enough to continue the NEB exactly where it stopped.

    ``positions``: every image, ends included (n_images + 2, n_atoms, 3); ``energies`` and ``forces`` (unconstrained)
    of every image at those positions. ``step``: optimiser steps done in ``stage``; ``steps_plain``: steps of the
    finished plain stage (when ``stage`` is "climb"). ``meta``: the caller's JSON (hop identity, end-point info).
    """

    stage: Literal["plain", "climb"]
    step: int
    steps_plain: int
    force_calls: int
    positions: np.ndarray
    energies: np.ndarray
    forces: np.ndarray
    optimizer: str
    optimizer_state: dict[str, np.ndarray | float | None] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    mirror: BandMirror | None = None  # the hop's mirror, while images are still served as copies
    mirrored_images: list[int] = field(default_factory=list)  # the images served as their partner's copy

    def save(self, path: str | os.PathLike) -> None:
        """Written to a temporary file, flushed to disk, then renamed: a kill leaves the old file or the new one.

        Args:
            path: the checkpoint file (``.npz``); its folder is made when missing.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"positions": self.positions, "energies": self.energies, "forces": self.forces}
        state_info = {}
        for name, value in self.optimizer_state.items():
            if isinstance(value, np.ndarray):
                arrays[f"opt_{name}"] = value
            else:
                state_info[name] = value
        if self.mirror is not None:
            arrays.update({f"mirror_{name}": getattr(self.mirror, name) for name in MIRROR_ARRAYS})
        header = {"stage": self.stage, "step": self.step, "steps_plain": self.steps_plain,
                  "force_calls": self.force_calls, "optimizer": self.optimizer, "optimizer_scalars": state_info,
                  "meta": self.meta, "mirrored_images": self.mirrored_images,
                  "mirror_residual": None if self.mirror is None else self.mirror.residual}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, header=np.array(json.dumps(header)), **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NebCheckpoint | None:
        """The checkpoint at ``path``; None when there is none or it cannot be read (then the NEB starts anew).

        Args:
            path: a file written by :meth:`save`.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                state: dict = {k[4:]: data[k] for k in data.files if k.startswith("opt_")}
                arrays = {k: data[k] for k in ("positions", "energies", "forces")}
                mirror = None
                if header.get("mirror_residual") is not None:
                    mirror = BandMirror(**{name: data[f"mirror_{name}"] for name in MIRROR_ARRAYS},
                                        residual=float(header["mirror_residual"]))
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable NEB checkpoint %s: %s", path, exc)
            return None
        state.update(header["optimizer_scalars"])
        return cls(stage=header["stage"], step=header["step"], steps_plain=header["steps_plain"],
                   force_calls=header["force_calls"], optimizer=header["optimizer"], optimizer_state=state,
                   meta=header["meta"], mirror=mirror, mirrored_images=list(header.get("mirrored_images", [])),
                   **arrays)

    def end_images(self, template: Atoms) -> tuple[Atoms, Atoms]:
        """The two relaxed ends, rebuilt on ``template`` (same atoms, cell, constraints) with their results."""
        images = self.images(template)
        return images[0], images[-1]

    def images(self, template: Atoms) -> list[Atoms]:
        """Every image saved, rebuilt on ``template`` (same atoms, cell, constraints) with its results."""
        images = []
        for positions, energy, forces in zip(self.positions, self.energies, self.forces, strict=True):
            atoms = template.copy()
            atoms.positions = positions
            atoms.calc = SinglePointCalculator(atoms, energy=float(energy), forces=forces)
            images.append(atoms)
        return images


def optimizer_state(optimizer: Optimizer, name: str) -> dict:
    """What a checkpoint keeps of an optimiser's memory (copies: the optimiser updates its arrays in place).

    Args:
        optimizer: the band's running optimiser.
        name: its key in ``OPTIMIZERS`` ("BFGS", "FIRE", "MDMin").

    Returns:
        Arrays and floats by attribute name; BFGS's Hessian as ``hessian``.
    """
    state: dict = {}
    if name == "BFGS" and getattr(optimizer, "state", None) is not None:
        state["hessian"] = np.array(optimizer.state.hessian)
    for attr in _OPTIMIZER_STATE.get(name, ()):
        value = getattr(optimizer, attr, None)
        if value is not None:
            state[attr] = np.array(value) if isinstance(value, np.ndarray) else float(value)
    return state


def restore_optimizer(optimizer: Optimizer, name: str, state: dict) -> None:
    """Give a fresh optimiser the memory :func:`optimizer_state` took from an interrupted one.

    Args:
        optimizer: the new optimiser, on the resumed band.
        name: its key in ``OPTIMIZERS``.
        state: from :func:`optimizer_state` (or a loaded :class:`NebCheckpoint`).
    """
    state = dict(state)
    if name == "BFGS" and "hessian" in state:
        optimizer.state = BFGSMethod(np.array(state.pop("hessian")))
    for attr, value in state.items():
        if attr in _OPTIMIZER_STATE.get(name, ()):
            setattr(optimizer, attr, value.copy() if isinstance(value, np.ndarray) else value)
    if name == "FIRE" and "Nsteps" in state:
        optimizer.Nsteps = int(state["Nsteps"])
