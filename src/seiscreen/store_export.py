"""Shipped results: every document and blob of a store in one JSON file (``seiscreen export``), which
``open_store`` reads back into memory like a store, with the code version that wrote it."""

from __future__ import annotations

import os
from pathlib import Path

from typing import TYPE_CHECKING

from seiscreen.errors import SeiscreenError

if TYPE_CHECKING:  # jobflow is imported where a store is made: `seiscreen results` reads folders without it
    from jobflow import JobStore

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


def open_export(path: Path) -> JobStore:
    """The results file at ``path`` (written by :func:`export_store`) read into an in-memory store, checked as a
    store folder is (:class:`~seiscreen.store_collections.TrustedJobStore`); one line (SeiscreenError) when it is
    missing, unreadable or of another format."""
    import gzip
    import json

    from maggma.stores import MemoryStore

    from seiscreen.store_collections import TrustedJobStore

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

