"""Who may write a store and who may read it: one writer at a time (a lock on the store folder, with the holder's
PID, host and start time), readers that write nothing (a read-only share reads), a rerun with nothing to compute
that adds nothing, and a report of an empty store refused in one line. docs/reliability.md, "One writer at a time".

Real processes throughout: the holder of a lock is a second Python process, the runs are `seiscreen` commands.
Tests run as root, which ignores file permissions: a folder the user cannot write is simulated in-process by
``os.access`` (every file then compared byte for byte and by modification time), and for real by a read-only bind
mount where the machine allows one (``unshare -m``), else by taking the write permissions away (not root)."""

import contextlib
import hashlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seiscreen.results import load_results
from seiscreen.store import LOCK_FILE, open_store

REPO = Path(__file__).resolve().parents[2]
CAMPAIGN = REPO / "workflows" / "emt-demo.yaml"  # Au on Al(100) with EMT: one surface, seconds
HOLD = ("import sys; from seiscreen.store import store_lock\n"
        "with store_lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.readline()\n")  # holds the lock until its stdin is closed
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seiscreen.cli", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=600)


def run_into(store: Path, *extra: str, cwd: Path) -> subprocess.CompletedProcess:
    return cli("run", str(CAMPAIGN), "--store", str(store), *extra, cwd=cwd)


@contextlib.contextmanager
def holder(store: Path):
    """Another process holding the store's writer lock for the duration of the block."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(store)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=60)


def read_until(process: subprocess.Popen, text: str, seconds: float = 300) -> str:
    """What ``process`` printed up to a line holding ``text`` (or up to its end, or the deadline)."""
    said, deadline = "", time.monotonic() + seconds
    while text not in said and time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 1.0)[0]:
            line = process.stdout.readline()
            if not line:
                break
            said += line
    return said


def fingerprint(path: Path, times: bool = False) -> dict:
    """Every file and folder under ``path``: the hash of each file's bytes (and its modification time)."""
    return {str(p.relative_to(path)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                       p.stat().st_mtime_ns if times else None) if p.is_file() else "folder"
            for p in sorted(path.rglob("*"))}


def doc_counts(store: Path) -> dict:
    docs = open_store(store, create=False).query({}, properties=["output.doc_type"])
    counts: dict = {}
    for doc in docs:
        output = doc.get("output")
        kind = output.get("doc_type") if isinstance(output, dict) else type(output).__name__
        counts[kind] = counts.get(kind, 0) + 1
    return counts


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    """The EMT demo campaign, run once into a store by `seiscreen run` (so every SQLite file is closed and final)."""
    folder = tmp_path_factory.mktemp("demo")
    done = run_into(folder / "store", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "store"


@pytest.fixture
def demo_copy(demo_store, tmp_path) -> Path:
    shutil.copytree(demo_store, tmp_path / "store")
    return tmp_path / "store"


# ------------------------------------------------------------------------------------------ one writer


def test_a_second_run_into_a_held_store_exits_2_naming_the_holder_and_writes_nothing(tmp_path):
    store = tmp_path / "store"
    with holder(store) as first:
        before = fingerprint(store)
        second = run_into(store, cwd=tmp_path)
        assert fingerprint(store) == before  # not even the database files of a new store
    assert second.returncode == 2
    assert second.stderr.startswith(f"error: store in use by PID {first.pid} on {socket.gethostname()} since ")
    assert "--wait" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    assert "Traceback" not in second.stdout + second.stderr


@pytest.mark.slow
def test_run_wait_waits_for_the_holder_then_runs(tmp_path):
    store = tmp_path / "store"
    with holder(store):
        waiting = subprocess.Popen([sys.executable, "-m", "seiscreen.cli", "run", str(CAMPAIGN), "--store",
                                    str(store), "--wait"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        said = read_until(waiting, "waiting for it to finish")
        time.sleep(1.0)
        assert waiting.poll() is None and "store in use by PID" in said  # still waiting
        assert not (store / "seiscreen").exists()  # nothing written while it waits
    rest, _ = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, said + rest
    assert "ranking" in rest and load_results(store).ranking["barrier"].notna().all()
    assert (store / LOCK_FILE).read_text() == ""  # released


@pytest.mark.slow
def test_two_runs_at_once_into_a_new_store_write_every_document_once(demo_store, tmp_path):
    store = tmp_path / "store"
    both = [subprocess.Popen([sys.executable, "-m", "seiscreen.cli", "run", str(CAMPAIGN), "--store", str(store),
                              "--wait"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in both]
    assert [process.returncode for process in both] == [0, 0], outputs
    assert doc_counts(store) == doc_counts(demo_store)  # as one run wrote them: none twice
    assert sum("nothing to compute: 1 surface reused" in out for out, _ in outputs) == 1


@pytest.mark.slow
def test_a_lock_left_by_a_killed_holder_is_taken_over_with_a_message(tmp_path):
    store = tmp_path / "store"
    killed = subprocess.Popen([sys.executable, "-c", "import os, signal, sys; from seiscreen.store import store_lock\n"
                               "with store_lock(sys.argv[1]):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
                               str(store)], env=ENV)
    assert killed.wait(timeout=60) == -signal.SIGKILL and f'"pid": {killed.pid}' in (store / LOCK_FILE).read_text()
    run = run_into(store, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"took over the lock of the store {store} left by PID {killed.pid} on {socket.gethostname()}" in \
        " ".join(run.stdout.split())
    assert (store / LOCK_FILE).read_text() == "" and len(load_results(store).surfaces) == 1


@pytest.mark.slow  # seconds: run by `make test`, kept out of `make test-fast`
def test_parallel_runs_and_saved_reruns_take_the_lock_too(demo_copy, tmp_path):
    """`run --workers` (its client is the only writer) and `rerun-hop --save` stop at a held store, before any
    worker starts or any force is computed; a rerun without --save only reads and runs."""
    (uuid,) = load_results(demo_copy).hops["job_uuid"]
    with holder(demo_copy) as first:
        before = fingerprint(demo_copy)
        parallel = run_into(demo_copy, "--workers", "1", cwd=tmp_path)
        saved = cli("rerun-hop", uuid, "--store", str(demo_copy), "--save", cwd=tmp_path)
        reading = cli("rerun-hop", uuid, "--store", str(demo_copy), cwd=tmp_path)
        assert fingerprint(demo_copy) == before
    for refused in (parallel, saved):
        assert refused.returncode == 2 and refused.stderr.startswith(f"error: store in use by PID {first.pid} ")
    assert reading.returncode == 0, reading.stderr


def test_workers_never_open_the_store(tmp_path, monkeypatch):
    """A parallel run's surface, run as a Dask worker runs it, with every way of opening a store refused: it
    computes into its own memory store and hands its documents back to the client."""
    from seiscreen.campaign import load_campaign
    from seiscreen.execution import worker

    from maggma.stores import MontyStore

    from seiscreen.store import FolderStore

    def refused(*args, **kwargs):
        raise AssertionError("a worker opened a store")

    monkeypatch.setattr(MontyStore, "connect", refused)  # any store folder or MongoDB-like embedded store
    monkeypatch.setattr(FolderStore, "connect", refused)
    monkeypatch.setattr("seiscreen.store_lock._take_lock", refused)  # the writer lock
    monkeypatch.chdir(tmp_path)
    (planned,) = worker.plan_surfaces(load_campaign(CAMPAIGN), 0, [1, 0, 0], "unit", str(tmp_path / "runs"))
    result = worker.run_surface(planned["flow"], "unit", str(tmp_path / "runs"))
    assert result["surface"]["status"] == "ranked" and not result["errors"]
    assert {d["output"].get("doc_type") for d in result["docs"] if isinstance(d["output"], dict)} >= {"surface", "hop"}


# ------------------------------------------------------------------------------------------ readers


@pytest.mark.parametrize("writable", [True, False], ids=["writable", "not-writable"])
def test_reading_a_store_writes_nothing_into_it(demo_copy, tmp_path, monkeypatch, writable):
    """results, report, status, export and load_results leave every file of the store as it was (bytes and time)
    and add none; "not writable": os.access says so for everything under the store, as on a read-only share."""
    from seiscreen.execution.status import campaign_status
    from seiscreen.report.html import write_report
    from seiscreen.store import export_store

    real_access = os.access
    if not writable:
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
            False if mode & os.W_OK and Path(path).absolute().is_relative_to(demo_copy) else real_access(path, mode,
                                                                                                       **kw)))
    before = fingerprint(demo_copy, times=True)
    time.sleep(0.01)  # a rewrite of the same bytes would show in the modification times
    results = load_results(demo_copy)
    report = write_report(demo_copy, tmp_path / "report", bands=True)
    rows = campaign_status(demo_copy)
    exported = export_store(open_store(demo_copy, create=False), tmp_path / "shipped.json")
    assert fingerprint(demo_copy, times=True) == before
    assert len(results.surfaces) == 1 and results.ranking["barrier"].notna().all() and report.index.exists()
    assert [r["state"] for r in rows] == ["done"]
    assert exported["jobs"] == len(list(open_store(demo_copy, create=False).query({}))) > 0


def test_a_folder_read_without_jobflow_gives_what_its_job_store_gives(demo_store):
    """seiscreen.store_read (what `seiscreen results` and `status` open) against jobflow's JobStore on the same
    folder: the same documents with the same keys, and the same results tables."""
    from pandas.testing import assert_frame_equal

    from seiscreen.store import FolderJobs, open_reader

    reader, job_store = open_reader(demo_store), open_store(demo_store, create=False)
    assert isinstance(reader, FolderJobs)
    for criteria, properties in (({}, None), ({"output.doc_type": "hop"}, ["output", "completed_at"])):
        read = sorted(reader.query(criteria, properties and list(properties)), key=lambda d: d["uuid"])
        expected = sorted(job_store.query(criteria, properties and list(properties)), key=lambda d: d["uuid"])
        assert read == expected and len(read) > 0
    assert reader.query_one({"output.doc_type": "surface"})["uuid"] == job_store.query_one(
        {"output.doc_type": "surface"})["uuid"]
    mine, theirs = load_results(demo_store), load_results(job_store)
    for table in ("surfaces", "hops", "minima", "fidelity", "reruns", "convergence"):
        assert_frame_equal(getattr(mine, table), getattr(theirs, table))
    assert mine.frames_database == theirs.frames_database


def test_a_store_copied_without_its_hidden_setup_file_is_one_line_not_an_empty_store(demo_copy):
    from seiscreen.errors import SeiscreenError

    (demo_copy / ".monty.storage").unlink()  # as `cp store/* elsewhere` leaves it
    before = fingerprint(demo_copy, times=True)
    with pytest.raises(SeiscreenError, match="has database files but not montydb's setup files"):
        load_results(demo_copy)
    assert fingerprint(demo_copy, times=True) == before


def _read_only_view(store: Path) -> list[str] | None:
    """The start of a command line that runs the rest with ``store`` read-only for it, or None where this machine
    cannot make one: a read-only bind mount for root, the write permissions taken away for anyone else."""
    if os.geteuid() != 0:
        for path in [store, *store.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return []
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    probe = subprocess.run(["unshare", "-m", "sh", "-c", script, str(store), "true"], capture_output=True)
    return ["unshare", "-m", "sh", "-c", script, str(store)] if probe.returncode == 0 else None


def test_a_store_on_a_read_only_file_system_reads(demo_copy, tmp_path):
    """Not simulated: the store on a read-only mount (as root) or without write permission (as anyone else)."""
    view = _read_only_view(demo_copy)
    if view is None:
        pytest.skip("no read-only mount here (unshare -m needs CAP_SYS_ADMIN)")
    before = fingerprint(demo_copy, times=True)
    seiscreen = [sys.executable, "-m", "seiscreen.cli"]
    for args in (["results", "--format", "csv"], ["status"], ["report", "--out", str(tmp_path / "report")]):
        done = subprocess.run([*view, *seiscreen, *args, "--store", str(demo_copy)], cwd=tmp_path, env=ENV,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (args, done.stderr)
        assert "corrupted" not in done.stdout + done.stderr
    assert (tmp_path / "report" / "index.html").exists()
    assert fingerprint(demo_copy, times=True) == before


# ------------------------------------------------------------------------------------------ nothing to do


def test_a_rerun_with_nothing_to_compute_adds_nothing(demo_copy, tmp_path):
    before = fingerprint(demo_copy)
    again = run_into(demo_copy, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to compute: 1 surface reused" in again.stdout and "ranking" in again.stdout
    assert fingerprint(demo_copy) == before  # no document (no ranking, no status), no runs/job_* folder


def test_a_changed_campaign_is_computed_not_reused(demo_copy, tmp_path):
    """The other side of the no-op: a campaign whose surface is not stored yet runs, and its jobs are stored."""
    campaign = tmp_path / "silver.yaml"  # Ag instead of Au: another surface computation
    campaign.write_text(CAMPAIGN.read_text().replace("adsorbate: Au", "adsorbate: Ag"))
    runs = len(list((demo_copy / "runs").glob("job_*")))
    changed = cli("run", str(campaign), "--store", str(demo_copy), cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert "nothing to compute" not in changed.stdout
    assert len(list((demo_copy / "runs").glob("job_*"))) > runs and len(load_results(demo_copy).surfaces) == 2


@pytest.mark.parametrize("content", ["empty folder", "no results"])
def test_report_of_a_store_without_results_fails_in_one_line(tmp_path, content):
    store = tmp_path / "store"
    store.mkdir()
    if content == "no results":  # a store with a document that is no result (as a run killed at its start)
        open_store(store).docs_store.update({"uuid": "u1", "index": 1, "output": {"doc_type": "marker"}},
                                            key=["uuid"])
    done = cli("report", "--store", str(store), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: the store {store} has no results") and \
        len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report").exists()
