"""The calculators of one level of theory (a preset and where it runs), as a band and its ends need them."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator

from seiscreen.calculators import CalculatorPreset
from seiscreen.minima import relax
from seiscreen.parallel import ParallelSettings, ProcessBand, SubprocessCalculator

# Test hook: seconds slept before every NEB force call, so that a test can kill a campaign in the middle of a band.
FORCE_DELAY_VAR = "SEISCREEN_TEST_FORCE_DELAY"

MakeCalculator = Callable[[int, Atoms], Calculator]


def image_folder(run_dir: Path, k: int) -> Path:
    """The folder of intermediate image ``k`` of a band run in ``run_dir`` (GPAW's output, restart, SCF record)."""
    return run_dir / f"image{k:02d}"


def slowed(calc: Calculator) -> Calculator:
    """``calc``, sleeping ``$SEISCREEN_TEST_FORCE_DELAY`` seconds before each calculation (a test hook)."""
    delay = float(os.environ.get(FORCE_DELAY_VAR) or 0)
    if delay > 0 and hasattr(calc, "calculate"):
        compute = calc.calculate

        def slow(*args, **kwargs):
            time.sleep(delay)
            return compute(*args, **kwargs)

        calc.calculate = slow
    return calc


@dataclass
class CalculatorLevel:
    """One preset and its parallel settings: the calculator of a structure, of a band's images, and relaxed ends.

    Args:
        preset: The calculator preset (:data:`seiscreen.calculators.PRESETS`).
        parallel: MPI ranks and images computed at once; changes where the work runs, never a number.
        calculator: Overrides the preset's calculator for every non-GPAW structure (a Maker's ``calculator``).
    """

    preset: CalculatorPreset
    parallel: ParallelSettings = field(default_factory=ParallelSettings)
    calculator: Callable[[], Calculator] | None = None

    def __post_init__(self) -> None:
        self.preset = self.preset.on_device(self.parallel.device)  # the ML model where parallel.device says

    @property
    def mpi(self) -> bool:
        """GPAW's calculations run as MPI jobs of their own (``parallel.ranks``; other codes have no MPI)."""
        return self.parallel.ranks > 1 and self.preset.code == "gpaw"

    @property
    def images_in_processes(self) -> bool:
        """Whether band images (and ends) run in processes of their own: CHGNet's share one batched model."""
        return self.parallel.images_at_once > 1 and self.preset.code != "chgnet"

    def default_calculator(self, directory: Path | None = None) -> Calculator:
        """The preset's calculator, writing into ``directory`` (default: the working folder)."""
        if self.calculator is not None:
            return self.calculator()
        if self.mpi:
            return SubprocessCalculator(self.preset, directory or Path.cwd(), self.parallel)
        return self.preset.make(directory=directory or Path.cwd())

    def image_calculator(self, atoms: Atoms, directory: Path | None = None) -> Calculator:
        """A calculator for one structure; GPAW's also prepares ``atoms`` (periodicity, moments) and writes into
        ``directory``."""
        if self.preset.code != "gpaw":
            return self.default_calculator()
        if self.mpi:
            return self.process_calculator(atoms, directory or Path.cwd())
        return self.preset.make(atoms, directory)

    def process_calculator(self, atoms: Atoms, directory: Path) -> SubprocessCalculator:
        """The preset in a process of its own, ``atoms`` prepared in place as ``preset.make`` prepares them."""
        self.preset.prepare(atoms)
        return SubprocessCalculator(self.preset, directory, self.parallel)

    @contextlib.contextmanager
    def band_calculators(self, run_dir: Path) -> Iterator[MakeCalculator]:
        """``make_calculator`` of :func:`~seiscreen.neb.run_neb`: image k's calculator.

        CHGNet images share one :class:`~seiscreen.batched.BandBatch` (a band step is one batched forward pass);
        GPAW images each keep a folder. With ``parallel.images_at_once`` > 1 the other codes' images run that
        many at a time in processes of their own, stopped when the band is done.
        """
        if self.preset.code == "chgnet":
            from seiscreen.batched import BandBatch

            batch = BandBatch.for_preset(self.preset)
            yield lambda k, image: slowed(batch.image_calculator(k, image))
            return
        at_once, made = self.images_in_processes, []

        def own(k: int, image: Atoms) -> Calculator:
            directory = image_folder(run_dir, k)
            made.append(self.process_calculator(image, directory) if at_once
                        else self.image_calculator(image, directory))
            return made[-1]

        band = ProcessBand(own, self.parallel.images_at_once) if at_once else None
        try:
            yield lambda k, image: slowed(band.image_calculator(k, image) if band else own(k, image))
        finally:  # processes would otherwise hold their cores (MPI ranks: several) until collected
            for calc in made:
                if isinstance(calc, SubprocessCalculator):
                    calc.close()

    def relax_ends(self, ends: list[tuple[Atoms, Path]], fmax: float, max_steps: int) -> list[tuple[bool, int]]:
        """Each end relaxed in place, its calculator writing into its folder: (converged, force calls) each.

        Where band images run in processes of their own, so do the ends, at the same time; they then keep their
        results and no process stays.
        """
        if not self.images_in_processes:
            return [relax(atoms, self.image_calculator(atoms, directory), fmax, max_steps)
                    for atoms, directory in ends]

        def relaxed(atoms: Atoms, directory: Path) -> tuple[bool, int]:
            calc = self.process_calculator(atoms, directory)
            try:
                outcome = relax(atoms, calc, fmax, max_steps)
                atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(),
                                                   forces=atoms.get_forces(apply_constraint=False))
                return outcome
            finally:
                calc.close()

        with ThreadPoolExecutor(len(ends)) as pool:  # the work is in the processes: threads only wait on them
            return list(pool.map(lambda end: relaxed(*end), ends))
