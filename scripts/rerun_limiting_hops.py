"""Measure how far the NEB protocol moves a campaign's barriers: rerun the limiting hop of each material's lowest
ranked termination (per facet, adsorbate and protocol) with finer NEB settings, saved beside the hop.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/rerun_limiting_hops.py STORE_FOLDER [--neb n_images=9 --neb fmax=0.02]

Each rerun is `seiscreen rerun-hop JOB --store STORE_FOLDER --neb ... --save`: a ``hop_rerun`` document, whose
change becomes the surface's ``protocol_sensitivity`` in ``load_results`` (added in quadrature to its barrier
uncertainty, which the review verdicts use). Hops already rerun with these settings are skipped, so the script
resumes; hops stored as bands through relaxed valleys are skipped (one band between their ends finds the valleys
again, as the campaign did).
"""

from __future__ import annotations

import argparse
import time

from seiscreen.reproduce import rerun_hop
from seiscreen.results import hop_documents, load_results, surface_documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--neb", action="append", default=None, help="KEY=VALUE (default n_images=9, fmax=0.02)")
    args = parser.parse_args()
    changes = dict(item.split("=", 1) for item in (args.neb or ["n_images=9", "fmax=0.02"]))
    results = load_results(args.store)
    ranked = results.surfaces[results.surfaces["status"] == "ranked"]
    lowest = ranked.loc[ranked.groupby(["material", "facet", "adsorbate", "protocol_id"])["barrier"].idxmin()]
    surfaces = {doc["job_uuid"]: doc for doc in surface_documents(args.store)}
    hops = hop_documents(args.store)
    label = ", ".join(f"{k}={v}" for k, v in changes.items())
    reruns = results.reruns
    done = set(reruns.loc[reruns["neb_changes"] == label, "hop_job_uuid"]) if not reruns.empty else set()
    for row in lowest.sort_values("barrier").itertuples():
        (uuid,) = {h["job_uuid"] for h in surfaces[row.job_uuid]["hops"] if h["hop_id"] == row.limiting_hop}
        name = f"{row.material}{row.facet} {row.termination} {row.limiting_hop} ({uuid[:8]})"
        if uuid in done:
            print(f"{name}: already rerun with {label}", flush=True)
        elif hops[uuid].get("intermediate"):
            print(f"{name}: stored through relaxed valleys, not rerun in one band", flush=True)
        else:
            start = time.perf_counter()
            out = rerun_hop(args.store, uuid, neb=changes, save=True)
            barrier = "-" if out.barrier is None else f"{out.barrier:.4f}"
            print(f"{name}: stored {out.stored_barrier:.4f}, rerun {barrier} eV, {out.status}, "
                  f"{out.force_calls} calls, {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
