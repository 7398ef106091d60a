"""What a Dask worker runs: cut the terminations of one facet, or run one surface flow into an in-memory store.

Workers never open the campaign's store: they return their documents to the client, the single writer (SQLite
on a shared file system is not safe with writers on several nodes). Progress and "started" events go to the
client through Dask's event log (``Worker.log_event``), so the client can show them and record who runs what.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from pathlib import Path

from jobflow import Flow, JobStore, run_locally

TOPIC = "seiscreen"  # Dask event topic the client subscribes to
_worker_log_ready = False


def send_event(kind: str, **fields) -> None:
    """An event for the client (no-op outside a Dask worker, e.g. in a test calling these functions directly)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:
        return
    worker.log_event(TOPIC, json.dumps({"kind": kind, **fields}, default=float))


class _ForwardProgress(logging.Handler):
    """Sends the jobs' progress events (seiscreen.progress) on to the client."""

    def __init__(self, unit: str):
        super().__init__(logging.INFO)
        self.unit = unit

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "seiscreen_event", None)  # a progress.Event: a str, sent as its value
        if event is not None:
            send_event("progress", unit=self.unit, event=str(event), fields=record.seiscreen_fields)


class _JobFailures(logging.Handler):
    """Collects jobflow's reports of jobs that raised: the last traceback line is the reason given to the user."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "failed with exception" in message:
            name = message.split(" failed with exception")[0]
            last = [line for line in message.splitlines() if line.strip()][-1]
            self.reasons.append(f"{name}: {last.strip()}")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _log_to_file(runs_dir: str) -> None:
    """Once per worker process: jobflow's and seiscreen's log into <store>/runs/workers/<host>-<pid>.log."""
    global _worker_log_ready
    if _worker_log_ready:
        return
    for module in ("jobflow", "pymatgen", "spglib", "monty", "maggma", "ase"):  # library chatter, as in the CLI
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
    folder = Path(runs_dir) / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / f"{socket.gethostname()}-{os.getpid()}.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("jobflow", "seiscreen"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    _worker_log_ready = True


def memory_store() -> JobStore:
    from maggma.stores import MemoryStore

    from seiscreen.store_collections import TrustedJobStore

    # Filled with the campaign store's documents: refuses one naming code outside seiscreen and jobflow, as that does
    store = TrustedJobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    return store


def plan_surfaces(campaign, material_index: int, miller: list[int], unit: str, runs_dir: str,
                  stored: list[dict] | None = None) -> list[dict]:
    """The terminations of one (material, facet): one serialised surface flow per termination.

    Uses seiscreen's own TerminationsMaker and SurfaceFlowMaker (the slab cut, and the bulk relaxation when the
    campaign asks for the calculator's lattice), so the surfaces are exactly those of ``seiscreen run``.
    """
    from seiscreen.workflow.surface import surface_makers
    from seiscreen.workflow.slabs import TerminationsMaker

    _log_to_file(runs_dir)
    send_event("started", unit=unit, worker=worker_name())
    spec = campaign.materials[material_index]
    surface_maker, settings = surface_makers(campaign, campaign.calculator, campaign.slab_for(spec), spec.adsorbate)
    maker = TerminationsMaker(surface_flow_maker=surface_maker, only=spec.terminations, **settings)
    planned = []
    for slab in maker.slab_docs(spec.material, list(miller), stored=stored or []):  # the client's store's cells
        flow = surface_maker.make(slab)
        planned.append({"key": slab.key.model_dump(mode="json"), "content_hash": surface_maker.content_hashes(slab),
                        "output_uuid": flow.output.uuid, "flow": flow.as_dict()})
    return planned


def run_surface(flow_dict: dict, unit: str, runs_dir: str, upstream: dict | None = None,
                checkpoints: str | None = None) -> dict:
    """Run one surface flow with jobflow's ``run_locally`` into a memory store; return every document it wrote.

    ``upstream``: documents from the campaign's store ({"docs": [...], "blobs": [...]}) copied into the memory
    store first: those the flow references (a lower fidelity's bands) and this surface's finished minima and hops,
    which the jobs then reuse instead of recomputing. ``checkpoints``: the folder for NEB checkpoints (shared
    with serial runs, so a hop killed with its batch job resumes from its last band).
    """
    _log_to_file(runs_dir)
    if checkpoints:
        os.environ["SEISCREEN_CHECKPOINTS"] = checkpoints
    started = time.monotonic()
    send_event("started", unit=unit, worker=worker_name())
    flow = Flow.from_dict(flow_dict)
    store = memory_store()
    upstream = upstream or {"docs": [], "blobs": []}
    if upstream["docs"]:
        store.docs_store.update(upstream["docs"], key=["uuid", "index"])
    if upstream["blobs"]:
        store.additional_stores["data"].update(upstream["blobs"], key="blob_uuid")
    failures, forward = _JobFailures(), _ForwardProgress(unit)
    jobflow_log, progress_log = logging.getLogger("jobflow"), logging.getLogger("seiscreen.progress")
    jobflow_log.addHandler(failures)
    progress_log.addHandler(forward)
    jobflow_log.setLevel(logging.INFO)
    progress_log.setLevel(logging.INFO)
    try:
        run_locally(flow, store=store, create_folders=True, root_dir=runs_dir, log=False,
                    allow_external_references=True)
    finally:
        jobflow_log.removeHandler(failures)
        progress_log.removeHandler(forward)
    known = {d["uuid"] for d in upstream["docs"]}
    docs = [_plain(d) for d in store.docs_store.query({}) if d["uuid"] not in known]
    blobs = [_plain(b) for b in store.additional_stores["data"].query({}) if b["job_uuid"] not in known]
    try:
        surface = store.get_output(flow.output.uuid, which="last", load=False)
    except ValueError:
        surface = None
    if hasattr(surface, "model_dump"):
        surface = surface.model_dump(include={"doc_type", "status", "reason", "barrier_1d", "barrier_2d",
                                              "channel_only"})
    return {"unit": unit, "docs": docs, "blobs": blobs, "surface": surface, "errors": failures.reasons,
            "seconds": time.monotonic() - started, "worker": worker_name()}


def _plain(doc: dict) -> dict:
    """A document without the memory store's ObjectId, ready for another store."""
    return {k: v for k, v in doc.items() if k != "_id"}
