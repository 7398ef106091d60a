"""Candidate sites named by coordination, and the anomaly checks on relaxed adatoms (no calculator)."""

import numpy as np
import pytest
from pymatgen.analysis.adsorption import AdsorbateSiteFinder

from seiscreen.catalog import load_bulk, make_bulk
from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.sites import (Outcome, candidate_sites, classify_adatom, name_site, naming_indices, placed,
                                      touching_height)
from seiscreen.surfaces.slabs import assign_layers, make_terminations


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
    # The half-filled Na layer is named with the Se plane a/4 = 1.71 Å under it, not with the full Na plane a/2 down.
    atoms = term.to_atoms()
    z = atoms.positions[:, 2]
    named = naming_indices(atoms)
    assert z.max() - z[named].min() == pytest.approx(load_bulk("Na2Se").structure.lattice.a / 4, abs=0.05)
    assert set(np.array(atoms.get_chemical_symbols())[named]) == {"Na", "Se"}
    # The adatom starts lower over the vacancy than on top of a Na.
    height = {s.name: s.position[2] for s in sites}
    assert height["bridge-Se-Se"] < height["top-Na"]


def silver():
    """fcc Ag at its experimental lattice (a = 4.086 Å): not in the catalog, built with ASE."""
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    return make_bulk("Ag", AseAtomsAdaptor.get_structure(bulk("Ag", "fcc", a=4.086)), {"Ag": 0})


@pytest.mark.parametrize("metal", ["Cu", "Ag"])
def test_fcc_100_hollow_is_named_a_hollow_not_top_of_the_second_layer(metal):
    # fcc(100): a square net whose next plane lies a/2 lower (1.81 Å on Cu, 2.04 Å on Ag) with an atom under each
    # 4-fold hollow. Three site classes: top, bridge, hollow (4 top-layer atoms around it).
    bulk = load_bulk("Cu") if metal == "Cu" else silver()
    (term,) = make_terminations(bulk, (1, 0, 0))
    atoms = term.to_atoms()
    assert sorted(s.name for s in candidate_sites(atoms)) == [f"bridge-{metal}-{metal}", f"hollow4-{metal}4",
                                                              f"top-{metal}"]
    layers = assign_layers(atoms.positions[:, 2])
    second = atoms.positions[layers == layers.max() - 1]
    assert name_site(atoms, second[0, :2]) == f"hollow4-{metal}4"  # straight above a second-layer atom
    assert set(layers[naming_indices(atoms)]) == {layers.max()}  # only the top layer names a site


def test_naf_110_hollow_is_named_a_hollow():
    # Rocksalt (110): rows of Na and F alternating 2.32 Å apart along [001], rows 3.28 Å apart along [1-10]; the
    # next plane, 1.64 Å lower, has an ion under the centre of each rectangle of 2 Na and 2 F. Six classes: two
    # tops, three bridges (Na-F along [001], Na-Na and F-F along [1-10]) and that hollow.
    (term,) = make_terminations(load_bulk("NaF"), (1, 1, 0))
    names = sorted(s.name for s in candidate_sites(term.to_atoms()))
    assert names == ["bridge-F-F", "bridge-F-Na", "bridge-Na-Na", "hollow4-F2Na2", "top-F", "top-Na"]


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
