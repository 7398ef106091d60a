"""Run a campaign flow locally into a store, with a live progress display fed by progress events."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import run_locally
from monty.json import jsanitize
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from seiscreen.execution.status import StatusBook, surface_detail
from seiscreen.progress import Event
from seiscreen.results import Results, load_results, protocol_id
from seiscreen.store import open_store, resolve_location, runs_folder, store_lock


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
        if event == Event.SURFACES_PLANNED:
            s.surfaces_planned += f["n"]
        elif event == Event.MINIMA_STARTED:
            s.current = f"minima of {f['surface']}"
        elif event == Event.HOPS_PLANNED:
            s.hops_planned += f["n"]
            s.current = f"NEBs of {f['surface']}"
        elif event == Event.NEB_STEP:
            s.neb = f"{f['hop']} {f['stage']} step {f['step']} fmax {f['fmax']:.3f} eV/Å"
        elif event == Event.HOP_DONE:
            s.hops_done += 1
            barrier = f"{f['barrier']:.3f} eV" if f["barrier"] is not None else "-"
            s.last = [*s.last[-4:], f"{f['surface']} {f['hop']}: {f['status']} {barrier}"]
        elif event == Event.SURFACE_DONE:
            s.surfaces_done += 1
        self.refresh()


class _LineHandler(_ProgressHandler):
    """Progress as plain lines with the time since the start, one per finished minima search, NEB band and
    surface: what a batch job's log gets instead of the live display (which a file cannot show)."""

    def __init__(self, state: _State, console: Console):
        super().__init__(state, lambda: None)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)  # the counts of the closing line
        event = getattr(record, "seiscreen_event", None)
        line = progress_line(event, record.seiscreen_fields) if event else None
        if line:
            minutes, seconds = divmod(time.monotonic() - self.state.started, 60)
            stamp = f"[{int(minutes) // 60}:{int(minutes) % 60:02d}:{seconds:04.1f}]"  # h:mm:ss.s since the start
            self.console.print(f"{stamp} {line}", markup=False, highlight=False, soft_wrap=True)


def progress_line(event: Event, f: dict) -> str | None:
    """The plain line of a progress event that finishes a step, or None for the others."""
    energy = (lambda value: "-" if value is None else f"{value:.3f} eV")
    if event in (Event.MINIMA_DONE, Event.MINIMA_REFINED):
        found = f"{f['n']} minim{'um' if f['n'] == 1 else 'a'}"
        return f"minima {'search' if event == Event.MINIMA_DONE else 'refined'} {f['surface']}: {found}"
    if event == Event.HOP_DONE:
        return f"NEB band {f['surface']} {f['hop']}: {f['status']}, barrier {energy(f['barrier'])}"
    if event == Event.SADDLE_CHECKED:
        verdict = "first-order saddle" if f["passed"] else "not a first-order saddle"
        return f"saddle check {f['surface']} {f['hop']}: {verdict}"
    if event == Event.SURFACE_DONE:
        reason = f": {f['reason']}" if f.get("reason") else ""
        return f"surface {f['surface']}: {f['status']}, barrier {energy(f['barrier'])}{reason}"
    if event == Event.SURFACE_REUSED:
        return f"surface {f['surface']}: reused from the store"
    if event == Event.CONVERGENCE_DONE:
        cell_term = "-" if f["cell_term"] is None else f"{f['cell_term']:.3f} eV"
        return f"cell series {f['surface']}: {f['status']}, barrier {energy(f['barrier'])}, cell term {cell_term}"
    return None


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
        if event == Event.SURFACE_PENDING:
            self.book.set(unit, "pending", *where, calculator=key.calculator)
        elif event == Event.MINIMA_STARTED:
            self.book.set(unit, "running", *where, calculator=key.calculator, detail="minima search")
        elif event == Event.MINIMA_REFINING:
            self.book.update(unit, detail=f"refinement {f['refinement']}: relaxing {f['valleys']} valley(s)")
        elif event == Event.HOPS_PLANNED:
            self.bands[unit] = [0, f["n"], f["refinement"]]
            self.book.update(unit, detail=self._bands_detail(unit))
        elif event == Event.HOP_DONE and unit in self.bands:
            self.bands[unit][0] += 1
            self.book.update(unit, detail=self._bands_detail(unit))
        elif event == Event.SURFACE_REUSED:
            self.book.set(unit, "done", *where, calculator=key.calculator, detail="reused from the store")
        elif event == Event.SURFACE_DONE:
            self.book.set(unit, "failed" if f["status"] == "failed" else "done", *where, calculator=key.calculator,
                          detail=surface_detail(f["status"], f["barrier"]), reason=f.get("reason", ""))
        elif event == Event.CONVERGENCE_DONE:  # the series' verdict replaces its last cell's
            self.book.set(unit, "done", *where, calculator=key.calculator, reason=f.get("reason", ""),
                          detail=surface_detail("ranked" if f["status"] == "converged" else f["status"],
                                                f["barrier"]))
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


def run_campaign(campaign, location: str | None, console: Console, planned: list | None = None,
                 wait: bool = False) -> tuple[Results, list[str]]:
    """Run ``campaign`` into the store at ``location`` as its only writer (:func:`~seiscreen.store.store_lock`;
    ``wait``: for another run to finish) and load its results; ``planned``: its surfaces (workflow.flows.plan_surfaces).

    Surfaces finished in the store are reused, not recomputed (see docs/reliability.md); when every one is and
    their ranking is stored already, nothing runs and nothing is written.
    """
    from seiscreen.workflow.flows import campaign_flow

    with store_lock(location, wait=wait, say=lambda message: console.print(message, highlight=False)):
        store = open_store(location)  # created here, once, before any job writes
        flow = campaign_flow(campaign, store=store, planned=planned)
        reused = _all_reused(flow, campaign, store)
        if reused is not None:
            console.print(f"nothing to compute: {reused} surface{'s' * (reused != 1)} reused", highlight=False)
            return load_results(store), campaign_protocols(campaign)
        return _run_flow(flow, campaign, store, location, console)


def _all_reused(flow, campaign, store) -> int | None:
    """The number of surfaces when the flow has nothing to compute (every surface reused) and its ranking is the
    one stored already, else None. A funnel's higher levels are only known while it runs: never reused here."""
    from seiscreen.workflow.flows import rank_surfaces
    from seiscreen.workflow.surface import flatten_surfaces

    if campaign.fidelities or len(flow.jobs) != 1:
        return None
    (ranking,) = flow.jobs  # the only job left: the ranking of stored surface documents
    surfaces = ranking.function_args[0]
    fresh = jsanitize(rank_surfaces.original(surfaces), strict=True, allow_bson=True)
    stored = store.query({"name": ranking.name, "output.doc_type": "ranking"}, properties=["output"])
    return len(flatten_surfaces(surfaces)) if any(doc["output"] == fresh for doc in stored) else None


def _run_flow(flow, campaign, store, location: str | None, console: Console) -> tuple[Results, list[str]]:
    """Run ``flow`` into ``store`` (job folders under ``<store>/runs``) and load its results."""
    runs = runs_folder(resolve_location(location))
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    state = _State()
    log_file = logging.FileHandler(Path(runs) / "last-run.log")
    log_file.setLevel(logging.INFO)
    book = StatusBook(location, campaign.name, (campaign.fidelities or [campaign.calculator])[0], "local")
    loggers = [logging.getLogger(n) for n in ("jobflow", "seiscreen")]
    console.print(f"log: {runs / 'last-run.log'}", highlight=False, soft_wrap=True)  # first: where to look
    # A terminal gets the live display; a file or pipe (a batch job's log) one plain line per finished step.
    live = Live(_render(state), console=console, refresh_per_second=4, transient=True) if console.is_terminal else None
    with live or contextlib.nullcontext():
        shown = (_ProgressHandler(state, lambda: live.update(_render(state))) if live else
                 _LineHandler(state, console))
        handlers = [log_file, shown, _StatusHandler(book)]
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
                  f"{time.monotonic() - state.started:.0f} s; log: {runs / 'last-run.log'}", highlight=False)
    for name in state.failed:
        console.print(f"[red]failed:[/] {name} (traceback in the log)", highlight=False)
    return load_results(store), campaign_protocols(campaign)


def campaign_protocols(campaign) -> list[str]:
    """The protocol ids the campaign's surface documents carry: per fidelity, in the funnel's order, one per adatom
    (a material's own ``adsorbate`` is a protocol of its own: its barriers are never ranked with the others)."""
    return list(protocol_levels(campaign))


def protocol_levels(campaign) -> dict[str, int]:
    """Each protocol id of the campaign (:func:`campaign_protocols`) and the fidelity level it belongs to."""
    from seiscreen.workflow.base import CalculatorMaker

    adsorbates = dict.fromkeys([campaign.adsorbate, *(spec.adsorbate or campaign.adsorbate
                                                      for spec in campaign.materials)])
    levels: dict[str, int] = {}
    for level, name in enumerate(campaign.fidelities or [campaign.calculator]):
        for adsorbate in adsorbates:
            maker = CalculatorMaker(calculator_preset=name, slab_settings=campaign.slab, neb_protocol=campaign.neb,
                                    minima_settings=campaign.minima_settings_for(adsorbate))
            levels.setdefault(protocol_id(maker.provenance(with_neb=True).model_dump()), level)
    return levels


# What the exit status of `seiscreen run` (and `submit`) says: 0 when every surface of the campaign has a result, ranked
# or unranked by a gate of the protocol (no verified minimum, no percolating path, hops that failed a gate: results,
# stored with the reason, reused by a rerun); 1 when any surface failed by an exception (its slab cutting, minima
# search or a hop raised: the next run retries it) or has no document at all. The same rule as the store's reuse.


SHOWN_FAILED = 5  # failed surfaces named in the summary line; the rest are counted


@dataclass
class Outcome:
    """The surfaces of a campaign after a run: how many, and which failed (label and why)."""

    surfaces: int
    failed: list[tuple[str, str]]

    @property
    def summary(self) -> str:
        """One line: how many failed of how many, each with its first reason, and what to do."""
        why = "; ".join(f"{label}: {reason.splitlines()[0][:160]}" for label, reason in self.failed[:SHOWN_FAILED])
        more = len(self.failed) - SHOWN_FAILED
        why += f"; and {more} more (`seiscreen results` lists them)" if more > 0 else ""
        return (f"{len(self.failed)} of {self.surfaces} surfaces failed: {why} (rerun the same command to retry "
                "them; finished surfaces are reused; tracebacks in the log)")


def campaign_outcome(campaign, location: str | None, protocols: list[str], planned: list) -> Outcome:
    """Each surface of ``campaign`` in the store at ``location``: the newest document per surface and protocol,
    failed when its status is failed or a hop of it failed by an exception; a planned surface without any document
    (``planned``: workflow.flows.plan_surfaces) failed too. The plan is cut again with the store, so that each slab
    is in the supercell the store computed it in (workflow.slabs.stored_supercell)."""
    from seiscreen.workflow.flows import plan_surfaces

    store = open_store(location, create=False)
    if any(p.slab for p in planned):
        planned = plan_surfaces(campaign, store)
    levels = protocol_levels(campaign)
    identities = {h for p in planned for h in (p.content_hash, *p.earlier) if h}
    cut = {_where(p.slab.key.model_dump()) for p in planned if p.slab}
    uncut = {(name, p.miller) for p in planned if not p.slab for name in _names(p.material)}  # cut in the flow
    found: dict = {}
    fields = ("key", "status", "reason", "hops.error", "provenance", "content_hash")  # not minima, slab, bands
    docs = store.query({"output.doc_type": "surface"}, properties=[*(f"output.{f}" for f in fields), "completed_at"])
    for doc in sorted(docs, key=lambda d: d.get("completed_at") or ""):
        o, where = doc["output"], _where(doc["output"]["key"])
        pid = protocol_id(o["provenance"])
        level = levels.get(pid) if pid in protocols else None
        # The first fidelity's surfaces are the planned ones: their content hash (a surface that failed before it
        # had one: the planned slab), not the documents of an older run's other slabs.
        planned_now = (level != 0 or o.get("content_hash") in identities or where[:2] in uncut
                       or (not o.get("content_hash") and where in cut))
        if level is not None and planned_now and _in_campaign(campaign, o["key"]):
            found[(*where, level)] = o
    failed = [(_label(o["key"], campaign), o["reason"] or "failed") for o in found.values()
              if o["status"] == "failed" or any(h.get("error") for h in o["hops"])]
    first = {w[:3] for w in found if w[3] == 0}
    missing = [p.label for p in planned if p.slab and _where(p.slab.key.model_dump()) not in first]
    failed += [(label, "no result stored (a job raised)") for label in missing]
    return Outcome(len(found) + len(missing), failed)


def _where(key: dict) -> tuple:
    return key["material"], tuple(key["miller"]), key["termination_id"]


def _in_campaign(campaign, key: dict) -> bool:
    """Whether a stored surface key is one of the campaign's materials, facets, terminations and adatoms."""
    for spec in campaign.materials:
        if (key["material"] in _names(spec.material) and tuple(key["miller"]) in {tuple(f) for f in spec.facets}
                and key["adsorbate"] == (spec.adsorbate or campaign.adsorbate)
                and (spec.terminations is None or key["termination_id"] in (*spec.terminations, "-"))):
            return True
    return False


def _names(material: str) -> set[str]:
    """What a campaign's material is called in surface keys: a CIF's surfaces are named after the file."""
    return {material, Path(material).stem}


def _label(key: dict, campaign) -> str:
    label = f"{key['material']}({''.join(str(i) for i in key['miller'])}) {key['termination_id']}"
    return f"{label} [{key['calculator']}]" if campaign.fidelities else label
