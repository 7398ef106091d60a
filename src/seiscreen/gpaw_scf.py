"""GPAW behind a preset: its keywords, and the SCF-failure handling a band can rely on (gentler rungs, a stalled
SCF ended early, restart files, the rung and smearing recorded for the band's gates, each calculation with
forces kept as a training frame)."""

from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from seiscreen.errors import AtomsLeftCell, SeiscreenError
from seiscreen.frames import record


def is_slab(atoms: Atoms) -> bool:
    """Whether ``atoms`` is a slab: a vacuum gap of more than 5 Å along z (else bulk)."""
    z = np.sort(atoms.cell.scaled_positions(atoms.positions)[:, 2] % 1.0) * atoms.cell.lengths()[2]
    gaps = np.diff(np.append(z, z[0] + atoms.cell.lengths()[2]))
    return bool(gaps.max() > 5.0)


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
        solvent = params.pop("solvent", None)  # an implicit solvent (seiscreen.gpaw_solvent), slabs only
        if kind == "bulk":
            params.pop("poissonsolver", None)  # the dipole layer needs vacuum
            params.pop("symmetry", None)  # pristine, isotropically strained crystals keep their point group
            solvent = None  # no vacuum, no cavity: a crystal's interior excludes the solvent
            if bulk_kpts is not None:
                params["kpts"] = bulk_kpts
        txt = str(self._output(kind, ".txt")) if self.workdir is not None else None
        if solvent is not None:
            from seiscreen.gpaw_solvent import solvation_gpaw

            calc = solvation_gpaw(solvent, gpaw_keywords(params, txt))
        else:
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
