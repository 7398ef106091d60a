"""Adsorption sites: candidate positions, names by coordination, and what a relaxed adatom turned into.

pymatgen's ``AdsorbateSiteFinder`` supplies symmetry-reduced candidates, but its labels come from a Delaunay
triangulation (on the square net of NaF(100) the 4-fold hollow is reported as a "bridge"), so every site is
renamed here by its coordination to the atoms of the top layer (``naming_indices``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.slabs import assign_layers
from seiscreen.surfaces.symmetry import minimum_image

# Atoms within this depth below the topmost atom set the adatom's starting height (touching_height, Å). Sites are
# named by layer instead (naming_indices): a fixed depth takes the second layer of Cu(100) (1.8 Å down) for a
# surface layer and names its 4-fold hollow "top-Cu".
SURFACE_DEPTH = 2.0
TOP_TOLERANCE = 0.5  # Å laterally from an atom: "top"
RING_TOLERANCE = 0.25  # Å: atoms this close to the nearest distance share the site (bridge, hollow)


class Outcome(StrEnum):
    """What a relaxed adatom is. ADSORBED and INCORPORATED minima are nodes of the hop graph (an adatom in an
    empty site of a half-filled top layer moves on from there); the others are reported and left out."""

    ADSORBED = "adsorbed"
    DESORBED = "desorbed"
    INCORPORATED = "incorporated"  # sank into the top layer (fills a vacancy of a Tasker-2 surface, say)
    EXCHANGED = "exchanged"  # took a surface atom's place and pushed it out on top
    SURFACE_DISTURBED = "surface_disturbed"  # the slab rearranged beyond the threshold


@dataclass(frozen=True)
class AnomalyThresholds:
    """Geometric thresholds of the post-relaxation checks (stored with every minimum)."""

    desorption_ratio: float = 1.6  # nearest slab atom farther than this x (sum of covalent radii)
    incorporation_height: float = 0.6  # adatom less than this above the mean top-layer height (Å)
    # A slab atom that moved sideways by more than this fraction of its nearest-neighbour distance changed
    # site; one that moved up or down by more than the vertical fraction left its layer. Relative, and looser
    # vertically, because halide surfaces relax a lot around a Na adatom: under CHGNet an I anion of NaI(100)
    # lifts 1.7 Å (0.53 of its 3.24 Å bond) towards the adatom and stays on its site.
    max_displacement_fraction: float = 0.5
    max_vertical_fraction: float = 1.0


@dataclass(frozen=True)
class CandidateSite:
    name: str
    position: np.ndarray  # Cartesian, Å: where the adatom is placed before relaxation


def surface_indices(atoms: Atoms, depth: float = SURFACE_DEPTH) -> np.ndarray:
    """Atoms within ``depth`` (Å) of the topmost one: those an adatom placed on the slab must not overlap."""
    z = atoms.positions[:, 2]
    return np.flatnonzero(z > z.max() - depth)


def naming_indices(atoms: Atoms) -> np.ndarray:
    """The atoms a site is named by: the topmost atomic layer (:func:`~seiscreen.surfaces.slabs.assign_layers`).

    A partial top layer (fewer atoms than the nearest deeper layer of the same elements: the half-filled Na layer
    of Tasker-2 Na2Se(100)) is named together with the layer under it, whose atoms show through its gaps.
    """
    layers = assign_layers(atoms.positions[:, 2])
    top = int(layers.max())
    symbols = np.array(atoms.get_chemical_symbols())
    members = [np.flatnonzero(layers == k) for k in range(top + 1)]
    elements = set(symbols[members[top]])
    same = next((m for m in reversed(members[:top]) if set(symbols[m]) == elements), None)
    if same is not None and len(same) > len(members[top]):
        return np.concatenate([members[top - 1], members[top]])
    return members[top]


def name_site(atoms: Atoms, xy: np.ndarray, surface: np.ndarray | None = None) -> str:
    """Name a point above the surface by the atoms of its top layer (:func:`naming_indices`) nearest to it in the
    plane.

    ``top-F``; ``bridge-F-Na`` (two equidistant atoms); ``hollow4-F2Na2`` (four); ``off-Na`` for a point near
    one atom but not above it (an off-symmetry minimum).
    """
    surface = naming_indices(atoms) if surface is None else surface
    lateral = _lateral_distances(atoms, xy, surface)
    order = np.argsort(lateral)
    nearest = lateral[order[0]]
    symbols = np.array(atoms.get_chemical_symbols())[surface]
    if nearest < TOP_TOLERANCE:
        return f"top-{symbols[order[0]]}"
    ring = symbols[lateral < nearest + RING_TOLERANCE]
    counts = Counter(ring)
    if len(ring) == 1:
        return f"off-{ring[0]}"
    if len(ring) == 2:
        return "bridge-" + "-".join(sorted(ring))
    return f"hollow{len(ring)}-" + "".join(f"{el}{n}" for el, n in sorted(counts.items()))


def candidate_sites(atoms: Atoms, adsorbate: str = "Na", relaxed: Atoms | None = None) -> list[CandidateSite]:
    """Symmetry-distinct sites of the top face, renamed by coordination, with the adatom at touching height.

    Sites come from the ideal slab ``atoms`` (its symmetry is exact); heights from ``relaxed`` when given.
    """
    from pymatgen.analysis.adsorption import AdsorbateSiteFinder  # ~1 s to import (scipy.stats): where used

    finder = AdsorbateSiteFinder(AseAtomsAdaptor.get_structure(atoms))
    found = finder.find_adsorption_sites(distance=1.0, symm_reduce=1e-2, near_reduce=1e-2,
                                         positions=("ontop", "bridge", "hollow"))
    surface, named = surface_indices(atoms), naming_indices(atoms)
    sites: list[CandidateSite] = []
    names: Counter[str] = Counter()
    for cart in found["all"]:
        # The finder works in a re-oriented copy of the slab: go through fractional coordinates.
        frac = finder.slab.lattice.get_fractional_coords(cart)
        xy = atoms.cell.cartesian_positions(frac)[:2]
        name = name_site(atoms, xy, named)
        names[name] += 1
        unique = name if names[name] == 1 else f"{name}#{names[name]}"
        height = touching_height(relaxed if relaxed is not None else atoms, xy, adsorbate, surface)
        sites.append(CandidateSite(unique, np.append(xy, height)))
    return sites


def touching_height(atoms: Atoms, xy: np.ndarray, adsorbate: str, surface: np.ndarray | None = None) -> float:
    """Lowest z at which the adatom at ``xy`` is no closer than covalent contact to any surface atom."""
    surface = surface_indices(atoms) if surface is None else surface
    lateral = _lateral_distances(atoms, xy, surface)
    r_ads = covalent_radii[atomic_numbers[adsorbate]]
    contact = r_ads + covalent_radii[atoms.numbers[surface]]
    lift = np.sqrt(np.clip(contact**2 - lateral**2, 0, None))
    z_top = atoms.positions[surface, 2].max()
    return float(max((atoms.positions[surface, 2] + lift).max(), z_top + 1.0))


def classify_adatom(relaxed: Atoms, clean: Atoms, adatom: int = -1,
                    thresholds: AnomalyThresholds = AnomalyThresholds()) -> tuple[Outcome, dict]:
    """What the adatom in ``relaxed`` (clean slab + 1 atom, same order) became, with the numbers behind it."""
    adatom = adatom % len(relaxed)
    slab_idx = np.array([i for i in range(len(relaxed)) if i != adatom])
    slab = relaxed[slab_idx]
    surface = naming_indices(clean)  # indices agree: the adatom is appended after the slab atoms
    # Height is measured from the topmost atomic layer (on Tasker-2 Na2Se(100): the half-filled Na layer,
    # so an adatom in one of its empty sites counts as incorporated, not adsorbed).
    layers = assign_layers(clean.positions[:, 2])
    top_layer = np.flatnonzero(layers == layers.max())
    z_top_layer = float(slab.positions[top_layer, 2].mean())
    pos = relaxed.positions[adatom]
    distances = relaxed.get_distances(adatom, slab_idx, mic=True)
    contact = covalent_radii[relaxed.numbers[adatom]] + covalent_radii[relaxed.numbers[slab_idx]]
    moved = minimum_image(slab.positions - clean.positions, clean.cell.array)
    displacement = np.linalg.norm(moved, axis=1)
    bond = _nearest_neighbour_distances(clean)
    allowed = thresholds.max_displacement_fraction * bond
    lateral_ratio = np.linalg.norm(moved[:, :2], axis=1) / allowed
    vertical_ratio = np.abs(moved[:, 2]) / (thresholds.max_vertical_fraction * bond)
    info = {
        "height": round(float(pos[2] - z_top_layer), 4),
        "nearest_distance": round(float(distances.min()), 4),
        "max_surface_displacement": round(float(displacement.max()), 4),
        "max_lateral_ratio": round(float(lateral_ratio.max()), 4),  # > 1: an atom changed site
        "max_vertical_ratio": round(float(vertical_ratio.max()), 4),  # > 1: an atom left its layer
        "site": name_site(clean, pos[:2], surface),  # named on the clean lattice, not the relaxed one
    }
    if (distances / contact).min() > thresholds.desorption_ratio:
        return Outcome.DESORBED, info
    same = [i for i, j in enumerate(slab_idx) if relaxed.numbers[j] == relaxed.numbers[adatom]]
    risen = [i for i in same if slab.positions[i, 2] - z_top_layer > thresholds.incorporation_height
             and displacement[i] > allowed[i]]
    if info["height"] < thresholds.incorporation_height:
        if risen:
            info["exchanged_with"] = int(slab_idx[risen[0]])
            return Outcome.EXCHANGED, info
        return Outcome.INCORPORATED, info
    if lateral_ratio.max() > 1 or vertical_ratio.max() > 1:
        return Outcome.SURFACE_DISTURBED, info
    return Outcome.ADSORBED, info


def _nearest_neighbour_distances(atoms: Atoms) -> np.ndarray:
    distances = atoms.get_all_distances(mic=True)
    np.fill_diagonal(distances, np.inf)
    return distances.min(axis=1)


def _lateral_distances(atoms: Atoms, xy: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """In-plane minimum-image distances from the point ``xy`` to the atoms ``indices``."""
    d = np.zeros((len(indices), 3))
    d[:, :2] = atoms.positions[indices, :2] - xy
    return np.linalg.norm(minimum_image(d, atoms.cell.array)[:, :2], axis=1)


def below_top_atom(atoms: Atoms, position: np.ndarray) -> bool:
    """Whether ``position`` lies inside the slab: more than 0.1 Å below its highest atom."""
    return position[2] < atoms.positions[:, 2].max() - 0.1


def placed(atoms: Atoms, position: np.ndarray, adsorbate: str = "Na") -> Atoms:
    """A copy of the slab with the adatom appended at ``position`` (constraints kept)."""
    if below_top_atom(atoms, position):
        raise SeiscreenError(f"adatom placed at z={position[2]:.2f} Å is inside the slab (top atom at "
                             f"z={atoms.positions[:, 2].max():.2f} Å): place it above the surface")
    out = atoms.copy()
    out += Atoms(adsorbate, positions=[position])
    return out
