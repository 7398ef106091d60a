"""Checkpoint files of plain data: a typed JSON codec, and the step cache that lets a killed search resume.

A store folder may come from someone else (a copied folder, a group's shared store), so nothing read back from
its checkpoints may run code. Values are written as JSON, each value JSON has no type for (a tuple, an array, ASE
``Atoms``, a dataclass) as an object tagged with ``"~"``; reading rebuilds only the types listed here (:func:`_types`),
never a class or function named by the file. Floats round-trip exactly (JSON keeps ``repr``). Structures are ASE's
own JSON (``ase.io.jsonio``: it rebuilds only ASE's types; constraints only ASE's own) plus the energy and forces
of their calculator. A file that cannot be read back is reported once, deleted and its step computed again.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import uuid
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io.jsonio import decode as ase_decode
from ase.io.jsonio import encode as ase_encode

log = logging.getLogger("seiscreen.checkpoints")

FORMAT = "seiscreen-checkpoint-1"
SUFFIX = ".json"
RESULTS = ("energy", "free_energy", "forces")  # what a structure keeps of its calculator
NUMBER_KINDS = "biuf"  # array and scalar dtypes that may be stored: bool, int, unsigned, float
T = TypeVar("T")


class CheckpointUnreadable(ValueError):
    """A checkpoint file that is not one this codec wrote: damaged, cut short, or not plain data."""


_REGISTERED: dict[str, type] = {}


def plain_data(cls: type[T]) -> type[T]:
    """Class decorator: ``cls`` (a dataclass or an Enum) may be written to and rebuilt from a checkpoint."""
    _REGISTERED[cls.__name__] = cls
    return cls


@functools.cache
def _geometry_types() -> dict[str, type]:
    """The geometry types a checkpoint may rebuild (imported when first needed: a calculator process reading its
    plain spec needs none of them)."""
    from seiscreen.surfaces.sites import CandidateSite, Outcome

    return {cls.__name__: cls for cls in (CandidateSite, Outcome)}


def _types() -> dict[str, type]:
    """The only classes a checkpoint may rebuild, by name: the geometry types and those marked :func:`plain_data`
    (``Minimum``, ``NebResult``)."""
    return {**_geometry_types(), **_REGISTERED}


def dumps(value: Any) -> str:
    """``value`` as checkpoint JSON; TypeError for a value of a type that cannot be rebuilt."""
    return json.dumps({"format": FORMAT, "value": _encode(value)})


def loads(text: str) -> Any:
    """The value :func:`dumps` wrote; :class:`CheckpointUnreadable` for anything else."""
    try:
        payload = json.loads(text)
    except ValueError as exc:  # also a cut-short file
        raise CheckpointUnreadable(f"not JSON ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointUnreadable(f"not a {FORMAT} file")
    return _decode(payload.get("value"))


def _encode(value: Any) -> Any:
    """``value`` as JSON data: JSON's own types as they are, every other type as an object tagged with ``"~"``."""
    if value is None or type(value) in (bool, int, float, str):  # not subclasses: numpy floats, str enums
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"~": "tuple", "items": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"~": "dict", "items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in NUMBER_KINDS:
        array = np.asarray(value)
        return {"~": "ndarray" if isinstance(value, np.ndarray) else "scalar", "dtype": array.dtype.str,
                "shape": list(array.shape), "data": array.ravel().tolist()}
    if isinstance(value, Atoms):
        return _encode_atoms(value)
    name = type(value).__name__
    if _types().get(name) is type(value):
        if isinstance(value, Enum):
            return {"~": "enum", "type": name, "value": _encode(value.value)}
        if dataclasses.is_dataclass(value):
            return {"~": "dataclass", "type": name, "fields": {f.name: _encode(getattr(value, f.name))
                                                               for f in dataclasses.fields(value) if f.init}}
    raise TypeError(f"a checkpoint cannot hold a {type(value).__qualname__}")


def _encode_atoms(atoms: Atoms) -> dict:
    """ASE's JSON of the structure without its calculator, and that calculator's energy and forces."""
    bare = atoms.copy()  # no calculator: a live one (a GPAW process) is not data
    results = None
    if atoms.calc is not None:
        results = {k: v for k, v in atoms.calc.results.items() if k in RESULTS}
    return {"~": "atoms", "ase": ase_encode(bare), "results": _encode(results)}


def _decode(node: Any) -> Any:
    """What :func:`_encode` made ``node`` from; only the tags it writes and the types of :func:`_types`."""
    if isinstance(node, list):
        return [_decode(v) for v in node]
    if not isinstance(node, dict):
        return node
    tag = node.get("~")
    if tag == "tuple":
        return tuple(_decode(v) for v in node["items"])
    if tag == "dict":
        return {_decode(k): _decode(v) for k, v in node["items"]}
    if tag in ("ndarray", "scalar"):
        return _decode_array(node, scalar=tag == "scalar")
    if tag == "atoms":
        return _decode_atoms(node)
    if tag in ("enum", "dataclass") and isinstance(node.get("type"), str) and node["type"] in _types():
        cls = _types()[node["type"]]
        if tag == "enum" and issubclass(cls, Enum):
            return cls(_decode(node["value"]))
        if tag == "dataclass" and dataclasses.is_dataclass(cls):
            allowed = {f.name for f in dataclasses.fields(cls) if f.init}
            if not isinstance(node["fields"], dict) or not set(node["fields"]) <= allowed:
                raise CheckpointUnreadable(f"fields of {cls.__name__} that it does not have")
            return cls(**{k: _decode(v) for k, v in node["fields"].items()})
    raise CheckpointUnreadable(f"a value of unknown type {str(tag)[:40]!r}")


def _decode_array(node: dict, scalar: bool) -> np.ndarray | np.generic:
    dtype = np.dtype(str(node["dtype"]))
    if dtype.kind not in NUMBER_KINDS:
        raise CheckpointUnreadable(f"an array of dtype {dtype} (only numbers are stored)")
    array = np.array(node["data"], dtype=dtype).reshape([int(n) for n in node["shape"]])
    return array[()] if scalar else array


def _decode_atoms(node: dict) -> Atoms:
    atoms = ase_decode(str(node["ase"]))
    if not isinstance(atoms, Atoms):
        raise CheckpointUnreadable("a structure that is not ASE Atoms")
    results = _decode(node["results"])
    if results is not None:
        if not isinstance(results, dict) or not set(results) <= set(RESULTS):
            raise CheckpointUnreadable("calculator results other than energy and forces")
        atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def write_atomic(path: Path, text: str, private: bool = False) -> None:
    """``text`` written to a new temporary file beside ``path``, flushed to disk, then renamed onto it: a kill leaves
    the old file or the new one. ``private``: readable and writable by this user only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # O_EXCL: never written through a file or link someone else put there first
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


_UNREADABLE = (OSError, ValueError, TypeError, KeyError, IndexError, AssertionError, RecursionError)
_warned_pickles: set[Path] = set()  # folders whose old pickle checkpoints were reported (once per process)


class StepCheckpoint:
    """Finished steps of a long computation, one file each (``<folder>/<name>.json``), so a killed run resumes at
    the step it was in. ``None``: no files, every step computed. ``replayed``: steps read back so far."""

    def __init__(self, folder: str | os.PathLike | None):
        self.folder = Path(folder) if folder is not None else None
        self.replayed = 0

    def path(self, name: str) -> Path | None:
        """The file of step ``name`` (None without a folder)."""
        return self.folder / f"{name}{SUFFIX}" if self.folder is not None else None

    def cached(self, name: str, compute: Callable[[], T]) -> T:
        """Step ``name``'s value read back, or ``compute()`` run and its value saved (atomically)."""
        value = self.load(name)
        return value if value is not None else self.save(name, compute())

    def load(self, name: str) -> Any:
        """Step ``name``'s value read back; None if it has no readable file (an unreadable one is removed)."""
        path = self.path(name)
        if path is None or not path.exists():
            return None
        try:
            value = loads(path.read_text(encoding="utf-8"))
        except _UNREADABLE as exc:
            log.warning("discarding unreadable checkpoint %s (%s): computing that step again", path, exc)
            path.unlink(missing_ok=True)
            return None
        self.replayed += 1
        return value

    def save(self, name: str, value: T) -> T:
        """``value`` kept as step ``name`` (atomically; not at all without a folder); returned."""
        path = self.path(name)
        if path is None:
            return value
        self._ignore_pickle(name)
        try:
            text = dumps(value)
        except TypeError as exc:  # a run must not fail over its checkpoint
            log.warning("step %s not checkpointed (%s): a rerun computes it again", path, exc)
            return value
        write_atomic(path, text)
        return value

    def _ignore_pickle(self, name: str) -> None:
        """Say once per folder that checkpoints of older seiscreen versions (pickles) are never read."""
        old = self.folder / f"{name}.pkl"
        if old.exists() and self.folder not in _warned_pickles:
            _warned_pickles.add(self.folder)
            log.warning("ignoring the pickle checkpoints of an older seiscreen in %s (a pickle can run code, so "
                        "it is never read): computing those steps again", self.folder)
