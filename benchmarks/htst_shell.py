"""How large a shell the harmonic-TST (Vineyard) prefactor needs: one stored CHGNet hop, shells of growing radius.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/htst_shell.py [--results results/review-chgnet.json.gz]
        [--material NaF] [--facet 100] [--radii 0 3 4 5 6] [--delta 0.01]

The newest ranked surface of the material and facet in the results file, its limiting hop's stored final band:
the climbing image (the highest interior image) and the band's start (the relaxed start minimum). Per shell radius:
the shell (the adatom and every free atom within the radius of it at the minimum or at the saddle, the same atoms
at both), finite-difference Hessians at both with the hop's own preset, and printed: the shell's size, the force
calls, the imaginary modes at each, the saddle's imaginary frequency, the overlap of its mode with the band's
tangent, the minimum's lowest frequency, the Vineyard prefactor, its ratio to the largest shell's, and the seconds.
The default shell radius (``seiscreen.vibrations.DEFAULT_SHELL_RADIUS``) is the smallest radius whose prefactor
lies within 20 % of the largest shell's.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from seiscreen.calculators import get_preset
from seiscreen.results import band_images, load_results
from seiscreen.vibrations import (band_tangent, check_minimum, check_saddle, finite_difference_hessian,
                                  normal_modes, shell_indices, vineyard_prefactor)


def limiting_band(results_path: str, material: str, facet: str) -> tuple[list, str, str]:
    """The final band of the newest ranked surface's limiting hop, its preset's name and a one-line label."""
    results = load_results(results_path)
    surfaces = results.surfaces
    rows = surfaces[(surfaces.material == material) & (surfaces.facet == f"({facet})")
                    & (surfaces.status == "ranked")].sort_values("created_at")
    if rows.empty:
        raise SystemExit(f"no ranked {material}({facet}) surface in {results_path}")
    surface = rows.iloc[-1]
    hops = results.hops
    hop = hops[(hops.material == material) & (hops.facet == surface.facet)
               & (hops.termination == surface.termination) & (hops.protocol_id == surface.protocol_id)
               & (hops.hop_id == surface.limiting_hop)].iloc[-1]
    label = (f"{material}({facet}) {surface.termination} {hop.hop_id} ({hop.start_site} -> {hop.end_site}), "
             f"barrier {hop.forward_barrier:.3f} eV, {surface.calculator}, hop job {hop.job_uuid}")
    return band_images(results_path, hop.job_uuid), surface.calculator, label


def shell_row(images: list, climbing: int, calculator, radius: float, delta: float) -> dict:
    """The checks and the prefactor over the shell of one radius."""
    minimum, saddle = images[0], images[climbing]
    shell = sorted(set(shell_indices(minimum, -1, radius)) | set(shell_indices(saddle, -1, radius)))
    started = time.perf_counter()
    h_min, calls_min = finite_difference_hessian(minimum, calculator, shell, delta)
    h_saddle, calls_saddle = finite_difference_hessian(saddle, calculator, shell, delta)
    seconds = time.perf_counter() - started
    min_modes, saddle_modes = normal_modes(minimum, h_min, shell), normal_modes(saddle, h_saddle, shell)
    saddle_check = check_saddle(saddle_modes, band_tangent(images, climbing))
    minimum_check = check_minimum(min_modes)
    passed = saddle_check.passed and minimum_check.passed
    return {"radius": radius, "atoms": len(shell), "calls": calls_min + calls_saddle,
            "imag_min": minimum_check.imaginary, "imag_saddle": saddle_check.imaginary,
            "nu_imag": abs(saddle_check.imaginary_frequency or np.nan) / 1e12,
            "overlap": saddle_check.overlap if saddle_check.overlap is not None else np.nan,
            "nu_low_min": minimum_check.lowest_frequency / 1e12,
            "prefactor": vineyard_prefactor(min_modes, saddle_modes) if passed else np.nan, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/review-chgnet.json.gz")
    parser.add_argument("--material", default="NaF")
    parser.add_argument("--facet", default="100", help="Miller indices as written in the results: 100, 111, ...")
    parser.add_argument("--radii", type=float, nargs="+", default=[0.0, 3.0, 4.0, 5.0, 6.0])
    parser.add_argument("--delta", type=float, default=0.01, help="Å, the finite-difference displacement")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    images, preset_name, label = limiting_band(args.results, args.material, args.facet)
    energies = [image.get_potential_energy() for image in images]
    climbing = int(np.argmax(energies[1:-1])) + 1
    calculator = get_preset(preset_name).make(images[0].copy())
    print(f"{label}; climbing image {climbing} of {len(images)}; delta {args.delta} Å")
    rows = [shell_row(images, climbing, calculator, radius, args.delta) for radius in args.radii]
    largest = rows[-1]["prefactor"]
    print("| radius (Å) | atoms | force calls | imaginary (min, saddle) | saddle ν (THz) | overlap "
          "| lowest ν at minimum (THz) | prefactor (Hz) | / largest shell | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['radius']:g} | {row['atoms']} | {row['calls']} | {row['imag_min']}, {row['imag_saddle']} "
              f"| {row['nu_imag']:.3f}i | {row['overlap']:.3f} | {row['nu_low_min']:.3f} | {row['prefactor']:.3e} "
              f"| {row['prefactor'] / largest:.2f} | {row['seconds']:.0f} |")
    within = [row["radius"] for row in rows if abs(row["prefactor"] / largest - 1) <= 0.2]
    print(f"smallest radius within 20 % of the largest shell's prefactor: {min(within) if within else None} Å")


if __name__ == "__main__":
    main()
