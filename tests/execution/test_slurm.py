"""A real SLURM: a one-node cluster in a temporary folder, an EMT campaign through `seiscreen submit`.

scripts/setup.sh installs Debian's slurm-wlm and munge (CI runs it as root on Debian 12), so this runs in CI.
It is skipped only where SLURM is absent and cannot be installed (not root, or no apt-get).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from seiscreen.execution.status import campaign_status
from seiscreen.results import load_results
from seiscreen.store import open_store

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "scripts" / "slurm-test-cluster.sh"
SEISCREEN = str(Path(sys.executable).with_name("seiscreen"))
DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch")
# Two materials, stand-in chemistry EMT knows (Au adatom on Al(100) and Cu(100)).
CAMPAIGN = {"name": "emt-slurm", "calculator": "emt", "adsorbate": "Au",
            "materials": [{"material": "Al"}, {"material": "Cu"}],
            "slab": {"min_thickness": 5.0, "vacuum": 10.0, "min_lateral_size": 5.5}}

pytestmark = pytest.mark.slow


def _slurm_available() -> bool:
    if all(shutil.which(tool) for tool in DAEMONS):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    subprocess.run(["bash", str(REPO / "scripts" / "setup.sh")], capture_output=True)  # installs them as root
    return all(shutil.which(tool) for tool in DAEMONS)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if not _slurm_available():
        pytest.skip("SLURM (slurm-wlm, munge) is not installed and cannot be installed here (needs root and apt)")
    if os.geteuid() != 0:
        pytest.skip("the one-node test cluster needs root (slurmd starts the jobs)")
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", str(CLUSTER), "start", str(folder)], capture_output=True, text=True,
                             timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    pids = {name: int((folder / f"{name}.pid").read_text()) for name in ("munged", "slurmctld", "slurmd")}
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf"), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    yield {"env": env, "folder": folder, "pids": pids}
    subprocess.run(["bash", str(CLUSTER), "stop", str(folder)], capture_output=True, timeout=60)
    for name, pid in pids.items():
        assert not _alive(pid), f"{name} (PID {pid}) still running after stop"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/status").read_text().count("State:\tZ")


def _squeue(env) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True, env=env, check=True)
    return out.stdout.split("\n")[:-1]


def test_submit_finishes_an_emt_campaign_on_slurm_jobs_even_when_they_are_killed(slurm, tmp_path):
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(yaml.safe_dump(CAMPAIGN))
    store = tmp_path / "store"
    command = [SEISCREEN, "submit", str(campaign), "--scheduler", "slurm", "--jobs", "2", "--cpus-per-task", "1",
               "--memory", "1GB", "--time", "00:15:00", "--store", str(store)]
    # Each NEB force call a little slower (the workers inherit it): on a loaded machine the status and squeue
    # polls below otherwise saw the campaign finish before they caught a surface running (CI, 2026-11-27).
    env = {**slurm["env"], "SEISCREEN_TEST_FORCE_DELAY": "0.05"}
    client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen_running, seen_jobs, killed = False, set(), set()
    deadline = time.monotonic() + 600
    while client.poll() is None and time.monotonic() < deadline:
        seen_jobs |= {line.split()[0] for line in _squeue(slurm["env"]) if " seiscreen " in f" {line} "}
        if store.exists() and not killed:
            status = subprocess.run([SEISCREEN, "status", "--store", str(store), "--format", "json"],
                                    capture_output=True, text=True, env=slurm["env"])
            if status.returncode == 0:
                seen_running = any(r["state"] == "running" and r["termination"] for r in json.loads(status.stdout))
            # A surface is on a worker: kill every running job, as a walltime or node loss would. The status can
            # run ahead of squeue (a job still PENDING or already COMPLETING), so poll again until one was killed.
            running = {line.split()[0] for line in _squeue(slurm["env"]) if line.endswith(" RUNNING")}
            if seen_running and running:
                subprocess.run(["scancel", *sorted(running)], env=slurm["env"], check=True)
                killed = running
        time.sleep(0.5)
    if client.poll() is None:
        client.send_signal(signal.SIGINT)
    output = client.communicate(timeout=60)[0]
    assert client.returncode == 0, output

    # Worker jobs went through SLURM (and are gone now); their logs are named by SLURM job id.
    assert seen_jobs, "no seiscreen job was ever in the SLURM queue"
    logs = {p.stem.split("-")[-1] for p in (store / "runs" / "batch-logs").glob("seiscreen-*.out")}
    assert logs and logs <= seen_jobs  # at least one job ran a worker (a second may be cancelled while queued)
    assert killed and logs - killed, "no replacement job ran after the running ones were killed"
    assert not [line for line in _squeue(slurm["env"]) if "seiscreen" in line]
    assert seen_running, "status never showed a surface running"

    surfaces = load_results(str(store)).surfaces
    assert sorted(surfaces["material"]) == ["Al", "Cu"]
    assert (surfaces["status"] == "ranked").all() and (surfaces["barrier"] > 0.1).all()
    # Nothing lost, nothing twice: each surface written once although its first worker was killed mid-surface.
    assert open_store(str(store)).count({"output.doc_type": "surface"}) == 2
    rows = [r for r in campaign_status(str(store)) if r["termination"]]
    assert [r["state"] for r in rows] == ["done", "done"] and all(r["worker"] for r in rows)
    status = subprocess.run([SEISCREEN, "status", "--store", str(store)], capture_output=True, text=True,
                            env=slurm["env"])
    assert status.returncode == 0 and "2 done" in status.stdout and "ranked" in status.stdout
