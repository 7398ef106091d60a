"""The client side of a parallel run: hand surfaces to Dask workers, write what they return, rank at the end.

Works with any Dask cluster (local processes, or batch jobs through dask-jobqueue). Order of work:
1. one task per (material, facet) cuts its terminations (seiscreen's TerminationsMaker, on a worker);
2. one task per (material, facet, termination) runs that surface's jobflow Flow (minima, NEBs, summary);
3. the client writes each finished surface's documents into the store (it is the only writer), records the
   state of every unit (see :mod:`seiscreen.execution.status`), then runs the ranking (and the fidelity funnel,
   if the campaign has one) with jobflow on the client.
Reruns reuse finished work (issue 6's content hashes): a surface already finished in the store is not sent
again, and a surface's worker gets its finished minima and hops in its memory store, so the jobs reuse them.
A rerun after a killed client or batch job therefore finishes the work instead of repeating it.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Flow, JobConfig, OnMissing, OutputReference, run_locally
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from seiscreen.execution import worker
from seiscreen.execution.status import StatusBook
from seiscreen.store import find_done_job, open_store, resolve_location

log = logging.getLogger(__name__)


@dataclass
class _Display:
    started: float = field(default_factory=time.monotonic)
    counts: dict = field(default_factory=lambda: {"pending": 0, "running": 0, "done": 0, "failed": 0})
    hops_done: int = 0
    workers: int = 0
    neb: str = ""

    def render(self) -> Group:
        table = Table.grid(padding=(0, 2))
        c = self.counts
        table.add_row("surfaces", f"{c['done']} done, {c['running']} running, {c['pending']} pending, "
                                  f"{c['failed']} failed")
        table.add_row("hops (NEB)", f"{self.hops_done} done")
        table.add_row("workers", str(self.workers))
        table.add_row("band", self.neb or "-")
        table.add_row("elapsed", f"{time.monotonic() - self.started:.0f} s")
        return Group(table)


def _upstream(flow_dict: dict, key: dict, store) -> dict:
    """Documents a surface's worker needs from the store: those of jobs outside the flow that it references
    (e.g. a lower fidelity's bands), and this surface's finished minima and hops (reused, not recomputed)."""
    flow = Flow.from_dict(flow_dict)
    inside = set(flow.all_uuids)
    outside = {ref.uuid for job, _ in flow.iterflow() for ref in job.input_references} - inside
    same_surface = {f"output.key.{field}": value for field, value in key.items()}
    outside |= {d["uuid"] for d in store.query({**same_surface, "output.doc_type": {"$in": ["minima", "hop"]}},
                                               properties=["uuid"])}
    if not outside:
        return {"docs": [], "blobs": []}
    outside = sorted(outside)
    docs = [worker._plain(d) for d in store.docs_store.query({"uuid": {"$in": outside}})]
    blobs = [worker._plain(b) for b in store.additional_stores["data"].query({"job_uuid": {"$in": outside}})]
    return {"docs": docs, "blobs": blobs}


def _write(store, result: dict) -> None:
    """Blobs first, the surface's summary document last: a reader never sees a summary whose data is missing."""
    if result["blobs"]:
        store.additional_stores["data"].update(result["blobs"], key="blob_uuid")
    docs = sorted(result["docs"], key=lambda d: (d.get("output") or {}).get("doc_type") == "surface")
    if docs:
        store.docs_store.update(docs, key=["uuid", "index"])


def _reason(exc: BaseException) -> str:
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return ("its worker died every time it ran it (killed, out of memory or walltime): rerun, or give the "
                "jobs more --time/--memory")
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def execute_campaign(campaign, location: str | None, client, console: Console, engine: str = "dask") -> str:
    """Run ``campaign`` on the workers of the Dask ``client`` into the store at ``location``; returns the
    campaign's protocol id (for the ranking table)."""
    from seiscreen.runner import campaign_protocol

    store = open_store(location)  # created here, once, before any result comes back
    root = resolve_location(location)
    runs = Path(root) / "runs" if "://" not in root else Path("seiscreen-runs").absolute()
    runs.mkdir(parents=True, exist_ok=True)
    checkpoints = str(Path(root) / "checkpoints") if "://" not in root else str(runs / "checkpoints")
    book = StatusBook(location, campaign.name, campaign.calculator, engine)
    protocol = campaign_protocol(campaign)
    events: queue.Queue = queue.Queue()
    client.subscribe_topic(worker.TOPIC, lambda event: events.put(event[1]))
    display = _Display()
    futures: dict = {}  # future -> (kind, unit key, material, miller)
    surfaces: list = []  # the campaign's surfaces for the ranking: stored documents or references to outputs

    def set_state(key, state, material, miller, termination=None, **extra):
        book.set(key, state, material, miller, termination, **extra)

    for index, spec in enumerate(campaign.materials):
        for miller in spec.facets:
            key = book.key(spec.material, miller)
            set_state(key, "pending", spec.material, miller)
            future = client.submit(worker.plan_surfaces, campaign, index, list(miller), key, str(runs), pure=False,
                                   key=f"terminations-{spec.material}-{''.join(map(str, miller))}-{time.time_ns()}")
            futures[future] = ("plan", key, spec.material, miller, None)

    from distributed import wait

    with Live(display.render(), console=console, refresh_per_second=2, transient=True) as live:
        while futures:
            try:
                done, _ = wait(list(futures), timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in this half second
                done = []
            _drain(events, book, display)
            display.workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            book.heartbeat()
            for future in done:
                kind, key, material, miller, termination = futures.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a failed unit is recorded, the campaign goes on
                    set_state(key, "failed", material, miller, termination, reason=_reason(exc))
                    if kind == "surface":
                        display.counts["failed"] += 1
                        display.counts["running"] = max(0, display.counts["running"] - 1)
                    console.print(f"[red]failed[/] {material}{_facet(miller)} {termination or ''}: {_reason(exc)}")
                    continue
                finally:
                    future.release()
                if kind == "plan":
                    set_state(key, "done", material, miller, detail=f"{len(result)} termination(s)")
                    for planned in result:
                        term = planned["key"]["termination_id"]
                        unit = book.key(material, miller, term)
                        done_before = find_done_job(store, "surface", planned["content_hash"])
                        if done_before:  # finished by an earlier run with the same inputs (content hash)
                            surfaces.append(OutputReference(done_before["uuid"]))
                            set_state(unit, "done", material, miller, term, detail="reused from the store")
                            display.counts["done"] += 1
                            continue
                        set_state(unit, "pending", material, miller, term)
                        display.counts["pending"] += 1
                        surfaces.append(OutputReference(planned["output_uuid"]))
                        upstream = _upstream(planned["flow"], planned["key"], store)
                        task = client.submit(worker.run_surface, planned["flow"], unit, str(runs), upstream,
                                             checkpoints, pure=False,
                                             key=f"surface-{material}-{term}-{time.time_ns()}")
                        futures[task] = ("surface", unit, material, miller, term)
                else:
                    _write(store, result)
                    display.counts["running"] = max(0, display.counts["running"] - 1)
                    _record_surface(result, book, key, material, miller, termination, display, console)
            live.update(display.render())
        _drain(events, book, display)
    _rank_and_funnel(campaign, store, surfaces, runs)
    book.finish()
    console.print(f"{display.counts['done']} surfaces done, {display.counts['failed']} failed in "
                  f"{time.monotonic() - display.started:.0f} s; worker logs: {runs / 'workers'}")
    return protocol


def _facet(miller) -> str:
    return "(" + "".join(str(i) for i in miller) + ")"


def _record_surface(result, book, key, material, miller, termination, display, console) -> None:
    surface = result["surface"]
    if isinstance(surface, dict) and surface.get("doc_type") == "surface" and surface["status"] != "failed":
        barrier = surface.get("barrier_1d") if surface.get("channel_only") else surface.get("barrier_2d")
        detail = surface["status"] + (f" {barrier:.3f} eV" if surface["status"] == "ranked" else "")
        book.set(key, "done", material, miller, termination, reason=surface.get("reason") or "", detail=detail,
                 worker=result["worker"], seconds=round(result["seconds"], 1))
        display.counts["done"] += 1
        console.print(f"done {material}{_facet(miller)} {termination}: {detail} "
                      f"({result['seconds']:.0f} s on {result['worker']})")
    else:
        said = (surface or {}).get("reason") if isinstance(surface, dict) else None
        reason = "; ".join(result["errors"]) or said or "the surface flow produced no summary"
        book.set(key, "failed", material, miller, termination, reason=reason, worker=result["worker"],
                 seconds=round(result["seconds"], 1))
        display.counts["failed"] += 1
        console.print(f"[red]failed[/] {material}{_facet(miller)} {termination}: {reason}")


def _drain(events: queue.Queue, book: StatusBook, display: _Display) -> None:
    while True:
        try:
            event = json.loads(events.get_nowait())
        except queue.Empty:
            return
        if event["kind"] == "started":
            book.update(event["unit"], state="running", worker=event["worker"])
            if event["unit"].count("/") == 4:  # a surface, not the planning unit of a facet
                display.counts["pending"] = max(0, display.counts["pending"] - 1)
                display.counts["running"] += 1
        elif event["kind"] == "progress":
            fields = event["fields"]
            if event["event"] == "hop_done":
                display.hops_done += 1
            elif event["event"] == "neb_step":
                display.neb = f"{fields['hop']} {fields['stage']} step {fields['step']} fmax {fields['fmax']:.3f}"


def _rank_and_funnel(campaign, store, references: list, runs: Path) -> None:
    """The campaign's ranking job (and fidelity funnel) on the client, over the surfaces now in the store."""
    from seiscreen.flows import funnel, rank_surfaces

    ranking = rank_surfaces(references)
    ranking.name = f"ranking {campaign.name}"
    ranking.config = JobConfig(on_missing_references=OnMissing.NONE)
    jobs = [ranking]
    if campaign.fidelities:
        # The funnel's higher-fidelity surfaces run on the client with jobflow (not spread over the workers).
        step = funnel(campaign, references, 1)
        step.name = f"funnel {campaign.name} -> {campaign.fidelities[1]}"
        step.config = JobConfig(on_missing_references=OnMissing.NONE, expose_store=True)
        jobs.append(step)
    run_locally(Flow(jobs, name=f"{campaign.name} ranking"), store=store, create_folders=True, root_dir=runs,
                log=False, allow_external_references=True)
