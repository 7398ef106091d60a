"""Numbers that hold: `seiscreen compare` pairs two stores' surfaces, hops and minima and names every number that
moved; the same campaign in fresh stores (serial or on two workers, unbroken or killed and resumed) gives the same
numbers within 1 meV; an export names the code version that wrote it (EMT, Au on Al(100))."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from jobflow import run_locally
from typer.testing import CliRunner

from seiscreen.campaign import Campaign
from seiscreen.cli import app
from seiscreen.compare_stores import compare_stores
from seiscreen.errors import SeiscreenError
from seiscreen.workflow.flows import campaign_flow
from seiscreen.neb import NebCheckpoint
from seiscreen.store import code_version, export_store, open_store

REPO = Path(__file__).resolve().parents[2]
DEMO = str(REPO / "workflows" / "emt-demo.yaml")
MEV = 0.001  # the target: two runs of one campaign agree within 1 meV


@pytest.fixture(scope="module")
def emt_export(tmp_path_factory) -> Path:
    """The EMT demo's campaign run once in-process, exported to a results file."""
    folder = tmp_path_factory.mktemp("emt")
    campaign = Campaign(name="emt-test", calculator="emt", adsorbate="Au", materials=[{"material": "Al"}],
                        slab={"min_thickness": 5.0, "vacuum": 10.0, "min_lateral_size": 5.5})
    store = open_store(folder / "store")
    run_locally(campaign_flow(campaign, store=store), store=store, log=False)
    export_store(store, folder / "emt.json.gz")
    return folder


def edited_copy(source: Path, target: Path, edit) -> Path:
    """A copy of a results file whose job documents went through ``edit(docs)``."""
    with gzip.open(source, "rt") as handle:
        payload = json.load(handle)
    edit(payload["jobs"])
    with gzip.open(target, "wt") as handle:
        json.dump(payload, handle)
    return target


def output_of(docs: list[dict], doc_type: str) -> dict:
    (doc,) = [d for d in docs if isinstance(d.get("output"), dict) and d["output"].get("doc_type") == doc_type]
    return doc["output"]


def test_a_store_and_its_export_agree_and_the_export_names_its_code_version(emt_export):
    found = compare_stores(emt_export / "store", emt_export / "emt.json.gz")
    assert found.agree and not found.notes, found
    assert (found.paired["surface"], found.paired["hop"], found.paired["minimum"]) == (1, 1, 1)
    assert found.code_versions[0] is None  # a store folder records none; the file names the code that wrote it
    written, here = found.code_versions[1], code_version()
    assert written["commit"] == here["commit"] and written["version"] == here["version"]
    if here["commit"] is not None:  # a git checkout (else an installed package: its version)
        assert len(here["commit"]) == 40 and isinstance(here["dirty"], bool)
    assert here["version"]


def test_every_moved_number_and_every_missing_item_is_named(emt_export, tmp_path):
    def edit(docs):
        surface = output_of(docs, "surface")
        surface["barrier_2d"] += 0.002  # beyond 1 meV
        surface["adsorption_energy"] += 0.0004  # within it
        output_of(docs, "hop")["reverse_barrier"] += 0.0004
        output_of(docs, "minima")["refinement"] = 1  # another item: a minimum of refinement round 1

    moved = edited_copy(emt_export / "emt.json.gz", tmp_path / "moved.json.gz", edit)
    found = compare_stores(emt_export / "emt.json.gz", moved)
    # The 2D barrier (and the barrier, which is it here) moved; nothing within the tolerance is listed.
    assert sorted((d.table, d.field) for d in found.differences) == [("surface", "barrier"),
                                                                      ("surface", "barrier_2d")]
    assert all(d.change == pytest.approx(0.002) for d in found.differences)
    # The minimum of round 0 is only in A; B's (now of round 1) only in B.
    assert found.only_a == ["Al(100) 100-s0.250 [emt] minimum 0 (refinement 0)"]
    assert found.only_b == ["Al(100) 100-s0.250 [emt] minimum 0 (refinement 1)"]
    assert not found.agree and "1 item(s) only in A" in found.summary()
    # A tighter tolerance names the smaller changes too.
    tight = compare_stores(emt_export / "emt.json.gz", moved, tolerance=0.0001)
    assert {(d.table, d.field) for d in tight.differences} >= {("surface", "adsorption_energy"),
                                                               ("hop", "reverse_barrier")}


def test_the_compare_command_exits_0_when_the_two_agree_1_when_not_2_on_bad_input(emt_export, tmp_path):
    runner = CliRunner()
    same = runner.invoke(app, ["compare", str(emt_export / "store"), str(emt_export / "emt.json.gz")])
    assert same.exit_code == 0, same.output
    assert same.output.strip().splitlines()[-1].startswith("agree within 0.001 eV: 1 surface, 1 hop, 1 minimum")

    def edit(docs):
        output_of(docs, "hop")["forward_barrier"] += 0.01
        output_of(docs, "surface")["status"] = "incomplete"

    moved = edited_copy(emt_export / "emt.json.gz", tmp_path / "moved.json.gz", edit)
    differ = runner.invoke(app, ["compare", str(emt_export / "store"), str(moved)], env={"COLUMNS": "200"})
    assert differ.exit_code == 1, differ.output
    assert "forward_barrier" in differ.output and "+0.0100" in differ.output and "incomplete" in differ.output
    assert differ.output.strip().splitlines()[-1].startswith("differ: 2 value(s)")
    loose = runner.invoke(app, ["compare", str(emt_export / "store"), str(moved), "--tolerance", "0.05"])
    assert loose.exit_code == 1 and "differ: 1 value(s)" in loose.output  # a status is never within a tolerance
    for args, message in ((["--tolerance", "-1"], "tolerance -1.0 must be"),
                          ([], "no store at")):
        bad = runner.invoke(app, ["compare", str(emt_export / "store"), str(tmp_path / "nowhere"), *args])
        assert bad.exit_code == 2 and message in bad.output and "Traceback" not in bad.output, bad.output


def test_two_empty_stores_are_not_said_to_agree(tmp_path):
    open_store(tmp_path / "a"), open_store(tmp_path / "b")
    with pytest.raises(SeiscreenError, match="nothing to compare"):
        compare_stores(tmp_path / "a", tmp_path / "b")


def test_a_slice_is_compared_with_what_the_full_run_has_of_its_surfaces(emt_export, tmp_path):
    def other_surface(docs):  # the same documents under another material: a surface the slice did not rerun
        for doc in docs:
            if isinstance(doc.get("output"), dict) and "key" in doc["output"]:
                doc["output"]["key"]["material"] = "Cu"
                doc["uuid"] = "cu-" + doc["uuid"]
    other = edited_copy(emt_export / "emt.json.gz", tmp_path / "cu.json.gz", other_surface)
    with gzip.open(other, "rt") as handle:
        cu_docs = json.load(handle)["jobs"]
    full = edited_copy(emt_export / "emt.json.gz", tmp_path / "full.json.gz", lambda docs: docs.extend(cu_docs))
    assert not compare_stores(emt_export / "store", full).agree  # Cu(100) only in B
    sliced = compare_stores(emt_export / "store", full, a_is_slice=True)
    assert sliced.agree and sliced.paired["surface"] == 1, sliced


# ------------------------------------------------------------------------ the same campaign, run again


def seiscreen(*args: str, cwd: Path, delay: float = 0.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "SEISCREEN_TEST_FORCE_DELAY": str(delay)}
    return subprocess.run([sys.executable, "-m", "seiscreen.cli", *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=cwd)


def assert_same_numbers(a: Path, b: Path, surfaces: int = 1) -> None:
    found = compare_stores(a, b, tolerance=MEV)
    assert found.agree and not found.notes, "\n".join([found.summary(), *map(str, found.differences),
                                                       *found.only_a, *found.only_b, *found.notes])
    assert found.paired["surface"] == surfaces and found.paired["hop"] >= surfaces and found.paired["minimum"] >= 1


@pytest.mark.slow  # about 20 s: three CLI processes, one of them starting a Dask cluster
def test_the_emt_demo_in_fresh_stores_gives_the_same_numbers_serial_or_on_two_workers(tmp_path):
    # The demo with a second facet, so that the two workers share the work and finish in either order.
    spec = yaml.safe_load(Path(DEMO).read_text())
    spec["materials"][0]["facets"].append([1, 1, 1])
    campaign = tmp_path / "emt-two-facets.yaml"
    campaign.write_text(yaml.safe_dump(spec))
    for name, extra in (("one", []), ("two", []), ("workers", ["--workers", "2"])):
        done = seiscreen("run", str(campaign), "--store", str(tmp_path / name), *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    assert_same_numbers(tmp_path / "one", tmp_path / "two", surfaces=2)
    assert_same_numbers(tmp_path / "one", tmp_path / "workers", surfaces=2)
    shown = seiscreen("compare", str(tmp_path / "one"), str(tmp_path / "workers"), cwd=tmp_path)
    assert shown.returncode == 0 and "agree within 0.001 eV" in shown.stdout, shown.stdout + shown.stderr


def minima_step_saved(store: Path) -> bool:
    """A minima search of the store has checkpointed a relaxed start (one file per start)."""
    return any(path.name.startswith("site-") for path in (store / "checkpoints").glob("minima-*/*"))


def neb_step_saved(store: Path) -> bool:
    """A NEB of the store has checkpointed its band three steps in."""
    found = list((store / "checkpoints").glob("neb-*.npz"))
    checkpoint = NebCheckpoint.load(found[0]) if found else None
    return checkpoint is not None and checkpoint.step >= 3


def kill_when(command: list[str], store: Path, ready, cwd: Path) -> None:
    """Run ``command`` (force calls slowed to 0.2 s), SIGKILL its process group once ``ready(store)``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEISCREEN_TEST_FORCE_DELAY": "0.2"}
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline, seen = time.monotonic() + 300, False
    try:
        while time.monotonic() < deadline and process.poll() is None and not seen:
            seen = ready(store)
            time.sleep(0.05)
        assert seen and process.poll() is None, "the campaign finished before it could be killed"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.slow  # about 20 s each: a run slowed down to be killed in its middle, its rerun and an unbroken run
@pytest.mark.parametrize("ready", [minima_step_saved, neb_step_saved], ids=["mid-minima", "mid-neb"])
def test_a_killed_and_resumed_run_gives_the_numbers_of_an_unbroken_one(tmp_path, ready):
    killed = tmp_path / "killed"
    kill_when([sys.executable, "-m", "seiscreen.cli", "run", DEMO, "--store", str(killed)], killed, ready, tmp_path)
    assert ready(killed)  # the rerun has the killed run's checkpoint to resume from
    resumed = seiscreen("run", DEMO, "--store", str(killed), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    unbroken = seiscreen("run", DEMO, "--store", str(tmp_path / "unbroken"), cwd=tmp_path)
    assert unbroken.returncode == 0, unbroken.stdout + unbroken.stderr
    assert_same_numbers(tmp_path / "unbroken", killed)
