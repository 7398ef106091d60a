"""Calculations in processes of their own: MPI-parallel GPAW and image-parallel NEB bands.

The workflow process (jobflow, the store, the optimisers) stays serial. Only the calculator runs elsewhere, as
a client of ASE's socket calculator: positions go in, energy and forces come back (the i-PI protocol). The client
is started in the job's folder as ``{launcher} python -m seiscreen.parallel SPEC`` and builds the preset exactly
as an in-process job would (:meth:`CalculatorPreset.make`: SCF retries, text output, restart files). It keeps its
calculator between calls, so an NEB image reuses its wavefunctions as it does in-process.

* ``ranks > 1``: every GPAW calculation runs under ``launcher`` with that many MPI ranks (``mpiexec -n {ranks}``;
  ``srun -n {ranks}`` inside a SLURM allocation). GPAW must be built with MPI (docs/calculators.md).
* ``images_at_once > 1``: the images of a band are computed at the same time, each in its own process (and with
  ``ranks`` ranks each): image-parallel NEB. It needs no MPI, so it also spreads one band over a workstation's
  cores.

    settings = ParallelSettings(images_at_once=2)
    band = ProcessBand(lambda k, image: SubprocessCalculator(preset, folder / f"image{k:02d}", settings), 2)
    run_neb(initial, final, band.image_calculator, protocol)

Campaign files set these with ``parallel: {ranks: 4, images_at_once: 2}``. They change where numbers are computed,
not the numbers: they are stored in the provenance, not in the protocol or the content hashes.
"""

from __future__ import annotations

import atexit
import os
import shlex
import subprocess
import sys
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from pydantic import BaseModel, ConfigDict, Field

from seiscreen.batched import SharedBand
from seiscreen.calculators import CalculatorPreset, Device
from seiscreen.checkpoints import dumps, loads, write_atomic
from seiscreen.errors import AtomsLeftCell, SeiscreenError


class ParallelSettings(BaseModel):
    """Where a job's calculations run. ``ranks``: MPI ranks of each GPAW calculation; ``launcher``: the command
    that starts them (``{ranks}`` filled in); ``images_at_once``: images of a band computed at the same time;
    ``device``: where the ML presets' models run (auto, cpu, cuda)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ranks: int = Field(1, ge=1)
    launcher: str = "mpiexec -n {ranks}"
    images_at_once: int = Field(1, ge=1)
    # The ML presets' device, over each preset's own (CalculatorPreset.device); None: the preset's ("auto").
    device: Device | None = None

    @property
    def in_subprocess(self) -> bool:
        """Calculations leave the job's process (otherwise everything runs in it, as without these settings)."""
        return self.ranks > 1 or self.images_at_once > 1

    @property
    def cores(self) -> int:
        """Cores one job's calculations use at once."""
        return self.ranks * self.images_at_once

    def provenance(self) -> dict | None:
        """As stored with a number (``Provenance.parallel``): None when everything ran in the job's process."""
        return self.model_dump() if self.in_subprocess else None

    def check(self, codes: list[str]) -> None:
        """MPI ranks need GPAW among ``codes`` (the presets' codes), a launcher that exists and a GPAW built with
        MPI: refused now, in one line, not at the first calculation."""
        if self.ranks == 1:
            return
        import importlib.util
        import shutil

        if "gpaw" not in codes:
            raise SeiscreenError(f"parallel.ranks {self.ranks}: MPI ranks apply to GPAW presets only and there "
                                 "is none here: drop the ranks (images_at_once spreads a band)")
        launcher = self.launcher.split()[0]
        if shutil.which(launcher) is None:
            raise SeiscreenError(f"parallel.launcher: {launcher!r} not found: install MPI (scripts/setup.sh does "
                                 "on Debian) or name your launcher, e.g. 'srun -n {ranks}'")
        if importlib.util.find_spec("_gpaw") is not None:
            import _gpaw

            if not hasattr(_gpaw, "Communicator"):
                raise SeiscreenError("parallel.ranks: this GPAW is built without MPI (gpaw info: MPI enabled no): "
                                     "rerun scripts/setup.sh where mpicc exists, or drop the ranks")

    def command(self, spec: Path) -> list[str]:
        python = [sys.executable, "-m", "seiscreen.parallel", str(spec)]
        if self.ranks == 1:
            return python
        return [*shlex.split(self.launcher.format(ranks=self.ranks)), *python]


_live: weakref.WeakSet = weakref.WeakSet()  # clients still running: stopped at exit if nobody closed them


class _Client:
    """One calculator process (or MPI job) serving one structure: fixed atoms, pbc and preset."""

    def __init__(self, preset: CalculatorPreset, atoms: Atoms, directory: Path, settings: ParallelSettings):
        from ase.calculators.socketio import SocketServer

        directory.mkdir(parents=True, exist_ok=True)
        name = f"seiscreen-{uuid.uuid4().hex[:16]}"  # a killed run leaves its socket file: never reuse a name
        self.spec = directory / f".{name}.json"
        self.error = self.spec.with_suffix(".error")
        self.log = directory / "calculator-process.log"
        self.key = _structure_key(atoms)
        # Plain data, readable by this user only: the process it starts builds a calculator from it.
        write_atomic(self.spec, dumps({"preset": preset.model_dump(), "atoms": atoms.copy(),
                                       "directory": str(directory), "unixsocket": name,
                                       "error": str(self.error), "parent": os.getpid()}), private=True)
        self.server = SocketServer(unixsocket=name)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread per rank, as every job here
        if settings.ranks > 1:  # what `gpaw python` sets: GPAW's own MPI, without it GPAW refuses the launcher
            env.setdefault("GPAW_MPI_BACKEND", "cgpaw")
        command = settings.command(self.spec)
        self.command = " ".join(command)
        try:
            with open(self.log, "ab") as log:
                self.server.proc = subprocess.Popen(command, cwd=directory, env=env, stdout=log,
                                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as exc:
            self.server.close()
            raise SeiscreenError(f"cannot start the calculator process ({self.command}): {exc.strerror}: check "
                                 "parallel.launcher") from None
        _live.add(self)

    def calculate(self, atoms: Atoms) -> dict:
        from ase.calculators.socketio import SocketClosed

        proc = self.server.proc
        try:
            results = self.server.calculate(atoms)
        except (OSError, SocketClosed, AssertionError):  # the process died: an SCF failure, a crash, a kill
            self.close()  # waits for it: its socket closes before it has written why
            message = self.error.read_text().strip() if self.error.exists() else "no message"
            if proc is not None and proc.returncode is not None and proc.returncode < 0 and not self.error.exists():
                # Stopped by a signal (Ctrl-C reaches the whole process group, or a kill): says nothing about
                # these inputs, so not a SeiscreenError, which a hop stores as its result and a rerun reuses.
                raise CalculatorProcessKilled(f"the calculator process ({self.command}) was stopped by signal "
                                              f"{-proc.returncode}: rerun to compute it") from None
            if message.startswith(f"{AtomsLeftCell.__name__}: "):  # the geometry's, as in-process
                raise AtomsLeftCell(message.split(": ", 1)[1]) from None
            raise SeiscreenError(f"the calculator process ({self.command}) failed: {message} "
                                 f"(its output: {self.log})") from None
        return {"energy": results["energy"], "free_energy": results["energy"], "forces": results["forces"]}

    def close(self) -> None:
        server, self.server = getattr(self, "server", None), None
        if server is None:
            return
        proc = server.proc
        server.proc = None  # closing the socket ends the client; ASE's close would wait on it without a limit
        server.close()
        if proc is not None:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.spec.unlink(missing_ok=True)
        _live.discard(self)


@atexit.register
def _stop_clients() -> None:
    for client in list(_live):
        client.close()


def _structure_key(atoms: Atoms) -> tuple:
    return tuple(atoms.numbers), tuple(bool(p) for p in atoms.pbc)


class CalculatorProcessKilled(RuntimeError):
    """A calculator process stopped by a signal: stored as an error (``error=True``), which a rerun retries."""


class SubprocessCalculator(Calculator):
    """A preset's calculator run in a process of its own (with ``settings.ranks`` MPI ranks).

    A new structure (other atoms or periodicity, as a minima search's bulk, clean slab and adatom slab) gets a
    new process; moved atoms reuse the running one. An SCF failure or crash there becomes a SeiscreenError here
    (the NEB job then marks its hop failed), with the process's output file named; a process stopped by a signal
    (Ctrl-C, a kill) a CalculatorProcessKilled (the hop is then stored as an error, which a rerun computes again).
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, preset: CalculatorPreset, directory: str | os.PathLike, settings: ParallelSettings):
        super().__init__()
        self.preset, self.workdir, self.settings = preset, Path(directory), settings
        self._client: _Client | None = None
        self.processes_started = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self._client is None or self._client.key != _structure_key(self.atoms):
            self.close()
            self._client = _Client(self.preset, self.atoms, self.workdir, self.settings)
            self.processes_started += 1
        try:
            self.results = self._client.calculate(self.atoms)
        except (SeiscreenError, AtomsLeftCell, CalculatorProcessKilled):
            self._client = None  # its process is gone: the next geometry starts another
            raise

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __del__(self):
        self.close()


class ProcessBand(SharedBand):
    """The images of one band, each with its own calculator process, computed ``at_once`` at a time.

    ASE's NEB asks its images one after another; the first image asked here sends every stale image to its own
    process and waits for all of them (threads only wait on sockets: the work is in the processes).
    """

    def __init__(self, make_calculator: Callable[[int, Atoms], Calculator], at_once: int):
        super().__init__()
        self.make_calculator, self.at_once = make_calculator, at_once

    def image_calculator(self, k: int, image: Atoms):
        calc = super().image_calculator(k, image)
        calc.own = self.make_calculator(k, image)
        return calc

    def close(self) -> None:
        """Stop every image's process."""
        for _, calc in self._images:
            if calc.own is not None:
                calc.own.close()

    def evaluate(self, pairs) -> list[tuple[float, np.ndarray]]:
        def one(pair):
            atoms, calc = pair
            return float(calc.own.get_potential_energy(atoms)), np.array(calc.own.get_forces(atoms))

        if len(pairs) == 1 or self.at_once == 1:
            return [one(pair) for pair in pairs]
        with ThreadPoolExecutor(max_workers=min(self.at_once, len(pairs))) as pool:
            return list(pool.map(one, pairs))


def _client_main(spec_path: str) -> None:
    """The process side: build the preset's calculator on the structure and serve it until the socket closes."""
    from ase.calculators.socketio import SocketClient

    spec = loads(Path(spec_path).read_text(encoding="utf-8"))
    _exit_with(spec["parent"])
    try:
        preset = CalculatorPreset(**spec["preset"])
        if preset.code == "gpaw":  # GPAW's communicator: only rank 0 talks to the socket, the others follow
            from gpaw.mpi import world
        else:
            from ase.parallel import world
        atoms = spec["atoms"]
        atoms.calc = preset.make(atoms, Path(spec["directory"]))
        SocketClient(unixsocket=spec["unixsocket"], comm=world).run(atoms, use_stress=False)
    except Exception as exc:
        Path(spec["error"]).write_text(f"{type(exc).__name__}: {exc}\n")
        raise


def _exit_with(parent: int, every: float = 5.0) -> None:
    """End this process when the workflow process ``parent`` is gone. Killed (SIGTERM, SIGKILL: no atexit), it
    cannot close its clients, and a calculator mid-SCF only notices the closed socket when its calculation is done
    (a GPAW band image: minutes), holding its core till then. Checked by pid, not as our parent: under MPI our
    parent is the launcher, which outlives the workflow."""
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # alive, another user's: cannot be ours, but it exists
                pass

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


if __name__ == "__main__":
    _client_main(sys.argv[1])
