"""Bulk structures: the shipped catalog in ``structures/`` or any CIF a user points at."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from seiscreen.errors import SeiscreenError, UnknownNameError

#: ``structures/`` at the repository root; ``SEISCREEN_STRUCTURES`` points elsewhere.
STRUCTURES_DIR = Path(os.environ.get("SEISCREEN_STRUCTURES", Path(__file__).resolve().parents[2] / "structures"))

# Atoms closer than this in a bulk crystal mean a broken file, not chemistry (shortest real Na-X bond ~1.9 Å).
MIN_INTERATOMIC_DISTANCE = 0.9
# Thickest atom-free layer across the cell a bulk crystal may have (Å). The bonds of a 3D solid cross every plane
# (its longest nearest-neighbour distance, Cs metal, is 5.3 Å) and a van der Waals gap between layers is ~3.5 Å:
# a wider empty layer is the vacuum around a molecule, an atom or a slab in a box.
MAX_EMPTY_LAYER = 6.0
# A path, not a catalog name: catalog names have neither a folder nor a file suffix.
_PATH_LIKE = re.compile(r"[/\\]|\.\w+$")


@dataclass(frozen=True)
class CatalogEntry:
    """One row of ``structures/catalog.yaml``."""

    name: str
    formula: str
    role: str
    structure_type: str
    space_group: str
    space_group_number: int
    lattice: dict[str, float]
    n_atoms_conventional: int | None
    oxidation_states: dict[str, int]
    source: str
    dft_feasible: bool
    note: str = ""
    file: str | None = None


@dataclass(frozen=True)
class Bulk:
    """A bulk crystal ready for slab cutting: conventional cell, decorated with formal oxidation states."""

    name: str
    structure: Structure
    oxidation_states: dict[str, int]
    source: str
    entry: CatalogEntry | None = field(default=None, compare=False)

    @property
    def formula(self) -> str:
        return self.structure.composition.reduced_formula


@cache
def load_catalog(directory: Path = STRUCTURES_DIR) -> dict[str, CatalogEntry]:
    path = Path(directory) / "catalog.yaml"
    if not path.is_file():
        raise SeiscreenError(f"catalog not found at {path}: "
                             "set SEISCREEN_STRUCTURES to the folder holding catalog.yaml")
    raw = yaml.safe_load(path.read_text())["materials"]
    return {name: CatalogEntry(name=name, **fields) for name, fields in raw.items()}


def load_bulk(material: str | os.PathLike, oxidation_states: dict[str, int] | None = None) -> Bulk:
    """A catalog name (``"NaF"``) or a path to a CIF / any file pymatgen reads, as a :class:`Bulk`.

    A user CIF needs oxidation states for the polarity check unless every element is a metal; they are guessed
    with pymatgen's bond-valence analysis when not given.
    """
    text = str(material)
    catalog = load_catalog()
    if text in catalog:
        entry = catalog[text]
        if entry.file is None:
            raise SeiscreenError(f"material {text!r} has no structure file shipped ({entry.note.strip()}); "
                                 "pass a CIF path instead")
        structure = _read_structure(STRUCTURES_DIR / entry.file)
        return make_bulk(text, structure, oxidation_states or entry.oxidation_states, entry.source, entry)
    path = Path(text)
    if not path.exists() and _PATH_LIKE.search(text):
        raise SeiscreenError(f"no structure file at {path.absolute()}: check the path of the CIF (or use a name "
                             "from `seiscreen materials`)")
    if not path.exists():
        close = [n for n in catalog if n.lower() == text.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownNameError(f"unknown material {text!r}{hint}: use a name from `seiscreen materials` "
                               "or a path to a CIF file")
    structure = _read_structure(path)
    if oxidation_states is None:
        oxidation_states = _guess_oxidation_states(structure, path)
    return make_bulk(path.stem, structure, oxidation_states, f"user file {path}", None)


def _read_structure(path: Path) -> Structure:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(path)
    except Exception as exc:  # pymatgen raises many types for a bad file
        first_line = str(exc).splitlines()[0] if str(exc) else "unparseable"
        raise SeiscreenError(f"cannot read a crystal structure from {path} ({type(exc).__name__}: {first_line}): "
                             "check it is a valid CIF") from None
    if len(structure) == 0:
        raise SeiscreenError(f"{path} holds no atoms: check it is a valid CIF")
    dmat = structure.distance_matrix
    dmat[range(len(structure)), range(len(structure))] = 1e9
    if dmat.min() < MIN_INTERATOMIC_DISTANCE:
        i, j = divmod(int(dmat.argmin()), len(structure))
        raise SeiscreenError(f"{path}: atoms {i} and {j} overlap ({dmat.min():.2f} Å apart): "
                             "fix the coordinates or remove duplicate sites")
    check_bulk(structure, str(path))
    return structure


def empty_layer(structure: Structure) -> tuple[float, int]:
    """The thickest atom-free layer parallel to a face of the cell (Å), and the lattice vector it crosses."""
    spacings = 1.0 / np.linalg.norm(structure.lattice.reciprocal_lattice_crystallographic.matrix, axis=1)
    widths = []
    for axis in range(3):
        x = np.sort(structure.frac_coords[:, axis] % 1.0)
        widths.append(float(np.diff(np.append(x, x[0] + 1.0)).max() * spacings[axis]))
    axis = int(np.argmax(widths))
    return widths[axis], axis


def check_bulk(structure: Structure, where: str) -> None:
    """Refuse what is not a 3D crystal (a molecule, a single atom or a slab with vacuum around it)."""
    width, axis = empty_layer(structure)
    if width > MAX_EMPTY_LAYER:
        raise SeiscreenError(f"{where} is not a 3D crystal: an empty layer {width:.1f} Å thick crosses its cell along "
                             f"{'abc'[axis]} (a molecule, atom or slab in a box; a bulk solid has none over "
                             f"{MAX_EMPTY_LAYER:g} Å): pass the CIF of the bulk crystal")


def _guess_oxidation_states(structure: Structure, path: Path) -> dict[str, int]:
    if all(el.is_metal for el in structure.composition.elements):
        return {el.symbol: 0 for el in structure.composition.elements}
    guesses = structure.composition.oxi_state_guesses(max_sites=-1)
    if not guesses:
        raise SeiscreenError(f"cannot guess oxidation states for {path}: pass them explicitly "
                             "(e.g. oxidation_states={'Na': 1, 'F': -1})")
    return {el: round(ox) for el, ox in guesses[0].items()}


def make_bulk(name: str, structure: Structure, oxidation_states: dict[str, int], source: str = "user structure",
              entry: CatalogEntry | None = None) -> Bulk:
    """A :class:`Bulk` from any pymatgen structure (conventional standard cell, oxidation states added)."""
    check_bulk(structure, name)
    missing = {el.symbol for el in structure.composition.elements} - set(oxidation_states)
    if missing:
        raise SeiscreenError(f"{name}: no oxidation state for {sorted(missing)}: add them to oxidation_states")
    conventional = SpacegroupAnalyzer(structure, symprec=0.01).get_conventional_standard_structure()
    conventional.add_oxidation_state_by_element(oxidation_states)
    return Bulk(name=name, structure=conventional, oxidation_states=dict(oxidation_states), source=source, entry=entry)
