"""The collections of a store folder: montydb's SQLite collections, read-only ones, the blob collection; the
``JobStore`` that hands out no document naming foreign code (:class:`TrustedJobStore`, the checks in
:mod:`seiscreen.trust`) and the one that writes a job's blobs before its document.

Crash safety: every SQLite write is one transaction, and :class:`OrderedJobStore` writes a job's big data before
its document, so a process killed between the two leaves an unreferenced blob, never a document pointing at
nothing. A store opened to be read writes nothing, also where its folder is not writable
(:func:`seiscreen.store_read.read_connection`).
"""

from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import bson
from jobflow import JobStore
from jobflow.core.reference import OnMissing
from maggma.stores import MemoryStore, MontyStore
from monty.json import jsanitize
from montydb import MontyClient, set_storage

from seiscreen.errors import SeiscreenError
from seiscreen.store_read import (  # noqa: F401 - DATABASE_NAME, read_connection: importable from here as before
    DATABASE_NAME,
    MONTYDB_SETUP,
    read_collection,
    read_connection,
)
from seiscreen.trust import refuse_foreign_code, refuse_foreign_engine

# What a job gets back of another job's big data. jobflow resolves every reference with load=True, but later jobs
# read only final bands (refinement, valleys, warm starts), never a band's history (HopDoc.trajectory: every 10th
# band), which is three quarters of the data and was most of the CPU time of resolving a hop (docs/performance.md).
REFERENCE_LOAD = {"data": ["band"]}


class TrustedJobStore(JobStore):
    """A JobStore that hands out no document naming code outside the allowed packages
    (:func:`seiscreen.trust.refuse_foreign_code`): every read of jobflow (``get_output``, reference resolution,
    ``query_one``) goes through :meth:`query`. A store folder naming a storage engine that is not montydb's is
    refused before connecting (:func:`seiscreen.trust.refuse_foreign_engine`).
    """

    def connect(self, force_reset: bool = False):
        for store in (self.docs_store, *self.additional_stores.values()):
            refuse_foreign_engine(getattr(store, "database_path", None))
        super().connect(force_reset=force_reset)

    def query(self, criteria=None, properties=None, sort=None, skip=0, limit=0, load=None):
        for doc in super().query(criteria, properties, sort, skip, limit, load):
            refuse_foreign_code(doc)
            yield doc


class OrderedJobStore(TrustedJobStore):
    """A JobStore that writes a job's blobs (bands, trajectories) first and its document last, and resolves
    references without band histories (:data:`REFERENCE_LOAD`; ``results.band_images`` reads them).

    jobflow writes the document first; a kill between the two writes would leave a visible document whose band
    is missing. Here the document is held back until the blobs are in.
    """

    def get_output(self, uuid, which="last", load=False, cache=None, on_missing=OnMissing.ERROR):
        return super().get_output(uuid, which, REFERENCE_LOAD if load is True else load, cache, on_missing)

    def update(self, docs, key=None, save=None):
        real, held = self.docs_store, []

        class _Hold:  # stands in for the docs store during the parent's update: collects the documents
            def update(self, documents, key=None):
                held.append((documents, key))

        self.docs_store = _Hold()
        try:
            super().update(docs, key=key, save=save)  # writes the blobs into the additional stores
        finally:
            self.docs_store = real
        for documents, doc_key in held:
            real.update(documents, key=doc_key)


def _setup_montydb(folder: Path, storage: str, storage_kwargs: dict) -> None:
    """Write montydb's setup files of a new store folder, each whole: another process never reads half of one.
    (maggma rewrites them at every connect, which a reader racing a writer's start could read truncated.)"""
    with tempfile.TemporaryDirectory(dir=folder, prefix=".montydb-setup-") as made:
        set_storage(made, storage=storage, **storage_kwargs)
        for name in MONTYDB_SETUP:
            os.replace(Path(made) / name, folder / name)


class FolderStore(MontyStore):
    """A collection of the embedded store. montydb's setup files are written once, when the folder is new; a store
    of the class with ``readonly`` set (a class attribute: maggma rebuilds stores from ``__init__`` arguments)
    writes nothing at all: no setup files, and SQLite connections that only read (:func:`read_connection`)."""

    readonly = False

    def connect(self, force_reset: bool = False) -> None:
        if self._coll is not None and not force_reset:
            return
        folder = Path(self.database_path)
        if self.readonly:
            self._coll = read_collection(folder, self.collection_name, self.database_name)
            if self._coll is None:  # nothing was ever stored here: an empty collection, and nothing written
                MemoryStore.connect(self, force_reset=True)
            return
        if not all((folder / name).is_file() for name in MONTYDB_SETUP):
            _setup_montydb(folder, self.storage, self.storage_kwargs)
        client = MontyClient(self.database_path, **self.client_kwargs)
        self._coll = client[self.database_name][self.collection_name]

    def _writable(self) -> None:
        if self.readonly:
            raise SeiscreenError(f"the store at {self.database_path} was opened to be read: open it with "
                                 "open_store(..., readonly=False) to write")

    def update(self, docs, key=None):
        self._writable()
        return super().update(docs, key=key)

    def remove_docs(self, criteria: dict):
        self._writable()
        return super().remove_docs(criteria)


class ReadOnlyFolderStore(FolderStore):
    """A :class:`FolderStore` that only reads."""

    readonly = True


class BlobStore(FolderStore):
    """The embedded store's ``data`` collection: bands and trajectories.

    montydb has no indexes: every lookup and every upsert reads and decodes the whole collection, 0.6 s per
    operation on the 550 blobs of the review campaign's store, several times per NEB job. But jobflow writes each
    blob once, under a fresh ``blob_uuid``, and never changes it; so a blob is inserted, not upserted (2 ms), and
    the latest :attr:`kept_bytes` of blobs this process wrote answer jobflow's lookups by ``blob_uuid`` (a later job
    reading the band of a hop this run computed) without reading the collection. Nothing kept can go stale.
    """

    kept_bytes = 64 * 2**20

    def update(self, docs, key=None):
        self._writable()
        items = docs if isinstance(docs, list) else [docs]
        if not items or any("blob_uuid" not in d for d in items):
            return super().update(docs, key=key)  # sanitises them itself
        docs = [jsanitize(d, allow_bson=True) for d in items]
        self._collection.insert_many(docs)  # one transaction
        for d in docs:
            self._kept[d["blob_uuid"]] = bson.encode({k: v for k, v in d.items() if k != "_id"})
        while sum(map(len, self._kept.values())) > self.kept_bytes:
            self._kept.popitem(last=False)
        return None

    def query(self, criteria=None, properties=None, sort=None, hint=None, skip=0, limit=0, **kwargs):
        # jobflow asks for blobs as {"blob_uuid": {"$in": [...]}}: answered from what is kept when all are kept.
        asked = (criteria or {}).get("blob_uuid")
        uuids = asked["$in"] if isinstance(asked, dict) and set(asked) == {"$in"} and len(criteria) == 1 else None
        if uuids is not None and not (sort or skip or limit) and all(u in self._kept for u in uuids):
            for u in dict.fromkeys(uuids):
                doc = bson.decode(self._kept[u])  # a new copy for each caller: callers change what they get
                yield {k: v for k, v in doc.items() if not properties or k in properties}
            return
        yield from super().query(criteria, properties, sort, hint, skip, limit, **kwargs)

    @property
    def _kept(self) -> OrderedDict:
        if "_kept_blobs" not in self.__dict__:  # not an __init__ argument: maggma rebuilds stores from those
            self._kept_blobs = OrderedDict()
        return self._kept_blobs


class ReadOnlyBlobStore(BlobStore):
    """A :class:`BlobStore` that only reads."""

    readonly = True


def folder_collection(path: Path, name: str, key: str, readonly: bool = False, blobs: bool = False) -> FolderStore:
    """The collection ``name`` of the store folder ``path``, unconnected; ``blobs``: the data collection."""
    kinds = {(False, False): FolderStore, (True, False): ReadOnlyFolderStore, (False, True): BlobStore,
             (True, True): ReadOnlyBlobStore}
    return kinds[readonly, blobs](name, database_path=str(path), database_name=DATABASE_NAME, storage="sqlite", key=key)

