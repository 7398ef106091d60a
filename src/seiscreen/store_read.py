"""A store folder read without jobflow and maggma: what ``seiscreen results`` and ``seiscreen status`` read.

Importing jobflow (and with it maggma, boto3, paramiko and pymongo) takes about half a second, more than the rest
of those commands together. A store folder is montydb's SQLite files, which montydb alone reads:
``store_open.open_reader`` opens a folder store as :class:`FolderJobs`, which answers ``query`` and ``query_one``
with the documents the ``JobStore`` of ``open_store(location, create=False)`` gives (``uuid`` and ``index`` added to
the properties asked for, every document checked by :func:`seiscreen.trust.refuse_foreign_code`, blobs not
loaded), and writes nothing into the folder. A MongoDB URI or a results file opens through ``open_store``.

The read-only SQLite connections (:func:`read_connection`, :class:`ReadEngine`) live here and serve the
read-only collections of :mod:`seiscreen.store_collections` as well.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from montydb.storage.sqlite import SQLiteKVEngine

from seiscreen.errors import SeiscreenError
from seiscreen.trust import refuse_foreign_code, refuse_foreign_engine

DATABASE_NAME = "seiscreen"  # the database of a store folder (a subfolder) or of a MongoDB server
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


class ReadEngine(SQLiteKVEngine):
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


def read_collection(folder: Path, name: str, database: str = DATABASE_NAME):
    """The montydb collection ``name`` of the store folder ``folder``, opened to be read (nothing written into the
    folder); None when nothing was ever stored there (no montydb setup files, no database files)."""
    from montydb import MontyClient

    if not all((folder / setup).is_file() for setup in MONTYDB_SETUP):
        if any((folder / database).glob("*.collection")):
            raise SeiscreenError(f"the store folder {folder} has database files but not montydb's setup files "
                                 f"({', '.join(MONTYDB_SETUP)}): copy the whole folder, hidden files included")
        return None
    client = MontyClient(str(folder))
    client._storage._conn = ReadEngine(client._storage._config)
    return client[database][name]


class FolderCollection:
    """One collection of a store folder, read only: maggma's ``query`` and ``query_one`` on montydb."""

    def __init__(self, folder: Path, name: str) -> None:
        self.database_path = str(folder)
        self.collection_name = name
        self._collection = read_collection(folder, name)

    def query(self, criteria: dict | None = None, properties: dict | list | None = None,
              sort: dict[str, int] | None = None, skip: int = 0, limit: int = 0) -> Iterator[dict]:
        """The documents matching ``criteria``, with the ``properties`` asked for (all when None)."""
        if self._collection is None:
            return
        if isinstance(properties, list):
            properties = {p: 1 for p in properties}
        sort_list = [(key, int(order)) for key, order in sort.items()] if sort else None
        yield from self._collection.find(filter=criteria, projection=properties, skip=skip, limit=limit,
                                         sort=sort_list)

    def query_one(self, criteria: dict | None = None, properties: dict | list | None = None,
                  sort: dict[str, int] | None = None) -> dict | None:
        """The first document :meth:`query` gives, or None."""
        return next(self.query(criteria, properties, sort), None)


class FolderJobs:
    """A store folder's job documents and blobs, read as jobflow's ``JobStore`` reads them (without loading
    blobs into the documents), each document checked for foreign code first."""

    def __init__(self, folder: Path) -> None:
        refuse_foreign_engine(folder)
        self.docs_store = FolderCollection(folder, "jobs")
        self.additional_stores = {"data": FolderCollection(folder, "jobs_data")}

    def query(self, criteria: dict | None = None, properties: dict | list | None = None,
              sort: dict[str, int] | None = None, skip: int = 0, limit: int = 0) -> Iterator[dict]:
        """Job documents as ``JobStore.query`` gives them: ``uuid`` and ``index`` always among the properties."""
        if isinstance(properties, (list, tuple)):
            properties = [*properties, "uuid", "index"]
        elif isinstance(properties, dict):
            properties = {**properties, "uuid": 1, "index": 1}
        for doc in self.docs_store.query(criteria, properties, sort, skip, limit):
            refuse_foreign_code(doc)
            yield doc

    def query_one(self, criteria: dict | None = None, properties: dict | list | None = None,
                  sort: dict[str, int] | None = None) -> dict | None:
        """The first document :meth:`query` gives, or None."""
        return next(self.query(criteria, properties, sort, limit=1), None)
