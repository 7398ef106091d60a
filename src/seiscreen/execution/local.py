"""``seiscreen run --workers N``: the campaign's surfaces on N local worker processes (Dask ``LocalCluster``)."""

from __future__ import annotations

import logging

from rich.console import Console

from seiscreen.errors import SeiscreenError

# Every worker is one process with one thread and single-threaded maths libraries: N workers use N cores.
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def run_with_workers(campaign, location: str | None, n_workers: int, console: Console,
                     wait: bool = False) -> list[str]:
    """Run ``campaign`` on ``n_workers`` local processes; returns its protocol ids, one per fidelity. This process
    holds the store's writer lock (``wait``: for another run to finish) before any worker starts."""
    from distributed import Client, LocalCluster

    from seiscreen.execution.dispatch import execute_campaign
    from seiscreen.store import store_lock

    if n_workers < 1:
        raise SeiscreenError(f"--workers {n_workers}: give at least 1 worker")
    say = (lambda message: console.print(message, highlight=False))
    with store_lock(location, wait=wait, say=say), LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=logging.ERROR, env=SINGLE_THREADED) as cluster, Client(cluster) as client:
        return execute_campaign(campaign, location, client, console, engine=f"dask-local x{n_workers}")
