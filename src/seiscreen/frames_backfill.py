"""Training frames for results computed before frames were recorded: single points on a sample of the stored
structures, with the preset that made them.

A stored minimum or band image has an energy but no forces. Per surface the sample takes, in this order, the
clean slab, every accepted minimum, the climbing image of every accepted hop, then the other band images hop by
hop (so a small sample still spans every hop's saddle region), up to ``per_surface`` structures. Each is
recomputed in a folder of its own under the target store's run folder
(:func:`seiscreen.single_points.recompute`) and recorded there as a frame
(:mod:`seiscreen.frames`); the recomputed energy is compared with the stored one, which checks that the single
point reproduces the stored calculation. A structure whose folder holds its frame is not computed again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from seiscreen.errors import SeiscreenError
from seiscreen.results import band_images
from seiscreen.schemas import SurfaceKey, atoms_from_dict
from seiscreen.single_points import Recomputed, StoredStructure, recompute, require_recording

__all__ = ["Recomputed", "StoredStructure", "recompute", "sample_structures", "structures_from_file"]


def _label(key: dict) -> str:
    return SurfaceKey.model_validate(key).label


def _query(doc_type: str, preset: str, material: str | None, **more) -> dict:
    """The stored documents of one type and preset (and material) in a store query."""
    return {"output.doc_type": doc_type, "output.key.calculator": preset, **more,
            **({"output.key.material": material} if material is not None else {})}


def _minima_structures(store, preset: str, material: str | None) -> dict[str, list[StoredStructure]]:
    """Per surface: the clean slab and the accepted minima of its most refined minima document."""
    newest: dict[str, dict] = {}
    for doc in store.query(_query("minima", preset, material), properties=["output"]):
        out = doc["output"]
        if out.get("clean_energy") is None:
            continue
        label = _label(out["key"])
        if label not in newest or out.get("refinement", 0) > newest[label].get("refinement", 0):
            newest[label] = out
    found = {}
    for label, out in sorted(newest.items()):
        clean = [StoredStructure(label, out["key"], "clean", "clean", atoms_from_dict(out["clean_structure"]),
                                 out["clean_energy"], out.get("content_hash") or "")]
        found[label] = clean + [
            StoredStructure(label, out["key"], "minimum", f"m{m['index']}-{m['site']}", atoms_from_dict(m["structure"]),
                            m["energy"], out.get("content_hash") or "") for m in out["minima"]]
    return found


def _band_structures(store, preset: str, material: str | None) -> dict[str, list[list[StoredStructure]]]:
    """Per surface, per accepted hop: its interior band images, the climbing (highest) image first."""
    found: dict[str, list[list[StoredStructure]]] = {}
    seen: set[tuple[str, str]] = set()
    query = _query("hop", preset, material, **{"output.status": "accepted"})
    for doc in store.query(query, properties=["uuid", "output.key", "output.hop_id", "output.start_energy",
                                              "output.image_energies", "output.content_hash"]):
        out = doc["output"]
        band = (_label(out["key"]), out.get("content_hash") or doc["uuid"])
        if band in seen:  # a reused hop is stored again by every campaign that reused it: one band
            continue
        seen.add(band)
        images = band_images(store, doc["uuid"])[1:-1]
        energies = [out["start_energy"] + e for e in out["image_energies"][1:-1]]
        order = sorted(range(len(images)), key=lambda k: -energies[k])
        found.setdefault(_label(out["key"]), []).append([
            StoredStructure(_label(out["key"]), out["key"], "band image", f"{out['hop_id']}-image{k + 1}",
                            images[k], energies[k], out.get("content_hash") or "") for k in order])
    return found


def sample_structures(store, preset: str, per_surface: int, material: str | None = None) -> list[StoredStructure]:
    """The structures to recompute, ``per_surface`` at most per surface, in the order of the module docstring."""
    require_recording(preset)
    minima, bands = _minima_structures(store, preset, material), _band_structures(store, preset, material)
    sample = []
    for label in sorted(set(minima) | set(bands)):
        hops = sorted(bands.get(label, []), key=lambda h: h[0].label)
        interleaved = [hop[k] for k in range(max((len(h) for h in hops), default=0)) for hop in hops if k < len(hop)]
        sample += (minima.get(label, []) + interleaved)[:per_surface]
    if not sample:
        raise SeiscreenError(f"no stored minima or accepted hops computed with {preset!r} here: see `seiscreen "
                             "results --store ...` for the presets it holds")
    return sample


def structures_from_file(path: Path) -> list[StoredStructure]:
    """Structures chosen elsewhere (``seiscreen committee --select``): extended XYZ whose info names the
    ``material``, ``facet`` ("(100)"), ``termination``, ``kind`` and ``label`` of each."""
    from ase.io import read

    if not path.is_file():
        raise SeiscreenError(f"no structures file {path}: write one with `seiscreen committee --select FILE`")
    chosen = []
    for k, atoms in enumerate(read(str(path), ":")):
        info = atoms.info
        missing = [key for key in ("material", "facet", "termination") if key not in info]
        if missing:
            raise SeiscreenError(f"structure {k} of {path} has no {', '.join(missing)} in its info line")
        key = {"material": info["material"], "miller": [int(c) for c in str(info["facet"]).strip("()")],
               "termination_id": info["termination"]}
        label = str(info.get("label", k))
        chosen.append(StoredStructure(f"{key['material']}{info['facet']} {key['termination_id']}", key,
                                      str(info.get("kind", "structure")), label, atoms, None,
                                      hashlib.sha256(atoms.positions.round(5).tobytes()).hexdigest()[:24]))
    return chosen
