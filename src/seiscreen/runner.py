"""Run a campaign flow locally into a store, with a live progress display fed by progress events."""

from __future__ import annotations

import gc
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import run_locally
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from seiscreen.execution.status import StatusBook, surface_detail
from seiscreen.results import Results, load_results, protocol_id
from seiscreen.store import open_store, resolve_location, runs_folder


@dataclass
class _State:
    surfaces_planned: int = 0
    surfaces_done: int = 0
    hops_planned: int = 0
    hops_done: int = 0
    current: str = "starting"
    neb: str = ""
    started: float = field(default_factory=time.monotonic)
    last: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class _ProgressHandler(logging.Handler):
    def __init__(self, state: _State, refresh):
        super().__init__(logging.INFO)
        self.state, self.refresh = state, refresh

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "seiscreen_event", None)
        if event is None:
            message = record.getMessage()
            if "failed with exception" in message:  # jobflow's report of a job that raised
                self.state.failed.append(message.split(" failed with exception")[0])
            return
        f, s = record.seiscreen_fields, self.state
        if event == "surfaces_planned":
            s.surfaces_planned += f["n"]
        elif event == "minima_started":
            s.current = f"minima of {f['surface']}"
        elif event == "hops_planned":
            s.hops_planned += f["n"]
            s.current = f"NEBs of {f['surface']}"
        elif event == "neb_step":
            s.neb = f"{f['hop']} {f['stage']} step {f['step']} fmax {f['fmax']:.3f} eV/Å"
        elif event == "hop_done":
            s.hops_done += 1
            barrier = f"{f['barrier']:.3f} eV" if f["barrier"] is not None else "-"
            s.last = [*s.last[-4:], f"{f['surface']} {f['hop']}: {f['status']} {barrier}"]
        elif event == "surface_done":
            s.surfaces_done += 1
        self.refresh()


class _StatusHandler(logging.Handler):
    """Where each surface of a plain local run stands, for ``seiscreen status`` from another process: pending
    once its facet is cut, running from its minima search on, then done or failed. The run document carries
    this process's PID, so a run that is killed shows its unfinished surfaces as interrupted
    (seiscreen.execution.status)."""

    def __init__(self, book):
        super().__init__(logging.INFO)
        self.book = book
        self.bands: dict[str, list[int]] = {}  # surface -> [bands done, bands planned, refinement round]

    def _bands_detail(self, unit: str) -> str:
        done, planned, refinement = self.bands[unit]
        return f"{done}/{planned} NEB band(s) done" + (f" (refinement {refinement})" if refinement else "")

    def emit(self, record: logging.LogRecord) -> None:
        key = getattr(record, "seiscreen_key", None)
        event = getattr(record, "seiscreen_event", None)
        if key is None:
            self.book.heartbeat()
            return
        f = record.seiscreen_fields
        where = (key.material, key.miller, key.termination_id)
        unit = self.book.key(*where, calculator=key.calculator)
        if event == "surface_pending":
            self.book.set(unit, "pending", *where, calculator=key.calculator)
        elif event == "minima_started":
            self.book.set(unit, "running", *where, calculator=key.calculator, detail="minima search")
        elif event == "minima_refining":
            self.book.update(unit, detail=f"refinement {f['refinement']}: relaxing {f['valleys']} valley(s)")
        elif event == "hops_planned":
            self.bands[unit] = [0, f["n"], f["refinement"]]
            self.book.update(unit, detail=self._bands_detail(unit))
        elif event == "hop_done" and unit in self.bands:
            self.bands[unit][0] += 1
            self.book.update(unit, detail=self._bands_detail(unit))
        elif event == "surface_reused":
            self.book.set(unit, "done", *where, calculator=key.calculator, detail="reused from the store")
        elif event == "surface_done":
            self.book.set(unit, "failed" if f["status"] == "failed" else "done", *where, calculator=key.calculator,
                          detail=surface_detail(f["status"], f["barrier"]), reason=f.get("reason", ""))
        self.book.heartbeat()


def _render(state: _State) -> Group:
    table = Table.grid(padding=(0, 2))
    elapsed = time.monotonic() - state.started
    table.add_row("surfaces", f"{state.surfaces_done}/{state.surfaces_planned or '?'} done")
    table.add_row("hops (NEB)", f"{state.hops_done}/{state.hops_planned} done")
    table.add_row("now", state.current)
    table.add_row("band", state.neb or "-")
    table.add_row("elapsed", f"{elapsed:.0f} s")
    return Group(table, *state.last)


def run_campaign(flow, campaign, location: str | None, console: Console) -> tuple[Results, str]:
    """Run ``flow`` into the store at ``location`` (job folders under ``<store>/runs``) and load its results."""
    store = open_store(location)  # created here, once, before any job writes
    runs = runs_folder(resolve_location(location))
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    state = _State()
    log_file = logging.FileHandler(Path(runs) / "last-run.log")
    log_file.setLevel(logging.INFO)
    book = StatusBook(location, campaign.name, (campaign.fidelities or [campaign.calculator])[0], "local")
    loggers = [logging.getLogger(n) for n in ("jobflow", "seiscreen")]
    with Live(_render(state), console=console, refresh_per_second=4, transient=True) as live:
        handlers = [log_file, _ProgressHandler(state, lambda: live.update(_render(state))), _StatusHandler(book)]
        for lg in loggers:
            for handler in handlers:
                lg.addHandler(handler)
            lg.setLevel(logging.INFO)
        # Everything imported so far (pymatgen, jobflow, the ML model) lives until the end: frozen, the cyclic
        # collector stops walking it at each full collection (docs/performance.md: 0.65 -> 0.48 CPU s of collection).
        gc.freeze()
        try:
            run_locally(flow, store=store, create_folders=True, root_dir=runs, log=False)
        finally:
            book.finish()
            for lg in loggers:
                for handler in handlers:
                    lg.removeHandler(handler)
    console.print(f"{state.surfaces_done} surfaces, {state.hops_done} NEB hops in "
                  f"{time.monotonic() - state.started:.0f} s; log: {runs / 'last-run.log'}")
    for name in state.failed:
        console.print(f"[red]failed:[/] {name} (traceback in the log)")
    return load_results(store), campaign_protocols(campaign)


def campaign_protocols(campaign) -> list[str]:
    """The protocol ids the campaign's surface documents carry: one per fidelity, in the funnel's order."""
    from seiscreen.jobs import CalculatorMaker

    return [protocol_id(CalculatorMaker(calculator_preset=name, slab_settings=campaign.slab,
                                        minima_settings=campaign.minima_settings, neb_protocol=campaign.neb)
                        .provenance(with_neb=True).model_dump())
            for name in campaign.fidelities or [campaign.calculator]]
