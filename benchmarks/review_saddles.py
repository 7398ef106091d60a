"""Do the limiting hops of a results file survive the first-order-saddle gate? For every ranked surface: its
limiting hop's final band, the saddle check of the campaign (three Hessians over the shell, ``bands.saddle``) with
the file's own calculator preset, and whether a pushed band would be computed (a second imaginary mode).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/review_saddles.py results/review-chgnet.json.gz [--radius 6]
"""

from __future__ import annotations

import argparse
import time

from seiscreen.bands.saddle import check_band
from seiscreen.calculators import get_preset
from seiscreen.kinetics import KineticsSettings
from seiscreen.results import band_images, load_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--radius", type=float, default=KineticsSettings().shell_radius)
    parser.add_argument("--material", action="append", help="only these materials (repeatable)")
    args = parser.parse_args()
    loaded = load_results(args.results)
    ranked = loaded.surfaces[loaded.surfaces["status"] == "ranked"].sort_values(["material", "facet"])
    hops = loaded.hops
    print("| surface | limiting hop | barrier (eV) | shell atoms | imaginary (saddle, start, end) | overlap | "
          "gate | ν forward (Hz) | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in ranked.itertuples():
        if args.material and s.material not in args.material:
            continue
        rows = hops[(hops.material == s.material) & (hops.facet == s.facet) & (hops.termination == s.termination)
                    & (hops.protocol_id == s.protocol_id) & (hops.hop_id == s.limiting_hop)]
        if rows.empty:  # a hop of a refinement whose document the file does not hold under this id
            print(f"| {s.material}{s.facet} {s.termination} | {s.limiting_hop} | {s.barrier:.3f} | no band in the "
                  "file | | | | | |", flush=True)
            continue
        hop = rows.iloc[-1]
        images = band_images(args.results, hop.job_uuid)
        preset = get_preset(s.calculator)
        started = time.perf_counter()
        modes = check_band(images, [a.get_potential_energy() for a in images], lambda atoms, p=preset: p.make(),
                           args.radius, 0.01)
        forward, _ = modes.attempts()
        checks = (modes.saddle_check.imaginary, modes.start_check.imaginary, modes.end_check.imaginary)
        overlap = "-" if modes.saddle_check.overlap is None else f"{modes.saddle_check.overlap:.2f}"
        print(f"| {s.material}{s.facet} {s.termination} | {s.limiting_hop} | {s.barrier:.3f} | {len(modes.atoms)} | "
              f"{checks} | {overlap} | {'passed' if modes.first_order_saddle else 'FAILED'} | "
              f"{'-' if forward is None else f'{forward:.2e}'} | {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
