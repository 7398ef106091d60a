"""The surface verdict from its hops (jobs.summarise_surface) on a synthetic square network: one minimum m0 with
hops along x (0.2 eV) and y (0.3 eV), and a failed hop to a second minimum or along y."""

import pytest

from seiscreen.jobs import summarise_surface
from seiscreen.schemas import HopDoc, MinimaDoc, MinimumDoc, Provenance, SurfaceKey


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
        minima=[minimum(0, 0.0), minimum(1, 0.05)], error=None, force_calls=0, slab=None,
        key=SurfaceKey.model_construct(material="X", miller=[1, 0, 0], termination_id="t", adsorbate="Na",
                                       calculator="emt"))
    edges = [{"i": 0, "j": 0, "image": [1, 0], "hop": 0}, {"i": 0, "j": 0, "image": [0, 1], "hop": 1},
             {"hop": 2, **failed_hop}]
    graph = {"nodes": [0, 1], "edges": edges}
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
        minima=[minimum(0, 0.0), minimum(1, 0.05)], error=None, force_calls=0, slab=None,
        key=SurfaceKey.model_construct(material="X", miller=[1, 0, 0], termination_id="t", adsorbate="Na",
                                       calculator="emt"))
    through = hop("hop0", 0, 0, 0.2).model_copy(update={"start_energy": 0.0, "intermediate": {
        "states": [{"energy": -0.06}]}})  # its valley relaxed 0.06 eV below m0
    graph = {"nodes": [0, 1], "edges": [{"i": 0, "j": 0, "image": [1, 0], "hop": 0},
                                        {"i": 0, "j": 0, "image": [0, 1], "hop": 1}]}
    doc = summarise_surface(minima, [through, hop("hop1", 0, 0, 0.3)], graph, Provenance.model_construct())
    assert doc.status == "incomplete" and "0.060 eV below the lowest minimum" in doc.reason
