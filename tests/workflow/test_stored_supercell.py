"""A store keeps the supercell it computed a surface in; a fresh store gets the canonical one
(docs/notes/2026-12-07-supercell-noise.md)."""

from __future__ import annotations

import pytest

from seiscreen.catalog import load_bulk
from seiscreen.surfaces.slabs import SlabSettings, make_terminations, with_supercell
from seiscreen.workflow.slabs import stored_cells, stored_supercell


@pytest.fixture(scope="module")
def termination():
    (term,) = [t for t in make_terminations(load_bulk("NaIn"), (1, 1, 1), SlabSettings())
               if t.termination_id == "111-s0.292"]
    assert term.alternatives  # a hexagonal net: several equivalent reduced supercells
    return term


def test_a_fresh_store_gets_the_canonical_cell(termination):
    assert stored_supercell(termination, []) is termination


def test_a_store_keeps_the_equivalent_cell_it_computed_in(termination):
    legacy = with_supercell(termination, termination.alternatives[-1]).metadata()
    kept = stored_supercell(termination, [legacy])
    assert kept.supercell_matrix == termination.alternatives[-1]
    assert kept.metadata() == legacy  # the very slab: its documents are found by their content hashes


def test_another_cut_of_the_termination_is_not_taken_for_it(termination):
    thicker = {**with_supercell(termination, termination.alternatives[0]).metadata(), "n_layers": 99}
    other_size = {**termination.metadata(), "supercell_matrix": [[3, 0], [0, 3]]}
    assert stored_supercell(termination, [thicker, other_size]) is termination


class _Store:
    def __init__(self, docs):
        self.docs, self.asked = docs, []

    def query(self, criteria, properties):
        self.asked.append(criteria)
        return list(self.docs)


def test_the_oldest_stored_cell_comes_first(termination):
    first, second = (with_supercell(termination, m).metadata() for m in termination.alternatives[:2])
    store = _Store([{"output": {"slab": {"termination": second}}, "completed_at": "2026-12-07T00:36:00"},
                    {"output": {"slab": {"termination": first}}, "completed_at": "2026-12-06T14:57:00"},
                    {"output": {"slab": None}, "completed_at": "2026-12-05T00:00:00"}])
    assert stored_cells(store, "NaIn", "Na") == [first, second]
    assert store.asked[0] == {"output.doc_type": "minima", "output.key.material": "NaIn", "output.key.adsorbate": "Na"}
    assert stored_supercell(termination, stored_cells(store, "NaIn", "Na")).metadata() == first
    assert stored_cells(None, "NaIn", "Na") == []
