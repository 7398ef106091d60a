"""The results store: a jobflow ``JobStore`` on maggma's embedded ``MontyStore`` (SQLite), or MongoDB by URI.

Big data (NEB bands and trajectories) goes to a second collection, ``data``, as atomate2 does with
``@job(data=...)``. The database is created here, once, before any job (or parallel writer) opens it.

Crash safety: every SQLite write is one transaction, and :class:`OrderedJobStore` writes a job's big data before
its document, so a process killed between the two leaves an unreferenced blob, never a document pointing at
nothing. Finished documents carry a ``content_hash`` of their inputs; :func:`find_done` looks them up so a
rerun reuses them (see docs/reliability.md).
"""

from __future__ import annotations

import os
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import bson
from jobflow import JobStore
from jobflow.core.reference import OnMissing
from maggma.stores import MontyStore
from monty.json import jsanitize

from seiscreen.errors import SeiscreenError

CHECKPOINTS = "checkpoints"  # folder of the store where NEB bands are checkpointed, one file per hop hash


# What a job gets back of another job's big data. jobflow resolves every reference with load=True, but later jobs
# read only final bands (refinement, valleys, warm starts), never a band's history (HopDoc.trajectory: every 10th
# band), which is three quarters of the data and was most of the CPU time of resolving a hop (docs/performance.md).
REFERENCE_LOAD = {"data": ["band"]}


class OrderedJobStore(JobStore):
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


class BlobStore(MontyStore):
    """The embedded store's ``data`` collection: bands and trajectories.

    montydb has no indexes: every lookup and every upsert reads and decodes the whole collection, 0.6 s per
    operation on the 550 blobs of the review campaign's store, several times per NEB job. But jobflow writes each
    blob once, under a fresh ``blob_uuid``, and never changes it; so a blob is inserted, not upserted (2 ms), and
    the latest :attr:`kept_bytes` of blobs this process wrote answer jobflow's lookups by ``blob_uuid`` (a later job
    reading the band of a hop this run computed) without reading the collection. Nothing kept can go stale.
    """

    kept_bytes = 64 * 2**20

    def update(self, docs, key=None):
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


DEFAULT_STORE = "seiscreen-store"  # a folder in the working directory
ENV_VAR = "SEISCREEN_STORE"
DATABASE_NAME = "seiscreen"


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


def open_store(location: str | os.PathLike | None = None, create: bool = True) -> JobStore:
    """A connected JobStore at ``location``: a folder for the embedded store, a ``mongodb://`` URI, or a results
    file written by :func:`export_store` (``.json`` / ``.json.gz``, read into memory: shipped results)."""
    location = resolve_location(location)
    if location.endswith(EXPORT_SUFFIXES):
        return _open_export(Path(location))
    if location.startswith(("mongodb://", "mongodb+srv://")):
        from maggma.stores import MongoURIStore

        docs = MongoURIStore(location, "jobs", database=DATABASE_NAME)
        data = MongoURIStore(location, "jobs_data", database=DATABASE_NAME)
        store = OrderedJobStore(docs, additional_stores={"data": data})
        store.connect()
        return store
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
    data = BlobStore("jobs_data", database_path=str(path), database_name=DATABASE_NAME, storage="sqlite",
                     key="job_uuid")
    store = OrderedJobStore(docs, additional_stores={"data": data})
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


def export_store(store: JobStore, path: str | os.PathLike, note: str | None = None) -> dict:
    """Every job document and big-data blob of ``store`` in one JSON file (gzipped for ``.json.gz``), with who
    wrote it: each document keeps its own provenance (settings, versions, date, machine). Returns the counts."""
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
               "machine": platform.node(), "seiscreen_version": version("seiscreen"), "note": note,
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
    store = JobStore(MemoryStore("jobs", key="uuid"),
                     additional_stores={"data": MemoryStore("jobs_data", key="job_uuid")})
    store.connect()
    if payload["jobs"]:  # keyed as jobflow keys them: one document per (uuid, index)
        store.docs_store.update(payload["jobs"], key=["uuid", "index"])
    if payload["data"]:
        store.additional_stores["data"].update(payload["data"], key="blob_uuid")
    return store

