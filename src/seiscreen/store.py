"""The results store: a jobflow ``JobStore`` on maggma's embedded ``MontyStore`` (SQLite), or MongoDB by URI.

Big data (NEB bands and trajectories) goes to a second collection, ``data``, as atomate2 does with
``@job(data=...)``. The database is created here, once, before any job (or parallel writer) opens it. One process
writes a store folder at a time (:func:`store_lock`); readers open it read-only and write nothing into it.

Crash safety: every SQLite write is one transaction, and :class:`OrderedJobStore` writes a job's big data before
its document, so a process killed between the two leaves an unreferenced blob, never a document pointing at
nothing. Finished documents carry a ``content_hash`` of their inputs; :func:`find_done` looks them up so a
rerun reuses them (see docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import sqlite3
import sys
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO

import bson
from jobflow import JobStore
from jobflow.core.reference import OnMissing
from maggma.stores import MemoryStore, MontyStore
from monty.json import jsanitize
from montydb import MontyClient, set_storage
from montydb.storage.sqlite import SQLiteKVEngine

from seiscreen.errors import SeiscreenError
from seiscreen.trust import TrustedJobStore

CHECKPOINTS = "checkpoints"  # folder of the store where NEB bands are checkpointed, one file per hop hash


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


DEFAULT_STORE = "seiscreen-store"  # a folder in the working directory
ENV_VAR = "SEISCREEN_STORE"
DATABASE_NAME = "seiscreen"
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
        return _open_export(Path(location))
    if location.startswith(("mongodb://", "mongodb+srv://")):
        return _open_mongodb(location)
    readonly = not create if readonly is None else readonly
    path = store_folder(location, create, write=not readonly)
    _check_not_corrupt(path)
    docs = folder_collection(path, "jobs", "uuid", readonly)
    data = folder_collection(path, "jobs_data", "job_uuid", readonly, blobs=True)
    store = OrderedJobStore(docs, additional_stores={"data": data})
    try:
        store.connect()
    except SeiscreenError:  # already the one line naming the problem
        raise
    except Exception as exc:  # montydb raises several types for a damaged file
        raise SeiscreenError(f"the store at {path} cannot be opened ({type(exc).__name__}): it may be corrupted; "
                             "move it aside and rerun, or pass another --store") from None
    return store


def _open_mongodb(uri: str) -> JobStore:
    """A MongoDB store, its server reached within :data:`MONGODB_TIMEOUT_S` or one line saying it is not."""
    from maggma.stores import MongoURIStore
    from pymongo.errors import PyMongoError

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


def folder_collection(path: Path, name: str, key: str, readonly: bool = False, blobs: bool = False) -> FolderStore:
    """The collection ``name`` of the store folder ``path``, unconnected; ``blobs``: the data collection."""
    kinds = {(False, False): FolderStore, (True, False): ReadOnlyFolderStore, (False, True): BlobStore,
             (True, True): ReadOnlyBlobStore}
    return kinds[readonly, blobs](name, database_path=str(path), database_name=DATABASE_NAME, storage="sqlite", key=key)


def _check_not_corrupt(path: Path) -> None:
    for db_file in path.glob(f"{DATABASE_NAME}/*.collection"):
        try:
            with contextlib.closing(read_connection(db_file)) as connection:
                connection.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError:
            raise SeiscreenError(f"store file {db_file} is not a valid database (corrupted?): move the store "
                                 "folder aside and rerun, or pass another --store") from None


# --------------------------------------------------------------------------------------------- one writer

LOCK_FILE = "seiscreen.lock"  # in a store folder: JSON {pid, host, since} of the process writing it, else empty
_held: dict[str, IO[str]] = {}  # lock files this process holds


@contextlib.contextmanager
def store_lock(location: str | os.PathLike | None = None, wait: bool = False,
               say: Callable[[str], object] | None = None) -> Iterator[None]:
    """Hold the writer lock of the store folder at ``location`` (made when new) while the block runs.

    One process writes a store at a time: a second fails with one line naming the holder ("store in use by PID N
    on HOST since T"), or with ``wait`` says so and waits for it. The lock is ``fcntl.flock`` on
    ``<store>/seiscreen.lock``, which the kernel frees when its holder dies; a lock file still naming a holder is
    one left by a process that stopped without releasing it, taken over with a message. Re-entrant within one
    process. MongoDB stores and results files have no folder to lock: the block runs unlocked.

    Args:
        location: as :func:`resolve_location` takes it.
        wait: wait for another holder instead of failing.
        say: where the messages go (waiting, taking over); default: stderr.
    """
    location = resolve_location(location)
    if "://" in location or location.endswith(EXPORT_SUFFIXES):
        yield
        return
    path = store_folder(location) / LOCK_FILE
    if str(path) in _held:  # taken by this process already (a run's own helpers)
        yield
        return
    handle = _take_lock(path, wait, say or (lambda message: print(message, file=sys.stderr)))
    _held[str(path)] = handle
    try:
        yield
    finally:
        del _held[str(path)]
        handle.truncate(0)  # an empty file: released on purpose, not left by a holder that died
        handle.close()  # closing the file releases the flock


def _take_lock(path: Path, wait: bool, say: Callable[[str], object]) -> IO[str]:
    """The open lock file, locked by this process and naming it."""
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o666), "r+")  # never truncates a holder's record
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(handle)
        if not wait:
            handle.close()
            raise SeiscreenError(f"{holder} ({path.parent}): wait for it to finish (seiscreen run --wait waits for "
                                 "it), or pass another --store") from None
        say(f"{holder}: waiting for it to finish")
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as exc:  # a file system without file locks
        say(f"note: {path.parent} has no file locks ({exc.strerror}): nothing stops a second run writing into it")
    left = _lock_record(handle)
    if left:
        say(f"took over the lock of the store {path.parent} left by PID {left.get('pid')} on {left.get('host')} "
            f"(since {left.get('since')}), which stopped without releasing it")
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": datetime.now().astimezone().isoformat(timespec="seconds")}))
    handle.flush()
    return handle


def _lock_record(handle: IO[str]) -> dict:
    """What the lock file says of its holder ({} when empty or unreadable: released, or being written)."""
    handle.seek(0)
    try:
        record = json.loads(handle.read() or "{}")
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _lock_holder(handle: IO[str]) -> str:
    record = _lock_record(handle)
    if not record:
        return "store in use by another process"
    return f"store in use by PID {record.get('pid')} on {record.get('host')} since {record.get('since')}"


# --------------------------------------------------------------------------------------------- reuse


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


def checkpoint_folder(store: JobStore | None = None) -> Path:
    """Where NEB checkpoints live: ``$SEISCREEN_CHECKPOINTS``, else ``<store folder>/checkpoints``, else the
    ``checkpoints`` folder next to the job folders (MongoDB stores)."""
    if os.environ.get("SEISCREEN_CHECKPOINTS"):
        return Path(os.environ["SEISCREEN_CHECKPOINTS"])
    database_path = getattr(getattr(store, "docs_store", None), "database_path", None)
    if database_path:
        return Path(database_path) / CHECKPOINTS
    return Path.cwd().parent / CHECKPOINTS


# --------------------------------------------------------------------------------------------- shipped results

EXPORT_SUFFIXES = (".json", ".json.gz")
EXPORT_FORMAT = "seiscreen-results-1"


def code_version() -> dict:
    """The code running now: {"version": the package's, "commit": the git commit of its source tree when it runs
    from a git checkout (else None), "dirty": whether that tree (src/seiscreen) has changes not committed,
    "changed": which files}."""
    import subprocess
    from importlib.metadata import version

    package = Path(__file__).resolve().parent
    found = {"version": version("seiscreen"), "commit": None, "dirty": None, "changed": []}

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True, timeout=60)

    try:
        # Only a checkout's own source counts: an installed copy may sit inside some other repository.
        if not git("ls-files", "--", "__init__.py").stdout.strip():
            return found
        head, status = git("rev-parse", "HEAD"), git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):  # no git here, or it hung
        return found
    if head.returncode == 0 and status.returncode == 0:
        changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
        found.update(commit=head.stdout.strip(), dirty=bool(changed), changed=changed[:50])
    return found


def export_store(store: JobStore, path: str | os.PathLike, note: str | None = None) -> dict:
    """Every job document and big-data blob of ``store`` in one JSON file (gzipped for ``.json.gz``), with who
    wrote it: each document keeps its own provenance (settings, versions, date, machine), and the file the code
    version that exported it (:func:`code_version`: the git commit and whether it had changes). Returns the
    counts."""
    import gzip
    import json
    import platform
    from datetime import UTC, datetime
    from importlib.metadata import version

    from monty.json import jsanitize

    path = Path(path)
    if not str(path).endswith(EXPORT_SUFFIXES):
        raise SeiscreenError(f"results file {path} must end in .json or .json.gz")
    docs = [{k: v for k, v in d.items() if k != "_id"} for d in store.query({})]
    data_store = store.additional_stores.get("data")
    data = [{k: v for k, v in d.items() if k != "_id"} for d in (data_store.query({}) if data_store else [])]
    payload = {"format": EXPORT_FORMAT, "exported_at": datetime.now(UTC).isoformat(),
               "machine": platform.node(), "seiscreen_version": version("seiscreen"), "code_version": code_version(),
               "note": note,
               "jobs": jsanitize(docs, strict=False, allow_bson=False), "data": jsanitize(data, strict=False)}
    text = json.dumps(payload)  # key order kept: tables built from these documents keep their column order
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    if str(path).endswith(".gz"):
        with gzip.open(partial, "wt") as handle:
            handle.write(text)
    else:
        partial.write_text(text)
    os.replace(partial, path)  # never a half-written results file
    return {"jobs": len(docs), "data": len(data)}


def import_results(path: str | os.PathLike, location: str | os.PathLike | None = None) -> dict:
    """Copy every job document and big-data blob of the results file ``path`` (:func:`export_store`) into the
    store at ``location`` (as :func:`resolve_location` takes it; a folder is made when new), unchanged: a campaign
    run into that store then finds each finished surface, minima search and hop by its content hash and reuses
    it, as in the store the file was exported from. A document already there (the same ``uuid`` and ``index``)
    or blob (the same ``blob_uuid``) is left as it is, so importing twice, or two files that share documents,
    adds each once. The file is read whole before the store is opened (a bad file leaves no store behind); the
    store is written under :func:`store_lock`, blobs before documents (as :class:`OrderedJobStore` writes).

    Returns the counts: ``jobs`` and ``data`` imported, ``jobs_present`` and ``data_present`` already there.
    """
    path = Path(path)
    if not path.name.endswith(EXPORT_SUFFIXES) or path.is_dir():
        raise SeiscreenError(f"{path} is not a results file: import reads a .json or .json.gz file written by "
                             "'seiscreen export'")
    location = resolve_location(location)
    if location.endswith(EXPORT_SUFFIXES):
        raise SeiscreenError(f"{location} is a results file, and results files are read-only: pass a store folder "
                             "or mongodb:// URI with --store (or SEISCREEN_STORE)")
    exported = _open_export(path)  # one line when it is missing, damaged or names foreign code
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


def _open_export(path: Path) -> JobStore:
    import gzip
    import json

    from maggma.stores import MemoryStore

    if not path.is_file():
        raise SeiscreenError(f"no results file at {path}: check the path (write one with 'seiscreen export')")
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt") as handle:
            payload = json.load(handle)
    except (OSError, ValueError) as exc:
        raise SeiscreenError(f"results file {path} cannot be read ({type(exc).__name__}): it is not a "
                             "'seiscreen export' file, or it is damaged") from None
    if not isinstance(payload, dict) or payload.get("format") != EXPORT_FORMAT:
        raise SeiscreenError(f"results file {path} is not a {EXPORT_FORMAT} file: write it with 'seiscreen export'")
    # Refuses a document naming code outside seiscreen and jobflow (seiscreen.trust), as a store folder does.
    store = TrustedJobStore(MemoryStore("jobs", key="uuid"),
                            additional_stores={"data": MemoryStore("jobs_data", key="job_uuid")})
    store.connect()
    if payload["jobs"]:  # keyed as jobflow keys them: one document per (uuid, index)
        store.docs_store.update(payload["jobs"], key=["uuid", "index"])
    if payload["data"]:
        store.additional_stores["data"].update(payload["data"], key="blob_uuid")
    return store

