"""Reruns reuse finished work, a SIGKILLed campaign resumes without losing or duplicating results, NEBs resume
from their checkpoints, and failures are stored with their reason while the campaign goes on (EMT, Au on Al)."""

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ase.calculators.emt import EMT
from jobflow import run_locally

from typer.testing import CliRunner

from seiscreen.campaign import Campaign
from seiscreen.cli import app
from seiscreen.errors import SeiscreenError
from seiscreen.workflow.flows import campaign_flow
from seiscreen.neb import NebCheckpoint, NebProtocol, run_neb
from seiscreen.results import load_results
from seiscreen.schemas import atoms_from_dict, atoms_to_dict
from seiscreen.store import open_store
from seiscreen.surfaces.slabs import SlabSettings

UNCHECKED = {"saddle_check": False}  # exits, reruns and cells here, not saddle checks (tests/workflow/test_kinetics.py)

REPO = Path(__file__).resolve().parents[2]
SLAB = SlabSettings(min_thickness=5.0, vacuum=10.0, min_lateral_size=5.5)


def emt_campaign(**changes) -> Campaign:
    return Campaign(**{"name": "emt-test", "calculator": "emt", "adsorbate": "Au", "materials": [{"material": "Al"}],
                       "slab": SLAB, "kinetics": UNCHECKED, **changes})


def doc_counts(store) -> collections.Counter:
    """Stored documents per type, and per (type, content hash)."""
    counts: collections.Counter = collections.Counter()
    for doc in store.query({"output.doc_type": {"$in": ["surface", "hop", "minima"]}},
                           properties=["output.doc_type", "output.content_hash"]):
        counts[doc["output"]["doc_type"]] += 1
        counts[(doc["output"]["doc_type"], doc["output"]["content_hash"])] += 1
    return counts


def run(campaign, store):
    run_locally(campaign_flow(campaign, store=store), store=store, log=False)


def test_a_resumed_neb_takes_exactly_the_remaining_steps(tmp_path, au_on_al100_hop_ends):
    initial, final = au_on_al100_hop_ends
    protocol = NebProtocol()
    paths = []

    def save(state):  # one file per checkpoint, as a killed run would have left the latest of them
        paths.append(tmp_path / f"ck{len(paths):03d}.npz")
        state.save(paths[-1])

    cold = run_neb(initial, final, lambda k, im: EMT(), protocol, checkpoint=save)
    assert cold.status == "accepted" and len(paths) == cold.steps_plain + cold.steps_climb + 2
    for path in (paths[2], paths[len(paths) // 2], paths[-3]):  # plain stage, mid climb, late climb
        checkpoint = NebCheckpoint.load(path)
        resumed = run_neb(initial, final, lambda k, im: EMT(), protocol, resume=checkpoint)
        # The optimiser's state came back with the band: the very same steps, the same barrier.
        assert resumed.forward_barrier == pytest.approx(cold.forward_barrier, abs=1e-8)
        assert (resumed.steps_plain, resumed.steps_climb) == (cold.steps_plain, cold.steps_climb)
        assert resumed.force_calls == cold.force_calls  # so only the remaining calls were spent after resuming
        assert checkpoint.force_calls > 0


def test_a_truncated_checkpoint_is_ignored(tmp_path):
    path = tmp_path / "neb.npz"
    path.write_bytes(b"PK\x03\x04 half a zip")
    assert NebCheckpoint.load(path) is None


def test_a_rerun_reuses_everything_and_a_changed_setting_keeps_both(tmp_path):
    store = open_store(tmp_path / "store")
    run(emt_campaign(), store)
    first = doc_counts(store)
    assert (first["surface"], first["hop"], first["minima"]) == (1, 1, 1)
    assert not list((tmp_path / "store" / "checkpoints").glob("neb-*.npz"))  # a finished band leaves none behind
    run(emt_campaign(), store)
    assert doc_counts(store) == first  # nothing recomputed, nothing duplicated
    # Without the planning step the running jobs find the finished surface themselves (refer to it, not copy it).
    run_locally(campaign_flow(emt_campaign()), store=store, log=False)
    assert doc_counts(store) == first and len(load_results(store).surfaces) == 1
    run(emt_campaign(neb={"fmax": 0.03}), store)  # a setting that changes the barrier
    after = doc_counts(store)
    assert (after["surface"], after["hop"], after["minima"]) == (2, 2, 1)  # the minima did not depend on it
    results = load_results(store)
    assert len(results.surfaces) == 2 and results.surfaces["protocol_id"].nunique() == 2
    assert set(results.hops["neb_fmax"]) == {0.05, 0.03}
    # A thicker slab is another computation of the same surface and protocol: kept and shown beside the first.
    run(emt_campaign(slab=SLAB.model_copy(update={"min_thickness": SLAB.min_thickness + 2.0})), store)
    surfaces = load_results(store).surfaces
    assert len(surfaces) == 3 and surfaces["protocol_id"].nunique() == 2 and surfaces["slab_atoms"].nunique() == 2
    # A newer seiscreen may name the same inputs differently (another content hash): its rerun replaces.
    newer = store.query_one({"output.doc_type": "surface", "output.content_hash": surfaces["content_hash"][0]})
    newer.pop("_id", None)
    newer.update(uuid="rerun-by-a-newer-seiscreen", completed_at="9999-01-01T00:00:00")
    newer["output"]["content_hash"] = "another-name"
    store.docs_store.update([newer], key="uuid")
    surfaces = load_results(store).surfaces
    assert len(surfaces) == 3 and "rerun-by-a-newer-seiscreen" in set(surfaces["job_uuid"])


def test_a_failing_hop_is_stored_with_its_reason_and_retried_by_the_rerun(tmp_path, monkeypatch):
    from seiscreen.workflow.hops import HopNebMaker

    def broken(self, *args, **kwargs):
        raise RuntimeError("calculator crashed (test)")

    store = open_store(tmp_path / "store")
    with monkeypatch.context() as patch:
        patch.setattr(HopNebMaker, "_run", broken)
        run(emt_campaign(), store)
    results = load_results(store)
    (hop,) = results.hops.itertuples()
    assert hop.status == "failed" and "calculator crashed" in hop.reason
    (surface,) = results.surfaces.itertuples()
    assert surface.status == "incomplete" and "calculator crashed" in surface.reason and results.ranking.empty
    run(emt_campaign(), store)  # an exception is not a result: the hop is computed again, the minima reused
    results = load_results(store)
    assert list(results.ranking["barrier"].round(2)) == [0.37]
    assert doc_counts(store)["minima"] == 1


def test_a_failing_minima_search_marks_the_surface_failed_and_the_ranking_goes_on(tmp_path, monkeypatch):
    import seiscreen.workflow.hops
    import seiscreen.workflow.minima
    import seiscreen.workflow.slabs

    def broken(*args, **kwargs):
        raise RuntimeError("SCF exploded (test)")

    monkeypatch.setattr(seiscreen.workflow.minima, "scan_surface", broken)
    store = open_store(tmp_path / "store")
    flow = campaign_flow(emt_campaign(), store=store)
    responses = run_locally(flow, store=store, log=False)
    (surface,) = load_results(store).surfaces.itertuples()
    assert surface.status == "failed" and "SCF exploded" in surface.reason and surface.rank is pd_na()
    ranking = responses[flow.output.uuid]
    ranking = ranking[max(ranking)].output
    assert ranking["ranked"] == [] and "SCF exploded" in ranking["unranked"][0]["reason"]


def test_a_hop_network_that_cannot_be_built_marks_the_surface_failed_with_why(tmp_path, monkeypatch):
    import seiscreen.workflow.hops
    import seiscreen.workflow.minima
    import seiscreen.workflow.slabs

    def refused(*args, **kwargs):
        raise SeiscreenError("minima 0 and 1 coincide (test)")

    monkeypatch.setattr(seiscreen.workflow.hops, "hop_specs", refused)
    store = open_store(tmp_path / "store")
    run_locally(campaign_flow(emt_campaign(), store=store), store=store, log=False)
    (surface,) = load_results(store).surfaces.itertuples()  # stored, not silently missing
    assert surface.status == "failed" and "no hop network: minima 0 and 1 coincide" in surface.reason
    assert surface.termination != "-"  # the surface's own key (its slab is kept)


def pd_na():
    import pandas as pd

    return pd.NA


def _cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "seiscreen.cli", *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=cwd)


@pytest.mark.slow  # about 20 s: two CLI processes and a NEB slowed to be killed in its middle
def test_sigkill_mid_neb_then_rerun_loses_and_duplicates_nothing(tmp_path):
    store_path = tmp_path / "store"
    # 0.2 s per force call: a band step (5 images) takes longer than seiscreen.bands.CHECKPOINT_SECONDS, so every
    # step is checkpointed, as with a real calculator.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEISCREEN_TEST_FORCE_DELAY": "0.2", "COLUMNS": "200"}
    campaign = str(REPO / "workflows" / "emt-demo.yaml")
    process = subprocess.Popen([sys.executable, "-m", "seiscreen.cli", "run", campaign, "--store", str(store_path)],
                               env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    checkpoint = None
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            found = list((store_path / "checkpoints").glob("neb-*.npz"))
            checkpoint = NebCheckpoint.load(found[0]) if found else None
            if checkpoint is not None and checkpoint.step >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the campaign finished before it could be killed mid-NEB"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert checkpoint is not None and checkpoint.step >= 3
    killed = doc_counts(open_store(store_path))
    assert killed["hop"] == 0 and killed["surface"] == 0 and killed["minima"] == 1, killed  # nothing half-written
    shown = _cli("results", "--store", str(store_path), "--format", "json", env=env)
    assert shown.returncode == 0 and json.loads(shown.stdout) == [], shown.stdout + shown.stderr

    again = _cli("run", campaign, "--store", str(store_path), env={**env, "SEISCREEN_TEST_FORCE_DELAY": "0"},
                 cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    store = open_store(store_path)
    counts = doc_counts(store)
    assert (counts["surface"], counts["hop"], counts["minima"]) == (1, 1, 1), counts  # nothing lost, nothing twice
    (hop,) = store.query({"output.doc_type": "hop"}, properties=["output.resumed", "output.force_calls"])
    resumed = hop["output"]["resumed"]
    # The band went on from the checkpoint seen before the kill, or a later one (the kill lands a moment after).
    assert resumed is not None and resumed["force_calls"] >= checkpoint.force_calls > 0, (resumed, checkpoint.stage,
                                                                                           checkpoint.step)
    assert hop["output"]["force_calls"] >= resumed["force_calls"]
    # The ends were relaxed before the kill: their calls come back from the checkpoint into the hop's count.
    assert checkpoint.meta["end_force_calls"] >= 2
    assert hop["output"]["force_calls"] >= resumed["force_calls"] + checkpoint.meta["end_force_calls"]
    (row,) = json.loads(_cli("results", "--store", str(store_path), "--format", "json", env=env).stdout)
    assert row["status"] == "ranked" and row["barrier"] == pytest.approx(0.370, abs=0.01)


def test_a_facet_whose_slabs_cannot_be_cut_is_stored_failed_with_its_reason(tmp_path, monkeypatch):
    import seiscreen.workflow.hops
    import seiscreen.workflow.minima
    import seiscreen.workflow.slabs

    def broken(*args, **kwargs):
        raise RuntimeError("bulk relaxation diverged (test)")

    monkeypatch.setattr(seiscreen.workflow.slabs, "make_terminations", broken)
    store = open_store(tmp_path / "store")
    run_locally(campaign_flow(emt_campaign()), store=store, log=False)  # no store given: no planning step
    (surface,) = load_results(store).surfaces.itertuples()
    assert surface.status == "failed" and surface.termination == "-" and "bulk relaxation diverged" in surface.reason
    shown = CliRunner().invoke(app, ["results", "--store", str(tmp_path / "store"), "--format", "csv"])
    assert shown.exit_code == 0 and "bulk relaxation diverged" in shown.output
    # The report lists it with its reason and draws nothing for a slab that does not exist.
    report = CliRunner().invoke(app, ["report", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "r")])
    assert report.exit_code == 0, report.output
    assert "bulk relaxation diverged" in (tmp_path / "r" / "index.html").read_text()


@pytest.mark.slow  # a second surface is computed
def test_a_facet_with_one_finished_and_one_new_termination_computes_only_the_new_one(tmp_path, monkeypatch):
    from seiscreen.workflow.slabs import TerminationsMaker

    store = open_store(tmp_path / "store")
    run(emt_campaign(), store)
    original = TerminationsMaker.slab_docs

    def two_terminations(self, material, miller):  # the finished slab, and a copy moved up by 0.01 Å
        (doc,) = original(self, material, miller)
        atoms = atoms_from_dict(doc.structure)
        atoms.positions[:, 2] += 0.01
        other = doc.model_copy(update={"structure": atoms_to_dict(atoms),
                                       "key": doc.key.model_copy(update={"termination_id": "100-other"})})
        return [doc, other]

    monkeypatch.setattr(TerminationsMaker, "slab_docs", two_terminations)
    flow = campaign_flow(emt_campaign())  # planning skipped: the terminations job sorts finished from new
    responses = run_locally(flow, store=store, log=False)
    ranking = responses[flow.output.uuid]
    ranked = ranking[max(ranking)].output["ranked"]
    assert sorted(r["surface"] for r in ranked) == ["Al(100) 100-other", "Al(100) 100-s0.250"]
    counts = doc_counts(store)
    assert (counts["surface"], counts["minima"]) == (2, 2)  # one new surface, the finished one not copied


def test_a_crashed_neb_resumes_from_its_checkpoint_on_the_rerun(tmp_path, monkeypatch):
    # In-process stand-in for a node dying mid-band: the 6th checkpoint write raises, the hop is stored as failed
    # by an exception, and the rerun continues the band from the 5th checkpoint instead of starting over.
    store = open_store(tmp_path / "store")
    real_save, saves = NebCheckpoint.save, []

    def dying_save(self, path):
        saves.append(self.step)
        if len(saves) > 5:  # one file per checkpoint here (no job folders): the store's
            raise RuntimeError("node lost (test)")
        real_save(self, path)

    with monkeypatch.context() as patch:
        patch.setattr(NebCheckpoint, "save", dying_save)
        patch.setattr("seiscreen.bands.run.CHECKPOINT_SECONDS", 0.0)  # EMT steps take ms: save every one here
        run(emt_campaign(), store)
    (failed,) = load_results(store).hops.itertuples()
    assert failed.status == "failed" and "node lost" in failed.reason
    run(emt_campaign(), store)
    (hop,) = store.query({"output.doc_type": "hop", "output.status": "accepted"},
                         properties=["output.resumed", "output.force_calls", "output.forward_barrier"])
    assert hop["output"]["resumed"] is not None and hop["output"]["resumed"]["force_calls"] > 0
    assert hop["output"]["forward_barrier"] == pytest.approx(0.370, abs=0.01)
    assert list(load_results(store).ranking["barrier"].round(2)) == [0.37]


def test_a_campaign_continues_from_its_results_file_and_checkpoints_in_a_new_store(tmp_path, monkeypatch):
    """A long campaign keeps no store folder between sittings: its results file imported into a new store, with
    the old store's checkpoints/ beside it, continues where it stopped. The band killed mid-run resumes from its
    checkpoint, and the minima search is reused, not run again (docs/reruns.md)."""
    import re
    import shutil

    first = open_store(tmp_path / "first")
    real_save, saves = NebCheckpoint.save, []

    def dying_save(self, path):
        saves.append(self.step)
        if len(saves) > 5:
            raise RuntimeError("node lost (test)")
        real_save(self, path)

    with monkeypatch.context() as patch:
        patch.setattr(NebCheckpoint, "save", dying_save)
        patch.setattr("seiscreen.bands.run.CHECKPOINT_SECONDS", 0.0)  # EMT steps take ms: save every one here
        run(emt_campaign(), first)
    assert load_results(first).hops["status"].tolist() == ["failed"]
    exported = tmp_path / "campaign.json.gz"
    assert CliRunner().invoke(app, ["export", str(exported), "--store", str(tmp_path / "first")]).exit_code == 0
    shutil.copytree(tmp_path / "first" / "checkpoints", tmp_path / "second" / "checkpoints")  # what git keeps
    shown = CliRunner().invoke(app, ["import", str(exported), "--store", str(tmp_path / "second")])
    assert shown.exit_code == 0 and re.match(r"imported \d+ job documents and \d+ bands from ", shown.output), \
        shown.output
    again = CliRunner().invoke(app, ["import", str(exported), "--store", str(tmp_path / "second")])
    assert again.exit_code == 0 and "imported 0 job documents and 0 bands" in again.output
    assert "were there already" in again.output
    second = open_store(tmp_path / "second")
    assert doc_counts(second) == doc_counts(first)
    run(emt_campaign(), second)
    (hop,) = second.query({"output.doc_type": "hop", "output.status": "accepted"},
                          properties=["output.resumed", "output.forward_barrier"])
    assert hop["output"]["resumed"] is not None and hop["output"]["resumed"]["force_calls"] > 0
    assert hop["output"]["forward_barrier"] == pytest.approx(0.370, abs=0.01)
    assert doc_counts(second)["minima"] == 1  # the imported search, reused by its content hash
    assert list(load_results(second).ranking["barrier"].round(2)) == [0.37]


def test_bands_are_inserted_once_and_read_back_alike_from_this_process_and_from_a_new_one(tmp_path):
    """The embedded data collection (store.BlobStore) inserts each blob and answers lookups of what this process
    wrote without reading the collection: what it answers is what a new process reads from the file."""
    store = open_store(tmp_path / "st")
    band = [[0.1 * k, 1e-17, -2.5] for k in range(5)]
    store.update({"uuid": "job-1", "index": 1, "output": {"doc_type": "hop", "band": band, "trajectory": [band]}},
                 save={"data": ["band", "trajectory"]})
    ref = store.query_one({"uuid": "job-1"})["output"]["band"]
    data = store.additional_stores["data"]
    kept = list(data.query({"blob_uuid": {"$in": [ref["blob_uuid"]]}}, properties=["blob_uuid", "data"]))
    kept[0]["data"][0][0] = 99.0  # a caller changing what it got changes nothing kept
    fresh = open_store(tmp_path / "st", create=False)
    read = store.get_output("job-1", load=True), fresh.get_output("job-1", load=True)
    assert read[0] == read[1] and read[0]["band"] == band
    assert data.count() == 2 and fresh.additional_stores["data"].count() == 2  # inserted once each
    data.kept_bytes = 0  # nothing kept after the next write: the same answer, read from the collection
    store.update({"uuid": "job-2", "index": 1, "output": {"band": band}}, save={"data": ["band"]})
    assert not data._kept and store.get_output("job-1", load=True) == read[1]
