"""Force calls per converged barrier at the higher fidelity: bands warm-started from the lower fidelity's band
versus a cold IDPP start, through the real pipeline, side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/warm_start.py --low ml --high gpaw-lcao --material NaF
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/warm_start.py --low emt --high chgnet --material Al --adsorbate Au
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/warm_start.py --campaign workflows/gpaw-naf100.yaml \
        --store results/in-progress/gpaw-naf100-store [--ml-band]

For every symmetry-unique hop of the surface: the higher fidelity's force calls with a cold and a warm start, the
ratio warm/cold, and the two barriers (which must agree; target: ratio <= 0.4 within 0.02 eV).

With ``--campaign`` and ``--store``: the campaign's funnel has already run in that store (its warm-started hops
are the "warm" column; for the shipped GPAW campaigns, ``seiscreen import results/gpaw-halides.json.gz --store
results/in-progress/gpaw-naf100-store`` makes that store); each of them is recomputed there from a cold IDPP start
(stored, so a rerun of the benchmark reuses it). Where the two fidelities found different minima, no hop is the
same, nothing is warm-started, and the script says so with both levels' hops.

Add ``--ml-band`` for that case: each finished hop of the higher fidelity is recomputed cold (if it was not) and
from a band the lower fidelity relaxed between the higher fidelity's own end points (IDPP start, ends fixed, the
campaign's NEB protocol): the start the funnel gives a hop the lower fidelity has no band of.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

from jobflow import run_locally

from seiscreen.campaign import Campaign
from seiscreen.workflow.surface import surface_makers
from seiscreen.catalog import load_bulk
from seiscreen.workflow.slabs import slab_doc
from seiscreen.schemas import WarmStart
from seiscreen.store import open_store
from seiscreen.surfaces.slabs import make_terminations


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low", default="ml")
    parser.add_argument("--high", default="gpaw-lcao")
    parser.add_argument("--material", default="NaF")
    parser.add_argument("--facet", default="100")
    parser.add_argument("--adsorbate", default="Na")
    parser.add_argument("--min-lateral-size", type=float, default=6.5)
    parser.add_argument("--min-thickness", type=float, default=4.0)
    parser.add_argument("--campaign", help="a funnel campaign already run in --store")
    parser.add_argument("--store")
    parser.add_argument("--ml-band", action="store_true", help="with --campaign: warm bands the lower fidelity "
                        "relaxes between the higher fidelity's end points")
    args = parser.parse_args()
    if args.campaign:
        return from_campaign_store(args.campaign, args.store, args.ml_band)
    campaign = Campaign(name="warm-start", calculator=args.low, adsorbate=args.adsorbate,
                        materials=[{"material": args.material, "facets": [args.facet]}],
                        slab={"min_thickness": args.min_thickness, "min_lateral_size": args.min_lateral_size})
    term = make_terminations(load_bulk(args.material), args.facet, campaign.slab)[0]
    work = Path(tempfile.mkdtemp(prefix="warm-start-"))
    store = open_store(work / "store")

    def run(calculator: str, warm_from=None):
        surface, _ = surface_makers(campaign, calculator, campaign.slab)
        slab = slab_doc(term, args.adsorbate, calculator)
        warm = None
        if warm_from is not None:
            warm = [WarmStart(start=h.start, end=h.end, band=h.band) for h in warm_from]
        flow = surface.make(slab, warm=warm)
        run_locally(flow, store=store, log=False, create_folders=True, root_dir=work / "runs")

    run(args.low)
    low_hops = _hop_docs(store, args.low)
    run(args.high)  # cold: IDPP
    run(args.high, warm_from=low_hops)
    print(f"{args.material}({args.facet}) {args.adsorbate} adatom; {args.low} band -> {args.high}")
    pairs = _pairs(store, args.high)
    if not pairs:
        hops = [d["output"] for d in store.query({"output.doc_type": "hop"}, properties=["output"])]
        return _no_common_hop(hops, args.low, args.high)
    _print_pairs(pairs)


def from_campaign_store(campaign_file: str, location: str, ml_band: bool = False) -> None:
    from seiscreen.calculators import get_preset
    from seiscreen.campaign import load_campaign
    from seiscreen.hopgraph import hop_specs
    from seiscreen.neb import USABLE
    from seiscreen.verdicts import with_later_gates
    from seiscreen.neb import NebProtocol
    from seiscreen.schemas import HopDoc, MinimaDoc
    from seiscreen.store import find_done
    from seiscreen.surfaces.slabs import SlabSettings

    campaign = load_campaign(campaign_file)
    low, high = (get_preset(name).name for name in campaign.fidelities[:2])  # "ml" is stored as "chgnet"
    store = open_store(location, create=False)
    store.connect()
    hops = [d["output"] for d in store.query({"output.doc_type": "hop"}, properties=["output"])]
    # The funnel's warm-started hops; with --ml-band, every finished hop of the higher fidelity, seeded again.
    # ... under this campaign's NEB protocol (a store may hold the same hops under another one).
    done = [h for h in hops if h["key"]["calculator"] == high and h["status"] in USABLE
            and (ml_band or h["warm_start"]) and NebProtocol(**h["provenance"]["neb_protocol"]) == campaign.neb]
    if not done:
        return _no_common_hop(hops, low, high)
    pairs, seen = [], set()
    for hop in done:
        (minima,) = [MinimaDoc.model_validate(d["output"]) for d in store.query(
            {"output.doc_type": "minima", "output.key": hop["key"], "output.refinement": hop["refinement"]},
            properties=["output"], load=True)][-1:]
        (spec,) = [s for s in hop_specs(minima, campaign.max_hop_length)[0] if s.hop_id == hop["hop_id"]]
        if (minima.content_hash, spec.hop_id) in seen:
            continue
        seen.add((minima.content_hash, spec.hop_id))
        surface, _ = surface_makers(campaign, high, SlabSettings(**hop["provenance"]["slab_settings"]),
                             hop["key"]["adsorbate"])
        neb_maker = surface.hops_maker.neb_maker

        # From the store, or run there (so a rerun of the benchmark reuses it).
        def computed(warm, neb_maker=neb_maker, minima=minima, spec=spec):
            identity = neb_maker.content_hash(minima, spec, warm)
            found = find_done(store, "hop", identity, load=True)
            if found is None:
                # Each job in a folder under the store's runs/, as `seiscreen run` does (GPAW's text output).
                run_locally(neb_maker.make(minima, spec, warm=warm), store=store, log=False, create_folders=True,
                            root_dir=Path(location) / "runs")
                found = find_done(store, "hop", identity, load=True)
            if found is None:  # it raised: its document says why (the band's checkpoint is kept for a rerun)
                (last,) = list(store.query({"output.doc_type": "hop", "output.content_hash": identity},
                                           properties=["output"], sort={"completed_at": -1}, limit=1))
                found = last["output"]
            # Judged by gates added after it was stored (a band that went round the cell is not this hop).
            return with_later_gates(HopDoc.model_validate({**found, "trajectory": []})).model_dump()

        cold = computed(None)
        if ml_band:  # the seed the funnel gives a hop the lower fidelity has no band of
            warm = computed(WarmStart(start=spec.start, end=spec.end, relax_with=campaign.fidelities[0]))
        else:
            warm = hop
        pairs.append((cold, warm))
    _print_pairs(pairs)


def _print_pairs(pairs: list[tuple[dict, dict]]) -> None:
    """One row per hop: (cold, warm) hop documents of the higher fidelity."""
    from seiscreen.neb import USABLE

    print(f"{'hop':28} {'cold calls':>10} {'warm calls':>10} {'warm/cold':>9} {'cold eV':>8} {'warm eV':>8}")
    for cold, warm in pairs:
        # A ratio only between two bands of the hop: a failed band's calls bought no barrier.
        if not warm["warm_start"]:  # the lower fidelity's band failed its gates: the "warm" hop started from IDPP
            print(f"{cold['hop_id']:28} {cold['force_calls']:10d}  no warm start: the lower fidelity's band between "
                  "these ends failed its gates (the hop started from IDPP)")
            continue
        usable = all(doc["status"] in USABLE for doc in (cold, warm))
        ratio = warm["force_calls"] / cold["force_calls"] if usable and cold["force_calls"] else float("nan")
        print(f"{cold['hop_id']:28} {cold['force_calls']:10d} {warm['force_calls']:10d} {ratio:9.2f} "
              f"{cold['forward_barrier'] or float('nan'):8.3f} {warm['forward_barrier'] or float('nan'):8.3f}")
        for side, doc in (("cold", cold), ("warm", warm)):
            if doc["status"] not in USABLE:
                print(f"  {side}: {doc['status']}: {doc['reason']}")


def _no_common_hop(hops: list[dict], low: str, high: str) -> None:
    """Nothing to compare: the levels found different minima, so no hop is the same. Both levels' hops."""
    if not any(h["key"]["calculator"] == high for h in hops):
        print(f"no hop of {high} in this store yet: nothing to compare")
    else:
        print(f"no hop of {high} was warm-started from {low}: the two levels' hops differ, and any band {low} "
              f"relaxed between {high}'s ends failed its gates (those hops start from IDPP)")
    for calculator in (low, high):
        for h in hops:
            if h["key"]["calculator"] == calculator:
                barrier = h["forward_barrier"]
                print(f"  {calculator:16} {h['hop_id']:28} {h['start_site']} -> {h['end_site']}, {h['status']}, "
                      f"{'-' if barrier is None else f'{barrier:.3f} eV'}, {h['force_calls']} force calls")


def _hop_docs(store, calculator):
    from seiscreen.schemas import HopDoc

    docs = store.query({"output.doc_type": "hop", "output.key.calculator": calculator}, properties=["output"],
                       load=True)
    return [HopDoc.model_validate(d["output"]) for d in docs]


def _pairs(store, calculator):
    docs = list(store.query({"output.doc_type": "hop", "output.key.calculator": calculator},
                            properties=["output", "completed_at"], sort={"completed_at": 1}))
    outputs = [d["output"] for d in docs]
    cold = [o for o in outputs if not o["warm_start"]]
    warm = {o["hop_id"]: o for o in outputs if o["warm_start"]}
    return [(c, warm[c["hop_id"]]) for c in cold if c["hop_id"] in warm]


if __name__ == "__main__":
    main()
