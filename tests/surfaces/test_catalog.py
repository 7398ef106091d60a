"""The bulk catalog: every shipped material loads with its recorded space group, and bad input is refused."""

import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from seiscreen.catalog import load_bulk, load_catalog
from seiscreen.errors import SeiscreenError

REQUIRED = ["NaF", "NaCl", "NaBr", "NaI", "Na2Se", "Na3P", "NaIn", "NaSn2", "NaBi", "NaZn13", "Na15Sn4",
            "Na", "Li", "Mg", "Na22Ga39"]


def test_catalog_lists_every_material_the_review_compares_with_a_source():
    catalog = load_catalog()
    assert set(REQUIRED) <= set(catalog)
    for entry in catalog.values():
        assert entry.source.strip(), entry.name
        if entry.file is None:  # not shipped: the catalog must say why
            assert not entry.dft_feasible and entry.note.strip()


@pytest.mark.parametrize("name", [n for n, e in load_catalog().items() if e.file])
def test_shipped_structure_matches_its_catalog_row(name):
    entry = load_catalog()[name]
    bulk = load_bulk(name)
    assert bulk.formula == entry.formula
    assert SpacegroupAnalyzer(bulk.structure, symprec=0.01).get_space_group_number() == entry.space_group_number
    assert bulk.structure.lattice.a == pytest.approx(entry.lattice["a"], abs=1e-3)
    assert len(bulk.structure) == entry.n_atoms_conventional


def test_unknown_material_names_the_fix():
    with pytest.raises(SeiscreenError, match=r"unknown material 'NaQ'.*seiscreen materials"):
        load_bulk("NaQ")


def test_wrong_case_suggests_the_catalog_name():
    with pytest.raises(SeiscreenError, match="did you mean 'NaF'"):
        load_bulk("naf")


def test_unreadable_cif_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a 4.0\nthis is not a CIF loop\n")
    with pytest.raises(SeiscreenError, match="cannot read a crystal structure from .*broken.cif"):
        load_bulk(bad)


def test_overlapping_atoms_are_refused(tmp_path):
    cif = tmp_path / "overlap.cif"
    load_bulk("NaF").structure.copy().remove_oxidation_states().to(filename=str(cif))
    text = cif.read_text().replace("  Na  Na0  1  0.00000000  0.00000000  0.00000000  1",
                                   "  Na  Na0  1  0.00000000  0.00000000  0.00000000  1\n"
                                   "  F  F9  1  0.05000000  0.00000000  0.00000000  1")
    cif.write_text(text)
    with pytest.raises(SeiscreenError, match="overlap"):
        load_bulk(cif)


def test_user_cif_gets_oxidation_states_guessed(tmp_path):
    cif = tmp_path / "MyNaCl.cif"
    load_bulk("NaCl").structure.copy().remove_oxidation_states().to(filename=str(cif))
    bulk = load_bulk(cif)
    assert bulk.name == "MyNaCl" and bulk.oxidation_states == {"Na": 1, "Cl": -1}
