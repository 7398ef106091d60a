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

from seiscreen.errors import SeiscreenError
from seiscreen.execution import worker
from seiscreen.execution.status import StatusBook, surface_detail
from seiscreen.progress import Event
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
    return _job_documents(store, outside)


def _job_documents(store, uuids) -> dict:
    """The documents and bands of the jobs ``uuids``, ready for a worker's memory store."""
    if not uuids:
        return {"docs": [], "blobs": []}
    uuids = sorted(uuids)
    docs = [worker._plain(d) for d in store.docs_store.query({"uuid": {"$in": uuids}})]
    blobs = [worker._plain(b) for b in store.additional_stores["data"].query({"job_uuid": {"$in": uuids}})]
    return {"docs": docs, "blobs": blobs}


def _write(store, result: dict) -> None:
    """Blobs first, the surface's summary document last: a reader never sees a summary whose data is missing."""
    if result["blobs"]:
        store.additional_stores["data"].update(result["blobs"], key="blob_uuid")
    docs = sorted(result["docs"], key=lambda d: isinstance(d.get("output"), dict)
                  and d["output"].get("doc_type") == "surface")  # a job's output may be a list (a cell series)
    if docs:
        store.docs_store.update(docs, key=["uuid", "index"])


def _reason(exc: BaseException) -> str:
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return ("its worker died every time it ran it (killed, out of memory or walltime): rerun, or give the "
                "jobs more --time/--memory")
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def execute_campaign(campaign, location: str | None, client, console: Console, engine: str = "dask") -> list[str]:
    """Run ``campaign`` on the workers of the Dask ``client`` into the store at ``location``; returns the
    campaign's protocol ids, one per fidelity (for the ranking tables)."""
    from seiscreen.runner import campaign_protocols

    if campaign.finetune is not None:  # its rounds are jobs of the campaign's flow: `seiscreen run` runs them
        raise SeiscreenError("finetune: the active-learning loop runs in one process (`seiscreen run` without "
                             "--workers), not on Dask workers: drop --workers, or the finetune section")
    run = _Run(campaign, location, client, console, engine)
    for index, spec in enumerate(campaign.materials):
        for miller in spec.facets:
            if campaign.convergence is not None:  # one unit per series: its cells run in order, seeded
                run.series(index, spec.material, miller)
            else:
                run.plan(index, spec.material, miller)
    run.wait()
    references = run.surfaces
    _rank(campaign, run.store, references, run.runs)
    for level in range(1, len(campaign.fidelities or [])):
        references = run.funnel(references, level)
    run.book.finish()
    console.print(f"{run.display.counts['done']} surfaces done, {run.display.counts['failed']} failed in "
                  f"{time.monotonic() - run.display.started:.0f} s; worker logs: {run.runs / 'workers'}")
    return campaign_protocols(campaign)


class _Run:
    """The client's state while a campaign runs: the store (its only writer), the status book, the futures."""

    def __init__(self, campaign, location, client, console: Console, engine: str):
        self.campaign, self.client, self.console = campaign, client, console
        self.store = open_store(location)  # created here, once, before any result comes back
        root = resolve_location(location)
        self.runs = Path(root) / "runs" if "://" not in root else Path("seiscreen-runs").absolute()
        self.runs.mkdir(parents=True, exist_ok=True)
        self.checkpoints = str(Path(root) / "checkpoints") if "://" not in root else str(self.runs / "checkpoints")
        self.book = StatusBook(location, campaign.name, campaign.calculator, engine)
        self.events: queue.Queue = queue.Queue()
        client.subscribe_topic(worker.TOPIC, lambda event: self.events.put(event[1]))
        self.display = _Display()
        self.futures: dict = {}  # future -> (kind, unit key, material, miller, termination, calculator)
        self.surfaces: list = []  # this level's surfaces for the ranking: references to job outputs

    def plan(self, index: int, material: str, miller) -> None:
        key = self.book.key(material, miller)
        self.book.set(key, "pending", material, miller)
        from seiscreen.workflow.slabs import stored_cells

        spec = self.campaign.materials[index]
        stored = stored_cells(self.store, material, spec.adsorbate or self.campaign.adsorbate)  # cells it computed in
        future = self.client.submit(worker.plan_surfaces, self.campaign, index, list(miller), key, str(self.runs),
                                    stored, pure=False,
                                    key=f"terminations-{material}-{_facet(miller)}-{time.time_ns()}")
        self.futures[future] = ("plan", key, material, miller, None, None)

    def series(self, index: int, material: str, miller) -> None:
        """One (material, facet) of a convergence campaign: its whole cell series on one worker (each larger cell
        starts from the smaller cell's minima), with the store's finished documents of that facet to reuse."""
        from seiscreen.workflow.cells import convergence_cell

        key = self.book.key(material, miller)
        cell = convergence_cell(self.campaign, index, list(miller))
        cell.name = f"cell 0 {material} {''.join(map(str, miller))}"
        self.book.set(key, "pending", material, miller)
        self.display.counts["pending"] += 1
        self.surfaces.append(OutputReference(cell.uuid))  # the series' convergence documents
        upstream = _facet_documents(self.store, material, list(miller))
        task = self.client.submit(worker.run_surface, Flow([cell], output=cell.output).as_dict(), key,
                                  str(self.runs), upstream, self.checkpoints, pure=False,
                                  key=f"series-{material}-{_facet(miller)}-{time.time_ns()}")
        self.futures[task] = ("series", key, material, miller, None, None)

    def surface(self, flow_dict: dict, key: dict, content_hash: str | list[str] | None, output_uuid: str) -> None:
        """One surface: referred to if finished before (same content hash, or any of its identities), else sent to
        a worker."""
        material, miller, term, calculator = key["material"], key["miller"], key["termination_id"], key["calculator"]
        unit = self.book.key(material, miller, term, calculator)
        done_before = find_done_job(self.store, "surface", content_hash) if content_hash else None
        if done_before:  # finished by an earlier run with the same inputs (content hash)
            self.surfaces.append(OutputReference(done_before["uuid"]))
            self.book.set(unit, "done", material, miller, term, calculator=calculator,
                          detail="reused from the store")
            self.display.counts["done"] += 1
            return
        self.book.set(unit, "pending", material, miller, term, calculator=calculator)
        self.display.counts["pending"] += 1
        self.surfaces.append(OutputReference(output_uuid))
        upstream = _upstream(flow_dict, key, self.store)
        task = self.client.submit(worker.run_surface, flow_dict, unit, str(self.runs), upstream, self.checkpoints,
                                  pure=False, key=f"surface-{material}-{term}-{calculator}-{time.time_ns()}")
        self.futures[task] = ("surface", unit, material, miller, term, calculator)

    def wait(self) -> None:
        """Until every submitted task is back: write results, record states, submit the surfaces planned."""
        from distributed import wait

        display = self.display
        with Live(display.render(), console=self.console, refresh_per_second=2, transient=True) as live:
            while self.futures:
                try:
                    done, _ = wait(list(self.futures), timeout=0.5, return_when="FIRST_COMPLETED")
                except TimeoutError:  # nothing finished in this half second
                    done = []
                _drain(self.events, self.book, display)
                display.workers = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
                self.book.heartbeat()
                for future in done:
                    kind, key, material, miller, termination, calculator = self.futures.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # noqa: BLE001 - a failed unit is recorded, the campaign goes on
                        self.book.set(key, "failed", material, miller, termination, calculator=calculator,
                                      reason=_reason(exc))
                        if kind == "surface":
                            display.counts["failed"] += 1
                            display.counts["running"] = max(0, display.counts["running"] - 1)
                        self.console.print(f"[red]failed[/] {material}{_facet(miller)} {termination or ''}: "
                                           f"{_reason(exc)}")
                        continue
                    finally:
                        future.release()
                    if kind == "plan":
                        self.book.set(key, "done", material, miller, detail=f"{len(result)} termination(s)")
                        for planned in result:
                            self.surface(planned["flow"], planned["key"], planned["content_hash"],
                                         planned["output_uuid"])
                    elif kind == "series":
                        _write(self.store, result)
                        display.counts["pending"] = max(0, display.counts["pending"] - 1)
                        _record_series(result, self.book, key, material, miller, display, self.console)
                    else:
                        _write(self.store, result)
                        display.counts["running"] = max(0, display.counts["running"] - 1)
                        _record_surface(result, self.book, key, material, miller, termination, calculator,
                                        display, self.console)
                live.update(display.render())
            _drain(self.events, self.book, display)

    def funnel(self, lower: list, level: int) -> list:
        """Fidelity ``level`` of the funnel: seiscreen's own ``funnel`` job chooses the surfaces and builds their
        flows (seeded minima, warm-started bands); the flows go to the workers, the comparison runs here."""
        from jobflow import CURRENT_JOB, OnMissing

        from seiscreen.workflow.flows import funnel

        resolved = [ref.resolve(self.store, on_missing=OnMissing.NONE) for ref in lower]
        previous = CURRENT_JOB.store
        CURRENT_JOB.store = self.store  # as a job with expose_store sees it: finished surfaces are reused
        try:
            response = funnel.original(self.campaign, resolved, level)
        finally:
            CURRENT_JOB.store = previous
        self.surfaces = []
        follow = []
        for item in response.replace.jobs:
            if isinstance(item, Flow):  # one surface at this fidelity
                slab = next(a for job in item.jobs for a in job.function_args if hasattr(a, "key"))
                hops = item.jobs[-1]
                self.surface(item.as_dict(), slab.key.model_dump(mode="json"),
                             hops.function_kwargs.get("surface_hash"), item.output.uuid)
            elif getattr(item.function, "original", item.function) is not funnel.original:  # the comparison
                # (the next level's funnel job is not run here: execute_campaign calls the next level itself)
                item.hosts = []  # run alone here, out of the replaced flow it was built in
                follow.append(item)
        self.wait()
        run_locally(Flow(follow, name=f"{self.campaign.name} compare level {level}"), store=self.store,
                    create_folders=True, root_dir=self.runs, log=False, allow_external_references=True)
        higher = [a for item in follow for a in item.function_args[1:2]][0] if follow else []
        # The comparison's inputs are this level's surfaces: stored documents (reused) or references.
        return [OutputReference(h.uuid) if isinstance(h, OutputReference) else _stored_reference(self.store, h)
                for h in higher]


def _stored_reference(store, surface) -> OutputReference:
    """A reference to the stored job of a finished surface document (reused by the funnel)."""
    doc = find_done_job(store, "surface", getattr(surface, "content_hash", None) or surface.get("content_hash"))
    return OutputReference(doc["uuid"])


def _facet(miller) -> str:
    return "(" + "".join(str(i) for i in miller) + ")"


def _record_surface(result, book, key, material, miller, termination, calculator, display, console) -> None:
    surface = result["surface"]
    if isinstance(surface, dict) and surface.get("doc_type") == "surface" and surface["status"] != "failed":
        barrier = surface.get("barrier_1d") if surface.get("channel_only") else surface.get("barrier_2d")
        detail = surface_detail(surface["status"], barrier)
        book.set(key, "done", material, miller, termination, calculator=calculator, reason=surface.get("reason") or "",
                 detail=detail, worker=result["worker"], seconds=round(result["seconds"], 1))
        display.counts["done"] += 1
        console.print(f"done {material}{_facet(miller)} {termination}: {detail} "
                      f"({result['seconds']:.0f} s on {result['worker']})")
    else:
        said = (surface or {}).get("reason") if isinstance(surface, dict) else None
        reason = "; ".join(result["errors"]) or said or "the surface flow produced no summary"
        book.set(key, "failed", material, miller, termination, calculator=calculator, reason=reason,
                 worker=result["worker"], seconds=round(result["seconds"], 1))
        display.counts["failed"] += 1
        console.print(f"[red]failed[/] {material}{_facet(miller)} {termination}: {reason}")


def _record_series(result, book, key, material, miller, display, console) -> None:
    """A cell series back from its worker: each termination's verdict, or why the series failed."""
    docs = [d for d in result["surface"] or [] if d is not None] if isinstance(result["surface"], list) else []
    verdicts = [d if isinstance(d, dict) else d.model_dump(mode="json") for d in docs]
    if not verdicts:
        reason = "; ".join(result["errors"]) or "the cell series produced no verdict"
        book.set(key, "failed", material, miller, reason=reason, worker=result["worker"],
                 seconds=round(result["seconds"], 1))
        display.counts["failed"] += 1
        console.print(f"[red]failed[/] {material}{_facet(miller)}: {reason}")
        return
    detail = "; ".join(f"{v['key']['termination_id']} {v['status']} {v['ranked_barrier'] or float('nan'):.3f} eV"
                       for v in verdicts)
    book.set(key, "done", material, miller, detail=detail, worker=result["worker"],
             seconds=round(result["seconds"], 1))
    display.counts["done"] += 1
    console.print(f"done {material}{_facet(miller)}: {detail} ({result['seconds']:.0f} s on {result['worker']})")


def _facet_documents(store, material: str, miller: list[int]) -> dict:
    """The store's finished slabs' minima, hops and surfaces of one (material, facet), with their bands: what a
    worker running that facet's cell series reuses instead of recomputing."""
    criteria = {"output.key.material": material, "output.key.miller": miller,
                "output.doc_type": {"$in": ["minima", "hop", "surface"]}}
    return _job_documents(store, {d["uuid"] for d in store.query(criteria, properties=["uuid"])})


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
            if event["event"] == Event.HOP_DONE:
                display.hops_done += 1
            elif event["event"] == Event.NEB_STEP:
                display.neb = f"{fields['hop']} {fields['stage']} step {fields['step']} fmax {fields['fmax']:.3f}"


def _rank(campaign, store, references: list, runs: Path) -> None:
    """The campaign's ranking job on the client, over the surfaces now in the store, and the descriptor panel's jobs
    (bulk work: seconds per material with an ML preset)."""
    from seiscreen.workflow.cells import rank_converged
    from seiscreen.workflow.descriptors import descriptor_jobs
    from seiscreen.workflow.flows import rank_surfaces

    ranking = (rank_converged if campaign.convergence is not None else rank_surfaces)(references)
    ranking.name = f"ranking {campaign.name}"
    ranking.config = JobConfig(on_missing_references=OnMissing.NONE)
    flow = Flow([ranking, *descriptor_jobs(campaign)], name=f"{campaign.name} ranking")
    run_locally(flow, store=store, create_folders=True, root_dir=runs,
                log=False, allow_external_references=True)
