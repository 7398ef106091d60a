"""The results store: a jobflow ``JobStore`` on maggma's embedded ``MontyStore`` (SQLite), or MongoDB by URI.

Big data (NEB bands and trajectories) goes to a second collection, ``data``, as atomate2 does with
``@job(data=...)``. The database is created here, once, before any job (or parallel writer) opens it. One process
writes a store folder at a time (:func:`store_lock`); readers open it read-only and write nothing into it.

Crash safety: every SQLite write is one transaction, and :class:`OrderedJobStore` writes a job's big data before
its document, so a process killed between the two leaves an unreferenced blob, never a document pointing at
nothing. Finished documents carry a ``content_hash`` of their inputs; :func:`find_done` looks them up so a
rerun reuses them (see docs/reliability.md).

This module is the store's public face; each part lives in a module of its own, and every name is importable
from here:

- ``store_collections``: the collections of a store folder and :class:`OrderedJobStore`;
- ``store_open``: where a store is (:func:`resolve_location`) and :func:`open_store`;
- ``store_read``: a folder read without jobflow (:class:`FolderJobs`, which :func:`open_reader` opens), what
  ``seiscreen results`` and ``status`` read;
- ``store_lock``: the single-writer lock :func:`store_lock`;
- ``store_reuse``: reuse by content hash (:func:`find_done`);
- ``store_export``: shipped results files (:func:`export_store`);
- ``store_import``: a results file copied back into a store (:func:`import_results`).
"""

from __future__ import annotations

from seiscreen.store_collections import (
    DATABASE_NAME,
    MONTYDB_SETUP,
    REFERENCE_LOAD,
    BlobStore,
    FolderStore,
    OrderedJobStore,
    ReadOnlyBlobStore,
    ReadOnlyFolderStore,
    folder_collection,
    read_connection,
)
from seiscreen.store_export import EXPORT_FORMAT, EXPORT_SUFFIXES, code_version, export_store
from seiscreen.store_import import import_results
from seiscreen.store_lock import LOCK_FILE, store_lock
from seiscreen.store_open import (
    CHECKPOINTS,
    DEFAULT_STORE,
    ENV_VAR,
    MONGODB_TIMEOUT_S,
    checkpoint_folder,
    open_reader,
    open_store,
    resolve_location,
    runs_folder,
    store_folder,
)
from seiscreen.store_read import FolderJobs
from seiscreen.store_reuse import done_surfaces, find_done, find_done_job

__all__ = [
    "CHECKPOINTS", "DATABASE_NAME", "DEFAULT_STORE", "ENV_VAR", "EXPORT_FORMAT", "EXPORT_SUFFIXES", "LOCK_FILE",
    "MONGODB_TIMEOUT_S", "MONTYDB_SETUP", "REFERENCE_LOAD", "BlobStore", "FolderJobs", "FolderStore", "OrderedJobStore",
    "ReadOnlyBlobStore", "ReadOnlyFolderStore", "checkpoint_folder", "code_version", "done_surfaces", "export_store",
    "find_done", "find_done_job", "folder_collection", "import_results", "open_reader", "open_store", "read_connection",
    "resolve_location", "runs_folder", "store_folder", "store_lock",
]
