"""Where each part of a campaign stands: pending, running, done or failed (with the reason).

The client of a parallel run (the single writer) records one document per unit of work in a collection
``execution_status`` beside the results: one per (material, facet) while its terminations are cut, then one per
(material, facet, termination). A plain ``seiscreen run`` records its surfaces from its progress events
(``runner._StatusHandler``): running from the minima search on, then done or failed. A run document holds the
client's host, PID and heartbeat, so that a client that was killed shows its unfinished units as
``interrupted`` instead of ``running`` forever. Surfaces that no status document covers (a store written before
runs recorded their status) are shown as done from their surface documents.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from seiscreen.store_open import is_folder_location, open_reader, resolve_location
from seiscreen.store_read import DATABASE_NAME, FolderCollection

COLLECTION = "execution_status"
STATES = ("pending", "running", "done", "failed", "interrupted")
HEARTBEAT_S = 30.0  # the client refreshes its run document this often
STALE_S = 300.0  # a run document older than this, from a client on another host, counts as stopped


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def open_status_store(location: str | None = None, create: bool = True):
    """The status collection of the store at ``location`` (same database as the results)."""
    location = resolve_location(location)
    if not create and is_folder_location(location):  # read without jobflow, writing nothing into the folder
        open_reader(location)  # the same checks as the results store
        return FolderCollection(Path(location), COLLECTION)
    from seiscreen.store import folder_collection, open_store

    open_store(location, create=create)  # same checks and creation as the results store
    if location.startswith(("mongodb://", "mongodb+srv://")):
        from maggma.stores import MongoURIStore

        store = MongoURIStore(location, COLLECTION, database=DATABASE_NAME, key="unit")
    else:
        store = folder_collection(Path(location), COLLECTION, "unit", readonly=not create)
    store.connect()
    return store


def surface_detail(status: str, barrier: float | None) -> str:
    """What ``seiscreen status`` shows of a finished surface: "ranked 0.370 eV", or its status alone."""
    return f"{status} {barrier:.3f} eV" if status == "ranked" and barrier is not None else status


def facet_label(miller) -> str:
    return "(" + "".join(str(i) for i in miller) + ")"


class StatusBook:
    """Written only by the client of a parallel run (one writer): the state of every unit of one campaign."""

    def __init__(self, location: str | None, campaign_name: str, calculator: str, engine: str):
        self.store = open_status_store(location)
        self.campaign, self.calculator = campaign_name, calculator
        self.run_key = f"run/{campaign_name}/{calculator}"
        self.run = {"unit": self.run_key, "kind": "run", "campaign": campaign_name, "calculator": calculator,
                    "engine": engine, "host": socket.gethostname(), "pid": os.getpid(), "started_at": _now(),
                    "heartbeat_at": _now(), "finished_at": None}
        self._last_beat = time.monotonic()
        self.store.update([self.run], key="unit")

    def key(self, material: str, miller, termination: str | None = None, calculator: str | None = None) -> str:
        """A unit's key; ``calculator``: a fidelity of the funnel other than the campaign's first."""
        parts = [self.campaign, calculator or self.calculator, material, facet_label(miller)]
        return "/".join(parts + ([termination] if termination else []))

    def set(self, key: str, state: str, material: str, miller, termination: str | None = None,
            calculator: str | None = None, **extra) -> None:
        assert state in STATES, state
        doc = {"unit": key, "kind": "unit", "campaign": self.campaign, "calculator": calculator or self.calculator,
               "run": self.run_key, "material": material, "facet": facet_label(miller), "termination": termination,
               "state": state, "reason": extra.pop("reason", ""), "updated_at": _now(), **extra}
        self.store.update([doc], key="unit")

    def update(self, key: str, **fields) -> None:
        old = self.store.query_one({"unit": key})
        if old is not None:
            old.pop("_id", None)
            self.store.update([{**old, **fields, "updated_at": _now()}], key="unit")

    def heartbeat(self, force: bool = False) -> None:
        if force or time.monotonic() - self._last_beat > HEARTBEAT_S:
            self.run["heartbeat_at"] = _now()
            self.store.update([self.run], key="unit")
            self._last_beat = time.monotonic()

    def finish(self) -> None:
        self.run["finished_at"] = self.run["heartbeat_at"] = _now()
        self.store.update([self.run], key="unit")


def _client_alive(run: dict) -> bool:
    if run.get("finished_at"):
        return False
    if run.get("host") == socket.gethostname():
        try:
            os.kill(int(run["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    beat = datetime.fromisoformat(run["heartbeat_at"])
    return (datetime.now(UTC) - beat).total_seconds() < STALE_S


def campaign_status(location: str | None = None, campaign: str | None = None) -> list[dict]:
    """One row per unit: material, facet, termination, state, reason, detail, updated_at, campaign, calculator.

    Units of a client that stopped without finishing are reported ``interrupted``; surfaces in the store that no
    status document covers (written before runs recorded their status) are reported ``done``.
    """
    from seiscreen.results import load_results

    store = open_status_store(location, create=False)
    docs = list(store.query({}))
    runs = {d["unit"]: d for d in docs if d.get("kind") == "run"}
    rows = []
    for doc in docs:
        if doc.get("kind") != "unit" or (campaign and doc["campaign"] != campaign):
            continue
        state, reason = doc["state"], doc.get("reason", "")
        run = runs.get(doc.get("run") or f"run/{doc['campaign']}/{doc['calculator']}")
        if state in ("pending", "running") and run is not None and not _client_alive(run):
            reason = (f"was {state} when the run of {run['host']} (PID {run['pid']}) stopped: "
                      "rerun the same command to finish it")
            state = "interrupted"
        rows.append({"campaign": doc["campaign"], "calculator": doc["calculator"], "material": doc["material"],
                     "facet": doc["facet"], "termination": doc.get("termination"), "state": state,
                     "reason": reason, "detail": doc.get("detail", ""), "worker": doc.get("worker", ""),
                     "updated_at": doc["updated_at"]})
    covered = {(r["material"], r["facet"], r["termination"], r["calculator"]) for r in rows if r["termination"]}
    surfaces = load_results(location).surfaces
    for s in surfaces.itertuples():
        if (s.material, s.facet, s.termination, s.calculator) in covered or campaign:
            continue
        detail = surface_detail(s.status, s.barrier)
        state = "failed" if s.status == "failed" else "done"
        rows.append({"campaign": "", "calculator": s.calculator, "material": s.material, "facet": s.facet,
                     "termination": s.termination, "state": state, "reason": s.reason or "", "detail": detail,
                     "worker": "", "updated_at": s.created_at})
    # A (material, facet) whose terminations are known is shown by its terminations, not by its planning unit.
    with_terminations = {(r["campaign"], r["calculator"], r["material"], r["facet"]) for r in rows if r["termination"]}
    rows = [r for r in rows if r["termination"] or r["state"] != "done"
            or (r["campaign"], r["calculator"], r["material"], r["facet"]) not in with_terminations]
    return sorted(rows, key=lambda r: (r["campaign"], r["calculator"], r["material"], r["facet"],
                                       r["termination"] or ""))
