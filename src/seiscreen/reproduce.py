"""Rerun one stored hop and compare: its NEB recomputed from its stored ends, under its stored protocol and
calculator, beside the stored barrier.

For whoever checks a campaign's numbers, from a store or a shipped results file: nothing is written to the store
(GPAW's image folders go to a temporary folder). ``start="cold"`` interpolates a new band between the ends, as the
campaign did; ``start="band"`` starts from the stored final band, which a converged band should leave at once.
``neb`` overrides NEB settings (``{"n_images": 9, "fmax": 0.02}``): how much the barrier moves with the protocol.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from seiscreen.errors import SeiscreenError
from seiscreen.schemas import calculator_identity


@dataclass
class HopRerun:
    """A stored hop and its recomputation (energies in eV, relative to each band's own start)."""

    label: str  # material(facet) termination hop_id
    job_uuid: str
    start: str  # "cold" or "band"
    neb_changes: dict  # NEB settings changed from the stored protocol
    stored_status: str
    stored_barrier: float | None
    status: str
    barrier: float | None
    reason: str
    force_calls: int
    end_energy_drift: float | None  # largest |recomputed - stored| energy of the two ends: the calculator itself
    notes: list[str]  # what differs from the stored computation (calculator settings, a band through valleys)

    @property
    def difference(self) -> float | None:
        if self.barrier is None or self.stored_barrier is None:
            return None
        return self.barrier - self.stored_barrier


def find_hop(store, hop: str) -> tuple[str, dict]:
    """The stored hop whose NEB job uuid is ``hop`` or starts with it: (job uuid, hop document)."""
    from seiscreen.results import hop_documents

    docs = hop_documents(store)
    matches = [uuid for uuid in docs if uuid.startswith(hop)] if len(hop) >= 8 else []
    if len(matches) != 1:
        what = "no hop" if not matches else f"{len(matches)} hops"
        raise SeiscreenError(f"{what} with job uuid {hop!r} in this store: pass the job_uuid column of "
                             "`seiscreen results --hops --format csv` (8 characters or more)")
    return matches[0], docs[matches[0]]


def preset_changed(stored: dict) -> bool:
    """Whether the preset a document names (its ``provenance["calculator"]``) now has other settings."""
    from seiscreen.calculators import get_preset

    # Compared as stored (JSON): a tuple in a preset is a list in its documents.
    stored, today = (json.loads(json.dumps(calculator_identity(p), default=str)) for p in (
        stored, get_preset(stored["preset"]).provenance()))
    return stored != today


def rerun_hop(store, hop: str, start: str = "cold", neb: dict | None = None,
              workdir: str | Path | None = None) -> HopRerun:
    """Recompute the stored hop ``hop`` (its NEB job uuid, or a prefix of 8+ characters) and compare."""
    from pydantic import ValidationError

    from seiscreen.jobs import HopNebMaker
    from seiscreen.neb import NebProtocol, run_neb
    from seiscreen.results import _as_store, band_images

    if start not in ("cold", "band"):
        raise SeiscreenError(f"unknown start {start!r}: use cold (a new band) or band (the stored one)")
    store = _as_store(store)
    job_uuid, doc = find_hop(store, hop)
    key, provenance = doc["key"], doc["provenance"]
    label = f"{key['material']}({''.join(str(i) for i in key['miller'])}) {key['termination_id']} {doc['hop_id']}"
    images = band_images(store, job_uuid)
    if len(images) < 2:
        raise SeiscreenError(f"hop {label} has no stored band ({doc['status']}: {doc['reason']}): nothing to rerun")
    try:
        protocol = NebProtocol(**{**provenance["neb_protocol"], **(neb or {})})
    except ValidationError as exc:  # pydantic names the setting and what it accepts
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SeiscreenError(f"bad NEB setting for the rerun ({problems}): the settings are "
                             f"{', '.join(NebProtocol.model_fields)}") from None
    maker = HopNebMaker(calculator_preset=key["calculator"], neb_protocol=protocol)
    notes = []
    if preset_changed(provenance["calculator"]):
        notes.append(f"the preset {key['calculator']!r} has changed since: recomputed with today's settings")
    if doc.get("intermediate"):
        notes.append(f"stored through {len(doc['intermediate'].get('states', []))} relaxed valley(s); a rerun "
                     "between its ends may find them again as interior minima")
    # None where the document kept no image energies (band_images then attaches none).
    stored_energies = [image.get_potential_energy() if image.calc else None for image in (images[0], images[-1])]
    initial, final = images[0].copy(), images[-1].copy()
    if maker.preset.slab_pbc is not None:
        for image in (initial, final):
            image.pbc = maker.preset.slab_pbc
    band = None
    if start == "band":
        if len(images) != protocol.n_images + 2:
            raise SeiscreenError(f"the stored band of {label} has {len(images) - 2} images, its protocol "
                                 f"{protocol.n_images}: rerun it with --from cold")
        band = [image.positions.copy() for image in images[1:-1]]
    with tempfile.TemporaryDirectory(prefix="seiscreen-rerun-", dir=workdir) as folder:
        for image in (initial, final):
            image.calc = maker.image_calculator(image, Path(folder) / "ends")
        drifts = [abs(image.get_potential_energy() - e) for image, e in zip((initial, final), stored_energies,
                                                                             strict=True) if e is not None]
        result = run_neb(initial, final, maker.band_calculators(Path(folder)), protocol, initial_band=band)
    return HopRerun(label=label, job_uuid=job_uuid, start=start, neb_changes=dict(neb or {}),
                    stored_status=doc["status"], stored_barrier=doc["forward_barrier"], status=result.status,
                    barrier=result.forward_barrier, reason=result.reason, force_calls=result.force_calls + 2,
                    end_energy_drift=max(drifts) if drifts else None, notes=notes)
