"""Typed job payloads (schemas.HopSpec, HopGraph, WarmStart, MinimumSeed, SplitHop) and progress events
(progress.Event): every content hash is the one the dict payloads gave, stored documents still load, and jobflow
resolves a band reference inside a warm start.

The expected hashes were computed with the dict payloads before the types existed (the same inputs: Al(100), Au,
EMT). They are identities, not physics: stored work is found by them, so they must never move.
"""

from __future__ import annotations

import logging

from dataclasses import replace

import pytest
from jobflow import Flow, JobStore, OutputReference, job, run_locally
from maggma.stores import MemoryStore

from seiscreen import progress
from seiscreen.campaign import Campaign
from seiscreen.catalog import load_bulk
from seiscreen.hopgraph import hop_specs
from seiscreen.progress import Event
from seiscreen.schemas import (HopDoc, HopGraph, HopSpec, MinimaDoc, MinimumDoc, MinimumSeed, SplitHop, WarmStart,
                               atoms_from_dict, atoms_to_dict, content_hash)
from seiscreen.surfaces.slabs import SlabSettings, make_terminations, with_supercell
from seiscreen.workflow import RefineMinimaMaker, surface_makers
from seiscreen.workflow.hops import warm_identity
from seiscreen.workflow.slabs import slab_doc

SLAB = SlabSettings(min_thickness=5.0, vacuum=10.0, min_lateral_size=5.5)  # 2x2 Al(100), 4 planes, 2 fixed
LEGACY_SEARCH = {"stop_in_known_basin": False, "lowest_start_first": False, "verify_last": False}
RECORDED_CELL = ((-2, -2), (2, 0))  # the supercell the hashes were recorded on (before the canonical choice)

# Recorded with the dict payloads (seiscreen before the typed payloads), same inputs as _case().
BEFORE = {
    "minima": ["ca523575af13d9f245c18ac0", "8296d5a8c2c19712e698a307"],
    "minima_seeded": ["2705ca5bd11d9804570c565f", "3c74557ce52ca556b9c9313f"],
    "surface": ["4ed32b6c8463813cd3339f76", "ad4651e8757d696734e1de4e"],  # the EMT demo's surface
    "surface_seeded_warm": ["0be6d65d7a87f9dc766933aa", "a0e00ed6ec3dbe1f2473e2a4"],
    "warm_identity": ["0f323094c326de2940bf5caa", "84bcdec47d76a47d7208fa7b", "168cbced0f283ded476bb0e8",
                      "8ca79926f557d349c62d9b96"],
    "specs_graph": "5499d80121ffcce4c42ec08a",
    "hop": ["8d45de91b99b162e3030da2d"],
    "hop_warm": ["dd5d7abfbd2e895dca0919e4", "b8b4306b7bc0277beafe4464", "cc64a86c342eb59f0ed83353",
                 "dcddbdb4652862e77591f636"],
    "hop_via": ["00374dd5d96689aadb67e9d7", "304ff45df473522f91e200c1"],
    "refine": ["16988f29378690a83186dd20", "5eec35dad527d94d8b3a35d1"],
}


@pytest.fixture(scope="module")
def case():
    """The inputs the hashes of BEFORE were computed from, as typed payloads."""
    # Without saddle checks, which add their settings to a surface's identity (test below).
    # The minima search as it was then: its call-saving settings off keep the identities it had.
    campaign = Campaign(name="emt-test", calculator="emt", adsorbate="Au", materials=[{"material": "Al"}], slab=SLAB,
                        kinetics={"saddle_check": False}, minima=LEGACY_SEARCH)
    (term,) = make_terminations(load_bulk("Al"), (1, 0, 0), SLAB)
    term = with_supercell(term, RECORDED_CELL)  # the cell then, one of the canonical cell's equivalents
    slab = slab_doc(term, "Au", "emt")
    surface, settings = surface_makers(campaign, "emt", SLAB, "Au")
    seeds = [MinimumSeed(name="hollow4-Al4", position=[1.4318912, 1.4318912, 13.9876543]),
             MinimumSeed(name="bridge2-Al2", position=[1.4318912, 0.0, 14.2])]
    band = [atoms_to_dict(atoms_from_dict(slab.structure)) for _ in range(3)]
    warm = [WarmStart(start=[0.25, 0.25], end=[0.75, 0.25], band=OutputReference("6c0ffee0-uuid", (("a", "band"),))),
            WarmStart(start=[0.25, 0.25], end=[0.25, 0.75], relax_with="ml"),
            WarmStart(start=[0.25, 0.25], end=[0.25, 0.75],
                      band=OutputReference("feed-uuid", (("a", "band"),)).as_dict()),  # a serialised reference
            WarmStart(start=[0.2500001, 0.25], end=[0.75, 0.2500004], band=band)]  # the band itself
    minima = MinimaDoc.model_construct(
        key=slab.key, slab=slab, content_hash="minima-identity", refinement=0, split_hops=[],
        minima=[MinimumDoc.model_construct(frac_xy=[0.25, 0.25], energy=-1.0, site="hollow"),
                MinimumDoc.model_construct(frac_xy=[0.25, 0.0], energy=-0.7, site="bridge")])
    return dict(slab=slab, surface=surface, settings=settings, seeds=seeds, warm=warm, minima=minima)


def test_minima_and_surface_identities_are_the_ones_of_the_dict_payloads(case):
    slab, surface, seeds, warm = case["slab"], case["surface"], case["seeds"], case["warm"]
    assert surface.minima_maker.content_hashes(slab) == BEFORE["minima"]
    assert surface.minima_maker.content_hashes(slab, seeds) == BEFORE["minima_seeded"]
    assert surface.content_hashes(slab) == BEFORE["surface"]
    assert surface.content_hashes(slab, seeds, warm) == BEFORE["surface_seeded_warm"]
    assert [content_hash("w", w=warm_identity(w)) for w in warm] == BEFORE["warm_identity"]


def test_the_call_saving_minima_search_is_a_new_identity(case):
    # Its minima can differ (by under 1 meV, and in force calls), so its documents are new ones; each setting on
    # its own changes the identity too.
    slab, maker = case["slab"], case["surface"].minima_maker
    for fields in ({}, {"stop_in_known_basin": True}, {"lowest_start_first": True}):
        settings = maker.minima_settings.model_copy(update=fields if fields else dict.fromkeys(LEGACY_SEARCH, True))
        assert replace(maker, minima_settings=settings).content_hash(slab) not in BEFORE["minima"]


def test_saddle_checks_are_part_of_a_surfaces_identity_and_of_nothing_else(case):
    """A surface summarised with saddle checks is another document than one without (a stored surface from before
    the checks is not taken for a checked one); its minima and hops are the same work and keep their identities."""
    checked = Campaign(name="emt-test", calculator="emt", adsorbate="Au", materials=[{"material": "Al"}], slab=SLAB,
                       minima=LEGACY_SEARCH)
    surface, _ = surface_makers(checked, "emt", SLAB, "Au")
    slab, minima = case["slab"], case["minima"]
    assert surface.content_hashes(slab)[0] != BEFORE["surface"][0]
    assert surface.minima_maker.content_hashes(slab) == BEFORE["minima"]
    specs, _ = hop_specs(minima, 6.0)
    assert [surface.hops_maker.neb_maker.content_hash(minima, s) for s in specs] == BEFORE["hop"]


def test_hop_identities_and_the_hop_network_are_the_ones_of_the_dict_payloads(case):
    minima, surface, warm = case["minima"], case["surface"], case["warm"]
    specs, graph = hop_specs(minima, 6.0)
    assert all(isinstance(s, HopSpec) for s in specs) and isinstance(graph, HopGraph) and graph.bypass is None
    as_dicts = [s.model_dump(exclude={"bypass"}) for s in specs], graph.model_dump(exclude={"bypass", "positions"})
    assert content_hash("specs", specs=as_dicts[0], graph=as_dicts[1]) == BEFORE["specs_graph"]
    neb = surface.hops_maker.neb_maker
    via = HopDoc.model_construct(content_hash="via-identity", job_uuid="via-job")
    via_old = HopDoc.model_construct(content_hash=None, job_uuid="via-job", hop_id="hop1-m0-m1")
    assert [neb.content_hash(minima, s) for s in specs] == BEFORE["hop"]
    assert [neb.content_hash(minima, specs[0], w) for w in warm] == BEFORE["hop_warm"]
    assert [neb.content_hash(minima, specs[0], via=via), neb.content_hash(minima, specs[0], via=via_old)] == BEFORE[
        "hop_via"]
    refiner = RefineMinimaMaker(**case["settings"])
    assert [refiner.content_hash(minima, [via]), refiner.content_hash(minima, [via, via_old], deeper=True)] == BEFORE[
        "refine"]


def test_a_hop_spec_made_from_its_hop_document_has_the_hop_documents_identity(case):
    minima, neb = case["minima"], case["surface"].hops_maker.neb_maker
    (spec,) = hop_specs(minima, 6.0)[0]
    doc = HopDoc.model_construct(**spec.model_dump(exclude={"index"}))
    assert HopSpec.of(doc, spec.index) == spec
    assert neb.content_hash(minima, HopSpec.of(doc, spec.index)) == BEFORE["hop"][0]


def test_split_hops_stored_as_dicts_load_and_dump_as_they_were(case):
    stored = {"start": [0.25, 0.25], "end": [0.75, 0.25], "valley": [0.5, 0.2]}
    doc = case["minima"].model_dump()
    doc.update(split_hops=[stored], clean_energy=-1.0, clean_structure=case["slab"].structure, adsorbate_reference=0.0,
               rejected=[], force_calls=0, provenance={"calculator": {}, "slab_settings": {}, "minima_settings": {}})
    doc["minima"] = []
    loaded = MinimaDoc.model_validate(doc)
    assert loaded.split_hops == [SplitHop(**stored)]
    assert loaded.model_dump(mode="json")["split_hops"] == [stored]


def test_a_warm_start_must_name_its_band_or_the_level_that_relaxes_one():
    with pytest.raises(ValueError, match="band or relax_with"):
        WarmStart(start=[0.0, 0.0], end=[0.5, 0.0])


def test_jobflow_resolves_the_band_reference_inside_a_warm_start():
    """Hops jobs get warm starts whose band is another job's output (the funnel's lower fidelity): jobflow finds
    the reference inside the model, runs that job first, and hands the job the band itself."""
    band = [{"numbers": [13]}, {"numbers": [79]}]

    @job
    def lower():
        return {"band": band}

    @job
    def higher(warm: list[WarmStart]):
        assert all(isinstance(w, WarmStart) for w in warm)
        return warm[0].band

    first = lower()
    second = higher([WarmStart(start=[0.0, 0.0], end=[0.5, 0.0], band=first.output["band"])])
    responses = run_locally(Flow([second, first]), store=JobStore(MemoryStore()), log=False, ensure_success=True)
    assert responses[second.uuid][1].output == band


def test_progress_events_keep_their_names_in_logs():
    assert {e.value for e in Event} == {
        "surfaces_planned", "surface_pending", "surface_reused", "minima_started", "minima_done", "minima_refining",
        "minima_refined", "hops_planned", "hop_started", "neb_step", "hop_done", "hop_reused", "saddle_checked",
        "surface_done", "convergence_done"}
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    level = progress.log.level
    progress.log.addHandler(handler)
    progress.log.setLevel(logging.INFO)
    try:
        progress.emit(Event.HOP_DONE, surface="Al(100)", hop="hop0-m0-m0")
    finally:
        progress.log.removeHandler(handler)
        progress.log.setLevel(level)
    (record,) = records
    assert record.getMessage() == "hop_done surface=Al(100) hop=hop0-m0-m0"
    assert record.seiscreen_event is Event.HOP_DONE and record.seiscreen_event == "hop_done"
