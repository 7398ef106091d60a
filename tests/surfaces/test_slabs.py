"""Slabs of real catalog materials, no calculator: terminations, polarity, reconstruction, cell shape."""

import numpy as np
import pytest

from seiscreen.catalog import load_bulk
from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.slabs import (SlabSettings, choose_supercell, make_terminations, parse_miller,
                                      with_supercell)


def test_naf_100_is_one_nonpolar_symmetric_termination_with_a_square_cell():
    # Rocksalt (100) planes hold Na and F 1:1, so every cut is the same neutral plane: one termination.
    # In-plane primitive cell: a/sqrt(2) = 3.277 Å square; the smallest supercell with images >= 9 Å is
    # (2 -2; 2 2)-type, 8 primitive cells, side 2 a / sqrt(2) * ... = a*sqrt(4) = 9.27 Å, 16 ions per layer.
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0))
    assert not term.polar_as_cleaved and term.reconstruction == "none" and term.symmetric
    a = load_bulk("NaF").structure.lattice.a
    lengths, angles = term.slab.lattice.abc, term.slab.lattice.angles
    assert lengths[0] == pytest.approx(2 * a, abs=1e-3) and lengths[1] == pytest.approx(2 * a, abs=1e-3)
    assert angles == pytest.approx((90, 90, 90), abs=1e-3)
    # min_thickness 6 Å with 2.317 Å spacing: 4 planes (6.95 Å between outer planes), 16 ions each.
    assert term.n_layers == 4 and len(term.slab) == 64
    assert term.n_fixed_layers == 2


def test_c_axis_is_perpendicular_to_the_surface():
    # SlabGenerator's default c on NaF(110) is tilted (alpha = 98°); the dipole correction needs c ⟂ surface.
    for miller in [(1, 1, 0), (1, 0, 0)]:
        for term in make_terminations(load_bulk("NaF"), miller):
            matrix = term.slab.lattice.matrix
            assert np.allclose(matrix[2, :2], 0, atol=1e-6) and np.allclose(matrix[:2, 2], 0, atol=1e-6)


def test_bottom_layers_are_fixed_in_ase_atoms_with_metadata():
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0))
    atoms = term.to_atoms()
    fixed = atoms.constraints[0].index
    z = atoms.positions[:, 2]
    assert len(fixed) == 32 and z[fixed].max() < np.delete(z, fixed).min()
    assert atoms.info["termination_id"] == term.termination_id and atoms.info["miller"] == [1, 0, 0]


def test_polar_na2se_100_is_replaced_by_its_tasker2_reconstruction():
    # Antifluorite (100) stacks Se(2-) and Na2(2+) planes: as cleaved, one face ends in Se and the other in
    # Na2, a dipole. Tasker 2 moves half of the outer Na plane to the other face: neutral, symmetric slab
    # whose top is a half-filled Na layer (the review's Na2Se(100)).
    terms = make_terminations(load_bulk("Na2Se"), (1, 0, 0))
    assert len(terms) == 1
    (term,) = terms
    assert term.polar_as_cleaved and term.reconstruction == "tasker2" and term.symmetric
    assert term.termination_id.endswith("-t20")
    assert not term.slab.is_polar()
    # Composition stays Na2Se and the topmost layer is Na only.
    assert term.slab.composition.reduced_formula == "Na2Se"
    atoms = term.to_atoms()
    top = atoms.positions[:, 2] > atoms.positions[:, 2].max() - 0.3
    assert set(np.array(atoms.get_chemical_symbols())[top]) == {"Na"}


def test_polarity_needs_oxidation_states():
    # pymatgen calls an undecorated slab non-polar: the catalog decorates every bulk, so NaF(111) is refused.
    with pytest.raises(SeiscreenError, match=r"every termination is polar.*choose another Miller index"):
        make_terminations(load_bulk("NaF"), (1, 1, 1))


def test_alloy_nabi_001_has_two_terminations_na_and_bi_on_top():
    # CuAu-type NaBi: (001) planes alternate pure Na and pure Bi, so a slab has one Na face and one Bi face.
    # Both are terminations an adatom can meet: the slab and its flipped copy.
    terms = make_terminations(load_bulk("NaBi"), "001")
    tops = []
    for term in terms:
        atoms = term.to_atoms()
        top = atoms.positions[:, 2] > atoms.positions[:, 2].max() - 0.3
        tops.append(set(np.array(atoms.get_chemical_symbols())[top]))
        assert not term.polar_as_cleaved and not term.symmetric
    assert sorted(map(sorted, tops)) == [["Bi"], ["Na"]]
    assert len({t.termination_id for t in terms}) == 2


@pytest.mark.slow
def test_termination_ids_are_stable_across_calls():
    ids = [t.termination_id for t in make_terminations(load_bulk("NaIn"), (1, 1, 1))]
    assert ids == [t.termination_id for t in make_terminations(load_bulk("NaIn"), (1, 1, 1))]
    assert len(set(ids)) == len(ids) == 4


def test_thickness_is_between_outer_planes():
    # bcc Na(110): planes a/sqrt(2) = 3.03 Å apart; pymatgen's own count gives 2 planes (3.03 Å between the
    # outer ones) for 6 Å. Its oriented cell holds 2 planes, so the next size up is 4 planes, 9.1 Å.
    (term,) = make_terminations(load_bulk("Na"), (1, 1, 0), SlabSettings(min_thickness=6.0))
    assert np.ptp(term.slab.cart_coords[:, 2]) >= 6.0 and term.n_layers == 4


def test_supercell_is_square_for_an_oblique_square_net():
    # The LLL-reduced NaF(100) cell is oblique (135°): vectors (3.277, 0) and (-3.277, 3.277)... of a square
    # net. The chosen supercell must be square, not a 135° rhombus.
    s = 3.277
    basis = np.array([[s, 0.0], [-s, s]])
    matrix = np.array(choose_supercell(basis, 9.0))
    vectors = matrix @ basis
    assert np.dot(vectors[0], vectors[1]) == pytest.approx(0, abs=1e-6)
    assert np.linalg.norm(vectors[0]) == pytest.approx(np.linalg.norm(vectors[1]))
    assert abs(round(np.linalg.det(matrix))) == 8  # side 2*sqrt(2)*s = 9.27 Å >= 9 Å, no smaller cell works


@pytest.mark.parametrize("text, expected", [("100", (1, 0, 0)), ("1,1,0", (1, 1, 0)), ("1 -1 0", (1, -1, 0)),
                                            ("1-10", (1, -1, 0)), ((0, 0, 1), (0, 0, 1)), ([1.0, 0, 0], (1, 0, 0)),
                                            (["1", "-1", "0"], (1, -1, 0))])
def test_miller_index_spellings(text, expected):
    assert parse_miller(text) == expected


@pytest.mark.parametrize("bad", ["000", "10", "abc", [1.5, 0, 0], "1.5 0 0", "1.5,0,0", [True, 0, 0], ["1.5", 0, 0]])
def test_bad_miller_index_is_a_clear_error(bad):
    with pytest.raises(SeiscreenError, match="Miller index"):
        parse_miller(bad)


def test_tiny_vacuum_is_refused():
    with pytest.raises(ValueError, match="vacuum .* too small"):
        SlabSettings(vacuum=3)


def test_to_atoms_leaves_the_oxidation_states_on_the_slab():
    # pymatgen strips oxidation states in place; the termination still needs them to judge polarity.
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0))
    term.to_atoms()
    assert not term.slab.is_polar() and term.slab.composition.oxi_state_guesses()  # decorated still
    assert {getattr(sp, "oxi_state", None) for sp in term.slab.composition.elements} == {1, -1}


def test_supercells_keep_the_surface_point_symmetry():
    """NaBr(100) at 9 Å and NaF(100) at 13 and 17 Å: the fewest-cell supercells reaching the size (5, 16 and 28
    cells) break the square surface's 4-fold axis; a symmetric one of the size is chosen instead."""
    from seiscreen.surfaces.slabs import keeps_point_symmetry
    from seiscreen.surfaces.symmetry import SurfaceSymmetry

    for material, size in (("NaBr", 9.0), ("NaF", 13.0), ("NaF", 17.0)):
        (term,) = make_terminations(load_bulk(material), (1, 0, 0), SlabSettings(min_lateral_size=size,
                                                                                  max_supercell_atoms=5000))
        rotations = SurfaceSymmetry.from_structure(term.slab).rotations
        assert len({r.tobytes() for r in rotations}) == 8, material  # the supercell slab keeps C4v
        lengths = np.linalg.norm(term.slab.lattice.matrix[:2], axis=1)
        assert min(lengths) >= size - 1e-6 and np.isclose(lengths[0], lengths[1]), (material, size, lengths)
    square = np.array([[0, -1], [1, 0]])  # a 4-fold rotation of a square cell
    assert keeps_point_symmetry(np.array([[2, 0], [0, 2]]), [square])
    assert not keeps_point_symmetry(np.array([[2, 1], [0, 1]]), [square])


@pytest.mark.parametrize("size", [9.0, 13.0])
def test_fcc_100_campaign_slabs_are_square(tmp_path, size):
    """Cu(100) and Ag(100) as a campaign cuts them: fcc(100) is a square net of side a/sqrt(2) (point group 4mm),
    so its supercell is square, not oblique (an oblique one computes equivalent hops twice and splits the 1D and
    2D barriers). At 9 Å the smallest 4mm supercells are 4x4 (a 45°-rotated one, side 3a, needs 18 cells); at
    13 Å on Ag 5x5 (14.45 Å; the rotated 4a one needs 32 cells)."""
    from pymatgen.core import Lattice, Structure

    from seiscreen.campaign import Campaign
    from seiscreen.schemas import atoms_from_dict
    from seiscreen.workflow.flows import plan_surfaces

    silver = tmp_path / "Ag.cif"
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.086), ["Ag"], [[0, 0, 0]]).to(filename=str(silver))
    campaign = Campaign(name="fcc100", calculator="emt", adsorbate="Cu", slab=SlabSettings(min_lateral_size=size),
                        materials=[{"material": "Cu", "facets": [[1, 0, 0]]},
                                   {"material": str(silver), "facets": [[1, 0, 0]]}])
    spacing = {"Cu": load_bulk("Cu").structure.lattice.a / np.sqrt(2), "Ag": 4.086 / np.sqrt(2)}
    sides = {}
    for planned in plan_surfaces(campaign):
        cell = atoms_from_dict(planned.slab.structure).cell
        lengths, gamma = cell.lengths()[:2], cell.angles()[2]
        assert gamma == pytest.approx(90, abs=1e-3) and lengths[0] == pytest.approx(lengths[1], abs=1e-4), planned.label
        assert lengths[0] >= size
        sides[planned.slab.key.material] = lengths[0] / spacing[planned.slab.key.material]  # in net spacings
    assert sides["Ag"] == pytest.approx(4 if size == 9.0 else 5, abs=1e-3)
    # Cu at 13 Å: 6x6 (15.3 Å, 36 cells) or the rotated 4a square (14.5 Å, 32 cells), both 4mm.
    assert any(sides["Cu"] == pytest.approx(n, abs=1e-3) for n in ((4,) if size == 9.0 else (6, 4 * np.sqrt(2))))


def test_a_fully_frozen_slab_is_accepted_with_a_warning(caplog):
    """Every layer fixed (ASE's NEB tutorial set-up): a reference geometry where only the adatom moves."""
    settings = SlabSettings(min_thickness=5.0, vacuum=10.0, min_lateral_size=5.5, n_fixed_layers=6)
    with caplog.at_level("WARNING", logger="seiscreen.surfaces.slabs"):
        (term,) = make_terminations(load_bulk("Al"), (1, 0, 0), settings)
    assert term.n_layers == 4 and term.n_fixed_layers == 4  # 4 planes 2.02 Å apart; all of them fixed
    atoms = term.to_atoms()
    assert sorted(atoms.constraints[0].index) == list(range(len(atoms)))
    (record,) = [r for r in caplog.records if "n_fixed_layers" in r.getMessage()]
    assert record.levelname == "WARNING" and "\n" not in record.getMessage()


@pytest.mark.parametrize("net", ["hexagonal", "square"])
def test_supercell_choice_does_not_depend_on_last_bit_noise(net):
    # NaIn(111)'s hexagonal net and a square one: last-bit differences in pymatgen's basis once picked another of
    # the equivalent supercells (docs/notes/2026-12-07-supercell-noise.md), and with it other numbers.
    a = 5.176021638285527
    if net == "hexagonal":
        basis = np.array([[a, 0.0], [a / 2, a * np.sqrt(3) / 2]])
        rotations = np.array([[[1, 0], [0, 1]], [[0, -1], [1, -1]], [[-1, 1], [-1, 0]],
                              [[0, -1], [-1, 0]], [[-1, 1], [0, 1]], [[1, 0], [1, -1]]])
    else:
        basis = np.array([[4.6, 0.0], [0.0, 4.6]])
        rotations = np.array([[[1, 0], [0, 1]], [[0, -1], [1, 0]], [[-1, 0], [0, -1]], [[0, 1], [-1, 0]]])
    rng = np.random.default_rng(0)
    chosen = {choose_supercell(basis + rng.normal(scale=1e-13, size=(2, 2)), 9.0, rotations=rotations)
              for _ in range(50)}
    assert len(chosen) == 1, chosen
    (matrix,) = chosen
    u, v = np.array(matrix) @ basis
    assert u @ v <= 1e-9  # the canonical cell is the obtuse (or square) one


def test_a_termination_rebuilt_in_an_equivalent_supercell_is_the_same_surface():
    (term,) = [t for t in make_terminations(load_bulk("NaIn"), (1, 1, 1), SlabSettings())
               if t.termination_id == "111-s0.292"]
    assert len(term.alternatives) >= 1 and term.supercell_matrix not in term.alternatives
    other = with_supercell(term, term.alternatives[0])
    assert other.supercell_matrix == term.alternatives[0] and term.supercell_matrix in other.alternatives
    assert len(other.slab) == len(term.slab) and other.n_layers == term.n_layers
    assert np.isclose(abs(np.linalg.det(other.slab.lattice.matrix)), abs(np.linalg.det(term.slab.lattice.matrix)))
    assert sorted(other.slab.lattice.abc[:2]) == pytest.approx(sorted(term.slab.lattice.abc[:2]))
    with pytest.raises(ValueError, match="not an equivalent supercell"):
        with_supercell(term, ((5, 0), (0, 5)))
