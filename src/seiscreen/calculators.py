"""The one registry of calculator presets, looked up by name.

A preset is data (code + parameters) that builds an ASE calculator on demand and is stored, whole, with every
number it produced. Heavy packages (torch, GPAW) are imported only when their preset is built. Besides the built-in
:data:`PRESETS`, users define presets of code ``factory`` (any callable returning an ASE calculator,
:mod:`seiscreen.user_presets`), registered here by name and found again in every process (:func:`get_preset`).
"""

from __future__ import annotations

import contextlib
import io
import os
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from ase import Atoms
from ase.calculators.calculator import Calculator
from pydantic import BaseModel, ConfigDict, model_validator

from seiscreen.errors import SeiscreenError, UnknownNameError
from seiscreen.finetuned_models import (_FINETUNED_FOLDERS, FINETUNED_MANIFEST, FINETUNED_PREFIX,  # noqa: F401
                                        _finetuned_folders, _unknown_model, file_sha256, finetuned_weights,
                                        model_dirs, read_finetuned_manifest, read_finetuned_model,
                                        read_finetuned_weights)
from seiscreen.frames import RecordingCalculator
from seiscreen.gpaw_solvent import SOLVENTS, solvent_parameters
from seiscreen.gpaw_scf import (SCF_RECORD, SCF_RETRIES, ScfRetryCalculator, ScfStall,  # noqa: F401
                                gpaw_keywords, is_slab, scf_record)
from seiscreen import user_presets as _user

# "factory": a user-defined preset, built by the callable it names (seiscreen.user_presets).
Code = Literal["emt", "chgnet", "sevennet", "gpaw", "factory"]
# Where an ML model runs: "auto" is CUDA when torch sees a GPU, else the CPU (resolve_device).
Device = Literal["auto", "cpu", "cuda"]
ML_CODES = ("chgnet", "sevennet")
_PACKAGE = {"emt": "ase", "chgnet": "chgnet", "sevennet": "sevenn", "gpaw": "gpaw"}
_INSTALL = {"chgnet": "pip install -e '.[ml]' (after torch==2.13.0; see scripts/setup.sh)",
            "sevennet": "pip install -e '.[ml]' (after torch==2.13.0; see scripts/setup.sh)",
            "gpaw": "CC=g++ pip install -e '.[gpaw]' (see scripts/setup.sh)"}


class CalculatorPreset(BaseModel):
    """A named calculator set-up. ``parameters`` go verbatim to the calculator (GPAW) or model loader (ML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    code: Code
    description: str
    parameters: dict[str, Any] = {}
    # Slab-facing settings that are not calculator keywords: spin needs an initial moment on the adatom.
    adatom_magmom: float = 0.0
    # eV: the convergence residual measured for this preset (docs/calculators.md), reported with every barrier
    # it gives. An assessment of the settings, not a setting: not part of the protocol or of content hashes.
    barrier_uncertainty: float | None = None
    # Keep every calculation with forces as a training frame (seiscreen.frames); None: the DFT codes do. Changes no
    # number: not part of the provenance.
    records_frames: bool | None = None
    # Code "factory" only (user presets): the callable that builds the calculator ("package.module:callable"),
    # whether each calculator made gets a fresh folder of its own (passed as directory=), and the periodicity a slab
    # gets for it (GPAW's is built in: slab_pbc).
    factory: str | None = None
    per_calculation_directory: bool = False
    slab_periodicity: tuple[bool, bool, bool] | None = None
    # ML codes only: the torch device of the model. Changes no number beyond float round-off: recorded (resolved)
    # in the provenance, left out of content hashes (schemas.calculator_identity), as the machine is.
    device: Device = "auto"

    @model_validator(mode="after")
    def _device_of_ml_only(self) -> CalculatorPreset:
        if self.device != "auto" and self.code not in ML_CODES:
            raise ValueError(f"preset {self.name!r}: device {self.device!r} applies to ML presets only "
                             f"({', '.join(ML_CODES)}), not {self.code}")
        return self

    @property
    def torch_device(self) -> str:
        """The device this preset's model runs on: "cpu" or "cuda" (``device`` resolved, :func:`resolve_device`)."""
        return resolve_device(self.device)

    def on_device(self, device: Device | None) -> CalculatorPreset:
        """This preset with its model on ``device`` (a campaign's ``parallel.device``); None, or a code without a
        device (EMT, GPAW, a user's factory): itself."""
        if device is None or device == self.device or self.code not in ML_CODES:
            return self
        return self.model_copy(update={"device": device})

    @property
    def recording(self) -> bool:
        """Whether this preset's calculations are kept as training frames."""
        return self.code == "gpaw" if self.records_frames is None else self.records_frames

    def provenance(self) -> dict[str, Any]:
        """Everything needed to say how a number was computed (a user preset's factory and slab periodicity
        included; ``package_version`` is left out of content hashes, see ``schemas.calculator_identity``)."""
        if self.code == "factory":
            out = {"preset": self.name, "code": self.code, "factory": self.factory, "parameters": self.parameters,
                   "adatom_magmom": self.adatom_magmom, "package_version": _user.factory_version(self.factory)}
            if self.slab_periodicity is not None:
                out["slab_pbc"] = list(self.slab_periodicity)
            return out
        try:
            package_version = version(_PACKAGE[self.code])
        except PackageNotFoundError:
            package_version = None
        out = {"preset": self.name, "code": self.code, "parameters": self.parameters,
               "adatom_magmom": self.adatom_magmom, "package_version": package_version}
        if self.code in ML_CODES:  # recorded, not hashed (schemas.calculator_identity)
            out["device"] = self.torch_device
        return out

    @property
    def slab_pbc(self) -> tuple[bool, bool, bool] | None:
        """The periodicity this code gives a slab it is made for (GPAW: none along z, where the dipole layer
        sits); None: the slab's own. Structures rebuilt from storage (a resumed band's ends) need it too."""
        return (True, True, False) if self.code == "gpaw" else self.slab_periodicity

    def make(self, atoms: Atoms | None = None, directory: str | os.PathLike | None = None) -> Calculator:
        """An ASE calculator; ``atoms`` (when given) is prepared in place (:meth:`prepare`)."""
        if atoms is not None:
            self.prepare(atoms)
        folder = Path(directory) if directory else None
        calc = _BUILDERS[self.code](self, atoms, folder)
        # GPAW records inside ScfRetryCalculator (on MPI rank 0 only), a user preset inside its slab periodicity
        if self.recording and self.code not in ("gpaw", "factory"):
            return RecordingCalculator(calc, self.name, folder)
        return calc

    def prepare(self, atoms: Atoms) -> None:
        """What this code needs of a slab, set in place: GPAW's periodicity (none along z) and, with spin, the
        adatom's initial moment (the adatom is always the last atom); a user preset's slab periodicity."""
        if self.code == "factory" and self.slab_periodicity is not None:
            atoms.pbc = self.slab_periodicity
        if self.code != "gpaw":
            return
        atoms.pbc = self.slab_pbc
        if self.adatom_magmom and self.parameters.get("spinpol"):
            moments = [0.0] * len(atoms)
            moments[-1] = self.adatom_magmom
            atoms.set_initial_magnetic_moments(moments)


def _emt(preset: CalculatorPreset, atoms, directory) -> Calculator:
    from ase.calculators.emt import EMT

    return EMT(**preset.parameters)


def _factory(preset: CalculatorPreset, atoms, directory) -> Calculator:
    """A user preset's calculator: its factory called (in a fresh folder under ``directory`` when it asks for
    one), recording frames and giving slabs its periodicity where the preset says so."""
    folder = _user.calculation_folder(directory or Path.cwd()) if preset.per_calculation_directory else None
    calc = _user.call_factory(preset.factory, preset.parameters, preset.name, folder)
    if preset.recording:  # frames of the structures as computed (a slab with its slab_pbc)
        calc = RecordingCalculator(calc, preset.name, directory)
    if preset.slab_periodicity is not None:  # slabs computed with it, bulk as it is (as GPAW's presets)
        return _user.SlabPeriodicity(calc, preset.slab_periodicity, is_slab)
    return calc


def resolve_device(device: Device) -> str:
    """"cpu" or "cuda" for a preset's ``device``: "auto" is "cuda" when ``torch.cuda.is_available()``; "cuda"
    without a GPU torch can see is refused in one line."""
    if device == "cpu":
        return "cpu"
    if _cuda_available():
        return "cuda"
    if device == "cuda":
        raise SeiscreenError("device 'cuda': torch sees no CUDA GPU here (torch.cuda.is_available() is False): "
                             "use device auto or cpu, or install torch with CUDA on a machine with a GPU")
    return "cpu"


@cache
def _cuda_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _torch_threads() -> None:
    import torch

    # One process per job: the caller decides threads through OMP_NUM_THREADS (two 2-thread jobs on 2 cores crawl).
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))


@cache
def _chgnet_model(model_name: str, device: str = "cpu"):
    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):
        return CHGNet.load(model_name=model_name, use_device=device, verbose=False)


def _chgnet(preset: CalculatorPreset, atoms, directory) -> Calculator:
    _require("chgnet", preset)
    _torch_threads()
    from chgnet.model.dynamics import CHGNetCalculator

    model, params = chgnet_model(preset)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "CHGNet will run on cpu" for every instance
        return CHGNetCalculator(model=model, use_device=preset.torch_device, **params)


def _sevennet(preset: CalculatorPreset, atoms, directory) -> Calculator:
    _require("sevenn", preset)
    _torch_threads()
    from sevenn.calculator import SevenNetCalculator

    params = dict(preset.parameters)
    model = params.pop("model", "7net-0")
    if "finetuned" not in params:
        return SevenNetCalculator(model, device=preset.torch_device, **params)
    sha256 = params.pop("weights_sha256", "")
    path = finetuned_weights(params.pop("finetuned"), sha256)
    return SevenNetCalculator(_finetuned_model(str(path), sha256, "sevennet", preset.torch_device),
                              file_type="model_instance", device=preset.torch_device, **params)


def _gpaw(preset: CalculatorPreset, atoms, directory) -> Calculator:
    _require("gpaw", preset)
    params = dict(preset.parameters)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    return ScfRetryCalculator(params, directory, adatom_magmom=preset.adatom_magmom,
                              frames_preset=preset.name if preset.recording else None)


def _require(package: str, preset: CalculatorPreset) -> None:
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise SeiscreenError(f"calculator preset {preset.name!r} needs {package}, which is not installed: "
                             f"{_INSTALL[preset.code]}")


_BUILDERS = {"emt": _emt, "chgnet": _chgnet, "sevennet": _sevennet, "gpaw": _gpaw, "factory": _factory}

_GPAW_COMMON = {
    "xc": "PBE",
    # 1-electron Na setup: 4-5x cheaper than the default 7-electron one (measured; see docs/calculators.md).
    "setups": {"Na": "1"},
    "kpts": {"density": 2.5, "gamma": True},  # points per Å^-1: a bigger supercell gets fewer k-points
    "smearing": 0.05,
    "spinpol": True,  # a lone Na adatom on an insulator carries ~0.9 μB
    "poissonsolver": {"dipolelayer": "xy"},
    "convergence": {"energy": 5e-4, "density": 1e-4},
    "maxiter": 300,
    # No point-group symmetry: an adatom moving off a symmetric site (every relaxation and NEB image) otherwise
    # stops GPAW with SymmetryBrokenError. Time reversal is kept (collinear spins), so k-points still halve.
    "symmetry": {"point_group": False},
}

PRESETS: dict[str, CalculatorPreset] = {
    p.name: p
    for p in [
        CalculatorPreset(name="emt", code="emt", description="ASE EMT: tests with stand-in chemistry (Au on Al)"),
        CalculatorPreset(name="chgnet", code="chgnet", description="CHGNet 0.3.0 universal potential (ships weights)",
                         parameters={"model": "0.3.0"}),
        CalculatorPreset(name="sevennet", code="sevennet", description="SevenNet 7net-0 universal potential",
                         parameters={"model": "7net-0"}),
        # The other SevenNet models whose weights ship in the wheel (they load offline).
        CalculatorPreset(name="sevennet-l3i5", code="sevennet", parameters={"model": "7net-l3i5"},
                         description="SevenNet 7net-l3i5 universal potential (l_max 3, 5 layers; MPtrj)"),
        CalculatorPreset(name="sevennet-mf0", code="sevennet", parameters={"model": "7net-mf-0", "modal": "PBE"},
                         description="SevenNet 7net-MF-0 multi-fidelity potential, its PBE (MPtrj) head"),
        CalculatorPreset(name="sevennet-mf0-r2scan", code="sevennet",
                         parameters={"model": "7net-mf-0", "modal": "R2SCAN"},
                         description="SevenNet 7net-MF-0 multi-fidelity potential, its r2SCAN head"),
        # Uncertainty: the sum of the measured changes of its converged settings on NaF(100) (h 0.001, k-points
        # 0.006, thickness 0.003, lateral size 0.001, vacuum 0.001 eV) and of its dzp basis against plane waves
        # (0.041 eV; docs/calculators.md). The 1-electron Na setup costs 0.002 eV there: kept.
        CalculatorPreset(name="gpaw-lcao", code="gpaw", adatom_magmom=1.0, barrier_uncertainty=0.053,
                         description="GPAW LCAO dzp, PBE, spin-polarised, dipole-corrected: screening",
                         parameters={"mode": "lcao", "basis": "dzp", "h": 0.25, **_GPAW_COMMON}),
        # Small-cell DFT screening on 2 cores: Γ-only slabs and no spin, each ~4x cheaper; the residuals against
        # gpaw-lcao were measured on NaF(100) (docs/calculators.md) and are carried as the uncertainty: gpaw-lcao's
        # 0.053 plus Γ-only 0.024 (k 2.5 Å⁻¹ vs Γ) and spin 0.006 eV, where the Γ-only and lateral-size residuals
        # (0.024 + 0.001, unrelaxed single points) are replaced by the change of the NaF(100) barrier itself from
        # the 6.55 to the 9.27 Å cell at Γ (0.131 -> 0.179 eV: 0.048), so 0.106.
        CalculatorPreset(name="gpaw-lcao-gamma", code="gpaw", barrier_uncertainty=0.106,
                         description="GPAW LCAO dzp, PBE, Γ-only slabs, spin-paired: fast small-cell screening",
                         parameters={"mode": "lcao", "basis": "dzp", "h": 0.25,
                                     **{**_GPAW_COMMON, "kpts": (1, 1, 1), "spinpol": False,
                                        "bulk_kpts": _GPAW_COMMON["kpts"]}}),
        CalculatorPreset(name="gpaw-pw", code="gpaw", adatom_magmom=1.0,
                         description="GPAW plane waves 400 eV, PBE, spin-polarised, dipole-corrected: verification",
                         parameters={"pw_cutoff": 400, **_GPAW_COMMON}),
        CalculatorPreset(name="gpaw-test", code="gpaw", description="GPAW LCAO sz, Γ only, loose: tests only",
                         parameters={"mode": "lcao", "basis": "sz(dzp)", "h": 0.3, "xc": "PBE",
                                     "setups": {"Na": "1"}, "kpts": (1, 1, 1), "smearing": 0.1,
                                     "convergence": {"energy": 1e-3, "density": 1e-3}, "maxiter": 200,
                                     "symmetry": {"point_group": False}}),
    ]
}



def solvated_preset(vacuum: CalculatorPreset, solvent: str) -> CalculatorPreset:
    """The twin of the GPAW preset ``vacuum`` in the implicit solvent ``solvent`` (a key of
    :data:`seiscreen.gpaw_solvent.SOLVENTS`), named ``<vacuum>-<solvent>``: its parameters and the solvent block
    (:func:`seiscreen.gpaw_solvent.solvent_parameters`), nothing else changed. Its uncertainty is the twin's, which
    covers the numerical settings and not the solvent model."""
    if vacuum.code != "gpaw":
        raise SeiscreenError(f"preset {vacuum.name!r} is not a GPAW preset: only GPAW has the implicit solvent")
    parameters = {**vacuum.parameters, "solvent": solvent_parameters(solvent)}
    return vacuum.model_copy(update={
        "name": f"{vacuum.name}-{solvent}", "parameters": parameters,
        "description": f"{vacuum.description}; in implicit {parameters['solvent']['electrolyte']}"})


# One named preset per solvent and screening level: the solvent is in the name a campaign gives and in every
# content hash; a solvent of one's own is a line in gpaw_solvent.SOLVENTS.
PRESETS.update({preset.name: preset for base in ("gpaw-lcao-gamma", "gpaw-lcao") for solvent in SOLVENTS
                for preset in [solvated_preset(PRESETS[base], solvent)]})

#: The offline ML potential used for pre-screening (chosen by measurement; see docs/calculators.md).
ML_DEFAULT = "chgnet"
ALIASES = {"ml": ML_DEFAULT}


def get_preset(name: str) -> CalculatorPreset:
    """The preset of a name in :data:`PRESETS` or :data:`ALIASES`, a user preset (:func:`user_presets`), or of a
    fine-tuned CHGNet model: ``ml-ft:<name>`` or the path of its folder (:func:`finetuned_preset`)."""
    resolved = ALIASES.get(name, name)
    if resolved in PRESETS:
        return PRESETS[resolved]
    users = user_presets()
    if name in users:
        return users[name]
    if name.startswith(FINETUNED_PREFIX) or (name and Path(name).is_dir()):  # a fine-tuned model
        return finetuned_preset(name)
    raise UnknownNameError(f"unknown calculator preset {name!r}: choose one of "
                           f"{', '.join(sorted([*PRESETS, *ALIASES, *users]))}, or ml-ft:<name> (a fine-tuned "
                           f"model), or define it (a campaign's presets:, --presets FILE or {_user.FILES_VAR})")


# ------------------------------------------------------------------ user presets (seiscreen.user_presets)

# name -> (where it was defined, its definition, its preset): this process's registry, read from the environment
# (user_presets.environment_definitions) on the first lookup and again whenever the two variables change.
_USER: dict[str, tuple[str, _user.UserPresetDefinition, CalculatorPreset]] = {}
_USER_READ_FROM: tuple[str | None, str | None] | None = None


def user_presets() -> dict[str, CalculatorPreset]:
    """Every user preset this process knows: those registered here, and those of the environment (the files of
    ``SEISCREEN_PRESETS``, and the definitions the process that started this one had registered)."""
    global _USER_READ_FROM
    if _user.environment_key() != _USER_READ_FROM:
        _user.resolve_files_var()
        _USER.clear()
        for source, definition in _user.environment_definitions():
            _add_user_preset(definition, source)
        _publish_user_presets()
    return {name: preset for name, (_, _, preset) in _USER.items()}


def user_preset_source(name: str) -> str:
    """Where the user preset ``name`` was defined (a file's path, or "the campaign")."""
    user_presets()
    return _USER[name][0]


def register_user_presets(definitions: list[_user.UserPresetDefinition], source: str) -> list[str]:
    """Register ``definitions`` (from ``source``: a file's path, "the campaign") in this process and in the
    environment of the processes it starts; returns their names. A built-in's name, or a name defined before
    with other content, is refused in one line."""
    user_presets()
    for definition in definitions:
        _add_user_preset(definition, source)
    _publish_user_presets()
    return [definition.name for definition in definitions]


def clear_user_presets() -> None:
    """Forget every user preset of this process and its environment's definitions (the files of
    ``SEISCREEN_PRESETS`` are read again at the next lookup)."""
    global _USER_READ_FROM
    _USER.clear()
    os.environ.pop(_user.DEFINITIONS_VAR, None)
    _USER_READ_FROM = None


def _add_user_preset(definition: _user.UserPresetDefinition, source: str) -> None:
    name = definition.name
    if name in PRESETS or name in ALIASES or name.startswith(FINETUNED_PREFIX):
        raise SeiscreenError(f"user preset {name!r} ({source}) takes the name of a built-in preset: give it "
                             "another name (`seiscreen presets` lists the built-in ones)")
    if name in _USER:
        if _USER[name][1] != definition:
            raise SeiscreenError(f"user preset {name!r} has two different definitions ({_USER[name][0]}; {source}): "
                                 "give one of them another name (a presets file edited while a run uses it "
                                 "counts as two)")
        return
    preset = CalculatorPreset(name=name, code="factory", description=definition.description or
                              f"user-defined: {definition.factory}", parameters=definition.parameters,
                              barrier_uncertainty=definition.barrier_uncertainty,
                              records_frames=definition.records_frames, factory=definition.factory,
                              per_calculation_directory=definition.per_calculation_directory,
                              slab_periodicity=definition.slab_pbc)
    _USER[name] = (source, definition, preset)


def _publish_user_presets() -> None:
    """This process's user presets into the environment its child processes inherit."""
    global _USER_READ_FROM
    if _USER:
        _user.publish([(source, definition) for source, definition, _ in _USER.values()])
    _USER_READ_FROM = _user.environment_key()


# ------------------------------------------------------------------ fine-tuned models (seiscreen.finetune)

def finetuned_preset(name_or_path: str) -> CalculatorPreset:
    """The preset of a fine-tuned CHGNet or SevenNet model (code ``chgnet`` or ``sevennet``, its manifest's
    ``base_code``): ``ml-ft:<name>`` (the folder ``<name>`` in :func:`model_dirs`) or
    the path of a model folder. Its parameters name the base model, the fine-tuned name and the weights' sha256
    (so numbers of different weights never share a content hash), never the folder's path."""
    if name_or_path.startswith(FINETUNED_PREFIX):
        name = name_or_path.removeprefix(FINETUNED_PREFIX)
        folders = _finetuned_folders(name) if name and Path(name).name == name else []
        if not folders:
            raise _unknown_model(name)
        folder = folders[0]
    else:
        folder = Path(name_or_path).resolve()
        name = folder.name
    manifest = read_finetuned_manifest(folder)
    if not name_or_path.startswith(FINETUNED_PREFIX):
        _FINETUNED_FOLDERS[name] = folder
    frames = f" on {manifest['n_frames']} frames" if "n_frames" in manifest else ""
    of = f" of {manifest['dft_preset']}" if manifest.get("dft_preset") else ""
    code = manifest.get("base_code", "chgnet")
    return CalculatorPreset(name=FINETUNED_PREFIX + name, code=code,
                            description=f"{'SevenNet' if code == 'sevennet' else 'CHGNet'} {manifest['base_model']} "
                                        f"fine-tuned{frames}{of} ({name})",
                            parameters={"model": manifest["base_model"], "finetuned": name,
                                        "weights_sha256": manifest["weights_sha256"]})


@cache
def _finetuned_model(path: str, weights_sha256: str, code: str = "chgnet", device: str = "cpu"):
    model = read_finetuned_model(Path(path), code)  # the sha256 in the key: a changed file is a new entry
    return model if device == "cpu" else model.to(device)  # one copy per device: never moved once shared


def chgnet_model(preset: CalculatorPreset) -> tuple[Any, dict[str, Any]]:
    """The CHGNet model a ``chgnet`` preset names (its base weights, or a fine-tuned model's, checked by sha256;
    shared, not to be trained), on the preset's device, and the preset's remaining calculator keywords."""
    params = dict(preset.parameters)
    base = params.pop("model", "0.3.0")
    device = preset.torch_device
    if "finetuned" not in params:
        return _chgnet_model(base, device), params
    sha256 = params.pop("weights_sha256", "")
    path = str(finetuned_weights(params.pop("finetuned"), sha256))
    return _finetuned_model(path, sha256, "chgnet", device), params
