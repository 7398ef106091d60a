"""The jobflow pipeline end to end with EMT (Au on Al(100)): barrier, gates, refinement, persistence."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ase.calculators.emt import EMT
from ase.mep import NEB
from ase.optimize import BFGS
from jobflow import run_locally

from seiscreen.campaign import Campaign
from seiscreen.kinetics import KineticsSettings
from seiscreen.catalog import load_bulk
from seiscreen.workflow.flows import campaign_flow
from seiscreen.workflow.surface import SurfaceFlowMaker
from seiscreen.workflow.hops import HopNebMaker, HopsMaker
from seiscreen.workflow.minima import MinimaMaker
from seiscreen.workflow.slabs import slab_doc
from seiscreen.workflow.summary import SurfaceSummaryMaker
from seiscreen.minima import MinimaSettings
from seiscreen.neb import NebProtocol
from seiscreen.results import load_results
from seiscreen.schemas import WarmStart, atoms_from_dict
from seiscreen.store import open_store
from seiscreen.surfaces.slabs import SlabSettings, make_terminations

REPO = Path(__file__).resolve().parents[2]
SLAB = SlabSettings(min_thickness=5.0, vacuum=10.0, min_lateral_size=5.5)  # 2x2 Al(100), 4 planes, 2 fixed
UNCHECKED = KineticsSettings(saddle_check=False)  # summaries whose force calls are the minima's and the bands' alone


def emt_campaign(**changes) -> Campaign:
    return Campaign(**{"name": "emt-test", "calculator": "emt", "adsorbate": "Au", "materials": [{"material": "Al"}],
                       "slab": SLAB, **changes})


def plain_ase_barrier(initial, final) -> float:
    """The same hop written from scratch with ASE only: 2x2x4 Al(100), Au hollow -> next hollow."""
    images = [initial] + [initial.copy() for _ in range(5)] + [final]
    for image in images[1:-1]:
        image.calc = EMT()
    neb = NEB(images, climb=True, method="improvedtangent")
    neb.interpolate()
    BFGS(neb, logfile=None).run(fmax=0.05, steps=500)
    energies = [im.get_potential_energy() for im in images]
    return max(energies) - energies[0]


@pytest.fixture(scope="module")
def emt_store(tmp_path_factory):
    store = open_store(tmp_path_factory.mktemp("store"))
    run_locally(campaign_flow(emt_campaign()), store=store, log=False)
    return store


def test_pipeline_barrier_matches_a_plain_ase_neb(emt_store, au_on_al100_hop_ends):
    results = load_results(emt_store)
    (surface,) = results.surfaces.itertuples()
    assert surface.status == "ranked" and surface.rank == 1
    assert surface.barrier == pytest.approx(plain_ase_barrier(*au_on_al100_hop_ends), abs=0.01)
    (hop,) = results.hops.itertuples()
    assert hop.status == "accepted" and hop.gate_converged and hop.multiplicity == 8
    assert hop.forward_barrier == pytest.approx(hop.reverse_barrier, abs=0.005)  # hollow -> equivalent hollow


def test_every_document_carries_its_protocol(emt_store):
    docs = list(emt_store.query({"output.doc_type": {"$in": ["hop", "surface"]}}, properties=["output"]))
    assert {d["output"]["doc_type"] for d in docs} == {"hop", "surface"}
    for doc in docs:
        prov = doc["output"]["provenance"]
        assert prov["calculator"]["preset"] == "emt" and prov["neb_protocol"]["method"] == "improvedtangent"
        assert prov["slab_settings"]["min_lateral_size"] == 5.5 and prov["versions"]["ase"]
        assert doc["output"]["key"]["termination_id"] == "100-s0.250"


def test_band_goes_to_the_data_store(emt_store):
    # Every hop document (the band, its second band, the one kept: docs/pipeline.md, saddle checks).
    hops = list(emt_store.query({"output.doc_type": "hop"}, properties=["output.band"]))
    assert hops and all(h["output"]["band"]["store"] == "data" and "blob_uuid" in h["output"]["band"] for h in hops)
    loaded = emt_store.query({"output.doc_type": "hop"}, properties=["output.band"], load=True)
    assert all(len(h["output"]["band"]) == 7 for h in loaded)


def _surface_run(tmp_path, protocol=NebProtocol(), symmetry_identity=False, max_refinements=2):
    al = load_bulk("Al")
    (term,) = make_terminations(al, (1, 0, 0), SLAB)
    slab = slab_doc(term, "Au", "emt")
    if symmetry_identity:  # forget the surface's symmetry: most hollows are then missing from the minima
        slab.symmetry = {"rotations": [[[1, 0], [0, 1]]], "translations": [[0.0, 0.0]],
                         "lattice": slab.symmetry["lattice"]}
    settings = dict(calculator_preset="emt", slab_settings=SLAB, minima_settings=MinimaSettings(adsorbate="Au"),
                    neb_protocol=protocol)
    hops = HopsMaker(neb_maker=HopNebMaker(**settings),
                     summary_maker=SurfaceSummaryMaker(max_refinements=max_refinements, kinetics=UNCHECKED,
                                                       **settings), **settings)
    flow = SurfaceFlowMaker(minima_maker=MinimaMaker(**settings), hops_maker=hops).make(slab)
    store = open_store(tmp_path / "store")
    run_locally(flow, store=store, log=False)
    return load_results(store)


def test_a_slab_cut_with_its_face_atoms_on_the_far_face_starts_from_the_finished_minima(tmp_path):
    # pymatgen puts a slab's face atoms at fraction 0 on one machine and at 1 on another (float noise), and
    # Na3P(001)'s GPAW minima, hours of work, were searched again under a new identity. The same slab is one
    # identity now; a document stored under the identity its cut had before (older seiscreen) is found too.
    from seiscreen.schemas import atoms_to_dict

    (term,) = make_terminations(load_bulk("Al"), (1, 0, 0), SLAB)
    slab = slab_doc(term, "Au", "emt")
    atoms = atoms_from_dict(slab.structure)
    at_zero = np.isclose(atoms.get_scaled_positions(wrap=False)[:, 0], 0.0, atol=1e-9)
    assert 0 < at_zero.sum() < len(atoms)
    atoms.positions[at_zero] += atoms.cell[0]
    far = slab.model_copy(update={"structure": atoms_to_dict(atoms)})
    settings = dict(calculator_preset="emt", slab_settings=SLAB, minima_settings=MinimaSettings(adsorbate="Au"))
    minima_maker = MinimaMaker(**settings)
    maker = SurfaceFlowMaker(minima_maker=minima_maker, hops_maker=HopsMaker(neb_maker=HopNebMaker(**settings),
                                                                            **settings))
    store = open_store(tmp_path / "store")
    run_locally(maker.make(slab), store=store, log=False)

    def starts_from_stored_minima(cut) -> bool:
        return not any(job.name.startswith("minima") for job in maker.make(cut, store=store).jobs)

    assert minima_maker.content_hash(far) == minima_maker.content_hash(slab)
    assert starts_from_stored_minima(far) and starts_from_stored_minima(slab)
    (stored,) = store.query({"output.doc_type": "minima"}, properties=["uuid", "index", "output"])
    as_cut_before = minima_maker.content_hashes(far)[1]  # the far cut's identity before this change
    store.docs_store.update({**stored, "output": {**stored["output"], "content_hash": as_cut_before}},
                            key=["uuid", "index"])
    assert starts_from_stored_minima(far)
    assert not starts_from_stored_minima(slab)  # that document was never this cut's


@pytest.mark.slow
def test_a_band_through_a_missed_minimum_is_split(tmp_path):
    # With the symmetry forgotten, the one hollow found is the only node of the 2x2 cell and its hops reach
    # its own images 5.73 Å away, straight through the neighbouring hollows. Both bands (along a and b) have
    # a valley in the middle: recorded, relaxed into two new minima, and the hops rebuilt between them.
    results = _surface_run(tmp_path, symmetry_identity=True)
    first = results.hops[results.hops["refinement"] == 0]
    assert list(first["status"]) == ["interior_minimum", "interior_minimum"]
    assert (first["length"] > 5.7).all()
    refined = results.hops[(results.hops["refinement"] == 1) & ~results.hops["bypass"]]
    assert (refined["status"] == "accepted").all() and (refined["length"] < 2.9).all()
    # Without symmetry the hollows sit a little off the squares' corners, so the hops the neighbour test left
    # out are computed as bypass hops; the ones with a valley (the fourth hollow, never found) are left out
    # without blocking the ranking, and none is lower than the elementary hops.
    bypass = results.hops[results.hops["bypass"]]
    assert len(bypass) and (bypass["refinement"] == 1).all()
    assert (bypass["forward_barrier"] > refined["forward_barrier"].max()).all()
    left_out = bypass[bypass["status"] != "accepted"]["hop_id"]
    assert len(left_out) and all(hop in results.surfaces["reason"].iloc[0] for hop in left_out)
    assert sorted(set(results.minima["refinement"])) == [0, 1]
    (surface,) = results.surfaces.itertuples()
    assert surface.n_minima == 3 and surface.status == "ranked"
    assert surface.barrier == pytest.approx(0.370, abs=0.01)
    # Each split is recorded with where its valley went (the new hollow at the band's middle), so no later
    # network rebuilds it.
    (refined,) = open_store(tmp_path / "store").query({"output.doc_type": "minima", "output.refinement": 1})
    splits = refined["output"]["split_hops"]
    assert len(splits) == 2
    for split in splits:
        middle = (np.array(split["start"]) + split["end"]) / 2
        assert np.linalg.norm((np.array(split["valley"]) - middle) * 5.73) < 0.3


@pytest.mark.slow  # seconds: run by `make test`, kept out of `make test-fast`
def test_a_killed_refinement_resumes_at_the_valley_it_was_in(tmp_path, monkeypatch):
    # A refinement relaxes each valley (and verifies it): minutes each with DFT. Killed during the second valley,
    # the rerun relaxes only that one, kicks it as an unbroken run would, and ends where an unbroken run ends.
    from seiscreen.workflow import minima as minima_makers

    relax_and_verify, relaxed = minima_makers.relax_and_verify, []

    def killed_at_the_second(*args, **kwargs):
        relaxed.append(args[2])  # started_from: "valley-of-<hop>"
        if len(relaxed) == 2:
            raise KeyboardInterrupt  # what SIGINT does in the middle of a relaxation
        return relax_and_verify(*args, **kwargs)

    monkeypatch.setattr(minima_makers, "relax_and_verify", killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        _surface_run(tmp_path / "killed", symmetry_identity=True)
    (folder,) = (tmp_path / "killed" / "store" / "checkpoints").glob("refine-*")
    assert [p.name for p in folder.iterdir()] == ["valley-0.json"]

    monkeypatch.setattr(minima_makers, "relax_and_verify",
                        lambda *a, **k: relaxed.append(a[2]) or relax_and_verify(*a, **k))
    resumed = _surface_run(tmp_path / "killed", symmetry_identity=True)
    assert relaxed[2:] == [relaxed[1]]  # the second valley only, the first from its file
    assert not folder.exists()  # finished: the refined minima document replaces the checkpoint
    unbroken = _surface_run(tmp_path / "unbroken", symmetry_identity=True)
    columns = ["site", "refinement", "energy", "height", "started_from"]
    pd.testing.assert_frame_equal(resumed.minima[columns].round(6), unbroken.minima[columns].round(6))
    assert resumed.surfaces["barrier"].iloc[0] == pytest.approx(unbroken.surfaces["barrier"].iloc[0], abs=1e-6)


@pytest.mark.slow
def test_a_refinement_whose_calculator_process_was_killed_stores_nothing(tmp_path, monkeypatch):
    # One valley that fails is dropped and the others kept; but a calculator process stopped by a signal is the
    # run being stopped, not a failed valley: the refinement stores no document, and the rerun relaxes every valley.
    from seiscreen.workflow import minima as minima_makers
    from seiscreen.parallel import CalculatorProcessKilled

    relax_and_verify = minima_makers.relax_and_verify

    def killed(*args, **kwargs):
        raise CalculatorProcessKilled("the calculator process (test) was stopped by signal 2: rerun to compute it")

    monkeypatch.setattr(minima_makers, "relax_and_verify", killed)
    _surface_run(tmp_path, symmetry_identity=True)  # jobflow logs the failed job and goes on
    store = open_store(tmp_path / "store")
    assert store.count({"output.doc_type": "minima", "output.refinement": 1}) == 0
    monkeypatch.setattr(minima_makers, "relax_and_verify", relax_and_verify)
    rerun = _surface_run(tmp_path, symmetry_identity=True)
    (surface,) = rerun.surfaces.itertuples()
    assert surface.n_minima == 3 and surface.status == "ranked"


@pytest.mark.slow
def test_a_valley_left_when_the_refinements_are_used_up_is_a_hop_through_it(tmp_path):
    # The same two bands with a valley, but no refinement allowed: each hop is computed as two bands through its
    # valley, relaxed (the neighbouring hollow), and the surface is ranked with the barrier of the refined network.
    results = _surface_run(tmp_path, symmetry_identity=True, max_refinements=0)
    # One row per computation: the band that found the valley and the hop through it (a rerun stores the band's
    # copy again after the hop through its valley, which must not hide the result the summary used).
    assert (results.hops["refinement"] == 0).all()
    assert results.hops[["status", "through_valleys", "intermediates"]].to_numpy().tolist() == [
        ["interior_minimum", False, 0], ["interior_minimum", False, 0], ["accepted", True, 1], ["accepted", True, 1]]
    (surface,) = results.surfaces.itertuples()
    assert surface.status == "ranked" and surface.barrier == pytest.approx(0.370, abs=0.01)
    store = open_store(tmp_path / "store")
    docs = [d["output"] for d in store.query({"output.doc_type": "hop"}, properties=["output"], load=True)]
    through = [d for d in docs if d["intermediate"]]
    assert len(through) == 2 and all(len(d["band"]) == 13 for d in through)  # two bands of 7, the valley shared
    for doc in through:
        assert doc["intermediate"]["barriers"] == pytest.approx([0.370, 0.370], abs=0.01)
        (state,) = doc["intermediate"]["states"]
        assert abs(state["energy"]) < 0.01 and state["adatom_from_start"] == pytest.approx(5.73 / 2, abs=0.1)


@pytest.mark.slow
def test_a_hop_through_its_valley_reruns_through_it_to_its_stored_barrier(tmp_path):
    # Whoever checks a hop the summary used reruns it as the campaign computed it: one band between each two of
    # its stored states (start, relaxed valley, end). As one band between its ends it finds the valley again.
    from typer.testing import CliRunner

    from seiscreen.cli import app
    from seiscreen.reproduce import rerun_hop

    store = tmp_path / "store"
    hops = _surface_run(tmp_path, symmetry_identity=True, max_refinements=0).hops
    hop = hops[hops["through_valleys"]].iloc[0]
    cold = rerun_hop(store, hop.job_uuid)
    assert cold.through_valleys == 1 and cold.status == "accepted" and len(cold.image_energies) == 13
    assert cold.barrier == pytest.approx(hop.forward_barrier, abs=1e-3) and cold.end_energy_drift < 1e-6
    warm = rerun_hop(store, hop.job_uuid, start="band")  # the stored bands are converged already
    assert warm.barrier == pytest.approx(hop.forward_barrier, abs=1e-3) and warm.force_calls < cold.force_calls / 2
    one = rerun_hop(store, hop.job_uuid, one_band=True)
    assert one.through_valleys == 0 and one.status == "interior_minimum"
    assert "may find them again as interior minima" in one.notes[0]
    shown = CliRunner().invoke(app, ["rerun-hop", hop.job_uuid, "--store", str(store)])
    assert shown.exit_code == 0 and "through 1 valley(s)" in shown.output, shown.output
    assert "end and valley energies recomputed within 0.0000 eV" in shown.output


@pytest.mark.slow
def test_a_killed_saved_rerun_through_a_valley_resumes_in_the_band_it_was_in(tmp_path, killed_saved_rerun):
    # With GPAW each band takes 10-30 minutes: killed in its second band, a saved rerun through a valley keeps its
    # states, its finished first band and the second band's NEB checkpoint, and resumes to the unbroken number.
    from seiscreen.reproduce import rerun_hop

    store = tmp_path / "store"
    hops = _surface_run(tmp_path, symmetry_identity=True, max_refinements=0).hops
    uuid = hops[hops["through_valleys"]]["job_uuid"].iloc[0]
    unbroken = rerun_hop(store, uuid)
    killed_saved_rerun(store, uuid, lambda checkpoint, path: path.name.endswith("-1.npz") and checkpoint.step >= 2)
    left = sorted(p.name.split("-", 2)[-1] for p in (store / "checkpoints").glob("rerun-*"))
    assert left == ["0.json", "1.npz", "ends.npz"], left
    resumed = rerun_hop(store, uuid, save=True)
    assert resumed.status == "accepted" and resumed.barrier == pytest.approx(unbroken.barrier, abs=1e-6)
    assert any(note.startswith("resumed from its checkpoint (band 2 ") for note in resumed.notes), resumed.notes
    assert not list((store / "checkpoints").glob("rerun-*"))  # done: the saved rerun replaces them
    (saved,) = load_results(store).reruns.itertuples()
    assert saved.through_valleys == 1 and saved.barrier == pytest.approx(unbroken.barrier, abs=1e-6)


@pytest.mark.slow  # about 30 s: three runs of the surface
def test_a_hop_through_its_valley_stopped_in_its_second_band_resumes_there(tmp_path, monkeypatch):
    # With GPAW each band through a valley takes 10-30 minutes (Na2Se(100)): a stopped run replays the finished
    # steps (the ends, the relaxed valley, the first band) and resumes the band it was in, to an unbroken run's hop.
    from seiscreen.neb import NebCheckpoint
    from seiscreen.parallel import CalculatorProcessKilled

    unbroken = _surface_run(tmp_path / "unbroken", symmetry_identity=True, max_refinements=0)
    real_save = NebCheckpoint.save

    def stopped_in_second_band(self, path):
        if Path(path).name == "03-band.npz" and self.step >= 2:
            raise CalculatorProcessKilled("the calculator process (test) was stopped by signal 9: rerun to compute it")
        real_save(self, path)

    with monkeypatch.context() as patch:
        patch.setattr(NebCheckpoint, "save", stopped_in_second_band)
        patch.setattr("seiscreen.bands.run.CHECKPOINT_SECONDS", 0.0)  # EMT steps take ms: save every one here
        stopped = _surface_run(tmp_path, symmetry_identity=True, max_refinements=0)
    # Stored as failed by the stop (a rerun computes it again), listed as a hop through valleys, not in place of
    # the band that found the valley.
    assert stopped.hops[["status", "through_valleys"]].to_numpy().tolist() == [
        ["interior_minimum", False], ["interior_minimum", False], ["failed", True], ["failed", True]]
    folders = list((tmp_path / "store" / "checkpoints").glob("via-*"))  # both hops (along a and b) stopped
    assert len(folders) == 2 and all(sorted(p.name for p in folder.iterdir()) == [
        "00-ends.json", "01-valley.json", "02-band.json", "03-band.npz"] for folder in folders)
    rerun = _surface_run(tmp_path, symmetry_identity=True, max_refinements=0)
    store = open_store(tmp_path / "store")
    resumed = [d["output"] for d in store.query({"output.doc_type": "hop", "output.resumed": {"$ne": None}},
                                                properties=["output"])]
    assert len(resumed) == 2 and all(d["status"] == "accepted" and d["resumed"]["replayed"] == 3 for d in resumed)
    assert all(d["resumed"]["step"] == 1 and d["resumed"]["force_calls"] > 0 for d in resumed), resumed  # saved last
    assert not list((tmp_path / "store" / "checkpoints").glob("via-*"))  # finished: the documents replace them
    columns = ["hop_id", "status", "forward_barrier", "intermediates"]
    pd.testing.assert_frame_equal(rerun.hops[columns].reset_index(drop=True),
                                  unbroken.hops[columns].reset_index(drop=True), atol=1e-6)
    assert rerun.surfaces["barrier"].iloc[0] == pytest.approx(unbroken.surfaces["barrier"].iloc[0], abs=1e-6)


def test_an_unconverged_band_is_stored_but_never_ranked(tmp_path):
    results = _surface_run(tmp_path, protocol=NebProtocol(max_steps_plain=0, max_steps_climb=1))
    (hop,) = results.hops.itertuples()
    assert hop.status == "failed" and "not converged" in hop.reason and not hop.gate_converged
    (surface,) = results.surfaces.itertuples()
    assert surface.status == "incomplete" and "not converged" in surface.reason
    assert results.ranking.empty
    # Still bounded: the failed hop between equivalent hollows could be barrierless (0 eV), and without it no
    # path crosses the surface (no upper bound).
    assert surface.barrier_lower == pytest.approx(0.0, abs=1e-6) and pd.isna(surface.barrier_upper)


def test_a_band_whose_images_were_computed_at_different_smearing_is_never_ranked(tmp_path, monkeypatch):
    """GPAW's SCF retries raise the smearing (calculators.SCF_RETRIES). Stand-in: EMT bands whose folders
    read as GPAW's SCF records, image 1 at the third rung's 0.2 eV, the rest at the preset's 0.05 eV."""
    monkeypatch.setattr("seiscreen.bands.smearing.scf_record", lambda folder: {
        "rung": 3 if folder.name == "image01" else 0, "smearing": 0.2 if folder.name == "image01" else 0.05})
    results = _surface_run(tmp_path)
    (hop,) = results.hops.itertuples()
    assert hop.status == "failed" and not hop.gate_same_scf_smearing
    assert hop.reason.startswith("the band mixes SCF smearings (0.05, 0.2 eV; the larger at band image(s) 2,")
    assert results.ranking.empty
    store = open_store(tmp_path / "store", create=False)
    (doc,) = store.query({"output.doc_type": "hop"}, properties=["output.scf_smearing"])
    assert doc["output"]["scf_smearing"] == [0.05, 0.05, 0.2, 0.05, 0.05, 0.05, 0.05]


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "seiscreen.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_results_persist_and_read_back_in_a_new_process(tmp_path):
    store = tmp_path / "store"
    run = _cli("run", str(REPO / "workflows" / "emt-demo.yaml"), "--store", str(store), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Al(100)" in run.stdout and "ranked" in run.stdout
    read = _cli("results", "--store", str(store), "--format", "json", cwd=tmp_path)
    assert read.returncode == 0, read.stderr
    (row,) = json.loads(read.stdout)
    assert row["rank"] == 1 and row["material"] == "Al" and row["barrier"] == pytest.approx(0.370, abs=0.01)


@pytest.mark.slow
def test_slabs_can_be_cut_at_the_calculators_own_lattice(tmp_path):
    # EMT's fcc Al relaxes away from the catalog's 4.05 Å; with lattice: calculator the slab follows it and says so.
    from ase.build import bulk
    from ase.filters import FrechetCellFilter

    reference = bulk("Al", "fcc", a=4.05, cubic=True)
    reference.calc = EMT()
    BFGS(FrechetCellFilter(reference), logfile=None).run(fmax=0.001)
    emt_a = reference.cell.lengths()[0]
    assert abs(emt_a - 4.05) > 0.01  # otherwise this test could not tell the two apart
    store = open_store(tmp_path / "store")
    campaign = emt_campaign(slab={**SLAB.model_dump(), "lattice": "calculator"})
    run_locally(campaign_flow(campaign), store=store, log=False)
    (slab,) = store.query({"output.doc_type": "minima"}, properties=["output.slab.termination"])
    termination = slab["output"]["slab"]["termination"]
    assert termination["bulk_lattice"][0] == pytest.approx(emt_a, abs=2e-3)
    (surface,) = load_results(store).surfaces.itertuples()
    assert surface.status == "ranked"


def test_a_band_relaxed_by_the_lower_fidelity_between_this_levels_ends_seeds_the_band(emt_store):
    # The funnel's start for a hop the lower fidelity has no band of (its minima differ): that fidelity relaxes a
    # band between this level's own ends. Stand-in: EMT for both levels, so the seed is already converged.
    from seiscreen.hopgraph import hop_specs
    from seiscreen.schemas import HopDoc, MinimaDoc
    from seiscreen.store import find_done

    (minima,) = [MinimaDoc.model_validate(d["output"]) for d in emt_store.query(
        {"output.doc_type": "minima"}, properties=["output"], load=True)]
    (spec,) = hop_specs(minima, 6.0)[0]
    maker = HopNebMaker(calculator_preset="emt", slab_settings=SLAB, minima_settings=MinimaSettings(adsorbate="Au"),
                        neb_protocol=NebProtocol())
    seed = WarmStart(start=spec.start, end=spec.end, relax_with="emt")
    run_locally(maker.make(minima, spec, warm=seed), store=emt_store, log=False)
    warm = HopDoc.model_validate(find_done(emt_store, "hop", maker.content_hash(minima, spec, seed), load=True))
    cold = HopDoc.model_validate(find_done(emt_store, "hop", maker.content_hash(minima, spec), load=True))
    assert warm.warm_start and not cold.warm_start and warm.status == cold.status == "accepted"
    assert warm.forward_barrier == pytest.approx(cold.forward_barrier, abs=0.01)
    assert warm.force_calls < cold.force_calls


def test_a_lower_fidelity_band_with_an_interior_minimum_seeds_nothing(emt_store, monkeypatch):
    # Its images fall into the lower fidelity's own minimum between the ends, out of order: an IDPP start instead.
    from types import SimpleNamespace

    from seiscreen.bands import warm
    from seiscreen.schemas import MinimaDoc

    (minima,) = [MinimaDoc.model_validate(d["output"]) for d in emt_store.query(
        {"output.doc_type": "minima"}, properties=["output"], load=True)]
    initial = atoms_from_dict(minima.minima[0].structure)
    maker = HopNebMaker(calculator_preset="emt", slab_settings=SLAB, minima_settings=MinimaSettings(adsorbate="Au"),
                        neb_protocol=NebProtocol())
    for status, seeded in (("interior_minimum", False), ("failed", False), ("accepted", True), ("barrierless", True)):
        band = SimpleNamespace(status=status, force_calls=9, images=[initial.copy() for _ in range(7)])
        monkeypatch.setattr(warm, "run_neb", lambda *args, band=band, **kwargs: band)
        assert (maker._relaxed_band("emt", initial, initial.copy()) is not None) == seeded, status


def test_a_hop_computed_warm_and_cold_keeps_the_lower_saddle(emt_store):
    # A funnel with cold_bands: every warm-started hop is also computed from IDPP, and the hop's barrier is the
    # lower of the two saddles (GPAW's NaBr(100) band seeded by CHGNet converged 0.11 eV above the IDPP one).
    from seiscreen.workflow.hops import lower_saddle
    from seiscreen.schemas import HopDoc, MinimaDoc

    stored = next(HopDoc.model_validate(d["output"]) for d in emt_store.query(
        {"output.doc_type": "hop", "output.status": "accepted"}, properties=["output"], load=True))
    higher = stored.model_copy(update={"saddle_energy": stored.saddle_energy + 0.1, "job_uuid": "seeded",
                                       "forward_barrier": stored.forward_barrier + 0.1, "warm_start": True})
    best = lower_saddle.original([higher, stored])
    assert best.job_uuid == stored.job_uuid and [a["job_uuid"] for a in best.alternatives] == ["seeded"]
    assert best.alternatives[0]["forward_barrier"] == pytest.approx(stored.forward_barrier + 0.1)
    failed = stored.model_copy(update={"status": "failed", "saddle_energy": None, "job_uuid": "failed"})
    assert lower_saddle.original([higher, failed]).job_uuid == "seeded"  # a failed band is no saddle
    assert lower_saddle.original([failed]).job_uuid == "failed"
    # Through the hops maker: the seeded band (stand-in: EMT relaxes it) and the cold one (already stored, reused).
    (minima,) = [MinimaDoc.model_validate(d["output"]) for d in emt_store.query(
        {"output.doc_type": "minima"}, properties=["output"], load=True)]
    settings = dict(calculator_preset="emt", slab_settings=SLAB, minima_settings=MinimaSettings(adsorbate="Au"),
                    neb_protocol=NebProtocol())
    hops = HopsMaker(neb_maker=HopNebMaker(**settings),
                     summary_maker=SurfaceSummaryMaker(kinetics=UNCHECKED, **settings),
                     seed_band_preset="emt", cold_bands=True, **settings)
    responses = run_locally(hops.make(minima), store=emt_store, log=False, ensure_success=True)
    surface = next(r[1].output for r in responses.values() if getattr(r[1].output, "doc_type", "") == "surface")
    (hop,) = [r[1].output for r in responses.values() if getattr(r[1].output, "alternatives", None)]
    assert surface.status == "ranked" and len(hop.alternatives) == 1
    assert {hop.warm_start, hop.alternatives[0]["warm_start"]} == {True, False}
    assert surface.force_calls == minima.force_calls + hop.force_calls + hop.alternatives[0]["force_calls"]
    # The kept copy got the band without its history; its history is read from the job that made the band.
    from seiscreen.results import band_images

    copy = emt_store.query_one({"name": {"$regex": "^lower saddle"}}, properties=["uuid"], sort={"completed_at": -1})
    history = band_images(emt_store, copy["uuid"], trajectory=True)
    assert len(history) >= 2 and [len(b) for b in history] == [len(b) for b in band_images(
        emt_store, hop.job_uuid, trajectory=True)]


def test_a_cold_band_whose_warm_twin_lost_its_seed_is_that_band_not_computed_again(emt_store, tmp_path,
                                                                                       monkeypatch):
    # The warm band's seed failed (GPAW's Na2Se(100): CHGNet's band between GPAW's ends had a valley), so it started
    # from IDPP: the cold band would repeat it step for step. It is stored as that band, and costs no force call.
    from seiscreen.workflow import hops as hop_makers
    from seiscreen.schemas import HopDoc, MinimaDoc
    from seiscreen.store import find_done

    (minima,) = [MinimaDoc.model_validate(d["output"]) for d in emt_store.query(
        {"output.doc_type": "minima"}, properties=["output"], load=True)]
    settings = dict(calculator_preset="emt", slab_settings=SLAB, minima_settings=MinimaSettings(adsorbate="Au"),
                    neb_protocol=NebProtocol())
    neb = HopNebMaker(**settings)
    hops = HopsMaker(neb_maker=neb, summary_maker=SurfaceSummaryMaker(kinetics=UNCHECKED, **settings),
                     seed_band_preset="emt",
                     cold_bands=True, **settings)
    monkeypatch.setattr(HopNebMaker, "_relaxed_band", lambda self, *args: None)  # the seed fails its gates
    store = open_store(tmp_path / "store")
    responses = run_locally(hops.make(minima), store=store, log=False, ensure_success=True)
    surface = next(r[1].output for r in responses.values() if getattr(r[1].output, "doc_type", "") == "surface")
    (spec,) = hop_makers.hop_specs(minima, 6.0)[0]
    seed = WarmStart(start=spec.start, end=spec.end, relax_with="emt")
    warm, cold = (HopDoc.model_validate(find_done(store, "hop", neb.content_hash(minima, spec, start), load=True))
                  for start in (seed, None))
    assert not warm.warm_start and warm.status == "accepted" and warm.force_calls > 0
    assert cold.same_band_as == warm.job_uuid and cold.job_uuid != warm.job_uuid and cold.force_calls == 0
    assert cold.forward_barrier == warm.forward_barrier and cold.image_energies == warm.image_energies
    assert surface.status == "ranked" and surface.force_calls == minima.force_calls + warm.force_calls
    # A warm band that did start from its seed is a band of its own: the cold one is computed.
    assert hop_makers.unseeded_twin(None) is None
    seeded = warm.model_copy(update={"warm_start": True, "content_hash": "seeded-twin"}).model_dump(mode="json")
    store.update([{"uuid": "seeded-twin", "output": seeded, "index": 1}], key=["uuid", "index"])
    with monkeypatch.context() as patch:
        patch.setattr(hop_makers, "current_store", lambda: store)
        assert hop_makers.unseeded_twin("seeded-twin") is None
        assert hop_makers.unseeded_twin(warm.content_hash).job_uuid == warm.job_uuid
        # Resumed from a checkpoint it is still that band (a resumed NEB repeats the unbroken one's steps); a band
        # stopped by an error is not.
        for uuid, change, used in (("resumed", {"resumed": {"stage": "climb", "step": 3, "force_calls": 9}}, True),
                                   ("stopped", {"error": True}, False)):
            twin = warm.model_copy(update={"content_hash": uuid, "job_uuid": uuid, **change})
            store.update([{"uuid": uuid, "output": twin.model_dump(mode="json"), "index": 1}], key=["uuid", "index"])
            assert (hop_makers.unseeded_twin(uuid) is not None) is used, uuid


@pytest.mark.parametrize("seed_fails", [True, False])
def test_a_warm_band_resumed_from_its_checkpoint_still_says_whether_it_started_from_its_seed(
        emt_store, tmp_path, monkeypatch, seed_fails):
    # GPAW's Na2Se(100) hop5-m3-m4: the seed failed, the band started from IDPP, was stopped and resumed, and was
    # then stored as seeded, so its cold twin was computed again. The checkpoint now carries the answer.
    from seiscreen.workflow import hops as hop_makers
    from seiscreen.neb import NebCheckpoint
    from seiscreen.schemas import HopDoc, MinimaDoc

    (minima,) = [MinimaDoc.model_validate(d["output"]) for d in emt_store.query(
        {"output.doc_type": "minima"}, properties=["output"], load=True)]
    neb = HopNebMaker(calculator_preset="emt", slab_settings=SLAB, minima_settings=MinimaSettings(adsorbate="Au"),
                      neb_protocol=NebProtocol())
    (spec,) = hop_makers.hop_specs(minima, 6.0)[0]
    seed = WarmStart(start=spec.start, end=spec.end, relax_with="emt")
    relaxed_band, noise = HopNebMaker._relaxed_band, np.random.default_rng(0)
    # A seed that fails its gates, or one a little off its own saddle (so the band takes steps to be stopped in).
    monkeypatch.setattr(HopNebMaker, "_relaxed_band", lambda self, *args: None if seed_fails else [
        np.vstack([image[:-1], image[-1] + noise.normal(0, 0.1, 3)]) for image in relaxed_band(self, *args)])
    store, real_save, saves = open_store(tmp_path / "store"), NebCheckpoint.save, []

    def dying_save(self, path):
        saves.append(self.step)
        if len(saves) > 3:
            raise RuntimeError("node lost (test)")
        real_save(self, path)

    with monkeypatch.context() as patch:
        patch.setattr(NebCheckpoint, "save", dying_save)
        patch.setattr("seiscreen.bands.run.CHECKPOINT_SECONDS", 0.0)
        run_locally(neb.make(minima, spec, warm=seed), store=store, log=False)
    again = run_locally(neb.make(minima, spec, warm=seed), store=store, log=False)
    (band,) = [HopDoc.model_validate(r[1].output.model_dump()) for r in again.values()]
    assert band.resumed is not None and band.status == "accepted" and not band.error, band.reason
    assert band.warm_start is not seed_fails
    with monkeypatch.context() as patch:
        patch.setattr(hop_makers, "current_store", lambda: store)
        assert (hop_makers.unseeded_twin(band.content_hash) is not None) is seed_fails


def test_a_stored_band_from_before_the_follows_hop_gate_is_judged_by_it_when_reused(emt_store):
    # Gates read only the band, so an older document is judged again without a force call; one whose band
    # went round the cell (as the cold GPAW NaF(100) band did) is not reused as its hop's barrier.
    from seiscreen.verdicts import with_later_gates
    from seiscreen.schemas import HopDoc, atoms_from_dict, atoms_to_dict

    stored = next(HopDoc.model_validate(d["output"]) for d in emt_store.query(
        {"output.doc_type": "hop", "output.status": "accepted"}, properties=["output"], load=True))
    older = stored.model_copy(update={"gates": {k: v for k, v in stored.gates.items() if k != "follows_hop"}})
    assert with_later_gates(older).status == "accepted" and with_later_gates(older).gates["follows_hop"]

    images = [atoms_from_dict(d) for d in stored.band]
    for k, image in enumerate(images[1:-1], start=1):  # the inner images walk back a whole cell, a step at a time
        image.positions[-1] -= image.cell[0] * k / (len(images) - 1)
    slipped = with_later_gates(older.model_copy(update={"band": [atoms_to_dict(im) for im in images]}))
    assert slipped.status == "failed" and "round the cell" in slipped.reason and not slipped.gates["follows_hop"]


def test_a_hops_force_calls_are_its_band_and_its_two_end_relaxations(emt_store, tmp_path, monkeypatch):
    # Every EMT evaluation the hop job makes is counted here, those inside the re-relaxation of its two ends apart:
    # the hop document's force_calls must be all of them, not only the band's.
    from seiscreen.bands import CalculatorLevel
    from seiscreen.hopgraph import hop_specs
    from seiscreen.schemas import HopDoc, MinimaDoc

    counted = {"all": 0, "ends": 0}
    in_ends = []
    calculate, relax_ends = EMT.calculate, CalculatorLevel.relax_ends

    def counting(self, *args, **kwargs):
        counted["all"] += 1
        counted["ends"] += bool(in_ends)
        return calculate(self, *args, **kwargs)

    def relaxing_ends(self, *args, **kwargs):
        in_ends.append(True)
        try:
            return relax_ends(self, *args, **kwargs)
        finally:
            in_ends.clear()

    monkeypatch.setattr(EMT, "calculate", counting)
    monkeypatch.setattr(CalculatorLevel, "relax_ends", relaxing_ends)
    (minima,) = [MinimaDoc.model_validate(d["output"]) for d in emt_store.query(
        {"output.doc_type": "minima"}, properties=["output"], load=True)]
    (spec,) = hop_specs(minima, 6.0)[0]
    maker = HopNebMaker(calculator_preset="emt", slab_settings=SLAB, minima_settings=MinimaSettings(adsorbate="Au"),
                        neb_protocol=NebProtocol())
    responses = run_locally(maker.make(minima, spec), store=open_store(tmp_path / "store"), log=False,
                            ensure_success=True)
    (doc,) = [HopDoc.model_validate(r[1].output) for r in responses.values()]
    assert doc.status == "accepted" and counted["ends"] >= 2  # each end evaluated at least once
    assert doc.force_calls == counted["all"]  # the band's calls and the ends' together
