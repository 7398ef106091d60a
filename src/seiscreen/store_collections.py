"""The collections of a store folder: montydb's SQLite collections, read-only ones, the blob collection, and
the ``JobStore`` that writes a job's blobs before its document.

Crash safety: every SQLite write is one transaction, and :class:`OrderedJobStore` writes a job's big data before
its document, so a process killed between the two leaves an unreferenced blob, never a document pointing at
nothing. A store opened to be read writes nothing, also where its folder is not writable (:func:`read_connection`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections import OrderedDict
from pathlib import Path

import bson
from jobflow.core.reference import OnMissing
from maggma.stores import MemoryStore, MontyStore
from monty.json import jsanitize
from montydb import MontyClient, set_storage
from montydb.storage.sqlite import SQLiteKVEngine

from seiscreen.errors import SeiscreenError
from seiscreen.trust import TrustedJobStore

DATABASE_NAME = "seiscreen"  # the database of a store folder (a subfolder) or of a MongoDB server

# What a job gets back of another job's big data. jobflow resolves every reference with load=True, but later jobs
# read only final bands (refinement, valleys, warm starts), never a band's history (HopDoc.trajectory: every 10th
# band), which is three quarters of the data and was most of the CPU time of resolving a hop (docs/performance.md).
REFERENCE_LOAD = {"data": ["band"]}


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


MONTYDB_SETUP = ("monty.storage.cfg", ".monty.storage")  # montydb's setup files in a store folder, marker last


def read_connection(db_file: Path) -> sqlite3.Connection:
    """A connection to one SQLite file of a store that reads it and never writes it, also where its folder is not
    writable (a read-only group share).

    Writable folder: a plain connection (the WAL side files SQLite makes while it reads go when it closes).
    Otherwise read-only: through the WAL of a writer at work when there is one; else ``immutable``, because a
    read-only reader cannot create the side files SQLite wants, and with no WAL the file holds every write.
    """
    uri = db_file.absolute().as_uri()
    if os.access(db_file.parent, os.W_OK):
        uri += "?mode=rw"
    elif Path(f"{db_file}-wal").exists():
        uri += "?mode=ro"
    else:
        uri += "?immutable=1"
    connection = sqlite3.connect(uri, uri=True)
    connection.execute("PRAGMA query_only=ON")
    connection.text_factory = str
    return connection


class _ReadEngine(SQLiteKVEngine):
    """montydb's SQLite engine with :func:`read_connection` connections (montydb's own set the journal mode on
    every connection, which needs write access)."""

    def _connect(self, db_file, wconcern=None):
        return contextlib.closing(read_connection(Path(db_file)))

    # A collection whose file a writer has just made holds no table yet: empty to a reader, as a missing file is.
    def read_all(self, db_file, limit):
        return _empty_until_made(super().read_all, db_file, limit)

    def read_all_keys(self, db_file):
        return _empty_until_made(super().read_all_keys, db_file)


def _empty_until_made(read, *args):
    try:
        return read(*args)
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return []


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
        if not all((folder / name).is_file() for name in MONTYDB_SETUP):
            if self.readonly and any((folder / self.database_name).glob("*.collection")):
                raise SeiscreenError(f"the store folder {folder} has database files but not montydb's setup files "
                                     f"({', '.join(MONTYDB_SETUP)}): copy the whole folder, hidden files included")
            if self.readonly:  # nothing was ever stored here: an empty collection, and nothing written
                MemoryStore.connect(self, force_reset=True)
                return
            _setup_montydb(folder, self.storage, self.storage_kwargs)
        client = MontyClient(self.database_path, **self.client_kwargs)
        if self.readonly:
            client._storage._conn = _ReadEngine(client._storage._config)
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

