"""NEB bands out of the store as files ``ase gui`` opens: ASE trajectory (.traj) or extended XYZ (.xyz).

The final band carries each image's energy (``ase gui`` then plots the band's profile with Tools → NEB);
``trajectory=True`` writes every stored band of the optimisation instead, one after the other.
"""

from __future__ import annotations

import re
from pathlib import Path

from seiscreen.errors import SeiscreenError
from seiscreen.results import _as_store, band_images, hop_documents, protocol_id

FORMATS = {"traj": "traj", "xyz": "extxyz"}


def _readable(atoms):
    """Empty strings in per-atom text arrays (the adatom has no bulk Wyckoff label) break extended XYZ
    reading: write "-" instead."""
    for array in atoms.arrays.values():
        if array.dtype.kind in "US":
            array[array == ""] = "-"
    return atoms


def band_filename(hop: dict, ext: str, trajectory: bool = False) -> str:
    """'NaF100_100-s0.250_chgnet_3f2a9c01de_hop0-m0-m1.xyz' (refinement and trajectory marked when there)."""
    key = hop["key"]
    parts = [f"{key['material']}{''.join(str(i) for i in key['miller'])}", key["termination_id"],
             key["calculator"], protocol_id(hop["provenance"]), hop["hop_id"]]
    if hop.get("refinement"):
        parts.append(f"r{hop['refinement']}")
    if trajectory:
        parts.append("history")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts)) + f".{ext}"


def export_bands(store, out: str | Path, fmt: str = "xyz", material: str | None = None, hop: str | None = None,
                 trajectory: bool = False) -> list[tuple[str, dict, Path]]:
    """Write the band of every hop (or those of ``material``; ``hop``: a hop id or NEB job uuid) into ``out``.

    Returns (NEB job uuid, hop document, file) for each file; hops without a band (failed before the NEB) are
    skipped.
    """
    from ase.io import write

    if fmt not in FORMATS:
        raise SeiscreenError(f"unknown band format {fmt!r}: use traj or xyz")
    store = _as_store(store)
    docs = hop_documents(store)
    chosen = [(uuid, doc) for uuid, doc in docs.items()
              if (material is None or doc["key"]["material"] == material)
              and (hop is None or hop in (uuid, doc["hop_id"]))]
    if not chosen:
        what = " and ".join(x for x in (material and f"material {material}", hop and f"hop {hop}") if x)
        raise SeiscreenError(f"no hop {('with ' + what) if what else ''} in this store: list them with "
                             "`seiscreen results --hops`")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for uuid, doc in sorted(chosen, key=lambda item: band_filename(item[1], fmt)):
        images = band_images(store, uuid, trajectory=trajectory)
        if trajectory:
            images = [image for band in images for image in band]
        if not images:
            continue
        path = out / band_filename(doc, fmt, trajectory)
        if path in {p for _, _, p in written}:  # the same hop computed twice (a rerun): keep both
            path = path.with_name(f"{path.stem}_{uuid[:8]}{path.suffix}")
        write(path, [_readable(image) for image in images], format=FORMATS[fmt])
        written.append((uuid, doc, path))
    return written
