"""``seiscreen submit --engine jobflow-remote``: hand the campaign's flow to jobflow-remote (needs MongoDB).

For groups that run a MongoDB server: jobflow-remote's runner submits every job of the flow (each minima search,
each NEB hop, each summary) as its own batch job, including the jobs that flows add while they run. The
results go to the same MongoDB collections that ``seiscreen results --store mongodb://...`` reads (database
``seiscreen``, collections ``jobs`` and ``jobs_data``).

:func:`project_config` writes the jobflow-remote project (``workflows/engines/jobflow-remote.yaml`` is the same
template); :func:`validate_project` checks it with jobflow-remote's own pydantic model.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from seiscreen.errors import SeiscreenError
from seiscreen.execution.slurm import BatchSettings
from seiscreen.store import DATABASE_NAME

TEMPLATE = Path(__file__).resolve().parents[3] / "workflows" / "engines" / "jobflow-remote.yaml"
PLACEHOLDER_URI = "mongodb://USER:PASSWORD@mongodb.example.org:27017/seiscreen"


def projects_folder() -> Path:
    """Where jobflow-remote looks for projects ($JFREMOTE_PROJECTS_FOLDER, else ~/.jfremote)."""
    return Path(os.environ.get("JFREMOTE_PROJECTS_FOLDER") or Path.home() / ".jfremote")


def _mongo(uri: str, collection: str) -> dict:
    return {"type": "MongoURIStore", "uri": uri, "database": DATABASE_NAME, "collection_name": collection}


def project_config(name: str = "seiscreen", mongodb_uri: str = PLACEHOLDER_URI,
                   batch: BatchSettings | None = None, work_dir: str | None = None,
                   python: str = sys.executable) -> dict:
    """A jobflow-remote project: one worker on this machine's batch scheduler, results in seiscreen's collections.

    ``type: local`` means the runner (``jf runner start``) runs where the scheduler's commands work (a login
    node); for a cluster reached by SSH change it to ``remote`` and add ``host``.
    """
    batch = batch or BatchSettings()
    resources = {"time": batch.time, "ntasks": 1, "cpus_per_task": batch.cpus_per_task, "mem": batch.memory}
    if batch.partition:
        resources["partition"] = batch.partition
    if batch.account:
        resources["account"] = batch.account
    venv = Path(python).parent
    return {
        "name": name,
        "workers": {
            "cluster": {
                "type": "local",
                "scheduler_type": batch.scheduler,
                "work_dir": work_dir or str(Path.home() / "seiscreen-jobs"),
                "resources": resources,
                "pre_run": f"source {venv}/activate\nexport OMP_NUM_THREADS={batch.cpus_per_task}",
                "max_jobs": batch.jobs,
            }
        },
        "queue": {"store": _mongo(mongodb_uri, "jf_jobs"), "flows_collection": "jf_flows"},
        "jobstore": {"docs_store": _mongo(mongodb_uri, "jobs"),
                     "additional_stores": {"data": _mongo(mongodb_uri, "jobs_data")}},
        "exec_config": {},
    }


def validate_project(config: dict):
    """jobflow-remote's ``Project`` model of ``config``; a one-line SeiscreenError if it does not validate."""
    try:
        from jobflow_remote.config.base import Project
    except ImportError:
        raise SeiscreenError("jobflow-remote is not installed: pip install 'seiscreen[cluster]'") from None
    from pydantic import ValidationError

    try:
        return Project.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise SeiscreenError(f"jobflow-remote project: {where}: {first['msg']}: fix the project file") from None


def write_project(config: dict, folder: Path | None = None) -> Path:
    validate_project(config)
    folder = folder or projects_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def submit_with_jobflow_remote(campaign, project: str, worker: str | None, batch: BatchSettings) -> list[str]:
    """Add the campaign's flow to the jobflow-remote queue of ``project``; returns the job ids.

    When the project does not exist yet, its template is written first and the user is told to fill it in.
    """
    from seiscreen.workflow.flows import campaign_flow, plan_surfaces

    path = projects_folder() / f"{project}.yaml"
    if not path.exists():
        written = write_project(project_config(project, batch=batch))
        raise SeiscreenError(f"no jobflow-remote project {project!r}: wrote a template to {written}; put your "
                             "MongoDB URI and scheduler settings in it, check it with `jf project check`, start "
                             "the runner with `jf runner start`, then rerun this command")
    config = yaml.safe_load(path.read_text())
    validate_project(config)
    if PLACEHOLDER_URI in path.read_text():
        raise SeiscreenError(f"{path} still has the placeholder MongoDB URI: put your server's URI in it")
    from jobflow_remote import submit_flow

    plan_surfaces(campaign)  # bad input fails here, before anything is queued
    return submit_flow(campaign_flow(campaign), worker=worker, project=project, allow_external_references=True)
