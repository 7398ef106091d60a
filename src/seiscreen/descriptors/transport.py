"""Bulk Na transport: the migration barriers of a relaxed bulk's Na vacancy (and interstitial), and the barrier at
which they percolate in three dimensions.

The symmetry-unique hops between the sites come from pymatgen-analysis-diffusion's ``MigrationGraph``
(:mod:`~seiscreen.descriptors.transport_sites`). Each is computed in one supercell of the bulk (every lattice
vector at least ``min_image_distance`` long): the defect's states relaxed (positions only), both ends of the hop
relaxed, and the project's gated two-stage climbing-image NEB (:func:`~seiscreen.neb.run_neb`) run between them.
A hop whose band fails a gate is not used. The 3D percolation barrier is the lowest saddle level at which the used
hops connect the defect's sites along three independent lattice directions, less the defect's lowest state
(:func:`~seiscreen.surfaces.percolation.percolation_levels`, the surfaces' union-find in 3D).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from ase import Atoms
from ase.build import make_supercell
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.geometry import find_mic
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.descriptors.transport_sites import (VOID, SiteGraph, empty_voids, site_graph, supercell_matrix,
                                                   with_voids)
from seiscreen.errors import SeiscreenError
from seiscreen.minima import relax
from seiscreen.neb import USABLE, NebProtocol, run_neb
from seiscreen.surfaces.percolation import GraphEdge, percolation_levels

log = logging.getLogger(__name__)

MakeCalculator = Callable[[], Calculator]  # a fresh calculator for each relaxation and each band image
Mechanism = Literal["vacancy", "interstitial"]


class TransportSettings(BaseModel):
    """How the bulk's hops are found and computed; stored with every result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    species: str = Field("Na", description="the migrating element")
    # In rock salt the next shell of Na is 1.65 Å (a(1 - 1/√2)) farther than the nearest: a margin below that.
    hop_margin: float = Field(0.5, ge=0, description="Å added to the shortest hop length at which the sites connect "
                                                     "in 3D (geometry only): the hop cutoff")
    max_hop_length: float | None = Field(None, gt=0, description="Å, a fixed hop cutoff instead (None: from "
                                                                 "hop_margin)")
    # 9 Å: 54-64 atom cells for the rock-salt halides; NaI's barrier moves 0.07 eV between 7.5 and 11 Å wide.
    min_image_distance: float = Field(9.0, gt=0, description="Å, the supercell's least width between opposite "
                                                             "faces: a defect's distance to its copies' planes")
    symprec: float = Field(0.1, gt=0, description="Å, symmetry tolerance grouping equivalent sites and hops")
    protocol: NebProtocol = Field(default_factory=NebProtocol, description="the NEB settings and gates of every "
                                                                           "band; its endpoint_fmax relaxes states")
    relax_max_steps: int = Field(300, ge=1, description="optimiser steps for each relaxed state (positions only)")
    site_tolerance: float = Field(0.5, gt=0, description="Å the moving atom may relax off its site before the state "
                                                         "counts as no minimum there")
    # Off by default: as many states and bands again, and an interstitial in a dense ionic crystal is rarely the
    # carrier (the vacancy is).
    interstitial: bool = Field(False, description="also the interstitial mechanism, where the bulk has empty voids")
    void_clearance: float = Field(0.8, gt=0, description="an empty void's least distance to every atom, as a "
                                                         "fraction of the shortest distance from the species to "
                                                         "another atom (rock salt's tetrahedral void: 0.87)")


class HopBarrier(BaseModel):
    """One symmetry-unique hop of a mechanism, its band's verdict and barriers."""

    label: int = Field(description="the hop's class (MigrationGraph's hop_label)")
    length_A: float = Field(description="Å, the hop's length in the unrelaxed bulk")
    multiplicity: int = Field(description="hops of this class per unit cell (edges of the hop graph)")
    status: str = Field(description="the band's status (accepted, barrierless, failed, interior_minimum), or "
                                    "failed when an end could not be relaxed")
    reason: str = Field("", description="why the hop is not used, in one line")
    gates: dict[str, bool] = Field(default_factory=dict, description="the NEB gates, each passed or not")
    used: bool = Field(description="its band passed the gates: it enters the percolation")
    forward_barrier_eV: float | None = Field(None, description="eV, saddle less the band's start")
    reverse_barrier_eV: float | None = Field(None, description="eV, saddle less the band's end")
    saddle_eV: float | None = Field(None, description="eV, saddle above the mechanism's lowest state")
    force_calls: int = Field(0, description="calculations spent: the ends' relaxations and the band")


class MechanismResult(BaseModel):
    """The vacancy or interstitial mechanism: its sites, states, hops and percolation barriers."""

    mechanism: Mechanism = Field(description="vacancy or interstitial")
    site: str = Field(description="the sites the defect occupies, or 'no site' (no empty void) or 'off' (not "
                                  "computed)")
    state_energies_eV: list[float | None] = Field(default_factory=list, description="eV per site of the unit "
                                                  "cell, the defect's relaxed state above its lowest (None: no "
                                                  "minimum there)")
    hops: list[HopBarrier] = Field(default_factory=list, description="the symmetry-unique hops")
    percolation_barrier_eV: float | None = Field(None, description="eV, the 3D percolation barrier")
    percolation_1d_eV: float | None = Field(None, description="eV, the lowest level of a 1D channel")
    percolation_2d_eV: float | None = Field(None, description="eV, the lowest level of a 2D network")
    limiting_hop: int | None = Field(None, description="the hop class that completes the 3D network")
    reason: str = Field("", description="why there is no 3D barrier, in one line")
    supercell: list[list[int]] = Field(default_factory=list, description="the supercell on the bulk's cell")
    supercell_atoms: int = Field(0, description="atoms of the perfect supercell")


class TransportResult(BaseModel):
    """Bulk transport of one material under one calculator."""

    species: str = Field(description="the migrating element")
    hop_cutoff_A: float = Field(description="Å, the longest hop between the species' sites considered")
    vacancy: MechanismResult = Field(description="the vacancy mechanism")
    interstitial: MechanismResult = Field(description="the interstitial mechanism ('no site' or 'off' where none)")
    percolation_barrier_eV: float | None = Field(description="eV, the lower of the two mechanisms' 3D barriers")
    settings: TransportSettings = Field(description="what the result was computed with")


def compute_transport(atoms: Atoms, make_calculator: MakeCalculator,
                      settings: TransportSettings = TransportSettings()) -> TransportResult:
    """The bulk's vacancy (and, with ``settings.interstitial``, interstitial) hops and 3D percolation barriers.

    Args:
        atoms: the relaxed bulk (cell and positions), periodic in 3D, with the migrating species; any cell
            (its primitive cell is used).
        make_calculator: a fresh calculator, called once per relaxation and once per band image.
        settings: how hops are found and computed.

    Returns:
        Both mechanisms, each hop with its length, barriers and gate verdicts.

    Raises:
        SeiscreenError: the cell is not periodic in 3D, or holds none of the species.
    """
    if not all(atoms.pbc):
        raise SeiscreenError("bulk transport needs a cell periodic in 3D: pass the relaxed bulk, not a slab")
    # The primitive cell (not idealised): its supercells are the smallest that reach min_image_distance.
    structure = AseAtomsAdaptor.get_structure(atoms).get_primitive_structure()
    atoms = AseAtomsAdaptor.get_atoms(structure.remove_oxidation_states())
    graph = site_graph(structure, settings.species, settings.hop_margin, settings.max_hop_length, settings.symprec)
    matrix = supercell_matrix(structure, settings.min_image_distance)
    perfect = make_supercell(atoms, matrix)
    vacancy = _Defect("vacancy", graph, perfect, make_calculator, settings).compute()
    interstitial = _interstitial(structure, perfect, make_calculator, settings)
    barriers = [m.percolation_barrier_eV for m in (vacancy, interstitial) if m.percolation_barrier_eV is not None]
    for m in (vacancy, interstitial):
        m.supercell = matrix.tolist() if m.supercell_atoms else []
    return TransportResult(species=settings.species, hop_cutoff_A=graph.cutoff, vacancy=vacancy,
                           interstitial=interstitial, percolation_barrier_eV=min(barriers, default=None),
                           settings=settings)


def _interstitial(structure: Structure, perfect: Atoms, make_calculator: MakeCalculator,
                  settings: TransportSettings) -> MechanismResult:
    """The interstitial mechanism through the bulk's empty voids; 'off' or 'no site' where it is not computed."""
    if not settings.interstitial:
        return MechanismResult(mechanism="interstitial", site="off", reason="not computed (interstitial off)")
    voids = empty_voids(structure, settings.species, settings.void_clearance)
    if not voids:
        return MechanismResult(mechanism="interstitial", site="no site",
                               reason=f"no empty void at least {settings.void_clearance} x the shortest "
                                      f"{settings.species}-atom distance from every atom")
    graph = site_graph(with_voids(structure, voids), VOID, settings.hop_margin, settings.max_hop_length,
                       settings.symprec)
    return _Defect("interstitial", graph, perfect, make_calculator, settings).compute()


@dataclass
class _Defect:
    """One mechanism in the perfect supercell: its states, its hops' bands, their percolation."""

    mechanism: Mechanism
    graph: SiteGraph
    perfect: Atoms
    make_calculator: MakeCalculator
    settings: TransportSettings

    def compute(self) -> MechanismResult:
        """Every class's state, every unique hop's band, the percolation over the used ones."""
        states = self._states()
        lowest = min((e for e in states if e is not None), default=None)
        result = MechanismResult(mechanism=self.mechanism, site=self._site_text(),
                                 supercell_atoms=len(self.perfect))
        if lowest is None:
            result.reason = "the defect relaxes away from every site: no state to start from"
            return result
        result.state_energies_eV = [None if e is None else e - lowest for e in states]
        multiplicity = Counter(label for *_, label in self.graph.edges())
        saddles: dict[int, float] = {}
        for label, data in sorted(self.graph.unique_hops().items()):
            hop, saddle = self._hop(label, data, multiplicity[label], states)
            if saddle is not None:
                hop.saddle_eV, saddles[label] = saddle - lowest, saddle
            result.hops.append(hop)
        self._percolate(result, states, saddles)
        return result

    def _site_text(self) -> str:
        sites = self.graph.structure
        if self.mechanism == "vacancy":
            return f"{self.settings.species} vacancy ({len(set(self.graph.site_class))} site classes)"
        return "voids at " + ", ".join(str(np.round(sites[k].frac_coords, 3).tolist())
                                       for k in self.graph.site_indices)

    def _states(self) -> list[float | None]:
        """The relaxed energy of the defect on each site of the cell (one relaxation per symmetry class)."""
        energies: dict[int, float | None] = {}
        for node, cls in enumerate(self.graph.site_class):
            if cls in energies:
                continue
            site = self._site_cart(node)
            if self.mechanism == "vacancy":
                state, target = self._without([self._atom_at(site)]), None
            else:
                state, target = self._with_moving(self.perfect, site), site
            _, energies[cls], _, why = self._relaxed(state, target)
            if why:
                log.info("%s state on site %d: %s", self.mechanism, node, why)
        return [energies[cls] for cls in self.graph.site_class]

    def _hop(self, label: int, data: dict, multiplicity: int,
             states: list[float | None]) -> tuple[HopBarrier, float | None]:
        """One unique hop's band; its absolute saddle (the start state's energy + forward barrier) when used."""
        u, v = int(data["iindex"]), int(data["eindex"])
        start, step = np.asarray(data["ipos_cart"], float), np.asarray(data["epos_cart"] - data["ipos_cart"], float)
        hop = HopBarrier(label=label, length_A=float(np.linalg.norm(step)), multiplicity=multiplicity,
                         status="failed", used=False)
        start_node = v if self.mechanism == "vacancy" else u  # the vacancy sits where the atom goes
        if states[u] is None or states[v] is None:
            hop.reason = "an end site holds no minimum of the defect"
            return hop, None
        ends = []
        for target in (start, start + step):
            end, _, calls, why = self._relaxed(self._hop_end(start, step, target), target)
            hop.force_calls += calls
            if why:
                hop.reason = f"an end of the hop: {why}"
                return hop, None
            ends.append(end)
        band = run_neb(ends[0], _unwrapped(ends[0], ends[1], step), lambda k, image: self.make_calculator(),
                       self.settings.protocol)
        hop.force_calls += band.force_calls
        hop.status, hop.reason, hop.gates = band.status, band.reason, dict(band.gates)
        hop.forward_barrier_eV, hop.reverse_barrier_eV = band.forward_barrier, band.reverse_barrier
        hop.used = band.status in USABLE
        log.info("%s hop %d (%.2f Å): %s, forward barrier %s eV", self.mechanism, label, hop.length_A,
                 band.status, None if band.forward_barrier is None else round(band.forward_barrier, 3))
        return hop, (states[start_node] + band.forward_barrier if hop.used else None)

    def _percolate(self, result: MechanismResult, states: list[float | None], saddles: dict[int, float]) -> None:
        """The 1D, 2D and 3D percolation of the used hops over the defect's sites, into ``result``."""
        energies = [np.inf if e is None else e for e in states]
        edges = [GraphEdge(u, v, image, saddles[label], str(label))
                 for u, v, image, label in self.graph.edges() if label in saddles]
        one_d, two_d, three_d = percolation_levels(energies, edges, 3)
        result.percolation_1d_eV, result.percolation_2d_eV = one_d.barrier, two_d.barrier
        result.percolation_barrier_eV = three_d.barrier
        result.limiting_hop = int(three_d.limiting_hop) if three_d.limiting_hop is not None else None
        if three_d.level is None:
            result.reason = "the used hops do not connect the sites in 3D"

    def _hop_end(self, start: np.ndarray, step: np.ndarray, target: np.ndarray) -> Atoms:
        """The supercell with the moving atom (last) at ``target``: a vacancy hop empties both of its sites."""
        if self.mechanism == "vacancy":
            base = self._without([self._atom_at(start), self._atom_at(start + step)])
        else:
            base = self.perfect
        return self._with_moving(base, target)

    def _relaxed(self, atoms: Atoms, target: np.ndarray | None) -> tuple[Atoms, float | None, int, str]:
        """``atoms`` relaxed in place (positions only): it, its energy, the force calls, and why it is no
        minimum of the defect ("" when it is; ``target``: where the moving atom, last, must stay)."""
        converged, calls = relax(atoms, self.make_calculator(), self.settings.protocol.endpoint_fmax,
                                 self.settings.relax_max_steps)
        if not converged:
            return atoms, None, calls, f"not relaxed within {self.settings.relax_max_steps} steps"
        if target is not None:
            off = float(np.linalg.norm(find_mic(atoms.positions[-1] - target, atoms.cell, atoms.pbc)[0]))
            if off > self.settings.site_tolerance:
                return atoms, None, calls, f"the {self.settings.species} atom relaxes {off:.2f} Å off its site"
        return atoms, float(atoms.get_potential_energy()), calls, ""

    def _site_cart(self, node: int) -> np.ndarray:
        return np.asarray(self.graph.structure[self.graph.site_indices[node]].coords, float)

    def _atom_at(self, position: np.ndarray) -> int:
        """Index of the perfect supercell's atom at ``position`` (Cartesian, any periodic image)."""
        d, lengths = find_mic(self.perfect.positions - position, self.perfect.cell, self.perfect.pbc)
        k = int(np.argmin(lengths))
        if lengths[k] > 0.1:
            raise SeiscreenError(f"no atom of the supercell at {np.round(position, 3).tolist()} Å: the site map "
                                 "is broken (symprec too loose?)")
        return k

    def _without(self, indices: list[int]) -> Atoms:
        atoms = self.perfect.copy()
        del atoms[sorted(set(indices))]
        return atoms

    def _with_moving(self, base: Atoms, position: np.ndarray) -> Atoms:
        """``base`` with an atom of the species appended at ``position``: the moving atom is the last, as the
        NEB gates expect."""
        atoms = base.copy()
        atoms.append(self.settings.species)
        atoms.positions[-1] = position
        return atoms


def _unwrapped(initial: Atoms, final: Atoms, step: np.ndarray) -> Atoms:
    """``final`` with every atom at the periodic image nearest its start, the moving one (last) ``step`` away,
    its energy and forces kept (lattice translations change neither)."""
    out = final.copy()
    out.positions = initial.positions + find_mic(final.positions - initial.positions, final.cell, final.pbc)[0]
    expected = initial.positions[-1] + step
    out.positions[-1] = expected + find_mic(final.positions[-1] - expected, final.cell, final.pbc)[0]
    out.calc = SinglePointCalculator(out, energy=final.get_potential_energy(), forces=final.get_forces())
    return out
