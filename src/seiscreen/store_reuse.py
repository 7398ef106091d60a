"""Reuse by content hash: finished documents carry a ``content_hash`` of their inputs, and :func:`find_done` looks
them up so that a rerun reuses them (see docs/reliability.md)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from jobflow import JobStore

from seiscreen.store_collections import REFERENCE_LOAD
from seiscreen.store_open import open_store


def _blob_uuids(value) -> list[str]:
    """Every data-store reference inside a stored output."""
    if isinstance(value, dict):
        if "blob_uuid" in value and "store" in value:
            return [value["blob_uuid"]]
        return [u for v in value.values() for u in _blob_uuids(v)]
    if isinstance(value, list):
        return [u for v in value for u in _blob_uuids(v)]
    return []


def _is_reusable(output: dict) -> bool:
    """Finished for good: nothing in it failed by an exception (a rerun retries those)."""
    if output.get("error"):
        return False
    if output.get("doc_type") == "surface":
        return output.get("status") != "failed" and not any(h.get("error") for h in output.get("hops", []))
    return True


def find_done(store: JobStore | None, doc_type: str, content_hash: str | Sequence[str],
              load: bool = False) -> dict | None:
    """The newest finished output of ``doc_type`` ("surface", "minima", "hop") with this content hash (or any of
    these: one identity as computed now and as computed before), or None.

    A document whose big data is missing from the data store (written by an older, unordered store and then
    killed) does not count as finished. ``load``: fetch the final bands too (not their histories).
    """
    found = find_done_job(store, doc_type, content_hash, load)
    return found["output"] if found else None


def find_done_job(store: JobStore | None, doc_type: str, content_hash: str | Sequence[str],
                  load: bool = False) -> dict | None:
    """Like :func:`find_done`, but the whole job document: ``uuid``, ``index`` and ``output``. A flow that reuses
    a finished document refers to it by ``OutputReference(uuid)`` rather than copying it into another output."""
    hashes = [h for h in ([content_hash] if isinstance(content_hash, str) else content_hash) if h]
    if store is None or not hashes:
        return None
    criteria = {"output.doc_type": doc_type, "output.content_hash": {"$in": hashes}}
    found = sorted(store.query(criteria, properties=["uuid", "index", "output", "completed_at"]),
                   key=lambda d: d.get("completed_at") or "", reverse=True)
    data = store.additional_stores.get("data")
    for doc in found:
        if not isinstance(doc["output"], dict) or not _is_reusable(doc["output"]):
            continue
        blobs = _blob_uuids(doc["output"])
        if blobs and data is not None and data.count({"blob_uuid": {"$in": blobs}}) < len(set(blobs)):
            continue  # half-written: its band never reached the data store
        if load and blobs:
            doc = store.query_one({"uuid": doc["uuid"], "index": doc["index"]},
                                  properties=["uuid", "index", "output"], load=REFERENCE_LOAD)
        return doc
    return None


def done_surfaces(store: JobStore | str | None, hashes: list[str | Sequence[str]]) -> dict[str, dict]:
    """Of the surface identities ``hashes`` (each a hash, or a hash and the ones it had before), those already
    finished in ``store``: {hash (the first): stored SurfaceDoc dict}."""
    if store is None or isinstance(store, (str, os.PathLike)):
        store = open_store(store, create=False)
    done = {}
    for h in hashes:
        output = find_done(store, "surface", h)
        if output is not None:
            done[h if isinstance(h, str) else h[0]] = output
    return done

