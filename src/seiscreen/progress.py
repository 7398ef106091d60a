"""Progress events, sent through :mod:`logging` so that jobs never depend on how (or whether) they are shown.

The CLI attaches a handler that turns them into a live display; in a notebook or on a cluster they are plain
log records under the ``seiscreen.progress`` logger.
"""

from __future__ import annotations

import logging

log = logging.getLogger("seiscreen.progress")


def emit(event: str, key=None, **fields) -> None:
    """``key``: the surface's :class:`~seiscreen.schemas.SurfaceKey`, for handlers that record where each surface
    stands (``seiscreen status``); ``fields`` go into the message as well."""
    log.info("%s %s", event, " ".join(f"{k}={v}" for k, v in fields.items()),
             extra={"seiscreen_event": event, "seiscreen_fields": fields, "seiscreen_key": key})
