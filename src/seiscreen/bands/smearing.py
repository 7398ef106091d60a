"""The ``same_scf_smearing`` gate: a band whose states were computed at different SCF smearing is failed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seiscreen.bands.level import image_folder
from seiscreen.calculators import scf_record
from seiscreen.neb import NebResult


def ends_smearing(run_dir: Path, names: Sequence[str] = ("start", "end")) -> list[float | None]:
    """The SCF smearing each fixed state of a band ended on (folders ``names`` of ``run_dir``); None: not GPAW."""
    return [(scf_record(run_dir / name) or {}).get("smearing") for name in names]


def same_smearing_gate(result: NebResult, run_dir: Path,
                       ends: Sequence[float | None] | None) -> list[float | None] | None:
    """Apply gate ``same_scf_smearing`` to a finished band (``result``, changed in place).

    GPAW's SCF retries raise the smearing (``calculators.SCF_RETRIES``); a band whose ends and images ended at
    different smearing compares energies of different functionals, so it fails.

    Returns:
        The smearing per band image (start, images, end; None where unknown), or None when no image is GPAW's.
    """
    images = [(scf_record(image_folder(run_dir, k)) or {}).get("smearing") for k in range(len(result.images) - 2)]
    start, end = ends or (None, None)
    smearing = [start, *images, end]
    used = sorted({value for value in smearing if value is not None})
    if not used:
        return None
    result.gates["same_scf_smearing"] = len(used) == 1
    if len(used) > 1 and result.status != "failed":
        raised = [k for k, value in enumerate(smearing) if value is not None and value > used[0]]
        result.status, result.reason = "failed", (
            f"the band mixes SCF smearings ({', '.join(f'{v:g}' for v in used)} eV; the larger at band image(s) "
            f"{', '.join(map(str, raised))}, after SCF retries): its energies are not comparable; rerun the hop "
            "(seiscreen rerun-hop) or use a preset whose SCF converges at one smearing")
    return smearing
