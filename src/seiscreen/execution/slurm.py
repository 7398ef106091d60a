"""``seiscreen submit --scheduler slurm``: the campaign's surfaces on batch jobs, through dask-jobqueue.

``seiscreen submit`` is the Dask client and scheduler (run it on a login node, in tmux or ``nohup``); every
batch job it submits is a Dask worker (``--cpus-per-task`` single-threaded worker processes) that takes surfaces
until the campaign is done. Jobs come and go with the work (``adapt``, at most ``--jobs``): a job killed or out
of walltime loses only the surfaces it was running, which Dask gives to another job (up to 3 times). PBS, LSF and
SGE are the same code with another dask-jobqueue cluster class (``--scheduler pbs|lsf|sge``).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from seiscreen.errors import SeiscreenError

CLUSTER_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "lsf": "LSFCluster", "sge": "SGECluster"}
SUBMIT_COMMANDS = {"slurm": "sbatch", "pbs": "qsub", "lsf": "bsub", "sge": "qsub"}


@dataclass
class BatchSettings:
    """What each batch job asks for. Names follow SLURM; dask-jobqueue translates them for the others."""

    scheduler: str = "slurm"
    partition: str | None = None  # SLURM partition / PBS, LSF, SGE queue
    time: str = "01:00:00"  # walltime of each worker job
    cpus_per_task: int = 1  # cores per job = worker processes per job x cores_per_worker
    # Cores each worker's calculations use: the campaign's parallel ranks x images_at_once (seiscreen.parallel).
    cores_per_worker: int = 1
    memory: str = "2GB"  # per job
    account: str | None = None  # SLURM/PBS account, LSF/SGE project
    jobs: int = 2  # at most this many worker jobs at once
    job_extra: list[str] = field(default_factory=list)  # extra directives, e.g. "--qos=short"
    interface: str | None = None  # network interface the workers reach the client on (e.g. ib0)
    python: str = sys.executable  # the same environment on the compute nodes (shared file system)

    def check(self, need_commands: bool = True) -> None:
        if self.scheduler not in CLUSTER_CLASSES:
            raise SeiscreenError(f"unknown scheduler {self.scheduler!r}: use one of {', '.join(CLUSTER_CLASSES)}")
        if self.cpus_per_task < 1 or self.jobs < 1:
            raise SeiscreenError("--cpus-per-task and --jobs must be at least 1")
        if self.cpus_per_task % self.cores_per_worker:
            raise SeiscreenError(f"--cpus-per-task {self.cpus_per_task} does not hold whole workers: the campaign's "
                                 f"parallel settings use {self.cores_per_worker} cores per worker (ranks x "
                                 f"images_at_once): ask for a multiple of {self.cores_per_worker}")
        import shutil

        if need_commands and shutil.which(SUBMIT_COMMANDS[self.scheduler]) is None:
            raise SeiscreenError(f"{SUBMIT_COMMANDS[self.scheduler]} not found: run `seiscreen submit` where "
                                 f"{self.scheduler} commands work (a login node), or use `seiscreen run --workers N`")


def make_cluster(settings: BatchSettings, log_directory: Path):
    """The dask-jobqueue cluster for ``settings`` (no job submitted yet)."""
    import dask_jobqueue

    settings.check(need_commands=False)
    cls = getattr(dask_jobqueue, CLUSTER_CLASSES[settings.scheduler])
    from seiscreen.user_presets import child_environment

    # The user presets of this process, for the workers (a scheduler need not pass on the environment).
    exports = [f"export {name}={shlex.quote(value)}" for name, value in child_environment().items()]
    kwargs = dict(cores=settings.cpus_per_task, processes=settings.cpus_per_task // settings.cores_per_worker,
                  memory=settings.memory,
                  walltime=settings.time, queue=settings.partition, job_name="seiscreen",
                  python=shlex.quote(settings.python), log_directory=str(log_directory),
                  job_extra_directives=list(settings.job_extra), interface=settings.interface,
                  # one thread per worker process, and single-threaded maths libraries in it
                  job_script_prologue=["export OMP_NUM_THREADS=1", "export MKL_NUM_THREADS=1",
                                       "export OPENBLAS_NUM_THREADS=1", *exports],
                  scheduler_options={"dashboard_address": ":0"})  # any free port: no clash
    if settings.account:
        kwargs["account" if settings.scheduler in ("slurm", "pbs") else "project"] = settings.account
    if settings.cores_per_worker > 1:  # the other cores are the calculations' (MPI ranks, image processes), not
        kwargs["worker_extra_args"] = ["--nthreads", "1"]  # Dask threads: click keeps the last --nthreads given
    return cls(**kwargs)


def submit_campaign(campaign, location: str | None, settings: BatchSettings, console: Console) -> list[str]:
    """Run ``campaign`` on batch jobs until it is done; returns its protocol ids, one per fidelity. This process
    (the client, the store's only writer) holds the store's writer lock before any job is queued."""
    from distributed import Client

    from seiscreen.execution.dispatch import execute_campaign
    from seiscreen.store import resolve_location, store_lock

    root = resolve_location(location)
    logs = (Path(root) if "://" not in root else Path("seiscreen-runs").absolute()) / "runs" / "batch-logs"
    logs.mkdir(parents=True, exist_ok=True)
    settings.check()
    with store_lock(location, say=console.print), make_cluster(settings, logs) as cluster, Client(cluster) as client:
        console.print(f"{settings.scheduler}: up to {settings.jobs} job(s) of {settings.cpus_per_task} core(s), "
                      f"{settings.memory}, {settings.time}; job logs in {logs}")
        cluster.adapt(minimum_jobs=1, maximum_jobs=settings.jobs)
        return execute_campaign(campaign, location, client, console, engine=f"dask-jobqueue {settings.scheduler}")
