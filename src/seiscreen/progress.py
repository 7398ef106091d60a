"""Progress events, sent through :mod:`logging` so that jobs never depend on how (or whether) they are shown.

The CLI attaches a handler that turns them into a live display; in a notebook or on a cluster they are plain
log records under the ``seiscreen.progress`` logger. Each record carries its :class:`Event` (a ``str``: its value
is the name logs and stored run status have always shown) as ``seiscreen_event``.
"""

from __future__ import annotations

import logging
from enum import StrEnum

log = logging.getLogger("seiscreen.progress")


class Event(StrEnum):
    """What a progress event reports, with the fields each one carries.

    Attributes:
        SURFACES_PLANNED: a facet's terminations were cut (material, miller, n).
        SURFACE_PENDING: a surface's flow was planned (surface).
        SURFACE_REUSED: a surface was found finished in the store (surface).
        MINIMA_STARTED: a minima search began (surface).
        MINIMA_DONE: a minima search ended (surface, n: minima accepted).
        MINIMA_REFINING: minima are relaxed from band valleys (surface, valleys, refinement).
        MINIMA_REFINED: that refinement ended (surface, n: minima accepted).
        HOPS_PLANNED: a surface's NEB bands were planned (surface, n: new bands, refinement).
        HOP_STARTED: a NEB job began (surface, hop).
        NEB_STEP: one optimiser step of a band (surface, hop, stage, step, fmax).
        HOP_DONE: a NEB job ended (surface, hop, status, barrier).
        HOP_REUSED: a hop was found finished in the store (surface, hop).
        SADDLE_CHECKED: a hop's modes were judged (surface, hop, passed: a first-order saddle between minima).
        SURFACE_DONE: a surface's verdict (surface, status, barrier, and reason when failed).
        CONVERGENCE_DONE: a cell series' verdict (surface, status, barrier, cell_term, reason).
    """

    SURFACES_PLANNED = "surfaces_planned"
    SURFACE_PENDING = "surface_pending"
    SURFACE_REUSED = "surface_reused"
    MINIMA_STARTED = "minima_started"
    MINIMA_DONE = "minima_done"
    MINIMA_REFINING = "minima_refining"
    MINIMA_REFINED = "minima_refined"
    HOPS_PLANNED = "hops_planned"
    HOP_STARTED = "hop_started"
    NEB_STEP = "neb_step"
    HOP_DONE = "hop_done"
    HOP_REUSED = "hop_reused"
    SADDLE_CHECKED = "saddle_checked"
    SURFACE_DONE = "surface_done"
    CONVERGENCE_DONE = "convergence_done"


def emit(event: Event, key=None, **fields) -> None:
    """``key``: the surface's :class:`~seiscreen.schemas.SurfaceKey`, for handlers that record where each surface
    stands (``seiscreen status``); ``fields`` go into the message as well."""
    event = Event(event)  # a misspelt event fails here, in the job that sends it, not silently in a handler
    log.info("%s %s", event, " ".join(f"{k}={v}" for k, v in fields.items()),
             extra={"seiscreen_event": event, "seiscreen_fields": fields, "seiscreen_key": key})
