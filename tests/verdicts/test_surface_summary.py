"""The surface verdict from its hops (verdicts.summarise_surface) on a synthetic square network: one minimum m0 with
hops along x (0.2 eV) and y (0.3 eV), and a failed hop to a second minimum or along y."""

import pytest

from seiscreen.kinetics import KineticsSettings

from seiscreen.verdicts import summarise_surface
from seiscreen.schemas import GraphEdgeSpec, HopDoc, HopGraph, MinimaDoc, MinimumDoc, Provenance, SurfaceKey


def hop_graph(nodes: list[int], edges: list[dict]) -> HopGraph:
    """The graph of ``nodes`` (the minimum behind each) and ``edges`` {i, j, image, hop}."""
    return HopGraph(nodes=nodes, edges=[GraphEdgeSpec(**e, i_minimum=nodes[e["i"]], j_minimum=nodes[e["j"]])
                                        for e in edges])


def minimum(index, energy):
    return MinimumDoc(index=index, site=f"m{index}", started_from=[], outcome="adsorbed", verified=True,
                      energy=energy, adsorption_energy=energy, frac_xy=[0.0, 0.0], position=[0.0, 0.0, 0.0],
                      details={}, force_calls=0, structure={})


def hop(hop_id, start, end, saddle, status="accepted"):
    fields = dict(hop_id=hop_id, start_minimum=start, end_minimum=end, start=[0.0, 0.0], end=[0.5, 0.0],
                  status=status, reason="" if status == "accepted" else "band ran away", forward_barrier=None,
                  reverse_barrier=None, saddle_energy=saddle, multiplicity=1, length=1.0, exchange=False,
                  force_calls=0)
    if status == "accepted":
        fields.update(forward_barrier=saddle, reverse_barrier=saddle)
    return HopDoc.model_construct(**fields)


def summary(failed_hop):
    """m0 (0 eV) and m1 (0.05 eV); hop0 along x at 0.2 eV, hop1 along y at 0.3 eV, hop2 failed."""
    minima = MinimaDoc.model_construct(
        minima=[minimum(0, 0.0), minimum(1, 0.05)], rejected=[], error=None, force_calls=0, slab=None,
        key=SurfaceKey.model_construct(material="X", miller=[1, 0, 0], termination_id="t", adsorbate="Na",
                                       calculator="emt"))
    edges = [{"i": 0, "j": 0, "image": [1, 0], "hop": 0}, {"i": 0, "j": 0, "image": [0, 1], "hop": 1},
             {"hop": 2, **failed_hop}]
    graph = hop_graph([0, 1], edges)
    hops = [hop("hop0", 0, 0, 0.2), hop("hop1", 0, 0, 0.3),
            hop("hop2", 0, edges[2]["j"], None, status="failed")]
    return summarise_surface(minima, hops, graph, Provenance.model_construct())


def test_a_failed_hop_that_cannot_lower_the_barrier_even_with_none_does_not_block_the_ranking():
    doc = summary({"i": 0, "j": 1, "image": [0, 0]})  # to a dead-end minimum: no new way across the cell
    assert doc.status == "ranked" and doc.barrier_2d == pytest.approx(0.3) and doc.barrier_1d == pytest.approx(0.2)
    assert "hop2 (failed)" in doc.reason and "cannot lower it even with no barrier" in doc.reason


def test_a_failed_hop_that_could_open_a_lower_path_leaves_the_surface_incomplete_with_bounds():
    doc = summary({"i": 0, "j": 0, "image": [1, 1]})  # a diagonal that, barrierless, crosses the cell at 0.2 eV
    assert doc.status == "incomplete" and doc.barrier_bounds == pytest.approx([0.2, 0.3])


def test_a_valley_relaxed_below_the_lowest_minimum_leaves_the_surface_unranked():
    doc = summary({"i": 0, "j": 1, "image": [0, 0]})
    assert doc.status == "ranked"
    minima = MinimaDoc.model_construct(
        minima=[minimum(0, 0.0), minimum(1, 0.05)], rejected=[], error=None, force_calls=0, slab=None,
        key=SurfaceKey.model_construct(material="X", miller=[1, 0, 0], termination_id="t", adsorbate="Na",
                                       calculator="emt"))
    through = hop("hop0", 0, 0, 0.2).model_copy(update={"start_energy": 0.0, "intermediate": {
        "states": [{"energy": -0.06}]}})  # its valley relaxed 0.06 eV below m0
    graph = hop_graph([0, 1], [{"i": 0, "j": 0, "image": [1, 0], "hop": 0},
                               {"i": 0, "j": 0, "image": [0, 1], "hop": 1}])
    doc = summarise_surface(minima, [through, hop("hop1", 0, 0, 0.3)], graph, Provenance.model_construct())
    assert doc.status == "incomplete" and "0.060 eV below the lowest minimum" in doc.reason


def test_a_valley_below_every_minimum_starts_one_more_refinement_from_it(monkeypatch):
    """After the refinements, a hop through a valley that relaxed below the lowest minimum (NaBi(111), CHGNet) is
    a missed minimum: the summary refines once more, from that valley's image of the joined band."""
    from jobflow import Job, Response

    from seiscreen.workflow import summary
    from seiscreen.verdicts import deeper_valleys
    from seiscreen.workflow.hops import HopsMaker
    from seiscreen.workflow.summary import SurfaceSummaryMaker

    minima = MinimaDoc.model_construct(
        minima=[minimum(0, 0.0), minimum(1, 0.05)], rejected=[], error=None, force_calls=0, slab=None, refinement=2,
        same_network=False, deeper_refined=False, content_hash="m",
        key=SurfaceKey.model_construct(material="X", miller=[1, 0, 0], termination_id="t", adsorbate="Na",
                                       calculator="emt"))
    # Two bands of one image each, joined (n_images + 1 = 2 apart): start, image, valley, image, end. The valley
    # (image 2) lies 0.10 eV below the band's start, m1: 0.05 eV below m0.
    through = hop("hop0", 1, 1, 0.2).model_copy(update={
        "start_energy": 0.05, "image_energies": [0.0, 0.1, -0.10, 0.2, 0.0], "band": [{}] * 5,
        "intermediate": {"states": [{"energy": -0.10}]},
        "provenance": Provenance.model_construct(neb_protocol={"n_images": 1})})
    plain = hop("hop1", 0, 0, 0.3)
    (copy,) = deeper_valleys(minima, [through, plain])
    assert copy.interior_minimum_image == 2 and copy.hop_id == "hop0"
    # One more refinement past max_refinements (2) starts from it, then the hops again.
    refined = []

    class Refiner:
        def __init__(self, **settings):
            pass

        def content_hash(self, minima, split, deeper=False):
            return "h"

        def make(self, minima, split, deeper=False):
            assert deeper
            refined.append(split)
            return Job(print)

    monkeypatch.setattr(summary, "RefineMinimaMaker", Refiner)
    monkeypatch.setattr(summary, "find_done", lambda *args, **kwargs: None)
    again = []

    def hops_again(self, refined_minima, reuse=None, surface_hash=None):
        again.append(reuse)
        return Job(print)

    monkeypatch.setattr(HopsMaker, "make", hops_again)
    graph = hop_graph([0, 1], [])
    maker = SurfaceSummaryMaker(max_refinements=2, kinetics=KineticsSettings(saddle_check=False))
    response = SurfaceSummaryMaker.make.original(maker, minima, [through, plain], graph, hops_maker=HopsMaker())
    assert isinstance(response, Response) and refined[0][0].interior_minimum_image == 2
    assert [h.hop_id for h in again[0]] == ["hop0", "hop1"]  # the accepted hops are kept for the new network
    # Only once: after that refinement such a surface stays unranked, with why.
    once_more = minima.model_copy(update={"refinement": 3, "deeper_refined": True})
    doc = SurfaceSummaryMaker.make.original(maker, once_more, [through, plain], graph, hops_maker=HopsMaker())
    assert doc.status == "incomplete" and "0.050 eV below the lowest minimum" in doc.reason
    assert "the minima search missed a lower state" in doc.reason
    # A valley that relaxes into a state the gates already rejected is not refined again: the reason says which.
    disturbed = minimum(9, -0.051).model_copy(update={"outcome": "surface_disturbed", "verified": True,
                                                      "details": {"max_surface_displacement": 4.25}})
    judged = minima.model_copy(update={"rejected": [disturbed]})
    assert deeper_valleys(judged, [through, plain]) == []
    doc = SurfaceSummaryMaker.make.original(maker, judged, [through, plain], graph, hops_maker=HopsMaker())
    assert doc.status == "incomplete" and "a state the minima gates rejected (surface_disturbed, a slab atom " \
        "moved 4.25 Å): the surface rearranges under this calculator" in doc.reason


def test_a_surface_without_a_verified_minimum_says_what_became_of_every_start():
    rejected = [minimum(-1, e).model_copy(update={"outcome": outcome, "verified": verified})
                for e, outcome, verified in [(0.1, "desorbed", True), (0.2, "desorbed", False),
                                             (0.3, "adsorbed", False)]]
    minima = MinimaDoc.model_construct(
        minima=[], rejected=rejected, error=None, force_calls=0, slab=None,
        key=SurfaceKey.model_construct(material="X", miller=[1, 0, 0], termination_id="t", adsorbate="Na",
                                       calculator="emt"))
    doc = summarise_surface(minima, [], hop_graph([], []), Provenance.model_construct())
    assert doc.status == "no_minima" and doc.reason == (
        "no verified adsorbed minimum: 3 start(s) rejected (2 desorbed, 1 adsorbed but not verified; "
        "see rejected minima)")
