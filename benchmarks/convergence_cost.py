"""Cost of cell convergence: the campaign in one cell against the same campaign with a ``convergence`` section,
side by side in one run (wall time and force calls), with the ratios.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/convergence_cost.py                  # EMT: Au on Al(100)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/convergence_cost.py --calculator ml  # CHGNet: Na on NaF(100)
    ... --lateral 9 13 --thickness 6 8 --material NaBr

Each campaign runs into a fresh store (nothing reused). The single-cell campaigns are the same campaign at the
first and at the largest cell of the series; the target (issue 37) is convergence <= 3x the single-cell campaign
at the first size, the one a campaign without ``convergence`` computes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

from jobflow import run_locally

from seiscreen.campaign import Campaign
from seiscreen.convergence import cell_series
from seiscreen.workflow.flows import campaign_flow
from seiscreen.store import open_store

DEFAULTS = {"emt": dict(material="Al", adsorbate="Au", lateral=[5.5, 8.5], thickness=[], min_thickness=5.0),
            "ml": dict(material="NaF", adsorbate="Na", lateral=[9.0, 13.0], thickness=[], min_thickness=6.0)}


def run(campaign: Campaign) -> tuple[float, int, int]:
    """(wall seconds, force calls of every surface document, surface documents) of one campaign, fresh store."""
    store = open_store(tempfile.mkdtemp(prefix="convergence-cost-"))
    start = time.perf_counter()
    run_locally(campaign_flow(campaign), store=store, log=False)
    wall = time.perf_counter() - start
    docs = list(store.query({"output.doc_type": "surface"}, properties=["output.force_calls"]))
    return wall, sum(d["output"]["force_calls"] for d in docs), len(docs)


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", default="emt", help="emt (default) or ml (CHGNet)")
    parser.add_argument("--material")
    parser.add_argument("--facet", default="100")
    parser.add_argument("--adsorbate")
    parser.add_argument("--lateral", type=float, nargs="*")
    parser.add_argument("--thickness", type=float, nargs="*")
    args = parser.parse_args()
    defaults = DEFAULTS["emt" if args.calculator == "emt" else "ml"]
    lateral = defaults["lateral"] if args.lateral is None else args.lateral
    thickness = defaults["thickness"] if args.thickness is None else args.thickness
    base = Campaign(name="convergence-cost", calculator=args.calculator,
                    adsorbate=args.adsorbate or defaults["adsorbate"],
                    materials=[{"material": args.material or defaults["material"], "facets": [args.facet]}],
                    slab={"min_thickness": defaults["min_thickness"], "vacuum": 10.0,
                          "min_lateral_size": lateral[0] if lateral else 9.0})
    series = base.model_copy(update={"convergence": {"lateral": lateral, "thickness": thickness}})
    series = Campaign.model_validate(series.model_dump())
    cells = cell_series(series.convergence, base.slab)
    rows = [(f"single cell {c.slab.min_lateral_size:g} x {c.slab.min_thickness:g} Å",
             run(base.model_copy(update={"slab": c.slab}))) for c in (cells[0], cells[-1])]
    rows.append((f"convergence ({len(cells)} cells)", run(series)))
    print(f"{base.materials[0].material}({args.facet}) + {base.adsorbate}, {args.calculator}: "
          f"lateral {lateral}, thickness {thickness or '-'}")
    print(f"{'campaign':<34} {'wall (s)':>9} {'force calls':>12} {'surfaces':>9}")
    for name, (wall, calls, n) in rows:
        print(f"{name:<34} {wall:>9.1f} {calls:>12d} {n:>9d}")
    (w0, c0, _), (w1, c1, _), (wc, cc, _) = (r for _, r in rows)
    print(f"ratio convergence / first cell:   wall {wc / w0:.2f}x, force calls {cc / c0:.2f}x (target <= 3x)")
    print(f"ratio convergence / largest cell: wall {wc / w1:.2f}x, force calls {cc / c1:.2f}x")


if __name__ == "__main__":
    main()
