"""The gates that decide whether a finished band is a barrier, the saddle from its spline, and joined bands.

Pure functions of a band's images and energies (results attached): no force call, no I/O.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.geometry import find_mic
from ase.utils.forcecurve import fit_images

from seiscreen.errors import SeiscreenError
from seiscreen.neb.protocol import USABLE, NebProtocol, NebResult

# Å a band may miss its own end by, walked image to image: far below any cell vector (≥ ~2.5 Å).
SLIP_TOLERANCE = 1.0


def check_distinct_ends(initial: Atoms, final: Atoms, protocol: NebProtocol) -> None:
    """A hop whose two ends are the same site is no hop: refused before any force call is spent on it.

    Raises:
        SeiscreenError: the adatom moves no more than ``protocol.min_hop_length`` between the ends.
    """
    travel = float(np.linalg.norm(final.positions[-1] - initial.positions[-1]))
    if travel <= protocol.min_hop_length:
        raise SeiscreenError(f"the hop's two ends are the same site (adatom {travel:.2f} Å apart, "
                             f"min_hop_length {protocol.min_hop_length} Å): pick two different minima as its ends")


def judge_band(images: list[Atoms], protocol: NebProtocol, converged: bool, steps_plain: int = 0,
               steps_climb: int = 0, force_calls: int = 0, history: list | None = None) -> NebResult:
    """Apply the gates to a finished band (images with results attached).

    Args:
        images: the band, ends included, each with its energy and forces.
        protocol: the thresholds of the gates.
        converged: the climbing stage reached ``protocol.fmax``.
        steps_plain: optimiser steps of the plain stage, as reported.
        steps_climb: optimiser steps of the climbing stage, as reported.
        force_calls: image evaluations spent, as reported.
        history: snapshots of the band taken while it relaxed, as reported.

    Returns:
        The band with its gates, status, reason and (unless it ran away or has no distinct ends) its barriers.
    """
    energies = [float(im.get_potential_energy()) for im in images]
    e = np.array(energies)
    top = int(np.argmax(e))
    interior = _interior_minima(e, protocol.interior_minimum_tolerance)
    closest = min(_closest_contact_ratio(im) for im in images)
    travel = float(np.linalg.norm(images[-1].positions[-1] - images[0].positions[-1]))
    slip = band_slip(images)
    gates = {
        "distinct_ends": travel > protocol.min_hop_length,
        "follows_hop": follows_hop(slip),
        "converged": converged,
        "highest_image_interior": 0 < top < len(e) - 1,
        "no_interior_minimum": not interior,
        "no_runaway": bool(e.max() - min(e[0], e[-1]) < protocol.runaway_energy
                           and closest > protocol.min_distance_ratio),
    }
    status, reason = _verdict(gates, e, interior, closest, travel, slip, protocol)
    path: dict = {}
    forward = reverse = saddle = None
    if gates["no_runaway"] and gates["distinct_ends"]:
        saddle, path = _spline_saddle(images)
        if status == "barrierless":
            saddle = max(e[0], e[-1])
        forward, reverse = saddle - e[0], saddle - e[-1]
    return NebResult(images=images, energies=energies, converged=converged, steps_plain=steps_plain,
                     steps_climb=steps_climb, force_calls=force_calls, gates=gates, status=status, reason=reason,
                     forward_barrier=forward, reverse_barrier=reverse, saddle_energy=saddle, saddle_image=top,
                     interior_minimum_image=interior[0] if interior else None, exchange=_is_exchange(images),
                     path=path, history=history or [])


def _interior_minima(e: np.ndarray, tol: float) -> list[int]:
    """Images in a valley between two humps, deeper than ``tol`` on both sides: minima the search missed (also
    when no lower than the ends: a hop through an equivalent site is two hops)."""
    return [k for k in range(1, len(e) - 1)
            if e[k] <= e[k - 1] and e[k] <= e[k + 1] and e[k] < e[:k].max() - tol and e[k] < e[k + 1:].max() - tol]


def _verdict(gates: dict[str, bool], e: np.ndarray, interior: list[int], closest: float, travel: float,
             slip: np.ndarray, protocol: NebProtocol) -> tuple[str, str]:
    """The band's status and one-line reason from its gates, the first failed gate deciding."""
    if not gates["distinct_ends"]:
        return "failed", f"both ends relaxed to the same place (adatom {travel:.2f} Å apart): not a hop"
    if not gates["no_runaway"]:
        return "failed", (f"band ran away: max energy {e.max() - min(e[0], e[-1]):.2f} eV above the lower end, "
                          f"closest contact {closest:.2f} x covalent radii")
    if not gates["follows_hop"]:
        # ASE's springs measure image to image by minimum image, so in a small cell a band can slide round it
        # and arrive at a periodic copy of its end: a path to another neighbour, whose barrier is not this hop's.
        return "failed", slip_reason(slip)
    if interior:
        depth = e[interior[0]] - e[0]
        return "interior_minimum", (f"image {interior[0]} is a valley of the band ({depth:+.3f} eV from the "
                                    "start): a minimum was missed; the hop is split there")
    if not gates["converged"]:
        return "failed", f"band not converged to fmax {protocol.fmax} eV/Å within the step budget"
    if not gates["highest_image_interior"]:
        # Converged and rising all the way to the higher end: that end is separated from the lower one by no
        # barrier the band can resolve. Not a barrier of this hop, but its saddle is known: the higher end.
        return "barrierless", ("the band rises monotonically to its higher end: the saddle is that end "
                               "(reverse barrier ~0)")
    return "accepted", ""


def join_bands(bands: list[NebResult]) -> NebResult:
    """One hop through intermediate minima, from its bands in path order (start -> intermediate -> ... -> end).

    Usable when every band is; its saddle is the highest of theirs, since the hop is as hard as its hardest
    step. Each band passed every gate on its own: the valleys between them are minima, not missed ones.

    Args:
        bands: the hop's bands, each ending where the next starts.

    Returns:
        The joined band: images and energies end to end, steps and force calls summed, a gate passed when every
        band passed it.
    """
    images = bands[0].images + [im for band in bands[1:] for im in band.images[1:]]
    energies = bands[0].energies + [e for band in bands[1:] for e in band.energies[1:]]
    forward = reverse = saddle = None
    broken = [(k, band) for k, band in enumerate(bands) if band.status not in USABLE]
    if not broken:
        saddle = max(band.saddle_energy for band in bands)
        forward, reverse = saddle - energies[0], saddle - energies[-1]
        status, reason = "accepted", ""
        if saddle <= max(energies[0], energies[-1]) + 1e-9:
            status, reason = "barrierless", "the path rises monotonically to its higher end: the saddle is that end"
    else:
        k, band = broken[0]
        status, reason = "failed", f"its band {k + 1} of {len(bands)} (between intermediates) is {band.status}: " \
                                   f"{band.reason}"
    return NebResult(images=images, energies=energies, converged=all(band.converged for band in bands),
                     steps_plain=sum(band.steps_plain for band in bands),
                     steps_climb=sum(band.steps_climb for band in bands),
                     force_calls=sum(band.force_calls for band in bands),
                     gates={k: all(band.gates.get(k, False) for band in bands) for k in bands[0].gates},
                     status=status, reason=reason, forward_barrier=forward, reverse_barrier=reverse,
                     saddle_energy=saddle, saddle_image=int(np.argmax(energies)), interior_minimum_image=None,
                     exchange=any(band.exchange for band in bands), path=_joined_path(bands),
                     history=[images for band in bands for images in band.history])


def _joined_path(bands: list[NebResult]) -> dict:
    """The bands' spline paths end to end (coordinates continued, energies from the first start), in the format of
    ``_spline_saddle``; empty when a band has none (it ran away)."""
    if not all(band.path for band in bands):
        return {}
    joined: dict = {"path": [], "energies": [], "fit_path": [], "fit_energies": []}
    offset, saddle = 0.0, (-float("inf"), 0.0)
    for band in bands:
        shift = band.energies[0] - bands[0].energies[0]
        for key, values, add in (("path", band.path["path"], offset), ("fit_path", band.path["fit_path"], offset),
                                 ("energies", band.path["energies"], shift),
                                 ("fit_energies", band.path["fit_energies"], shift)):
            joined[key] += [x + add for x in values]
        top = max(band.path["fit_energies"]) + shift
        if top > saddle[0]:
            saddle = (top, band.path["saddle_coordinate"] + offset)
        offset += band.path["path"][-1]
    joined["saddle_coordinate"] = saddle[1]
    return joined


def band_slip(images: list[Atoms]) -> np.ndarray:
    """The lattice vector (Å) by which the band's path, image to image by minimum image, misses its own end.

    Zero for a band that follows its hop; a cell vector for one that went round the cell (largest atom's miss).
    """
    first, last = images[0], images[-1]
    steps = zip(images[:-1], images[1:], strict=True)
    walked = sum(find_mic(b.positions - a.positions, first.cell, first.pbc)[0] for a, b in steps)
    miss = walked - (last.positions - first.positions)
    return miss[int(np.argmax(np.linalg.norm(miss, axis=1)))]


def follows_hop(slip: np.ndarray) -> bool:
    """The band reached its own end, not a periodic copy of it (``slip`` from :func:`band_slip`)."""
    return bool(np.linalg.norm(slip) < SLIP_TOLERANCE)


def slip_reason(slip: np.ndarray) -> str:
    """The one-line reason of a band that failed ``follows_hop`` (``slip`` from :func:`band_slip`)."""
    return (f"the band went round the cell to a periodic copy of its end (its path is {np.round(slip, 2).tolist()} "
            "Å off the hop's displacement): another hop, not this one")


def _spline_saddle(images: list[Atoms]) -> tuple[float, dict]:
    """Saddle energy from ASE's force-informed cubic fit through the band (located between images)."""
    fit = fit_images(images)
    i = int(np.argmax(fit.fit_energies))
    saddle = float(fit.fit_energies[i]) + float(images[0].get_potential_energy())
    path = {"path": [float(x) for x in fit.path], "energies": [float(x) for x in fit.energies],
            "fit_path": [float(x) for x in fit.fit_path], "fit_energies": [float(x) for x in fit.fit_energies],
            "saddle_coordinate": float(fit.fit_path[i])}
    return max(saddle, max(im.get_potential_energy() for im in images)), path


def _closest_contact_ratio(atoms: Atoms) -> float:
    """The closest pair of atoms (periodic), as a multiple of the sum of their covalent radii."""
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    radii = covalent_radii[atoms.numbers]
    return float((d / (radii[:, None] + radii[None, :])).min())


def _is_exchange(images: list[Atoms], adatom: int = -1, min_displacement: float = 1.0) -> bool:
    """The moving atom traded places: a slab atom of its element moved > 1 Å between the ends."""
    first, last = images[0], images[-1]
    same = np.flatnonzero(first.numbers[:-1] == first.numbers[adatom])
    moved = np.linalg.norm(last.positions[same] - first.positions[same], axis=1)
    return bool((moved > min_displacement).any())
