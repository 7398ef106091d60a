"""Parallel runs (Dask), the status of a campaign, batch job scripts, and the jobflow-remote hand-over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from jobflow import Flow, run_locally
from monty.json import MontyEncoder
from rich.console import Console
from typer.testing import CliRunner

from seiscreen.campaign import Campaign, load_campaign
from seiscreen.cli import app
from seiscreen.errors import SeiscreenError
from seiscreen.execution import worker
from seiscreen.execution.local import run_with_workers
from seiscreen.execution.remote import TEMPLATE, project_config, validate_project
from seiscreen.execution.slurm import BatchSettings, make_cluster
from seiscreen.execution.status import StatusBook, campaign_status
from seiscreen.workflow.flows import campaign_flow
from seiscreen.results import load_results
from seiscreen.store import open_store

UNCHECKED = {"saddle_check": False}  # exits, reruns and cells here, not saddle checks (tests/workflow/test_kinetics.py)

REPO = Path(__file__).resolve().parents[2]
SEISCREEN = str(Path(sys.executable).with_name("seiscreen"))
SLAB = {"min_thickness": 5.0, "vacuum": 10.0, "min_lateral_size": 5.5}
# Two surfaces of one material: enough for two workers to share.
TWO_SURFACES = {"name": "emt-two", "calculator": "emt", "adsorbate": "Au",
                "materials": [{"material": "Al", "facets": [[1, 0, 0], [1, 1, 1]]}], "slab": SLAB,
                "kinetics": UNCHECKED}


def write_campaign(folder: Path, spec: dict) -> Path:
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def seiscreen(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run([SEISCREEN, *args], capture_output=True, text=True, env=env, timeout=600)


# --------------------------------------------------------------------------- local workers (real Dask)


@pytest.mark.slow
def test_a_convergence_campaign_on_workers_gives_the_serial_series_and_a_rerun_reuses_it(tmp_path):
    """Each facet's cell series is one worker's unit (its larger cell starts from the smaller cell's minima): two
    facets on two workers give the serial verdicts, and a rerun computes nothing again."""
    spec = {**TWO_SURFACES, "name": "emt-conv", "convergence": {"lateral": [5.5, 8.5], "tolerance": 0.05}}
    campaign_file = write_campaign(tmp_path, spec)
    serial = open_store(tmp_path / "serial")
    run_locally(campaign_flow(load_campaign(campaign_file)), store=serial, log=False)
    expected = load_results(serial).convergence.set_index("facet")
    assert len(expected) == 2

    store = tmp_path / "parallel"
    done = seiscreen("run", str(campaign_file), "--store", str(store), "--workers", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    found = load_results(str(store)).convergence.set_index("facet")
    assert sorted(found.index) == sorted(expected.index)
    for facet, row in expected.iterrows():
        assert found.loc[facet, "status"] == row["status"], facet
        assert found.loc[facet, "ranked_barrier"] == pytest.approx(row["ranked_barrier"], abs=1e-6), facet
    docs = open_store(str(store))
    (ranking,) = docs.query({"output.doc_type": "ranking"}, properties=["output"])
    assert len(ranking["output"]["ranked"]) + len(ranking["output"]["unranked"]) == 2
    computed = docs.count({"output.doc_type": {"$in": ["hop", "minima", "surface"]}})

    again = seiscreen("run", str(campaign_file), "--store", str(store), "--workers", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert open_store(str(store)).count({"output.doc_type": {"$in": ["hop", "minima", "surface"]}}) == computed


@pytest.mark.slow
def test_two_workers_give_the_serial_results_once_each_and_a_rerun_reuses_them(tmp_path):
    campaign_file = write_campaign(tmp_path, TWO_SURFACES)
    serial = open_store(tmp_path / "serial")
    run_locally(campaign_flow(load_campaign(campaign_file)), store=serial, log=False)
    expected = load_results(serial).surfaces.set_index("termination")["barrier"]

    store = tmp_path / "parallel"
    done = seiscreen("run", str(campaign_file), "--store", str(store), "--workers", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    surfaces = load_results(str(store)).surfaces.set_index("termination")
    assert sorted(surfaces.index) == sorted(expected.index) and len(surfaces) == 2
    assert (surfaces["status"] == "ranked").all()
    for termination, barrier in expected.items():
        assert surfaces.loc[termination, "barrier"] == pytest.approx(barrier, abs=1e-6)
    # Single writer: every document once; the ranking written by the client after both surfaces.
    docs = open_store(str(store))
    assert docs.count({"output.doc_type": "surface"}) == 2
    (ranking,) = docs.query({"output.doc_type": "ranking"}, properties=["output"])
    assert len(ranking["output"]["ranked"]) == 2 and ranking["output"]["failed_flows"] == 0
    rows = [r for r in campaign_status(str(store)) if r["termination"]]
    assert [r["state"] for r in rows] == ["done", "done"] and all(r["worker"] for r in rows)
    n_jobs = docs.count({})

    again = seiscreen("run", str(campaign_file), "--store", str(store), "--workers", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert open_store(str(store)).count({"output.doc_type": {"$in": ["hop", "minima", "surface"]}}) == \
        docs.count({"output.doc_type": {"$in": ["hop", "minima", "surface"]}})
    assert open_store(str(store)).count({}) == n_jobs + 1  # only a new ranking
    assert {r["detail"] for r in campaign_status(str(store)) if r["termination"]} == {"reused from the store"}


@pytest.mark.slow
def test_a_worker_runs_a_surface_without_touching_the_campaign_store(tmp_path):
    """Workers return documents; only the client writes (SQLite on a shared file system is not multi-writer)."""
    campaign = Campaign(**{**TWO_SURFACES, "materials": [{"material": "Al"}]})
    (planned,) = worker.plan_surfaces(campaign, 0, [1, 0, 0], "unit", str(tmp_path / "runs"))
    result = worker.run_surface(planned["flow"], "unit", str(tmp_path / "runs"))
    assert result["surface"]["doc_type"] == "surface" and result["surface"]["status"] == "ranked"
    assert result["errors"] == []
    types = {d["output"].get("doc_type") for d in result["docs"] if isinstance(d.get("output"), dict)}
    assert {"hop", "minima", "surface"} <= types
    assert result["blobs"] and all("_id" not in d for d in result["docs"] + result["blobs"])
    assert not (tmp_path / "seiscreen-store").exists() and not list(tmp_path.glob("**/*.collection"))


@pytest.mark.slow
def test_the_funnel_level_runs_on_the_workers_with_bands_warm_started_from_the_lower_level(tmp_path):
    # One candidate (the serial funnel with two, and its rank statistics, is tests/workflow/test_funnel.py).
    campaign = Campaign(name="funnel-workers", fidelities=["emt", "chgnet"], adsorbate="Au",
                        materials=[{"material": "Al"}],
                        slab={"min_thickness": 5.0, "vacuum": 10.0, "min_lateral_size": 5.0},
                        kinetics={"saddle_check": False})  # CHGNet's Au/Al(100) saddle fails it (test_funnel.py)
    store = str(tmp_path / "store")
    run_with_workers(campaign, store, 2, Console(quiet=True))
    surfaces = load_results(store).surfaces
    assert sorted(surfaces["calculator"]) == ["chgnet", "emt"]
    assert (surfaces["status"] == "ranked").all(), surfaces[["calculator", "status", "reason"]]
    (doc,) = open_store(store).query({"output.doc_type": "fidelity_comparison"}, properties=["output"])
    assert doc["output"]["n_compared"] == 1
    for row in doc["output"]["rows"]:  # the EMT bands reached the workers through their seeded memory stores
        assert row["higher_status"] == "ranked" and row["warm_started_hops"] >= 1
    higher = [r for r in campaign_status(store) if r["calculator"] == "chgnet"]
    assert len(higher) == 1 and all(r["state"] == "done" and r["worker"] for r in higher)


def test_bad_worker_count_is_one_line_and_creates_no_store(tmp_path):
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["run", str(REPO / "workflows" / "emt-demo.yaml"), "--store", str(store),
                                      "--workers", "0"])
    assert result.exit_code == 2 and "--workers 0" in result.output
    assert not store.exists()


# --------------------------------------------------------------------------- status


def test_status_reports_interrupted_work_of_a_client_that_died(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    book = StatusBook(str(tmp_path), "c1", "emt", "test")
    book.run["pid"] = dead.pid  # as if that client had written it and then been killed
    book.heartbeat(force=True)
    book.set(book.key("Al", (1, 0, 0), "100-s0.250"), "running", "Al", (1, 0, 0), "100-s0.250", worker="w1")
    book.set(book.key("Al", (1, 1, 1), "111-s0.167"), "failed", "Al", (1, 1, 1), "111-s0.167",
             reason="ValueError: no minimum")
    book.set(book.key("Cu", (1, 0, 0)), "pending", "Cu", (1, 0, 0))
    rows = {(r["material"], r["facet"]): r for r in campaign_status(str(tmp_path))}
    assert rows["Al", "(100)"]["state"] == "interrupted" and "rerun" in rows["Al", "(100)"]["reason"]
    assert rows["Al", "(111)"]["state"] == "failed" and rows["Al", "(111)"]["reason"] == "ValueError: no minimum"
    assert rows["Cu", "(100)"]["state"] == "interrupted" and rows["Cu", "(100)"]["termination"] is None

    book.run["pid"] = os.getpid()  # a live client: its units are what they say
    book.heartbeat(force=True)
    states = {(r["material"], r["facet"]): r["state"] for r in campaign_status(str(tmp_path))}
    assert states == {("Al", "(100)"): "running", ("Al", "(111)"): "failed", ("Cu", "(100)"): "pending"}
    result = CliRunner().invoke(app, ["status", "--store", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0 and len(json.loads(result.output)) == 3


@pytest.mark.slow
def test_status_follows_a_plain_local_run_and_reports_it_interrupted_when_killed(tmp_path):
    store = tmp_path / "store"
    campaign = write_campaign(tmp_path, {**TWO_SURFACES, "name": "emt-one",
                                         "materials": [{"material": "Al", "facets": [[1, 0, 0]]}]})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen([SEISCREEN, "run", str(campaign), "--store", str(store)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        running = []
        for _ in range(600):  # the first surface's minima search starts within seconds
            if (store / "seiscreen" / "execution_status.collection").exists():
                running = [r for r in campaign_status(str(store)) if r["state"] == "running"]
                if running:
                    break
            if run.poll() is not None:
                break
            time.sleep(0.1)
        assert running, "no surface was shown running while `seiscreen run` worked"
        assert running[0]["campaign"] == "emt-one" and running[0]["detail"] == "minima search"
    finally:
        run.kill()
        run.wait()
    rows = campaign_status(str(store))
    interrupted = [r for r in rows if r["state"] == "interrupted"]
    assert interrupted and "rerun the same command" in interrupted[0]["reason"]
    assert {r["state"] for r in rows} == {"interrupted"}  # nothing left pending or running by a dead process

    # The same command finishes it, and the status says so, surface by surface.
    subprocess.run([SEISCREEN, "run", str(campaign), "--store", str(store)], env=env, check=True,
                   capture_output=True)
    rows = [r for r in campaign_status(str(store)) if r["termination"]]
    (row,) = rows
    assert row["state"] == "done" and row["campaign"] == "emt-one" and row["detail"].startswith("ranked"), row


def test_status_of_a_local_run_counts_neb_bands_and_names_the_refinement_round(tmp_path, caplog):
    """What `seiscreen status` shows while a long local run works on one surface: bands done of bands to run
    (warm and cold bands each count; hops reused from the store do not), and which refinement round it is in."""
    import logging

    from seiscreen import progress
    from seiscreen.progress import Event
    from seiscreen.runner import _StatusHandler
    from seiscreen.schemas import SurfaceKey

    handler = _StatusHandler(StatusBook(str(tmp_path / "store"), "gpaw-na2se", "gpaw-lcao-gamma", "local"))
    progress.log.addHandler(handler)
    try:
        key = SurfaceKey(material="Na2Se", miller=(1, 0, 0), termination_id="100-s0.125-t20", adsorbate="Na",
                         calculator="gpaw-lcao-gamma")

        def detail():
            (row,) = [r for r in campaign_status(str(tmp_path / "store")) if r["termination"]]
            return row["state"], row["detail"]

        with caplog.at_level(logging.INFO, logger="seiscreen.progress"):
            progress.emit(Event.SURFACE_PENDING, key=key, surface=key.label)
            progress.emit(Event.MINIMA_STARTED, key=key, surface=key.label)
            assert detail() == ("running", "minima search")
            progress.emit(Event.HOPS_PLANNED, key=key, surface=key.label, n=6, refinement=0)
            progress.emit(Event.HOP_DONE, key=key, surface=key.label, hop="hop0-m0-m0", status="accepted", barrier=0.1)
            assert detail() == ("running", "1/6 NEB band(s) done")
            progress.emit(Event.MINIMA_REFINING, key=key, surface=key.label, valleys=2, refinement=1)
            assert detail() == ("running", "refinement 1: relaxing 2 valley(s)")
            progress.emit(Event.HOPS_PLANNED, key=key, surface=key.label, n=4, refinement=1)
            for _ in range(3):
                progress.emit(Event.HOP_DONE, key=key, surface=key.label, hop="hop2-m0-m1", status="accepted",
                              barrier=0.07)
            assert detail() == ("running", "3/4 NEB band(s) done (refinement 1)")
            progress.emit(Event.SURFACE_DONE, key=key, surface=key.label, status="ranked", barrier=0.5674)
            assert detail() == ("done", "ranked 0.567 eV")
    finally:
        progress.log.removeHandler(handler)


def test_status_of_a_missing_store_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["status", "--store", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "no store" in result.output and not (tmp_path / "nothing").exists()


# --------------------------------------------------------------------------- batch job scripts


@pytest.mark.parametrize(("scheduler", "expected"), [
    ("slurm", ["#SBATCH -p short", "#SBATCH -A grp", "#SBATCH --cpus-per-task=2", "#SBATCH -t 02:00:00",
               "#SBATCH --qos=low"]),
    ("pbs", ["#PBS -q short", "#PBS -A grp", "ncpus=2", "#PBS -l walltime=02:00:00"]),
    ("lsf", ["#BSUB -q short", '#BSUB -P "grp"', "#BSUB -n 2"]),
    ("sge", ["#$ -q short", "#$ -P grp", "h_rt=02:00:00"]),
])
def test_one_setting_switches_the_batch_system(tmp_path, scheduler, expected):
    settings = BatchSettings(scheduler=scheduler, partition="short", account="grp", cpus_per_task=2,
                             time="02:00:00", job_extra=["--qos=low"] if scheduler == "slurm" else [])
    with make_cluster(settings, tmp_path) as cluster:
        script = cluster.job_script()
    for line in expected + ["export OMP_NUM_THREADS=1", "--nthreads 1", "--nworkers 2", sys.executable]:
        assert line in script, (line, script)


def test_a_worker_whose_calculations_use_several_cores_gets_them(tmp_path):
    # parallel: {ranks: 2, images_at_once: 2} in the campaign: each worker's calculations use 4 cores.
    settings = BatchSettings(cpus_per_task=8, cores_per_worker=4)
    with make_cluster(settings, tmp_path) as cluster:
        script = cluster.job_script()
    assert "#SBATCH --cpus-per-task=8" in script and "--nworkers 2" in script
    assert script.rstrip().endswith("--nthreads 1")  # one surface at a time per worker
    with pytest.raises(SeiscreenError, match="--cpus-per-task 6 does not hold whole workers: .* a multiple of 4"):
        BatchSettings(cpus_per_task=6, cores_per_worker=4).check(need_commands=False)


def test_unknown_scheduler_and_missing_commands_are_one_line(tmp_path, monkeypatch):
    campaign = str(REPO / "workflows" / "emt-demo.yaml")
    result = CliRunner().invoke(app, ["submit", campaign, "--scheduler", "torque", "--store", str(tmp_path / "s")])
    assert result.exit_code == 2 and "unknown scheduler 'torque'" in result.output
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch/qsub here
    result = CliRunner().invoke(app, ["submit", campaign, "--scheduler", "pbs", "--store", str(tmp_path / "s")])
    assert result.exit_code == 2 and "qsub not found" in result.output
    assert not (tmp_path / "s").exists()


# --------------------------------------------------------------------------- jobflow-remote


def test_campaign_flow_round_trips_through_as_dict_and_from_dict():
    campaign = load_campaign(REPO / "workflows" / "emt-demo.yaml")
    flow = campaign_flow(campaign)
    text = json.dumps(flow.as_dict(), cls=MontyEncoder)  # what jobflow-remote puts into MongoDB
    back = Flow.from_dict(json.loads(text))
    assert [j.uuid for j in back.jobs] == [j.uuid for j in flow.jobs]
    assert [j.name for j in back.jobs] == [j.name for j in flow.jobs]
    assert back.output.uuid == flow.output.uuid
    first, original = back.jobs[0], flow.jobs[0]
    assert first.maker == original.maker  # dataclass Makers, settings and all
    assert json.dumps(back.as_dict(), cls=MontyEncoder, sort_keys=True) == json.dumps(
        flow.as_dict(), cls=MontyEncoder, sort_keys=True)


@pytest.mark.slow
def test_a_round_tripped_surface_flow_runs_to_the_same_barrier(tmp_path):
    campaign = Campaign(**{**TWO_SURFACES, "materials": [{"material": "Al"}]})
    (planned,) = worker.plan_surfaces(campaign, 0, [1, 0, 0], "unit", str(tmp_path))
    flow_dict = json.loads(json.dumps(planned["flow"], cls=MontyEncoder))  # plain JSON, as in MongoDB
    first = worker.run_surface(planned["flow"], "unit", str(tmp_path))
    second = worker.run_surface(flow_dict, "unit", str(tmp_path))
    assert second["surface"]["barrier_2d"] == pytest.approx(first["surface"]["barrier_2d"], abs=1e-6)


def test_generated_and_shipped_jobflow_remote_projects_validate(tmp_path, monkeypatch):
    monkeypatch.setenv("JFREMOTE_PROJECTS_FOLDER", str(tmp_path))
    batch = BatchSettings(partition="short", account="grp", cpus_per_task=4, time="04:00:00")
    project = validate_project(project_config("seiscreen", "mongodb://db.example.org/seiscreen", batch))
    cluster = project.workers["cluster"]
    assert cluster.scheduler_type == "slurm" and cluster.resources["cpus_per_task"] == 4
    assert cluster.resources["partition"] == "short" and cluster.resources["account"] == "grp"
    assert project.jobstore["docs_store"]["collection_name"] == "jobs"  # what `seiscreen results` reads
    assert project.jobstore["additional_stores"]["data"]["collection_name"] == "jobs_data"
    shipped = validate_project(yaml.safe_load(TEMPLATE.read_text()))
    assert shipped.name == "seiscreen" and shipped.workers["cluster"].type == "local"
    broken = yaml.safe_load(TEMPLATE.read_text())
    del broken["queue"]
    with pytest.raises(Exception, match="queue"):
        validate_project(broken)


def test_submit_to_jobflow_remote_without_a_project_writes_the_template_and_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("JFREMOTE_PROJECTS_FOLDER", str(tmp_path / "jf"))
    result = CliRunner().invoke(app, ["submit", str(REPO / "workflows" / "emt-demo.yaml"), "--engine",
                                      "jobflow-remote", "--project", "screen1", "--partition", "short"])
    assert result.exit_code == 2 and "wrote a template" in result.output and "jf project check" in result.output
    written = yaml.safe_load((tmp_path / "jf" / "screen1.yaml").read_text())
    assert validate_project(written).workers["cluster"].resources["partition"] == "short"
    again = CliRunner().invoke(app, ["submit", str(REPO / "workflows" / "emt-demo.yaml"), "--engine",
                                     "jobflow-remote", "--project", "screen1"])
    assert again.exit_code == 2 and "placeholder MongoDB URI" in again.output


def test_status_read_while_a_run_creates_the_store_shows_no_rows_rather_than_failing(tmp_path):
    # A run has created the status collection's file but not its table yet (seen as a flaky "no such table").
    import sqlite3

    from seiscreen.store import open_store

    open_store(tmp_path / "store")
    (tmp_path / "store" / "seiscreen").mkdir(exist_ok=True)
    sqlite3.connect(tmp_path / "store" / "seiscreen" / "execution_status.collection").close()
    assert campaign_status(str(tmp_path / "store")) == []
    sqlite3.connect(tmp_path / "store" / "seiscreen" / "jobs.collection").close()  # the results too
    assert campaign_status(str(tmp_path / "store")) == []
    from seiscreen.results import load_results

    assert load_results(str(tmp_path / "store")).surfaces.empty
