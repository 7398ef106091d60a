"""A hop's two ends: its relaxed minima copied onto the hop's nodes, relaxed again, and checked for sliding."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from seiscreen.bands.level import CalculatorLevel
from seiscreen.bands.smearing import ends_smearing
from seiscreen.minima import adatom_frac_xy
from seiscreen.neb import unwrap_final
from seiscreen.surfaces.hops import SAME_BASIN
from seiscreen.surfaces.symmetry import SurfaceSymmetry, minimum_image

SLIDE_TOLERANCE = 0.3  # Å: a re-relaxed end farther than this from where its minimum was put slid away


def placed_end(minimum: Atoms, frac_xy: np.ndarray, node: np.ndarray, symmetry: SurfaceSymmetry,
               clean_positions: np.ndarray) -> tuple[Atoms, np.ndarray]:
    """The relaxed ``minimum`` (adatom at ``frac_xy``) copied by symmetry onto the hop's ``node`` (fractional xy).

    Returns:
        The copy, and where its adatom landed (fractional xy), to measure how far it slides when re-relaxed.
    """
    atoms = minimum.copy()
    op = symmetry.operation_mapping(np.asarray(frac_xy), np.asarray(node) % 1.0, tol=SAME_BASIN)
    atoms.positions = symmetry.transform_positions(atoms.positions, atoms.cell.array, op, clean_positions)
    return atoms, adatom_frac_xy(atoms)


@dataclass
class HopEnds:
    """A hop's relaxed ends, the final one unwrapped next to the initial one along the hop.

    Attributes:
        initial: The start, relaxed.
        final: The end, relaxed and unwrapped (its adatom one hop vector from the start's).
        endpoints: The record stored with the hop: slides (Å), energies (eV), SCF smearing.
        failure: Why the ends are no hop's ends ("" when they are).
        force_calls: What relaxing the two ends cost (0 when they came back from a checkpoint).
    """

    initial: Atoms
    final: Atoms
    endpoints: dict = field(default_factory=dict)
    failure: str = ""
    force_calls: int = 0


def relaxed_hop_ends(level: CalculatorLevel, ends: tuple[tuple[Atoms, np.ndarray], tuple[Atoms, np.ndarray]],
                     nodes: tuple[np.ndarray, np.ndarray], symmetry: SurfaceSymmetry, fmax: float, max_steps: int,
                     slide_tolerance: float, run_dir: Path) -> HopEnds:
    """Relax the two placed ends (:func:`placed_end`: atoms and where the adatom was put) in folders ``start`` and
    ``end`` of ``run_dir``; an end that slides farther than ``slide_tolerance`` (Å) fails the hop."""
    (initial, copied_i), (final, copied_f) = ends
    outcomes = level.relax_ends([(initial, run_dir / "start"), (final, run_dir / "end")], fmax, max_steps)
    calls = sum(n for _, n in outcomes)
    start_actual, end_actual = adatom_frac_xy(initial), adatom_frac_xy(final)
    slide_i, slide_f = (float(symmetry.lateral_distance(actual, copied))
                        for actual, copied in ((start_actual, copied_i), (end_actual, copied_f)))
    start, end = (np.asarray(node) for node in nodes)
    # The hop's vector, corrected for where each end's copy of its minimum actually sits.
    end_actual = end_actual + np.rint((end - start) - (end_actual - start_actual))
    endpoints = {"start_slide": slide_i, "end_slide": slide_f,
                 "start_energy": float(initial.get_potential_energy()),
                 "end_energy": float(final.get_potential_energy()), "scf_smearing": ends_smearing(run_dir)}
    if max(slide_i, slide_f) > slide_tolerance:
        return HopEnds(initial, final, endpoints, f"an end point slid {max(slide_i, slide_f):.2f} Å away from its "
                                                  "minimum on re-relaxation: not a minimum of this calculator", calls)
    shift = np.append((end_actual - start_actual) @ initial.cell.array[:2, :2], 0.0)
    return HopEnds(initial, unwrap_final(initial, final, shift), endpoints, force_calls=calls)


def relaxed_stored_ends(level: CalculatorLevel, initial: Atoms, final: Atoms, folder: Path, fmax: float,
                        max_steps: int, slide_tolerance: float) -> tuple[int, str]:
    """A stored band's two ends relaxed in place with another level (``seiscreen rerun-hop --preset``).

    Returns:
        (force calls, why the ends are not this level's minima, or "").
    """
    before = [image.positions[-1].copy() for image in (initial, final)]
    outcomes = level.relax_ends([(initial, folder / "start"), (final, folder / "end")], fmax, max_steps)
    problems = []
    for name, image, start, (converged, _) in zip(("start", "end"), (initial, final), before, outcomes, strict=True):
        slide = float(np.linalg.norm(minimum_image(image.positions[-1] - start, image.cell.array)[:2]))
        if not converged:
            problems.append(f"the {name} did not relax to {fmax} eV/Å in {max_steps} steps")
        elif slide > slide_tolerance:
            problems.append(f"the {name} slid {slide:.2f} Å off the stored minimum: not a minimum of "
                            f"{level.preset.name!r} (a campaign with {level.preset.name!r} finds its own minima)")
    return sum(calls for _, calls in outcomes), "; ".join(problems)
