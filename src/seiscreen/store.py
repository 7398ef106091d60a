"""The results store: a jobflow ``JobStore`` on maggma's embedded ``MontyStore`` (SQLite), or MongoDB by URI.

Big data (NEB bands and trajectories) goes to a second collection, ``data``, as atomate2 does with
``@job(data=...)``. The database is created here, once, before any job (or parallel writer) opens it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from jobflow import JobStore

from seiscreen.errors import SeiscreenError

DEFAULT_STORE = "seiscreen-store"  # a folder in the working directory
ENV_VAR = "SEISCREEN_STORE"
DATABASE_NAME = "seiscreen"


def resolve_location(location: str | os.PathLike | None = None) -> str:
    """Flag, then environment variable, then the default folder (folders made absolute)."""
    location = str(location or os.environ.get(ENV_VAR) or DEFAULT_STORE)
    if "://" in location:
        return location
    return str(Path(location).expanduser().absolute())


def open_store(location: str | os.PathLike | None = None, create: bool = True) -> JobStore:
    """A connected JobStore at ``location`` (a folder for the embedded store, or a ``mongodb://`` URI)."""
    location = resolve_location(location)
    if location.startswith(("mongodb://", "mongodb+srv://")):
        from maggma.stores import MongoURIStore

        docs = MongoURIStore(location, "jobs", database=DATABASE_NAME)
        data = MongoURIStore(location, "jobs_data", database=DATABASE_NAME)
        store = JobStore(docs, additional_stores={"data": data})
        store.connect()
        return store
    from maggma.stores import MontyStore

    # Absolute: jobs run inside their own folders, where a relative path would open another database.
    path = Path(location).expanduser().absolute()
    if not path.exists():
        if not create:
            raise SeiscreenError(f"no store at {path}: run a campaign first or pass --store PATH")
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise SeiscreenError(f"cannot create the store folder {path} ({exc.strerror}): "
                                 "choose a writable place with --store or SEISCREEN_STORE") from None
    elif not path.is_dir():
        raise SeiscreenError(f"store path {path} is a file, not a folder: pass a folder with --store")
    if create and not os.access(path, os.W_OK):
        raise SeiscreenError(f"store folder {path} is not writable: choose another with --store or SEISCREEN_STORE")
    _check_not_corrupt(path)
    docs = MontyStore("jobs", database_path=str(path), database_name=DATABASE_NAME, storage="sqlite", key="uuid")
    data = MontyStore("jobs_data", database_path=str(path), database_name=DATABASE_NAME, storage="sqlite",
                      key="job_uuid")
    store = JobStore(docs, additional_stores={"data": data})
    try:
        store.connect()
    except Exception as exc:  # montydb raises several types for a damaged file
        raise SeiscreenError(f"the store at {path} cannot be opened ({type(exc).__name__}): it may be corrupted; "
                             "move it aside and rerun, or pass another --store") from None
    return store


def _check_not_corrupt(path: Path) -> None:
    for db_file in path.glob(f"{DATABASE_NAME}/*.collection"):
        try:
            with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as connection:
                connection.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError:
            raise SeiscreenError(f"store file {db_file} is not a valid database (corrupted?): move the store "
                                 "folder aside and rerun, or pass another --store") from None
