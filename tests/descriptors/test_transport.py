"""Bulk transport on EMT fcc Cu (the vacancy barrier against ASE's own NEB), and the geometry of hops, supercells
and voids on structures whose answers follow from their lattices."""

import numpy as np
import pytest
from ase.build import bulk, fcc100
from ase.calculators.emt import EMT
from ase.mep import NEB
from ase.optimize import BFGS, FIRE
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.descriptors.transport import TransportSettings, compute_transport
from seiscreen.descriptors.transport_sites import connecting_length, empty_voids, supercell_matrix
from seiscreen.errors import SeiscreenError

A_CU = 3.6  # Å; EMT's own minimum is 3.59, and both NEBs below use the same cell, so it need not be exact
NN_CU = A_CU / np.sqrt(2)


@pytest.fixture(scope="module")
def cu_transport():
    """Cu's vacancy transport in the 27-atom primitive 3x3x3 supercell (6.24 Å wide, where the conventional
    2x2x2 needs 32 atoms), and the interstitial mechanism asked for too."""
    settings = TransportSettings(species="Cu", min_image_distance=6.0, interstitial=True)
    return compute_transport(bulk("Cu", "fcc", a=A_CU), EMT, settings)


def _ase_vacancy_barrier() -> float:
    """The same hop with ASE's NEB directly: a 3x3x3 primitive cell, atom 0 removed, its neighbour at a1 hops in."""
    perfect = bulk("Cu", "fcc", a=A_CU) * (3, 3, 3)
    mover = int(np.argmin(np.linalg.norm(perfect.positions - perfect.cell[0] / 3, axis=1)))
    initial = perfect.copy()
    del initial[[0]]
    mover -= 1
    final = initial.copy()
    final.positions[mover] = perfect.positions[0]
    for end in (initial, final):
        end.calc = EMT()
        BFGS(end, logfile=None).run(fmax=0.01)
    images = [initial] + [initial.copy() for _ in range(5)] + [final]
    for image in images[1:-1]:
        image.calc = EMT()
    band = NEB(images, climb=True, method="improvedtangent")
    band.interpolate(mic=True)
    FIRE(band, logfile=None).run(fmax=0.02, steps=1000)
    return max(image.get_potential_energy() for image in images) - initial.get_potential_energy()


def test_fcc_cu_has_one_unique_nearest_neighbour_vacancy_hop(cu_transport):
    vacancy = cu_transport.vacancy
    assert len(vacancy.hops) == 1
    hop = vacancy.hops[0]
    assert hop.length_A == pytest.approx(NN_CU, abs=1e-3)
    assert hop.multiplicity == 6  # 12 nearest neighbours, each hop an edge between two sites
    assert hop.used and hop.status == "accepted" and all(hop.gates.values())
    assert vacancy.supercell_atoms == 27 and vacancy.supercell == [[3, 0, 0], [0, 3, 0], [0, 0, 3]]


def test_fcc_cu_vacancy_percolates_in_3d_at_its_one_hop(cu_transport):
    vacancy = cu_transport.vacancy
    hop = vacancy.hops[0]
    # One site class and one hop class: every dimension opens at that hop, and forward = reverse.
    assert vacancy.percolation_barrier_eV == pytest.approx(hop.forward_barrier_eV)
    assert vacancy.percolation_1d_eV == pytest.approx(vacancy.percolation_2d_eV)
    assert hop.reverse_barrier_eV == pytest.approx(hop.forward_barrier_eV, abs=0.01)
    assert cu_transport.percolation_barrier_eV == vacancy.percolation_barrier_eV and vacancy.limiting_hop == 0


def test_fcc_cu_vacancy_barrier_matches_ases_own_neb(cu_transport):
    assert cu_transport.vacancy.percolation_barrier_eV == pytest.approx(_ase_vacancy_barrier(), abs=0.02)


def test_fcc_cu_has_no_interstitial_site(cu_transport):
    # fcc's widest void, the octahedral one, is 0.71 nearest-neighbour distances from its atoms: below 0.8.
    interstitial = cu_transport.interstitial
    assert interstitial.site == "no site" and interstitial.hops == [] and interstitial.percolation_barrier_eV is None


def test_interstitial_is_off_by_default():
    assert TransportSettings().interstitial is False


def test_rock_salt_voids_are_its_tetrahedral_sites():
    rock_salt = AseAtomsAdaptor.get_structure(bulk("NaCl", "rocksalt", a=5.64))
    voids = empty_voids(rock_salt, "Na", 0.8)
    # In the primitive cell (fractional): the two tetrahedral (8c) voids; the octahedral ones hold the ions.
    assert sorted(np.round(v, 3).tolist() for v in voids) == [[0.25, 0.25, 0.25], [0.75, 0.75, 0.75]]


def test_fcc_octahedral_void_appears_below_its_clearance():
    fcc = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=A_CU))
    voids = empty_voids(fcc, "Cu", 0.7)  # octahedral 1/√2 = 0.707 kept, tetrahedral √6/4 = 0.612 not
    assert [np.round(v, 3).tolist() for v in voids] == [[0.5, 0.5, 0.5]]


def test_supercell_is_the_smallest_wide_enough():
    # fcc primitive n x n x n is n a/√3 wide: 9 Å needs n = 5 (125 atoms); the conventional 3x3x3 is 3a = 10.8 Å
    # wide with 108 atoms, and 2x2x2 (7.2 Å) is too narrow.
    fcc = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=A_CU))
    matrix = supercell_matrix(fcc, 9.0)
    assert round(abs(np.linalg.det(matrix))) == 108
    assert np.allclose(matrix @ fcc.lattice.matrix, 3 * A_CU * np.eye(3), atol=1e-6)
    # Tetragonal 3 x 3 x 5 Å: 3 x 3 x 2 reaches 9 Å with 18 cells.
    tetragonal = Structure(Lattice.tetragonal(3.0, 5.0), ["Na"], [[0, 0, 0]])
    assert np.array_equal(supercell_matrix(tetragonal, 9.0), np.diag([3, 3, 2]))


def test_hops_connect_in_3d_only_through_the_long_axis():
    # Tetragonal 3 x 3 x 5 Å: the 3 Å hops make planes, 3D needs the 5 Å hop along c.
    tetragonal = Structure(Lattice.tetragonal(3.0, 5.0), ["Na"], [[0, 0, 0]])
    assert connecting_length(tetragonal, [0]) == pytest.approx(5.0)


def test_a_slab_or_a_bulk_without_the_species_is_refused():
    with pytest.raises(SeiscreenError, match="periodic in 3D"):
        compute_transport(fcc100("Cu", (2, 2, 3), vacuum=5.0), EMT)
    with pytest.raises(SeiscreenError, match="no Na site"):
        compute_transport(bulk("Cu", "fcc", a=A_CU), EMT)
