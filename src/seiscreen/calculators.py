"""The one registry of calculator presets, looked up by name.

A preset is data (code + parameters) that builds an ASE calculator on demand and is stored, whole, with every
number it produced. Heavy packages (torch, GPAW) are imported only when their preset is built. Besides the built-in
:data:`PRESETS`, users define presets of code ``factory`` (any callable returning an ASE calculator,
:mod:`seiscreen.user_presets`), registered here by name and found again in every process (:func:`get_preset`).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import time
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from pydantic import BaseModel, ConfigDict

from seiscreen.errors import AtomsLeftCell, SeiscreenError, UnknownNameError
from seiscreen.frames import RecordingCalculator, record
from seiscreen import user_presets as _user

# "factory": a user-defined preset, built by the callable it names (seiscreen.user_presets).
Code = Literal["emt", "chgnet", "sevennet", "gpaw", "factory"]
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
        return {"preset": self.name, "code": self.code, "parameters": self.parameters,
                "adatom_magmom": self.adatom_magmom, "package_version": package_version}

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


def is_slab(atoms: Atoms) -> bool:
    """Whether ``atoms`` is a slab: a vacuum gap of more than 5 Å along z (else bulk)."""
    z = np.sort(atoms.cell.scaled_positions(atoms.positions)[:, 2] % 1.0) * atoms.cell.lengths()[2]
    gaps = np.diff(np.append(z, z[0] + atoms.cell.lengths()[2]))
    return bool(gaps.max() > 5.0)


def _torch_threads() -> None:
    import torch

    # One process per job: the caller decides threads through OMP_NUM_THREADS (two 2-thread jobs on 2 cores crawl).
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))


@cache
def _chgnet_model(model_name: str):
    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):
        return CHGNet.load(model_name=model_name, use_device="cpu", verbose=False)


def _chgnet(preset: CalculatorPreset, atoms, directory) -> Calculator:
    _require("chgnet", preset)
    _torch_threads()
    from chgnet.model.dynamics import CHGNetCalculator

    model, params = chgnet_model(preset)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "CHGNet will run on cpu" for every instance
        return CHGNetCalculator(model=model, use_device="cpu", **params)


def _sevennet(preset: CalculatorPreset, atoms, directory) -> Calculator:
    _require("sevenn", preset)
    _torch_threads()
    from sevenn.calculator import SevenNetCalculator

    params = dict(preset.parameters)
    return SevenNetCalculator(params.pop("model", "7net-0"), device="cpu", **params)


def _gpaw(preset: CalculatorPreset, atoms, directory) -> Calculator:
    _require("gpaw", preset)
    params = dict(preset.parameters)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    return ScfRetryCalculator(params, directory, adatom_magmom=preset.adatom_magmom,
                              frames_preset=preset.name if preset.recording else None)


def gpaw_keywords(params: dict, txt) -> dict:
    """Preset parameters as GPAW keywords (plane-wave cut-off and smearing written as numbers in presets)."""
    from gpaw import PW, FermiDirac

    params = dict(params)
    if "pw_cutoff" in params:
        params["mode"] = PW(params.pop("pw_cutoff"))
    if "smearing" in params:
        params["occupations"] = FermiDirac(params.pop("smearing"))
    params["txt"] = txt
    return params


# What custodian does for VASP, here for GPAW: each rung is applied on top of the preset after an SCF failure
# (a "convergence" rung updates the preset's criteria, the rest replace). The first two keep the Hamiltonian, so
# their energies compare with the preset's: a Pulay mixer, then a looser density criterion with a force-change
# criterion (a looser density alone leaves forces too noisy for a band). Only the last two raise the smearing, which
# changes energies: a band whose images ended on different smearing fails the gate same_scf_smearing
# (bands.same_smearing_gate). Measured on gpaw-lcao's NaF(100) bands: docs/notes/2026-11-27-gpaw-lcao-naf100.md.
SCF_RETRIES = (
    {"mixer": {"beta": 0.05, "nmaxold": 5, "weight": 50.0}, "maxiter": 500},
    {"mixer": {"beta": 0.05, "nmaxold": 5, "weight": 50.0}, "convergence": {"density": 5e-4, "forces": 0.01},
     "maxiter": 500},
    {"mixer": {"beta": 0.02, "nmaxold": 8, "weight": 100.0}, "smearing": 0.1, "maxiter": 800},
    {"mixer": {"beta": 0.01, "nmaxold": 10, "weight": 100.0}, "smearing": 0.2, "maxiter": 1500},
)


class ScfStall:
    """GPAW ``scf_step`` hook: ends an SCF whose density error has stopped falling, so that the next, gentler rung
    starts now rather than after the preset's ``maxiter`` iterations.

    Stalled means no new lowest density error, by ``decades``, in the last ``window`` iterations. Seen under
    ``gpaw-lcao`` on spin-polarised NaF(100) band images: one reached 10^-3.90 by iteration 15, then wandered
    between 10^-2.9 and 10^-4.0 (the adatom's moment between -0.03 and 0.73 μB) until it met the 10^-4 criterion
    at iteration 160, 23 minutes; another never went below 10^-3.6 in 186 iterations (31 minutes). Replayed on
    their logged errors, this hook ends them at iterations 55 and 57. A converging SCF sets a new lowest error
    every few iterations and is never stopped.
    """

    def __init__(self, window: int = 40, decades: float = 0.1):
        self.window, self.decades = window, decades
        self.errors: list[float] = []  # log10 density errors of the current SCF
        self.stalled_at: float | None = None  # the lowest density error of the SCF it ended

    def __call__(self, ctx) -> None:
        from gpaw import KohnShamConvergenceError
        from gpaw.mpi import broadcast_float

        if ctx.niter <= len(self.errors):  # a new SCF (the next call, or a retry)
            self.errors.clear()
        # Per electron, as GPAW's criterion and text output have it; rank 0's, so that under MPI all ranks stop
        # together (as GPAW's own criterion does).
        error = broadcast_float(ctx.dens.error, ctx.wfs.world) / ctx.wfs.nvalence
        self.errors.append(np.log10(error) if error and np.isfinite(error) else np.inf)  # 0: not mixed yet
        if len(self.errors) > self.window and (
                min(self.errors[-self.window:]) > min(self.errors[:-self.window]) - self.decades):
            self.stalled_at = float(10 ** min(self.errors))
            raise KohnShamConvergenceError(f"density error stalled at 10^{min(self.errors):.2f} for "
                                           f"{self.window} iterations")


class ScfRetryCalculator(Calculator):
    """GPAW with SCF-failure handling: on non-convergence, rebuild with a gentler mixer, more smearing and more
    iterations and try again; after the last rung, a clear error (the NEB job then marks the hop failed).

    A rung also ends early when its density error stalls (:class:`ScfStall`); the next rung rebuilds GPAW with
    the gentler settings, and the calculator keeps its rung for the calls after.

    The GPAW object is kept between calls, so an NEB image reuses its wavefunctions from the previous step. With a
    job folder, the text output goes to ``gpaw.txt`` (``gpaw-bulk.txt``) and the last converged state to a restart
    file beside it, ``gpaw.gpw`` (``gpaw-bulk.gpw``: positions, density, results; ``GPAW("gpaw.gpw")`` reads it),
    written at most once every ``restart_seconds`` and replaced whole (never half-written). One
    instance serves slabs and bulk alike (a minima search computes both): a structure with a vacuum gap along z
    is a slab (z made non-periodic for the dipole layer), anything else is bulk (no dipole layer); each kind keeps
    its own GPAW object. With spin and no initial moments given, the last atom (the adatom) starts with
    ``adatom_magmom``; a closed-shell clean slab or metallic bulk relaxes that away.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "magmom", "magmoms"]

    def __init__(self, params: dict, directory: Path | None = None, retries=SCF_RETRIES, adatom_magmom: float = 0.0,
                 restart_seconds: float = 60.0, stall_window: int = 40, frames_preset: str | None = None):
        super().__init__()
        self.frames_preset = frames_preset  # the preset name its training frames carry (None: none recorded)
        self.stall_window = stall_window  # ScfStall's window (0: none; each rung then runs to its maxiter)
        self.params, self.retries, self.workdir = dict(params), retries, directory
        self.adatom_magmom, self.restart_seconds = adatom_magmom, restart_seconds
        self._restart_written: dict[str, float] = {}  # kind -> time.monotonic() of its last restart file
        self.rung = 0  # 0: the preset as written
        self.history: list[str] = []
        self._recorded: dict | None = None  # the last scf.json written
        self._engines: dict[str, object] = {}
        self._gpaw = None

    def _build(self, kind: str):
        from gpaw import GPAW

        params = self.rung_parameters
        # A slab supercell may run at Γ only, but the bulk references (metallic Na) always need their own k-mesh.
        bulk_kpts = params.pop("bulk_kpts", None)
        if kind == "bulk":
            params.pop("poissonsolver", None)  # the dipole layer needs vacuum
            params.pop("symmetry", None)  # pristine, isotropically strained crystals keep their point group
            if bulk_kpts is not None:
                params["kpts"] = bulk_kpts
        txt = str(self._output(kind, ".txt")) if self.workdir is not None else None
        calc = GPAW(**gpaw_keywords(params, txt))
        if self.stall_window and hasattr(calc, "hooks"):  # GPAW's new code (the default since 24.1)
            calc.hooks["scf_step"] = ScfStall(self.stall_window)
        return calc

    def _output(self, kind: str, suffix: str) -> Path:
        """A file of the job folder: gpaw.txt / gpaw.gpw for the slab, gpaw-bulk.txt / gpaw-bulk.gpw for bulk."""
        return self.workdir / (f"gpaw{suffix}" if kind == "slab" else f"gpaw-{kind}{suffix}")

    @staticmethod
    def _kind(atoms: Atoms) -> str:
        return "slab" if is_slab(atoms) else "bulk"

    def _prepare(self) -> str:
        kind = self._kind(self.atoms)
        if kind == "slab":
            self.atoms.pbc = (True, True, False)
        if self.params.get("spinpol") and self.adatom_magmom and not self.atoms.get_initial_magnetic_moments().any():
            moments = np.zeros(len(self.atoms))
            moments[-1] = self.adatom_magmom
            self.atoms.set_initial_magnetic_moments(moments)
        return kind

    def _write_restart(self, kind: str) -> None:
        if self.workdir is None:
            return
        now = time.monotonic()
        if kind in self._restart_written and now - self._restart_written[kind] < self.restart_seconds:
            return
        path = self._output(kind, ".gpw")
        partial = path.with_name(path.stem + ".partial.gpw")
        self._gpaw.write(str(partial))  # without wavefunctions: LCAO and PW states rebuild from the density
        if self._gpaw.world.rank == 0:  # under MPI (seiscreen.parallel) only rank 0 writes GPAW's files
            os.replace(partial, path)
        self._restart_written[kind] = now

    @property
    def rung_parameters(self) -> dict:
        """The preset's parameters with the current rung's changes."""
        return self._parameters(self.rung)

    def _parameters(self, rung: int) -> dict:
        """The preset's parameters with rung ``rung``'s changes (a rung's "convergence" updates the criteria)."""
        params = dict(self.params)
        for name, value in (self.retries[rung - 1] if rung else {}).items():
            params[name] = {**params.get(name, {}), **value} if name == "convergence" else value
        return params

    @property
    def smearing(self) -> float | None:
        """The smearing (eV) of the current rung: retries raise it, and energies at different smearing are not
        comparable (a band's images, its ends)."""
        return self.rung_parameters.get("smearing")

    def _record_rung(self) -> None:
        """``scf.json`` in the job folder: the rung and smearing of the last converged SCF, read back by the job
        whose images ran in processes of their own (:func:`scf_record`)."""
        if self.workdir is None or self._gpaw.world.rank != 0:
            return
        record = {"rung": self.rung, "smearing": self.smearing, "history": list(self.history)}
        if record != self._recorded:  # written when the rung changes, not every call
            path = self.workdir / SCF_RECORD
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps(record))
            os.replace(partial, path)
            self._recorded = record

    def _record_frame(self) -> None:
        """The calculation as a training frame in the job folder (with forces only; rank 0 writes)."""
        if self.frames_preset and self.workdir is not None and self._gpaw.world.rank == 0:
            record(self.workdir, self.atoms, self.results, self.frames_preset, scf_rung=self.rung,
                   smearing=self.smearing or 0.0)

    def _stress(self):
        """Plane waves only: GPAW's LCAO and finite-difference modes have none (callers then fit an EOS)."""
        from ase.calculators.calculator import PropertyNotImplementedError

        try:
            return self._gpaw.get_stress(self.atoms)
        except (AttributeError, NotImplementedError):
            raise PropertyNotImplementedError("stress is not available in this GPAW mode") from None

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        try:
            self._calculate(properties)
        except ValueError as exc:
            if type(exc).__name__ != "GridBoundsError":  # its module moved (gpaw.old.grid_descriptor in 26.7)
                raise
            self._engines.clear()  # half-moved: the next geometry starts a GPAW object of its own
            self._gpaw = None
            raise AtomsLeftCell(f"an atom is too close to the cell's non-periodic face for GPAW ({exc}): the "
                                "adatom desorbing or the slab coming apart; more vacuum would hold it") from None

    def _calculate(self, properties) -> None:
        from gpaw import KohnShamConvergenceError

        kind = self._prepare()  # on the calculator's own copy: the caller's atoms are untouched
        while True:
            if kind not in self._engines:
                self._engines[kind] = self._build(kind)
            self._gpaw = self._engines[kind]
            try:
                self.results = {
                    "energy": self._gpaw.get_potential_energy(self.atoms),
                    "free_energy": self._gpaw.get_potential_energy(self.atoms, force_consistent=True),
                }
                if "forces" in properties:  # LCAO forces cost about as much as the SCF: only when asked
                    self.results["forces"] = self._gpaw.get_forces(self.atoms)
                if self.params.get("spinpol"):
                    self.results["magmom"] = float(self._gpaw.get_magnetic_moment(self.atoms))
                    self.results["magmoms"] = self._gpaw.get_magnetic_moments(self.atoms)
                if "stress" in properties:
                    self.results["stress"] = self._stress()
                self._write_restart(kind)
                self._record_rung()
                self._record_frame()
                return
            except KohnShamConvergenceError as exc:
                self.history.append(f"rung {self.rung}: SCF not converged" + (f" ({exc})" if str(exc) else ""))
                writer = self._gpaw.world.rank == 0
                stalled_at = getattr(getattr(self._gpaw, "hooks", {}).get("scf_step"), "stalled_at", None)
            # Out of the except block: its traceback holds the failed GPAW.
            self._next_rung(kind, writer, stalled_at)

    def _next_rung(self, kind: str, writer: bool, stalled_at: float | None = None) -> None:
        """Drop the failed GPAW objects and move one rung up, or fail with what was tried. The dropped objects
        close their text output now, before the next rung opens the same file (collected later, they wrote their
        timing into it over the next rung's lines); the failed rung's output is kept as ``gpaw-rung<N>.txt``."""
        self._engines.clear()
        self._gpaw = None
        gc.collect()
        if self.workdir is not None and writer and self._output(kind, ".txt").exists():
            os.replace(self._output(kind, ".txt"), self._output(kind, f"-rung{self.rung}.txt"))
        if self.rung == len(self.retries):
            tried = (f"after {len(self.retries)} retries (gentler mixer, looser density criterion, smearing up "
                     f"to {self.retries[-1].get('smearing')} eV, up to {self.retries[-1]['maxiter']} iterations)"
                     if self.retries else "and no retries are set")
            raise SeiscreenError(f"GPAW SCF did not converge {tried}: check the structure (overlapping atoms?) or "
                                 "the preset")
        # An SCF that stalled within a later rung's density criterion goes straight to that rung, on the same
        # smearing: the mixer rungs between do not help one that hovers at the criterion (gpaw-lcao NaF(100)
        # band images: 10^-3.95 to 10^-3.99 under both mixers, at 12-15 s an iteration).
        smearing = self.smearing
        self.rung = next((rung for rung in range(self.rung + 1, len(self.retries) + 1)
                          if stalled_at is not None and self._parameters(rung).get("smearing") == smearing
                          and self._parameters(rung).get("convergence", {}).get("density", 0.0) > stalled_at),
                         self.rung + 1)


SCF_RECORD = "scf.json"


def scf_record(directory: Path) -> dict | None:
    """The SCF rung and smearing the last GPAW calculation in the folder ``directory`` ended on
    ({"rung", "smearing", "history"}), as :class:`ScfRetryCalculator` wrote them, in this process or another;
    None where no GPAW calculation finished there."""
    path = directory / SCF_RECORD
    return json.loads(path.read_text()) if path.exists() else None


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


# ------------------------------------------------------------------ fine-tuned CHGNet models (seiscreen.finetune)

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


def finetuned_preset(name_or_path: str) -> CalculatorPreset:
    """The CHGNet preset of a fine-tuned model: ``ml-ft:<name>`` (the folder ``<name>`` in :func:`model_dirs`) or
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
    return CalculatorPreset(name=FINETUNED_PREFIX + name, code="chgnet",
                            description=f"CHGNet {manifest['base_model']} fine-tuned{frames}{of} ({name})",
                            parameters={"model": manifest["base_model"], "finetuned": name,
                                        "weights_sha256": manifest["weights_sha256"]})


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


@cache
def _finetuned_model(path: str, weights_sha256: str):
    return read_finetuned_weights(Path(path))  # the sha256 in the key: a changed file is a new entry


def chgnet_model(preset: CalculatorPreset) -> tuple[Any, dict[str, Any]]:
    """The CHGNet model a ``chgnet`` preset names (its base weights, or a fine-tuned model's, checked by sha256;
    shared, not to be trained) and the preset's remaining calculator keywords."""
    params = dict(preset.parameters)
    base = params.pop("model", "0.3.0")
    if "finetuned" not in params:
        return _chgnet_model(base), params
    sha256 = params.pop("weights_sha256", "")
    return _finetuned_model(str(finetuned_weights(params.pop("finetuned"), sha256)), sha256), params
