"""The ``seiscreen submit`` and ``seiscreen status`` commands (registered on the CLI's Typer app by cli.py with
:func:`register`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from seiscreen.cli_common import (PRESETS_HELP, clean_errors, console, exit_for_failures, refuse_results_file,
                                  use_preset_files)
from seiscreen.cli_tables import campaign_surfaces, print_ranking
from seiscreen.errors import SeiscreenError

STATE_STYLE = {"done": "green", "running": "cyan", "pending": "white", "failed": "red", "interrupted": "yellow"}


def register(app: typer.Typer) -> None:
    """Add ``submit`` and ``status`` to ``app``, each turning bad input into one ``error:`` line and exit status 2
    (:func:`~seiscreen.cli_common.clean_errors`)."""
    app.command()(clean_errors(submit))
    app.command()(clean_errors(status))


def submit(
    campaign_file: Annotated[Path, typer.Argument(help="campaign YAML (see workflows/)", show_default=False)],
    scheduler: Annotated[str, typer.Option(help="slurm, pbs, lsf or sge")] = "slurm",
    partition: Annotated[str | None, typer.Option(help="partition (queue) of the worker jobs")] = None,
    time: Annotated[str, typer.Option(help="walltime of each worker job")] = "01:00:00",
    cpus_per_task: Annotated[int, typer.Option(help="cores per job = worker processes per job")] = 1,
    memory: Annotated[str, typer.Option(help="memory per job")] = "2GB",
    account: Annotated[str | None, typer.Option(help="account (SLURM, PBS) or project (LSF, SGE)")] = None,
    jobs: Annotated[int, typer.Option(help="at most this many worker jobs at once")] = 2,
    job_extra: Annotated[list[str] | None, typer.Option(help="extra directive, e.g. --qos=short (repeat)")]
    = None,
    interface: Annotated[str | None, typer.Option(help="network interface for the workers, e.g. ib0")] = None,
    engine: Annotated[str, typer.Option(help="dask (dask-jobqueue) or jobflow-remote (needs MongoDB)")]
    = "dask",
    project: Annotated[str, typer.Option(help="jobflow-remote project name")] = "seiscreen",
    worker: Annotated[str | None, typer.Option(help="jobflow-remote worker name (default: the first)")]
    = None,
    calculator: Annotated[str | None, typer.Option(help="override the campaign's calculator preset")] = None,
    store: Annotated[str | None, typer.Option(help="store folder or mongodb:// URI [env SEISCREEN_STORE]")]
    = None,
    presets: Annotated[list[Path] | None, typer.Option("--presets", help=PRESETS_HELP)] = None,
) -> None:
    """Run a campaign on a batch scheduler: one Dask worker per job, one task per surface. Exit status as
    `seiscreen run`'s: 0 when every surface has its result, 1 when one failed, 2 for bad input."""
    from seiscreen.campaign import load_campaign
    from seiscreen.execution.slurm import BatchSettings, submit_campaign
    from seiscreen.workflow.flows import plan_surfaces
    from seiscreen.results import load_results

    use_preset_files(presets)  # before the campaign: its calculator may name one
    campaign = load_campaign(campaign_file, calculator=calculator)
    batch = BatchSettings(scheduler=scheduler, partition=partition, time=time, cpus_per_task=cpus_per_task,
                          memory=memory, account=account, jobs=jobs, job_extra=list(job_extra or []),
                          interface=interface,
                          cores_per_worker=campaign.parallel.cores)
    if engine == "jobflow-remote":
        from seiscreen.execution.remote import submit_with_jobflow_remote

        ids = submit_with_jobflow_remote(campaign, project, worker, batch)
        console.print(f"queued {len(ids)} job(s) in jobflow-remote project {project!r}: follow them with "
                      "`jf job list`; results with `seiscreen results --store mongodb://...`")
        return
    if engine != "dask":
        raise SeiscreenError(f"unknown engine {engine!r}: use dask or jobflow-remote")
    batch.check()
    location = store or campaign.store
    refuse_results_file(location)
    planned = plan_surfaces(campaign)  # bad materials or facets fail here, before the store is created
    protocols = submit_campaign(campaign, location, batch, console)
    print_ranking(campaign_surfaces(load_results(location).surfaces, protocols), title=f"{campaign.name}: ranking")
    exit_for_failures(campaign, location, protocols, planned)  # the exit status of `seiscreen run`


def status(
    store: Annotated[str | None, typer.Option(help="store folder or mongodb:// URI [env SEISCREEN_STORE]")]
    = None,
    campaign: Annotated[str | None, typer.Option(help="only this campaign (its name)")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Per material and facet: which surfaces are done, running, failed (and why) or pending."""
    from seiscreen.execution.status import campaign_status

    if format not in ("table", "json"):
        raise SeiscreenError(f"unknown format {format!r}: use table or json")
    rows = campaign_status(store, campaign)
    if format == "json":
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    print_status(rows, console)


def print_status(rows: list[dict], console: Console) -> None:
    """The table of ``seiscreen status``: one row per surface (``execution.status.campaign_status`` rows)."""
    if not rows:
        console.print("nothing in this store yet")
        return
    counts = {state: sum(r["state"] == state for r in rows if r["termination"]) for state in STATE_STYLE}
    campaigns = sorted({r["campaign"] for r in rows if r["campaign"]})
    table = Table(title=f"{', '.join(campaigns) or 'store'}: "
                        + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + " surfaces")
    several = len(campaigns) > 1
    fidelities = len({r["calculator"] for r in rows}) > 1
    for column in (["campaign"] if several else []) + (["calculator"] if fidelities else []) + [
            "material", "facet", "termination", "state", "result / reason", "worker", "updated"]:
        table.add_column(column, overflow="fold")
    for r in rows:
        style = STATE_STYLE.get(r["state"], "white")
        said = r["reason"] if r["state"] in ("failed", "interrupted") else (r["detail"] or r["reason"])
        updated = (r["updated_at"] or "").replace("T", " ")[:19]
        table.add_row(*([r["campaign"] or "-"] if several else []), *([r["calculator"]] if fidelities else []),
                      r["material"], r["facet"],
                      r["termination"] or "(cutting slabs)", f"[{style}]{r['state']}[/]", said or "",
                      r["worker"] or "", updated)
    console.print(table)
