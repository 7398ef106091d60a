"""What the store costs one NEB job as the store grows: seiscreen's embedded store against jobflow's plain
``JobStore`` on the same montydb files, side by side in one run.

    .venv/bin/python benchmarks/store_scaling.py [--store STORE_FOLDER_OR_RESULTS_FILE] [--repeats 3]

montydb has no indexes: every query and every upsert reads and decodes the whole collection. A NEB job writes its
hop document and two blobs (final band, trajectory), and a later job of the surface (summary, refinement) resolves
the hop by reference, with its band. This times exactly that, ``store.update(...)`` then
``store.get_output(uuid, load=True)`` as jobflow calls them, with one stored hop (band and trajectory included)
written again under a new uuid:

* ``plain``: ``JobStore(MontyStore("jobs"), {"data": MontyStore("jobs_data")})``, jobflow's own classes;
* ``seiscreen``: ``seiscreen.store.open_store``: blobs inserted, not upserted, and read back from what this process
  wrote (``BlobStore``); references resolved without band histories (``REFERENCE_LOAD``).

Each side works on its own copy of the store folder, for an empty store (the hop alone) and for ``--store``
(a store folder, or a results file imported into a new one; default: ``results/review-chgnet.json.gz``, the review
campaign's 1150 documents and 548 blobs). Wall seconds, median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _plain(folder: Path):
    from jobflow import JobStore
    from maggma.stores import MontyStore

    from seiscreen.store import DATABASE_NAME

    docs, data = (MontyStore(name, database_path=str(folder), database_name=DATABASE_NAME, storage="sqlite", key=key)
                  for name, key in (("jobs", "uuid"), ("jobs_data", "job_uuid")))
    store = JobStore(docs, additional_stores={"data": data})
    store.connect()
    return store


def _seiscreen(folder: Path):
    from seiscreen.store import open_store

    return open_store(folder, create=False, readonly=False)  # it writes a hop into the copy


def _one_hop(folder: Path) -> dict:
    """A stored hop document with its band and trajectory, as its NEB job handed it to the store."""
    store = _plain(folder)
    found = store.query_one({"output.doc_type": "hop", "output.status": "accepted"}, load=True)
    return {k: found[k] for k in ("uuid", "index", "output", "name", "metadata", "hosts") if k in found}


def seconds(open_side, folder: Path, hop: dict) -> tuple[float, float]:
    store = open_side(folder)
    doc = {**hop, "uuid": str(uuid.uuid4())}
    start = time.perf_counter()
    store.update(doc, key=["uuid", "index"], save={"data": ["band", "trajectory"]})
    written = time.perf_counter()
    output = store.get_output(doc["uuid"], load=True)
    resolved = time.perf_counter()
    assert output["band"] == hop["output"]["band"], "the band read back differs from the band written"
    return written - start, resolved - written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=REPO / "results" / "review-chgnet.json.gz")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="seiscreen-store-scaling-"))
    if args.store.name.endswith((".json", ".json.gz")):  # a results file: its documents in a store folder
        from seiscreen.store import import_results

        folder = work / args.store.name.split(".")[0]
        import_results(args.store, folder)
        args.store = folder
    hop = _one_hop(args.store)
    empty = work / "empty"
    _plain(empty).update(hop, key=["uuid", "index"], save={"data": ["band", "trajectory"]})
    sizes = {}
    for name, source in (("empty", empty), (args.store.name, args.store)):
        store = _plain(source)
        sizes[name] = (store.docs_store.count(), store.additional_stores["data"].count())
    print(f"{'store':>14} {'documents':>9} {'blobs':>6} {'side':>10} {'write s':>8} {'resolve s':>9} {'total s':>8}")
    totals = {}
    for name, source in (("empty", empty), (args.store.name, args.store)):
        for side, open_side in (("plain", _plain), ("seiscreen", _seiscreen)):
            runs = []
            for k in range(args.repeats):
                copy = work / f"{name}-{side}-{k}"
                shutil.copytree(source, copy, ignore=shutil.ignore_patterns("checkpoints", "runs"))
                runs.append(seconds(open_side, copy, hop))
                shutil.rmtree(copy)
            write, resolve = (statistics.median(r[i] for r in runs) for i in (0, 1))
            totals[name, side] = write + resolve
            print(f"{name:>14} {sizes[name][0]:>9} {sizes[name][1]:>6} {side:>10} {write:>8.3f} {resolve:>9.3f} "
                  f"{write + resolve:>8.3f}")
    for name in ("empty", args.store.name):
        print(f"{name}: seiscreen / plain = {totals[name, 'seiscreen'] / totals[name, 'plain']:.2f}x "
              f"(median of {args.repeats}, write + resolve of one hop)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
