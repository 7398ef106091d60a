"""Where a store is and how it opens: a folder of the embedded store, a MongoDB URI, or a results file; the
folders of its jobs and of its NEB checkpoints."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from seiscreen.errors import SeiscreenError
from seiscreen.store_export import EXPORT_SUFFIXES, open_export
from seiscreen.store_read import DATABASE_NAME, FolderJobs, read_connection

if TYPE_CHECKING:  # jobflow is imported where a store opens: `seiscreen results` reads folders without it
    from jobflow import JobStore

CHECKPOINTS = "checkpoints"  # folder of the store where NEB bands are checkpointed, one file per hop hash
DEFAULT_STORE = "seiscreen-store"  # a folder in the working directory
ENV_VAR = "SEISCREEN_STORE"
MONGODB_TIMEOUT_S = 5  # a MongoDB server not answering by then is unreachable (pymongo waits 30 s by default)


def resolve_location(location: str | os.PathLike | None = None) -> str:
    """Flag, then environment variable, then the default folder (folders made absolute)."""
    location = str(location or os.environ.get(ENV_VAR) or DEFAULT_STORE)
    if "://" in location:
        return location
    return str(Path(location).expanduser().absolute())


def runs_folder(location: str) -> Path:
    """Where jobs of the store at ``location`` (as resolve_location gives it) get their folders, created."""
    runs = Path(location) / "runs" if "://" not in location else Path("seiscreen-runs")
    runs.mkdir(parents=True, exist_ok=True)
    return runs


def open_store(location: str | os.PathLike | None = None, create: bool = True,
               readonly: bool | None = None) -> JobStore:
    """A connected JobStore at ``location``: a folder for the embedded store, a ``mongodb://`` URI, or a results
    file written by :func:`export_store` (``.json`` / ``.json.gz``, read into memory: shipped results).

    Args:
        location: as :func:`resolve_location` takes it.
        create: make the store folder when there is none (else a missing store is an error).
        readonly: a store folder opened to be read: nothing written into it (no montydb setup files, no SQLite
            writes), so a folder the user cannot write reads. Default: ``not create``. A writer also holds
            :func:`store_lock` while it writes.
    """
    location = resolve_location(location)
    if location.endswith(EXPORT_SUFFIXES):
        return open_export(Path(location))
    if location.startswith(("mongodb://", "mongodb+srv://")):
        return _open_mongodb(location)
    from seiscreen.store_collections import OrderedJobStore, folder_collection

    readonly = not create if readonly is None else readonly
    path = store_folder(location, create, write=not readonly)
    check_not_corrupt(path)
    docs = folder_collection(path, "jobs", "uuid", readonly)
    data = folder_collection(path, "jobs_data", "job_uuid", readonly, blobs=True)
    store = OrderedJobStore(docs, additional_stores={"data": data})
    with _damage_in_one_line(path):
        store.connect()
    return store


@contextlib.contextmanager
def _damage_in_one_line(path: Path) -> Iterator[None]:
    """montydb raises several types for a damaged file: one line (SeiscreenError) naming the store instead."""
    try:
        yield
    except SeiscreenError:  # already the one line naming the problem
        raise
    except Exception as exc:
        raise SeiscreenError(f"the store at {path} cannot be opened ({type(exc).__name__}): it may be corrupted; "
                             "move it aside and rerun, or pass another --store") from None


def is_folder_location(location: str) -> bool:
    """Whether ``location`` (as ``store_open.resolve_location`` gives it) names a store folder, not a MongoDB
    URI or a results file."""
    return "://" not in location and not location.endswith(EXPORT_SUFFIXES)


def open_reader(location: str | os.PathLike | None = None) -> FolderJobs | JobStore:
    """The store at ``location`` opened to be read: a folder as :class:`FolderJobs` (no jobflow imported), a
    MongoDB URI or a results file as ``open_store(location, create=False)`` opens it. The same checks and
    one-line errors as ``open_store``: a missing folder, a corrupted database file, a foreign storage engine."""
    location = resolve_location(location)
    if not is_folder_location(location):
        return open_store(location, create=False)
    path = store_folder(location, create=False, write=False)
    check_not_corrupt(path)
    with _damage_in_one_line(path):
        return FolderJobs(path)


def _open_mongodb(uri: str) -> JobStore:
    """A MongoDB store, its server reached within :data:`MONGODB_TIMEOUT_S` or one line saying it is not."""
    from maggma.stores import MongoURIStore
    from pymongo.errors import PyMongoError

    from seiscreen.store_collections import OrderedJobStore

    timeouts = {"serverSelectionTimeoutMS": MONGODB_TIMEOUT_S * 1000, "connectTimeoutMS": MONGODB_TIMEOUT_S * 1000}
    with warnings.catch_warnings():  # maggma's deprecation notice of the class is not the user's business
        warnings.simplefilter("ignore", FutureWarning)
        docs = MongoURIStore(uri, "jobs", database=DATABASE_NAME, mongoclient_kwargs=timeouts)
        data = MongoURIStore(uri, "jobs_data", database=DATABASE_NAME, mongoclient_kwargs=timeouts)
    store = OrderedJobStore(docs, additional_stores={"data": data})
    shown = re.sub(r"//[^@/]*@", "//***@", uri)  # never print a password
    try:
        store.connect()
        docs._collection.database.client.admin.command("ping")  # the client connects lazily: reach it now
    except PyMongoError as exc:
        why = re.split(r" \(configured|, Timeout|\n", str(exc))[0]  # the first reason, not pymongo's topology
        raise SeiscreenError(f"cannot reach the MongoDB server of {shown} within {MONGODB_TIMEOUT_S} s ({why}): "
                             "check the URI and that the server runs, or pass a store folder") from None
    return store


def store_folder(location: str | os.PathLike, create: bool = True, write: bool = True) -> Path:
    """The absolute store folder at ``location`` (a folder path), made when ``create`` and there is none; one
    line (SeiscreenError) when it is missing, a file, or not writable for a ``write``."""
    # Absolute: jobs run inside their own folders, where a relative path would open another database.
    path = Path(location).expanduser().absolute()
    if not path.exists():
        if not create:
            raise SeiscreenError(f"no store at {path}: run a campaign first or pass --store PATH")
        try:
            path.mkdir(parents=True, exist_ok=True)  # another process may make it at the same moment
        except OSError as exc:
            raise SeiscreenError(f"cannot create the store folder {path} ({exc.strerror}): "
                                 "choose a writable place with --store or SEISCREEN_STORE") from None
    elif not path.is_dir():
        raise SeiscreenError(f"store path {path} is a file, not a folder: pass a folder with --store")
    if write and not os.access(path, os.W_OK):
        raise SeiscreenError(f"store folder {path} is not writable: choose another with --store or SEISCREEN_STORE")
    return path


def check_not_corrupt(path: Path) -> None:
    """One line (SeiscreenError) when a database file of the store folder ``path`` is not a valid SQLite file."""
    for db_file in path.glob(f"{DATABASE_NAME}/*.collection"):
        try:
            with contextlib.closing(read_connection(db_file)) as connection:
                connection.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError:
            raise SeiscreenError(f"store file {db_file} is not a valid database (corrupted?): move the store "
                                 "folder aside and rerun, or pass another --store") from None


def checkpoint_folder(store: JobStore | None = None) -> Path:
    """Where NEB checkpoints live: ``$SEISCREEN_CHECKPOINTS``, else ``<store folder>/checkpoints``, else the
    ``checkpoints`` folder next to the job folders (MongoDB stores)."""
    if os.environ.get("SEISCREEN_CHECKPOINTS"):
        return Path(os.environ["SEISCREEN_CHECKPOINTS"])
    database_path = getattr(getattr(store, "docs_store", None), "database_path", None)
    if database_path:
        return Path(database_path) / CHECKPOINTS
    return Path.cwd().parent / CHECKPOINTS

