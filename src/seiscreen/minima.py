"""Relaxed adatom minima of one surface under one calculator: found, verified, classified and deduplicated.

Plain functions on ASE ``Atoms``; the calculator is passed in. A relaxation from a symmetric site can stop on a
saddle (the lateral force vanishes by symmetry), so every start is kicked sideways, and every result is kicked
again and re-relaxed: a minimum is accepted only if the adatom comes back to itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError
from ase.calculators.singlepoint import SinglePointCalculator
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.batched import energy_forces_only
from seiscreen.checkpoints import StepCheckpoint, plain_data
from seiscreen.errors import AtomsLeftCell
from seiscreen.surfaces.sites import (AnomalyThresholds, CandidateSite, Outcome, below_top_atom, candidate_sites,
                                      classify_adatom, placed, touching_height)
from seiscreen.surfaces.hops import SAME_BASIN
from seiscreen.surfaces.symmetry import SurfaceSymmetry, minimum_image


class MinimaSettings(BaseModel):
    """How minima are searched for; stored with every minimum."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adsorbate: str = "Na"
    # Tight, because the verification compares two relaxed positions: a loose fmax stops 0.1-0.2 Å short on
    # the flat hollow of NaF(100) under CHGNet, and then nothing "comes back".
    fmax: float = Field(0.01, gt=0, description="eV/Å, every adatom relaxation")
    kick: float = Field(0.15, ge=0, description="Å, random lateral displacement of the adatom at the start")
    verify_kick: float = Field(0.2, gt=0, description="Å, lateral kick of the verification; back within half")
    max_rounds: int = Field(3, ge=1, description="kick-and-relax rounds before a start is declared unstable")
    max_steps: int = Field(400, ge=1, description="optimiser steps per relaxation")
    seed: int = 0
    desorption_ratio: float = 1.6
    incorporation_height: float = 0.6
    max_displacement_fraction: float = 0.5
    max_vertical_fraction: float = 1.0
    # Fewer force calls to the same verified minima (docs/notes/2026-12-07-minima-calls.md); False is the search
    # as it was before these fields, and then they stay out of the identity (stored documents are found again).
    stop_in_known_basin: bool = Field(True, description="a relaxation stops once the adatom is in the basin of a "
                                      "verified minimum as low (symmetry copy within SAME_BASIN, same height)")
    lowest_start_first: bool = Field(True, description="after each start's first state, the start with the fewest "
                                     "failed verifications, then the lowest energy, steps on (else the starts run one "
                                     "by one in site order)")
    verify_last: bool = Field(True, description="a start whose rounds ran out verifies the state its last "
                                                "verification ended in once more, instead of rejecting it unverified")

    @property
    def thresholds(self) -> AnomalyThresholds:
        return AnomalyThresholds(self.desorption_ratio, self.incorporation_height, self.max_displacement_fraction,
                                 self.max_vertical_fraction)


def adatom_frac_xy(atoms: Atoms) -> np.ndarray:
    """The adatom's (the last atom's) fractional in-plane position, unwrapped."""
    return atoms.cell.scaled_positions(atoms.positions[-1:])[0, :2]


@plain_data
@dataclass
class Minimum:
    """One relaxed adatom configuration (a representative of its symmetry class once deduplicated)."""

    site: str  # name by coordination after relaxation (``hollow4-F2Na2``)
    started_from: list[str]  # candidate sites whose relaxations ended here
    outcome: Outcome
    verified: bool
    energy: float  # eV, total
    atoms: Atoms = field(repr=False)
    details: dict = field(default_factory=dict)  # height, nearest distance, surface displacement, ...
    force_calls: int = 0
    adsorption_energy: float | None = None  # eV, vs bulk adsorbate and clean slab, same calculator
    index: int = -1  # rank by energy among accepted minima (0 = lowest); -1 if not accepted

    @property
    def position(self) -> np.ndarray:
        return self.atoms.positions[-1].copy()

    @property
    def frac_xy(self) -> np.ndarray:
        return adatom_frac_xy(self.atoms) % 1.0

    @property
    def accepted(self) -> bool:
        return self.verified and self.outcome in (Outcome.ADSORBED, Outcome.INCORPORATED)


# A stall: STALL_STEPS steps that lower neither the largest force by a quarter nor the energy by as much as
# moving STALL_DISTANCE along that force would.
STALL_STEPS = 20
STALL_DISTANCE = 0.05  # Å
T = TypeVar("T")


class Turn(NamedTuple):
    """What a start's search yields after each state it computes: what the next turn is given by."""

    verifying: bool  # in a verification's relaxation
    round: int  # 0, or how many of its verifications failed
    energy: float  # eV, of the state computed


def relax(atoms: Atoms, calc: Calculator, fmax: float, max_steps: int,
          stop: Callable[[Atoms], bool] | None = None) -> tuple[bool, int]:
    """BFGS relaxation in place; returns (converged, force calls) (:func:`relaxation`, run to its end)."""
    return finish(relaxation(atoms, calc, fmax, max_steps, stop))


def finish(steps: Generator[object, None, T]) -> T:
    """A computation that yields after each state it computes, run to its end: its return value."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def relaxation(atoms: Atoms, calc: Calculator, fmax: float, max_steps: int,
               stop: Callable[[Atoms], bool] | None = None) -> Generator[float, None, tuple[bool, int]]:
    """BFGS relaxation in place, yielding the energy of each state computed; returns (converged, force calls).

    The initial Hessian guess is softer than ASE's 70 eV/Å² (an adatom's lateral modes are soft: fewer steps to
    the same minima, docs/notes/2026-11-26-neb-defaults.md). A stalled BFGS starts again from that guess: under
    GPAW the SCF sometimes lands in another state of the slab's free layer, the energy jumps, and the update
    learns a Hessian that then allows only tiny steps.
    An atom that leaves what the cell can hold (:class:`AtomsLeftCell`) puts ``atoms`` back to the last state
    computed, with its results frozen, and the error is raised for the caller to judge that state.
    ``stop``: asked at every state computed; true ends the relaxation there, not converged.
    """
    atoms.calc = calc
    optimizer = BFGS(atoms, logfile=None, maxstep=0.2, alpha=20.0)
    last: dict = {"calls": 0}
    optimizer.attach(lambda: last.update(positions=atoms.positions.copy(), results=dict(atoms.calc.results),
                                         calls=last["calls"] + 1))
    steps = 0
    try:
        while True:
            energy, force, before = atoms.get_potential_energy(), _largest_force(atoms), optimizer.nsteps
            converged = stopped = False
            for converged in optimizer.irun(fmax=fmax, steps=min(STALL_STEPS, max_steps - steps)):
                # Not at the first state: a start is judged where it went, and a resumed search (which knows its
                # finished starts from the beginning) then stops a start where an unbroken one would.
                if stopped := (optimizer.nsteps > 0 and not converged and stop is not None and stop(atoms)):
                    break
                if optimizer.nsteps > before or not steps:  # a state computed (a new chunk recomputes nothing)
                    yield float(atoms.get_potential_energy())
            steps += optimizer.nsteps - before
            if converged or stopped or steps >= max_steps:
                return bool(converged), steps + 1
            if (atoms.get_potential_energy() > energy - force * STALL_DISTANCE
                    and _largest_force(atoms) > 0.75 * force):
                optimizer.initialize()  # back to the initial Hessian, as run_neb's stages do
    except AtomsLeftCell as exc:
        exc.force_calls = last["calls"]
        if "positions" in last:
            atoms.positions = last["positions"]
            atoms.calc = SinglePointCalculator(atoms, **{k: v for k, v in last["results"].items()
                                                         if k in ("energy", "free_energy", "forces")})
        raise


def _largest_force(atoms: Atoms) -> float:
    return float(np.linalg.norm(atoms.get_forces(), axis=1).max())


def relax_clean_slab(slab: Atoms, calc: Calculator, settings: MinimaSettings) -> tuple[Atoms, float, int]:
    """The clean slab relaxed with its bottom layers fixed: (atoms, energy, force calls)."""
    clean = slab.copy()
    _, calls = relax(clean, calc, settings.fmax, settings.max_steps)
    return clean, float(clean.get_potential_energy()), calls


def reference_energy(element: str, calc: Calculator, bulk_atoms: Atoms | None = None) -> float:
    """Energy per atom of the element's bulk (cell relaxed) with the same calculator: the adsorption reference.

    Calculators without stress (GPAW in LCAO mode) get an equation-of-state fit over isotropic strains instead.
    """
    from ase.build import bulk as ase_bulk  # ase.build pulls scipy: imported where used

    atoms = (bulk_atoms if bulk_atoms is not None else ase_bulk(element)).copy()
    atoms.calc = calc
    try:
        BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=0.01, steps=200)
        return float(atoms.get_potential_energy() / len(atoms))
    except (PropertyNotImplementedError, NotImplementedError):
        return _eos_energy(atoms, calc) / len(atoms)


def _eos_energy(atoms: Atoms, calc: Calculator) -> float:
    from ase.eos import EquationOfState

    reference = atoms.cell.copy()
    volumes, energies = [], []
    for scale in np.linspace(0.96, 1.04, 7):
        strained = atoms.copy()
        strained.set_cell(reference * scale, scale_atoms=True)
        strained.calc = calc
        volumes.append(strained.get_volume())
        energies.append(strained.get_potential_energy())
    _, e0, _ = EquationOfState(volumes, energies).fit()
    return float(e0)


def _lateral_kick(rng: np.random.Generator, size: float) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    return size * np.array([np.cos(angle), np.sin(angle), 0.0])


def relax_from_site(clean: Atoms, site: CandidateSite, calc: Calculator, settings: MinimaSettings,
                    rng: np.random.Generator, known: Sequence[Minimum] = (),
                    symmetry: SurfaceSymmetry | None = None) -> Minimum:
    """The adatom placed on the clean slab at a kicked site, then :func:`relax_and_verify`."""
    return finish(search_from_site(clean, site, calc, settings, rng, known, symmetry))


def search_from_site(clean: Atoms, site: CandidateSite, calc: Calculator, settings: MinimaSettings,
                     rng: np.random.Generator, known: Sequence[Minimum] = (),
                     symmetry: SurfaceSymmetry | None = None) -> Generator[Turn, None, Minimum]:
    """:func:`relax_from_site` one state at a time (:func:`search`)."""
    start = placed(clean, site.position + _lateral_kick(rng, settings.kick), settings.adsorbate)
    return (yield from search(start, clean, site.name, calc, settings, rng, known, symmetry))


def relax_and_verify(atoms: Atoms, clean: Atoms, started_from: str, calc: Calculator, settings: MinimaSettings,
                     rng: np.random.Generator, known: Sequence[Minimum] = (),
                     symmetry: SurfaceSymmetry | None = None) -> Minimum:
    """Relax, then verify: kicked again and re-relaxed, a true minimum pulls the adatom back to itself.

    "Back" means within half the verification kick of where it was; a flat maximum leaves the kicked adatom
    where it is (its force is already below fmax) and fails. A failed round starts over from the kicked
    position with a larger kick, up to ``max_rounds``. ``atoms`` is the clean slab plus the adatom, last.
    A first relaxation that converges one basin away from a ``known`` verified minimum at least as low is
    verified by it (:func:`_basin_holding`): under DFT a verification costs as much as the relaxation. With
    ``stop_in_known_basin`` any relaxation stops as soon as the adatom is there, and the start is that minimum.
    """
    return finish(search(atoms, clean, started_from, calc, settings, rng, known, symmetry))


def search(atoms: Atoms, clean: Atoms, started_from: str, calc: Calculator, settings: MinimaSettings,
           rng: np.random.Generator, known: Sequence[Minimum] = (),
           symmetry: SurfaceSymmetry | None = None) -> Generator[Turn, None, Minimum]:
    """:func:`relax_and_verify` one state at a time: yields a :class:`Turn` after each state computed."""
    atoms = relaxing = atoms.copy()
    calls = 0
    twin, verified, left_cell = None, False, None
    basins = KnownBasins(known, symmetry, settings) if settings.stop_in_known_basin else None
    try:
        for round_ in range(settings.max_rounds):
            if round_:
                atoms.positions[-1] += _lateral_kick(rng, settings.kick * (round_ + 1))
            converged, n = yield from _turns(relaxation(atoms, calc, settings.fmax, settings.max_steps, basins),
                                             False, round_)
            calls += n
            if (twin := basins and basins.entered) or (
                    converged and (twin := _basin_holding(atoms, known, symmetry, settings)) is not None):
                break
            trial = relaxing = atoms.copy()
            verified, n = yield from _turns(_kicked_back(atoms, trial, calc, settings, rng, basins), True, round_)
            calls += n
            atoms = trial
            if verified or (twin := basins and basins.entered):
                break
        else:  # rounds ran out: the state the last verification ended in may be a minimum of its own
            if settings.verify_last:
                trial = relaxing = atoms.copy()
                verified, n = yield from _turns(_kicked_back(atoms, trial, calc, settings, rng, basins), True, round_)
                calls += n
                if verified:
                    atoms = trial
                elif basins is not None and basins.entered:
                    twin = basins.entered
    except AtomsLeftCell as exc:  # no minimum: judged where it last had an energy (desorbed, slab disturbed)
        if relaxing.calc is calc:  # not one state computed: nothing to judge
            raise
        atoms, verified, left_cell = relaxing, False, str(exc)
        calls += exc.force_calls
    if basins is not None and basins.entered is twin is not None:  # stopped on the way: the start is the twin
        return _ended_in(twin, started_from, calls, round_ + 1)
    outcome, details = classify_adatom(atoms, clean, thresholds=settings.thresholds)
    details["rounds"] = round_ + 1
    if left_cell is not None:
        details["left_cell"] = left_cell
    if twin is not None:
        details["verified_by"] = twin.started_from[0]
    return Minimum(site=details["site"], started_from=[started_from], outcome=outcome,
                   verified=verified or twin is not None, energy=float(atoms.get_potential_energy()), atoms=atoms,
                   details=details, force_calls=calls)


def _kicked_back(atoms: Atoms, trial: Atoms, calc: Calculator, settings: MinimaSettings, rng: np.random.Generator,
                 basins: KnownBasins | None) -> Generator[float, None, tuple[bool, int]]:
    """The verification of relaxed ``atoms``: ``trial`` (its copy) kicked sideways and relaxed; (came back no
    higher, force calls)."""
    before, energy_before = atoms.positions[-1].copy(), atoms.get_potential_energy()
    trial.positions[-1] += _lateral_kick(rng, settings.verify_kick)
    converged, n = yield from relaxation(trial, calc, settings.fmax, settings.max_steps, basins)
    came_back = _lateral(trial, trial.positions[-1], before) < settings.verify_kick / 2
    return bool(converged and came_back and trial.get_potential_energy() <= energy_before + 1e-3), n


def _turns(energies: Generator[float, None, T], verifying: bool, round_: int) -> Generator[Turn, None, T]:
    """A relaxation's states as :class:`Turn`; its return value."""
    while True:
        try:
            energy = next(energies)
        except StopIteration as done:
            return done.value
        yield Turn(verifying, round_, energy)


@dataclass
class KnownBasins:
    """A relaxation's ``stop``: the adatom entered the basin of a known verified minimum as low
    (:func:`_basin_holding`), which is then ``entered``."""

    known: Sequence[Minimum]
    symmetry: SurfaceSymmetry | None
    settings: MinimaSettings
    entered: Minimum | None = None

    def __call__(self, atoms: Atoms) -> bool:
        self.entered = _basin_holding(atoms, self.known, self.symmetry, self.settings)
        return self.entered is not None


def _ended_in(twin: Minimum, started_from: str, calls: int, rounds: int) -> Minimum:
    """A start stopped in the basin of ``twin``: that minimum, as this start's result (merged with it)."""
    details = {**twin.details, "rounds": rounds, "stopped_in_basin": True,
               "verified_by": twin.details.get("verified_by", twin.started_from[0])}
    atoms = twin.atoms.copy()
    atoms.calc = twin.atoms.calc  # as the twin's own: its results, or the calculator that computes them
    return Minimum(site=twin.site, started_from=[started_from], outcome=twin.outcome, verified=True,
                   energy=twin.energy, atoms=atoms, details=details, force_calls=calls)


def _basin_holding(atoms: Atoms, known: Sequence[Minimum], symmetry: SurfaceSymmetry | None,
                   settings: MinimaSettings) -> Minimum | None:
    """A known accepted minimum, as low as ``atoms`` or lower, one basin away (a symmetry copy within
    SAME_BASIN, same height): the hop network makes the two one node, the lower one's, so the higher needs no
    verification of its own. A start stopped in a basin (a copy of its minimum) is not one: its original is."""
    if symmetry is None:
        return None
    here = adatom_frac_xy(atoms) % 1.0
    energy = atoms.get_potential_energy()
    return next((m for m in known if m.accepted and "stopped_in_basin" not in m.details and m.energy <= energy + 1e-3
                 and abs(m.position[2] - atoms.positions[-1, 2]) < 0.3
                 and symmetry.equivalent_points(here, m.frac_xy, SAME_BASIN)), None)


def _lateral(atoms: Atoms, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(minimum_image(a - b, atoms.cell.array)[:2]))


def merge_equivalent(minima: list[Minimum], symmetry: SurfaceSymmetry, tolerance: float = 0.3,
                     energy_tolerance: float = 0.02) -> list[Minimum]:
    """Accepted minima merged by symmetry (lowest energy kept), ranked by energy; rejected ones kept as they are."""
    # A start stopped in a basin carries a copy of its minimum: the start that relaxed there represents it.
    accepted = sorted((m for m in minima if m.accepted), key=lambda m: (m.energy, "stopped_in_basin" in m.details))
    unique: list[Minimum] = []
    for m in accepted:
        for u in unique:
            same_height = abs(m.position[2] - u.position[2]) < tolerance
            if same_height and abs(m.energy - u.energy) < energy_tolerance and symmetry.equivalent_points(
                    m.frac_xy, u.frac_xy, tolerance):
                u.started_from.extend(s for s in m.started_from if s not in u.started_from)
                u.force_calls += m.force_calls
                break
        else:
            unique.append(m)
    for rank, m in enumerate(unique):
        m.index = rank
    return unique + [m for m in minima if not m.accepted]


class ScanCheckpoint(StepCheckpoint):
    """Finished steps of one minima search, one file each (plain data: :mod:`seiscreen.checkpoints`), so a killed
    search (hours with DFT) resumes at the step it was in. Keyed by the caller (the minima job's content hash names
    the folder); ``None``: no files."""


def find_minima(clean: Atoms, sites: list[CandidateSite], calc: Calculator, symmetry: SurfaceSymmetry,
                settings: MinimaSettings = MinimaSettings(), clean_energy: float | None = None,
                adsorbate_reference: float | None = None, checkpoint: ScanCheckpoint | None = None) -> list[Minimum]:
    """Every site relaxed and verified; accepted minima merged by symmetry and ranked (index 0 = lowest). The starts
    take turns (:func:`_lowest_first`) or, with ``lowest_start_first`` off, run one by one in site order."""
    checkpoint = checkpoint or ScanCheckpoint(None)
    # One random stream per start, so a resumed search kicks every remaining start as the first run would have.
    if settings.lowest_start_first:
        results = _lowest_first(clean, sites, calc, symmetry, settings, checkpoint)
    else:
        results = []
        for k, site in enumerate(sites):
            results.append(checkpoint.cached(f"site-{k}", lambda site=site, k=k: relax_from_site(
                clean, site, calc, settings, np.random.default_rng([settings.seed, k]), results, symmetry)))
    if clean_energy is not None and adsorbate_reference is not None:
        for m in results:
            m.adsorption_energy = m.energy - clean_energy - adsorbate_reference
    return merge_equivalent(results, symmetry)


def _lowest_first(clean: Atoms, sites: list[CandidateSite], calc: Calculator, symmetry: SurfaceSymmetry,
                  settings: MinimaSettings, checkpoint: ScanCheckpoint) -> list[Minimum]:
    """Every start's search (:func:`search_from_site`), in site order. Each computes its first state; then a
    verifying start goes on until its verdict, else the start with the fewest failed verifications and, among
    those, the lowest energy takes the next step. So a verified minimum is found early (a start on a flat spot,
    whose verification failed, waits while the others look), and the starts still out of it stop when they reach
    it. A finished start is kept in ``checkpoint``; a resumed search knows those from the beginning."""
    done = {k: value for k in range(len(sites)) if (value := checkpoint.load(f"site-{k}")) is not None}
    known = list(done.values())
    live = {k: search_from_site(clean, site, calc, settings, np.random.default_rng([settings.seed, k]), known,
                                symmetry) for k, site in enumerate(sites) if k not in done}
    turns: dict[int, Turn] = {}  # what each start yielded last
    while live:
        fresh = [k for k in live if k not in turns]
        verifying = [k for k in live if k in turns and turns[k].verifying]
        for k in fresh or verifying[:1] or [min(live, key=lambda k: (turns[k].round, turns[k].energy, k))]:
            try:
                turns[k] = next(live[k])
            except StopIteration as finished:
                del live[k]
                done[k] = checkpoint.save(f"site-{k}", finished.value)
                known.append(done[k])
    return [done[k] for k in sorted(done)]


@dataclass
class SurfaceScan:
    """Everything found on one termination under one calculator, before any NEB."""

    clean: Atoms = field(repr=False)
    clean_energy: float
    adsorbate_reference: float  # eV/atom of the adsorbate's bulk, same calculator
    sites: list[CandidateSite]
    minima: list[Minimum]  # accepted first (index order), then rejected
    symmetry: SurfaceSymmetry = field(repr=False)
    force_calls: int = 0

    @property
    def accepted(self) -> list[Minimum]:
        return [m for m in self.minima if m.accepted]


def _above_surface(seed: CandidateSite, clean: Atoms, adsorbate: str) -> CandidateSite:
    """A seed below this calculator's top atom (another calculator's minimum in a vacancy of the top plane, where
    this one's relaxed slab stands higher) starts at the touching height above its point instead: it relaxes
    back down if this calculator holds the adatom there too."""
    if not below_top_atom(clean, seed.position):  # placed() would refuse it
        return seed
    xy = seed.position[:2]
    return CandidateSite(seed.name, np.append(xy, touching_height(clean, xy, adsorbate)))


def scan_surface(slab: Atoms, calc: Calculator, settings: MinimaSettings = MinimaSettings(),
                 adsorbate_bulk: Atoms | None = None, seeds: list[CandidateSite] = (),
                 checkpoint: Path | None = None) -> SurfaceScan:
    """Clean slab relaxed, candidate sites relaxed and verified, minima merged: one surface, one calculator.

    ``slab`` is the unrelaxed slab with its bottom layers fixed (``Termination.to_atoms()``); its symmetry and
    candidate sites are taken before relaxation. ``seeds`` are extra starting points (another calculator's
    minima, in a fidelity funnel): they add starts, they never replace the site classes. ``checkpoint``: a folder
    where each finished step is kept, so a killed search resumes (the caller names it by the search's identity).
    Slab and adatom relax with :func:`~seiscreen.batched.energy_forces_only` of ``calc`` (the same numbers).
    """
    saved = ScanCheckpoint(checkpoint)
    symmetry = SurfaceSymmetry.from_structure(AseAtomsAdaptor.get_structure(slab))
    relaxing = energy_forces_only(calc)  # the bulk reference relaxes its cell: it needs the stress
    clean, clean_energy, calls = saved.cached("clean", lambda: relax_clean_slab(slab, relaxing, settings))
    reference = saved.cached("reference", lambda: reference_energy(settings.adsorbate, calc, adsorbate_bulk))
    sites = candidate_sites(slab, settings.adsorbate, relaxed=clean) + [
        _above_surface(seed, clean, settings.adsorbate) for seed in seeds]
    minima = find_minima(clean, sites, relaxing, symmetry, settings, clean_energy, reference, saved)
    calls += sum(m.force_calls for m in minima)
    return SurfaceScan(clean, clean_energy, reference, sites, minima, symmetry, calls)
