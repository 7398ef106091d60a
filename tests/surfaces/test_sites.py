"""Candidate sites named by coordination, and the anomaly checks on relaxed adatoms (no calculator)."""

import numpy as np
import pytest
from pymatgen.analysis.adsorption import AdsorbateSiteFinder

from seiscreen.catalog import load_bulk
from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.sites import Outcome, candidate_sites, classify_adatom, name_site, placed, touching_height
from seiscreen.surfaces.slabs import make_terminations


@pytest.fixture(scope="module")
def naf100():
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0))
    return term


def test_naf_100_sites_are_named_by_coordination_not_by_delaunay_labels(naf100):
    # pymatgen's finder labels the square net by Delaunay triangles: 2 "ontop", 2 "bridge", no "hollow";
    # one of its "bridges" is really the 4-fold hollow between 2 Na and 2 F.
    raw = AdsorbateSiteFinder(naf100.slab).find_adsorption_sites(symm_reduce=1e-2, near_reduce=1e-2)
    assert (len(raw["ontop"]), len(raw["bridge"]), len(raw["hollow"])) == (2, 2, 0)
    names = sorted(site.name for site in candidate_sites(naf100.to_atoms()))
    assert names == ["bridge-F-Na", "hollow4-F2Na2", "top-F", "top-Na"]


def test_na2se_100_tasker2_sites():
    # Top view of the Tasker-2 face (a = 6.82 Å): a half-filled Na plane (checkerboard, Na 4.82 Å apart) with
    # Se 1.7 Å below it at the midpoints of half the Na-Na diagonals. Four classes:
    #   top-Na; top-Se (over the shallow Se); the empty Na site, 2.41 Å from two Se -> bridge-Se-Se;
    #   the other Na-Na midpoint, over the deep Se plane (3.4 Å down, not a surface atom) -> bridge-Na-Na.
    (term,) = make_terminations(load_bulk("Na2Se"), (1, 0, 0))
    sites = candidate_sites(term.to_atoms())
    assert sorted(s.name for s in sites) == ["bridge-Na-Na", "bridge-Se-Se", "top-Na", "top-Se"]
    # The adatom starts lower over the vacancy than on top of a Na.
    height = {s.name: s.position[2] for s in sites}
    assert height["bridge-Se-Se"] < height["top-Na"]


def test_site_names_of_points(naf100):
    atoms = naf100.to_atoms()
    top = atoms.positions[:, 2] > atoms.positions[:, 2].max() - 0.3
    na = atoms.positions[top & (atoms.numbers == 11)][0]
    assert name_site(atoms, na[:2]) == "top-Na"
    assert name_site(atoms, na[:2] + [0.8, 0.0]) == "off-Na"  # 0.8 Å from Na, 1.5 Å from the next F


def test_adatom_inside_the_slab_is_refused(naf100):
    atoms = naf100.to_atoms()
    inside = atoms.positions[0] + [0.5, 0.5, 0.0]
    with pytest.raises(SeiscreenError, match="inside the slab"):
        placed(atoms, inside)


def _adsorbed(atoms, height=None):
    xy = atoms.cell.array[:2, :2].sum(axis=0) / 4  # a point inside the cell
    z = touching_height(atoms, xy, "Na") if height is None else atoms.positions[:, 2].max() + height
    return placed(atoms, np.append(xy, z))


def test_classification_of_relaxed_adatoms(naf100):
    clean = naf100.to_atoms()
    assert classify_adatom(_adsorbed(clean), clean)[0] is Outcome.ADSORBED
    assert classify_adatom(_adsorbed(clean, height=7.0), clean)[0] is Outcome.DESORBED

    # Sank: the adatom pushed down to the height of the top layer.
    sunk = _adsorbed(clean)
    sunk.positions[-1, 2] = clean.positions[:, 2].max()
    outcome, details = classify_adatom(sunk, clean)
    assert outcome is Outcome.INCORPORATED and details["height"] < 0.6

    # Exchange: a surface Na pops up to an adatom height and the adatom takes its place in the layer.
    top = np.flatnonzero((clean.positions[:, 2] > clean.positions[:, 2].max() - 0.3) & (clean.numbers == 11))
    swapped = _adsorbed(clean)
    swapped.positions[-1] = clean.positions[top[0]]
    swapped.positions[top[0], 2] += 2.5
    outcome, details = classify_adatom(swapped, clean)
    assert outcome is Outcome.EXCHANGED and details["exchanged_with"] == top[0]

    # A surface F pulled 2 Å sideways (more than half its 2.3 Å bond): the surface changed.
    disturbed = _adsorbed(clean)
    f_top = np.flatnonzero((clean.positions[:, 2] > clean.positions[:, 2].max() - 0.3) & (clean.numbers == 9))
    disturbed.positions[f_top[0], 0] += 2.0
    assert classify_adatom(disturbed, clean)[0] is Outcome.SURFACE_DISTURBED
