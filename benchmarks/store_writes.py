"""Wall time per document written to the embedded store: as seiscreen opens it, against the same store with one
idle SQLite connection held open per file and ``synchronous=NORMAL`` (tried for issue 8, not kept), side by side.

    .venv/bin/python benchmarks/store_writes.py [--docs 30] [--floats 3000] [--repeats 3]

montydb opens and closes a SQLite connection for every write, and closing the last connection to a WAL file
checkpoints and syncs it; a held connection avoids that, but lets the WAL grow between checkpoints. Each variant
writes ``--docs`` job documents of ``--floats`` numbers into a new folder; the median over ``--repeats`` is printed,
with the ratio. docs/performance.md has the two measurements (2x faster under other disk load, 1.1-1.2x slower
without).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _as_used(folder: Path):
    from seiscreen.store import open_store

    return open_store(folder), False


def _held(folder: Path):
    from maggma.stores import MontyStore

    from seiscreen.store import DATABASE_NAME, OrderedJobStore

    stores = [MontyStore(name, database_path=str(folder), database_name=DATABASE_NAME, storage="sqlite", key=key,
                         client_kwargs={"synchronous": "NORMAL"}) for name, key in (("jobs", "uuid"),
                                                                                    ("jobs_data", "job_uuid"))]
    store = OrderedJobStore(stores[0], additional_stores={"data": stores[1]})
    store.connect()
    return store, True


def seconds_per_write(make_store, docs: int, floats: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="seiscreen-writes-"))
    store, hold = make_store(folder)
    payload = np.random.default_rng(0).random(floats).tolist()
    store.update([{"uuid": "first", "index": 1, "output": {"x": payload}}])  # creates the files
    held = [sqlite3.connect(f) for f in folder.glob("*/*.collection")] if hold else []
    start = time.perf_counter()
    for k in range(docs):
        store.update([{"uuid": f"u{k}", "index": 1, "output": {"x": payload}}])
    elapsed = (time.perf_counter() - start) / docs
    for connection in held:
        connection.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=30)
    parser.add_argument("--floats", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"as used": [], "held": []}
    for _ in range(args.repeats):  # alternated, so that a change of load hits both alike
        times["as used"].append(seconds_per_write(_as_used, args.docs, args.floats))
        times["held"].append(seconds_per_write(_held, args.docs, args.floats))
    used, held = (statistics.median(times[k]) for k in ("as used", "held"))
    print(f"wall ms per document ({args.docs} documents of {args.floats} floats, median of {args.repeats}): "
          f"as seiscreen opens the store {1000 * used:.1f}; one connection held, synchronous=NORMAL "
          f"{1000 * held:.1f}; ratio {held / used:.2f}x")


if __name__ == "__main__":
    main()
