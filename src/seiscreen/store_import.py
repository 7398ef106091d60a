"""A results file copied back into a store, so that a campaign continues from it (``seiscreen import``)."""

from __future__ import annotations

import os
from pathlib import Path

from monty.json import jsanitize

from seiscreen.errors import SeiscreenError
from seiscreen.store_collections import FolderStore
from seiscreen.store_export import EXPORT_SUFFIXES, open_export
from seiscreen.store_lock import store_lock
from seiscreen.store_open import open_store, resolve_location


def import_results(path: str | os.PathLike, location: str | os.PathLike | None = None) -> dict:
    """Copy every job document and big-data blob of the results file ``path`` into a store, unchanged.

    A campaign run into that store then finds each finished surface, minima search and hop by its content hash
    and reuses it, as in the store the file was exported from. A document already there (the same ``uuid`` and
    ``index``) or blob (the same ``blob_uuid``) is left as it is, so importing twice, or two files that share
    documents, adds each once. The file is read whole before the store is opened (a bad file leaves no store
    behind); the store is written under :func:`~seiscreen.store.store_lock`, blobs before documents.

    Args:
        path: A results file written by :func:`~seiscreen.store.export_store`.
        location: The store, as :func:`~seiscreen.store.resolve_location` takes it (a folder is made when new).

    Returns:
        The counts: ``jobs`` and ``data`` imported, ``jobs_present`` and ``data_present`` already there.
    """
    path = Path(path)
    if not path.name.endswith(EXPORT_SUFFIXES) or path.is_dir():
        raise SeiscreenError(f"{path} is not a results file: import reads a .json or .json.gz file written by "
                             "'seiscreen export'")
    location = resolve_location(location)
    if location.endswith(EXPORT_SUFFIXES):
        raise SeiscreenError(f"{location} is a results file, and results files are read-only: pass a store folder "
                             "or mongodb:// URI with --store (or SEISCREEN_STORE)")
    exported = open_export(path)  # one line when it is missing, damaged or names foreign code
    docs = [{k: v for k, v in d.items() if k != "_id"} for d in exported.query({})]
    blobs = [{k: v for k, v in d.items() if k != "_id"} for d in exported.additional_stores["data"].query({})]
    with store_lock(location):
        store = open_store(location, create=True)
        data_store = store.additional_stores["data"]
        present = {(d["uuid"], d["index"]) for d in store.query({}, properties=["uuid", "index"])}
        present_blobs = {d["blob_uuid"] for d in data_store.query({}, properties=["blob_uuid"])}
        new_docs = [d for d in docs if (d["uuid"], d["index"]) not in present]
        new_blobs = [d for d in blobs if d["blob_uuid"] not in present_blobs]
        for collection, new in ((data_store, new_blobs), (store.docs_store, new_docs)):
            if new:  # known to be new: one insert (one SQLite transaction), not an upsert per document
                if isinstance(collection, FolderStore):
                    collection._writable()
                collection._collection.insert_many([jsanitize(d, allow_bson=True) for d in new])
    return {"jobs": len(new_docs), "data": len(new_blobs), "jobs_present": len(docs) - len(new_docs),
            "data_present": len(blobs) - len(new_blobs)}
