"""Every surface a campaign builds, with no calculation: its cell, the content hashes stored work is found by, and
its candidate sites (names and starting positions), to check what a code change does to stored identities.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/surface_identities.py workflows/review.yaml --out after.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/surface_identities.py --compare before.json after.json

Each cell of a campaign's convergence series is cut (its `lateral` sizes); the minima and surface hashes are those
of an unseeded search (larger cells are seeded by the smaller cell's minima at run time, which only results know).
`--compare` lists every hash, cell or starting position that differs (none should, unless the change means it),
then every surface whose site names differ.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from seiscreen.campaign import load_campaign
from seiscreen.convergence import cell_series
from seiscreen.schemas import atoms_from_dict, content_hash
from seiscreen.surfaces.sites import candidate_sites
from seiscreen.workflow.cells import cell_slab
from seiscreen.workflow.slabs import TerminationsMaker
from seiscreen.workflow.surface import surface_makers

IDENTITY = ("slab_hash", "surface_hashes", "minima_hashes", "matrix", "n_atoms", "angles", "n_fixed",
            "site_positions")


def surface_record(doc, surface, adsorbate: str) -> dict:
    """One slab document's cell, identities and candidate sites."""
    sites = candidate_sites(atoms_from_dict(doc.structure), adsorbate)
    term = doc.termination
    return {"slab_hash": content_hash("slab", doc=doc.model_dump(mode="json")),
            "surface_hashes": surface.content_hashes(doc), "minima_hashes": surface.minima_maker.content_hashes(doc),
            "matrix": term["supercell_matrix"], "n_atoms": term["n_atoms"], "angles": term["cell_angles"],
            "n_fixed": term["n_fixed_layers"], "sites": sorted(s.name for s in sites),
            "site_positions": content_hash("sites", p=[[round(float(x), 4) for x in s.position] for s in sites])}


def campaign_records(path: str) -> dict:
    """Every termination of every facet of the campaign at ``path``, in every cell of its series."""
    campaign, out = load_campaign(path), {}
    for spec in campaign.materials:
        base = campaign.slab_for(spec)
        n_cells = len(cell_series(campaign.convergence, base)) if campaign.convergence else 1
        for cell in range(n_cells):
            slab = cell_slab(campaign, spec, cell)
            surface, settings = surface_makers(campaign, campaign.calculator, slab, spec.adsorbate)
            maker = TerminationsMaker(surface_flow_maker=surface, only=spec.terminations, **settings)
            for miller in spec.facets:
                for doc in maker.slab_docs(spec.material, list(miller)):
                    key = f"{Path(path).name}|{doc.key.label}|{slab.min_lateral_size}"
                    out[key] = surface_record(doc, surface, settings["minima_settings"].adsorbate)
                    print(key, out[key]["n_atoms"], out[key]["sites"], flush=True)
    return out


def compare(before: dict, after: dict) -> None:
    """Print what differs between two records files."""
    changed = [(key, field) for key in before.keys() & after.keys() for field in IDENTITY
               if before[key][field] != after[key][field]]
    print(f"{len(before)} surfaces before, {len(after)} after; only before: {sorted(before.keys() - after.keys())}; "
          f"only after: {sorted(after.keys() - before.keys())}")
    print("identities that differ:", sorted(changed) or "none")
    for key in sorted(before.keys() & after.keys()):
        if before[key]["sites"] != after[key]["sites"]:
            print(f"{key}: {', '.join(before[key]['sites'])} -> {', '.join(after[key]['sites'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("campaigns", nargs="*", help="campaign files")
    parser.add_argument("--out", type=Path, help="write the records here (JSON)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.compare:
        compare(*(json.loads(p.read_text()) for p in args.compare))
        return
    records = {key: value for path in args.campaigns for key, value in campaign_records(path).items()}
    if args.out:
        args.out.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
