"""Calculator presets defined by the user: any callable that returns an ASE calculator, named in YAML.

A definition names a factory (``"package.module:callable"``) and the keyword arguments it gets. It comes from a
campaign's ``presets:`` list, a file named by ``seiscreen run --presets FILE`` or the environment variable
``SEISCREEN_PRESETS`` (files, ``os.pathsep``-separated). The registry itself, and the check that a definition
does not take a built-in name, are :mod:`seiscreen.calculators`'s; this module holds what it needs and knows no
other preset: the definition, reading it, passing it to child processes, and building its calculator.

Child processes (Dask workers, a band's image processes) look presets up by name: every definition registered in
a process is also written, as JSON, into the environment variable :data:`DEFINITIONS_VAR`, which processes
started afterwards inherit and read on their first lookup.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from ase.calculators.calculator import BaseCalculator, Calculator, all_changes
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from seiscreen.errors import SeiscreenError

#: Preset files the user names (``os.pathsep``-separated): read by every process on its first lookup.
FILES_VAR = "SEISCREEN_PRESETS"
#: The definitions registered in this process, as JSON: set by seiscreen, inherited by the processes it starts.
DEFINITIONS_VAR = "SEISCREEN_PRESET_DEFINITIONS"
#: The folders of a ``per_calculation_directory`` preset's calculators: ``calc-0000``, ``calc-0001``, ...
CALCULATION_FOLDER = "calc-{:04d}"

_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")


class UserPresetDefinition(BaseModel):
    """One user-defined calculator preset, as written in YAML (a campaign's ``presets:`` or a presets file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the name a campaign's calculator: or fidelities: uses; not a built-in's")
    factory: str = Field(description="'package.module:callable': a class or function returning an ASE calculator")
    parameters: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the factory; "
                                       "stored with every number and part of its content hash")
    per_calculation_directory: bool = Field(False, description="file-based codes: each calculator made runs in a "
                                            "fresh folder calc-NNNN under the job's run folder, passed to the "
                                            "factory as directory=; kept after a failure")
    slab_pbc: tuple[bool, bool, bool] | None = Field(None, description="the periodicity slabs get for this code "
                                                     "(e.g. [true, true, false]); None: the slab's own")
    barrier_uncertainty: float | None = Field(None, ge=0, description="eV: the measured residual of the settings, "
                                              "reported with every barrier (not part of content hashes)")
    description: str = Field("", description="one line for `seiscreen presets`")
    records_frames: bool = Field(False, description="keep every calculation with forces as a training frame")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not name or not set(name) <= _NAME_CHARACTERS:
            raise ValueError(f"preset name {name!r}: use letters, digits and . _ + - only, e.g. 'vasp-pbe'")
        return name

    @field_validator("factory")
    @classmethod
    def _module_and_callable(cls, factory: str) -> str:
        module, _, attribute = factory.partition(":")
        if not module or not attribute or not all(p.isidentifier() for p in [*module.split("."),
                                                                              *attribute.split(".")]):
            raise ValueError(f"factory {factory!r} is not 'package.module:callable': write it like "
                             "'ase.calculators.vasp:Vasp'")
        return factory

    @field_validator("parameters")
    @classmethod
    def _plain_data(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(parameters, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameters must be plain data (numbers, text, lists, mappings): {exc}") from None
        return parameters

    @field_validator("slab_pbc", mode="before")
    @classmethod
    def _in_plane_periodic(cls, value: Any) -> Any:
        good = (value is None or (isinstance(value, (list, tuple)) and len(value) == 3
                                  and all(isinstance(v, bool) for v in value) and value[0] and value[1]))
        if not good:
            raise ValueError(f"slab_pbc {json.dumps(value, default=str)}: give three booleans, periodic in-plane: "
                             "[true, true, false] (no periodicity along z) or [true, true, true]")
        return value


# ------------------------------------------------------------------------------------------- reading definitions


def explain(exc: ValidationError, prefix: str = "") -> str:
    """The first problem of a definition as one sentence naming the key (after ``prefix``) and the fix; a misspelt
    key before the required one it then lacks."""
    error = next((e for e in exc.errors() if e["type"] == "extra_forbidden"), exc.errors()[0])
    where = (prefix + ".".join(str(x) for x in error["loc"])).rstrip(".") or "preset"
    if error["type"] == "extra_forbidden":
        allowed = sorted(UserPresetDefinition.model_fields)
        close = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {where!r}{hint}: allowed keys are {', '.join(allowed)}"
    if error["type"] == "missing":
        return f"missing key {where!r}: a preset needs a name and a factory"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def read_preset_file(path: str | os.PathLike) -> list[UserPresetDefinition]:
    """The definitions of a presets file: a YAML list of definitions, or a mapping with that list under
    ``presets:`` (the text a campaign's ``presets:`` holds). Any problem is one :class:`SeiscreenError` line."""
    path = Path(path)
    if not path.is_file():
        raise SeiscreenError(f"presets file {path} not found: pass the path of a YAML file (--presets or "
                             f"{FILES_VAR})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SeiscreenError(f"{path} is not valid YAML text ({str(exc).splitlines()[0]}): fix the file") from None
    entries = raw.get("presets") if isinstance(raw, dict) and set(raw) == {"presets"} else raw
    if not isinstance(entries, list):
        raise SeiscreenError(f"{path} holds no presets: write a list of definitions under 'presets:' "
                             "(docs/calculators.md, Presets of your own)")
    definitions = []
    for k, entry in enumerate(entries):
        try:
            definitions.append(UserPresetDefinition.model_validate(entry))
        except ValidationError as exc:
            raise SeiscreenError(f"{path}: {explain(exc, f'presets.{k}.')}") from None
    return definitions


def preset_files() -> list[Path]:
    """The files of :data:`FILES_VAR`, absolute."""
    return [Path(entry).expanduser().resolve() for entry in os.environ.get(FILES_VAR, "").split(os.pathsep) if entry]


def resolve_files_var() -> None:
    """:data:`FILES_VAR` with absolute paths, so that processes started in other folders (job folders) find them."""
    if os.environ.get(FILES_VAR):
        os.environ[FILES_VAR] = os.pathsep.join(str(path) for path in preset_files())


def environment_definitions() -> list[tuple[str, UserPresetDefinition]]:
    """(where from, definition) of every definition the environment holds: those registered by the process that
    started this one (:data:`DEFINITIONS_VAR`), then those of the files of :data:`FILES_VAR`."""
    out = []
    inherited = os.environ.get(DEFINITIONS_VAR)
    if inherited:
        try:
            entries = json.loads(inherited)
            out += [(entry["source"], UserPresetDefinition.model_validate(entry["definition"]))
                    for entry in entries]
        except (ValueError, KeyError, TypeError):
            raise SeiscreenError(f"{DEFINITIONS_VAR} does not hold preset definitions: unset it (seiscreen sets it "
                                 "for the processes it starts)") from None
    for path in preset_files():
        out += [(str(path), definition) for definition in read_preset_file(path)]
    return out


def publish(entries: list[tuple[str, UserPresetDefinition]]) -> None:
    """Put ``entries`` (where from, definition) into :data:`DEFINITIONS_VAR`, for the processes started later."""
    os.environ[DEFINITIONS_VAR] = json.dumps([{"source": source, "definition": d.model_dump(mode="json")}
                                              for source, d in entries], sort_keys=True)


def environment_key() -> tuple[str | None, str | None]:
    """What the registry of a process was last read from: the two variables' values."""
    return os.environ.get(FILES_VAR), os.environ.get(DEFINITIONS_VAR)


def child_environment() -> dict[str, str]:
    """The variables a process started elsewhere (a batch job) needs to find this process's user presets."""
    return {name: os.environ[name] for name in (FILES_VAR, DEFINITIONS_VAR) if os.environ.get(name)}


# ----------------------------------------------------------------------------------------- building a calculator


def load_factory(factory: str, preset: str) -> Callable[..., Any]:
    """The callable of ``'package.module:callable'``; an unimportable module or a missing name is one line."""
    module_name, _, attribute = factory.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SeiscreenError(f"user preset {preset!r}: cannot import {module_name!r} ({exc}): install it or put its "
                             "folder on PYTHONPATH") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise SeiscreenError(f"user preset {preset!r}: {module_name} has no {attribute!r}: check the factory "
                                 f"{factory!r}")
        target = getattr(target, part)
    if not callable(target):
        raise SeiscreenError(f"user preset {preset!r}: {factory} is not callable: name a class or a function that "
                             "returns an ASE calculator")
    return target


def call_factory(factory: str, parameters: dict[str, Any], preset: str,
                 directory: Path | None = None) -> BaseCalculator:
    """The calculator ``factory(**parameters)`` returns (``directory=`` added when given), checked to be an ASE
    calculator; a factory that raises or returns anything else is one line."""
    target = load_factory(factory, preset)
    if isinstance(target, type) and not issubclass(target, BaseCalculator):
        raise SeiscreenError(f"user preset {preset!r}: {factory} is the class {target.__name__}, not an ASE "
                             "calculator: name a subclass of ase.calculators.calculator.Calculator")
    kwargs = copy.deepcopy(parameters)  # the preset's own stay as stored, whatever the factory does
    if directory is not None:
        kwargs["directory"] = str(directory)
    try:
        calc = target(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of foreign code is the definition's: one line
        first = (str(exc).splitlines() or [""])[0]
        first = first if len(first) <= 120 else first[:117] + "..."
        raise SeiscreenError(f"user preset {preset!r}: {factory}(**parameters) failed: {type(exc).__name__}: "
                             f"{first}: fix its parameters") from None
    if not isinstance(calc, BaseCalculator):
        raise SeiscreenError(f"user preset {preset!r}: {factory} returned {type(calc).__name__}, not an ASE "
                             "calculator: the factory must return an ase.calculators Calculator")
    return calc


def check_factory(factory: str, parameters: dict[str, Any], preset: str, per_calculation_directory: bool) -> None:
    """Build the calculator once (in a temporary folder, removed after) to refuse a bad definition before any
    computation; a definition already checked in this process is not built again."""
    key = json.dumps([factory, parameters, per_calculation_directory], sort_keys=True)
    if key in _CHECKED:
        return
    with tempfile.TemporaryDirectory(prefix="seiscreen-preset-check-") as folder:
        call_factory(factory, parameters, preset, Path(folder) if per_calculation_directory else None)
    _CHECKED.add(key)


_CHECKED: set[str] = set()


def calculation_folder(parent: Path) -> Path:
    """A new, empty folder ``calc-NNNN`` under ``parent``, the next free number (claimed by ``mkdir``, so two
    processes never get the same one)."""
    parent.mkdir(parents=True, exist_ok=True)
    number = sum(1 for _ in parent.glob("calc-*"))
    while True:
        folder = parent / CALCULATION_FOLDER.format(number)
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            number += 1


@cache
def factory_version(factory: str) -> str | None:
    """The installed version of the distribution that provides the factory's top-level package, or None."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    top = factory.partition(":")[0].split(".")[0]
    names = packages_distributions().get(top) or [top]
    try:
        return version(names[0])
    except PackageNotFoundError:
        return None


class SlabPeriodicity(Calculator):
    """Another calculator, on copies of the structures in which a slab (a vacuum gap along z) has ``slab_pbc``;
    bulk structures are computed as they are. The caller's atoms are left as they were."""

    def __init__(self, inner: BaseCalculator, slab_pbc: tuple[bool, bool, bool], is_slab: Callable[[Any], bool]):
        super().__init__()
        self.inner, self.slab_pbc, self.is_slab = inner, tuple(slab_pbc), is_slab
        self.implemented_properties = list(inner.implemented_properties)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        computed = self.atoms.copy()
        if self.is_slab(computed):
            computed.pbc = self.slab_pbc
        self.inner.calculate(computed, list(properties), system_changes)
        self.results = dict(self.inner.results)
