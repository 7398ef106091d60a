"""The descriptor panel as a DataFrame: one row per material and calculator preset (``load_results(...).descriptors``).

Each row puts the material's surface barrier first (its lowest ranked barrier under the same preset, any facet),
then the sodiophilicity read from its surface documents (the lowest adsorption energy of the adatom against its
bulk metal over its ranked surfaces: stored with every surface, never computed again), then the columns of every
computed part of its ``DescriptorDoc``. A new descriptor adds its columns in ``PART_COLUMNS``.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

_MECHANICAL = ["bulk_modulus_gpa", "shear_modulus_gpa", "youngs_modulus_gpa", "born_stable", "monroe_newman_ratio",
               "monroe_newman_satisfied", "reference_shear_modulus_gpa", "reference_born_stable"]


def _mechanical(part: dict | None) -> dict:
    """VRH moduli, Born stability and the Monroe–Newman ratio (GPa)."""
    if not part:
        return dict.fromkeys(_MECHANICAL)
    return {"bulk_modulus_gpa": part["bulk_modulus_vrh_gpa"], "shear_modulus_gpa": part["shear_modulus_vrh_gpa"],
            "youngs_modulus_gpa": part["youngs_modulus_gpa"], "born_stable": part["born_stable"],
            **{k: part.get(k) for k in _MECHANICAL[4:]}}


def _bulk(part: dict | None) -> dict:
    """The relaxed bulk's energy per atom and whether its relaxation converged."""
    if not part:
        return {"bulk_energy_per_atom": None, "bulk_converged": None}
    return {"bulk_energy_per_atom": part["energy_per_atom"], "bulk_converged": part["converged"]}


# DescriptorDoc part -> its columns. A new descriptor: one entry (its part's name and a function of the part's dict).
PART_COLUMNS: dict[str, Callable[[dict | None], dict]] = {"bulk": _bulk, "mechanical": _mechanical}

DESCRIPTOR_COLUMNS = ["material", "calculator", "role", "barrier", "barrier_surface", "adsorption_energy",
                      "adsorption_surface", *(c for f in PART_COLUMNS.values() for c in f(None)),
                      "reference_metal", "enabled", "errors", "content_hash", "created_at", "job_uuid"]


def best_surface(surfaces: pd.DataFrame, material: str, calculator: str,
                 column: str) -> tuple[float | None, str | None]:
    """(lowest ``column`` over the material's ranked surfaces under ``calculator``, that surface's label)."""
    if surfaces.empty:
        return None, None
    rows = surfaces[(surfaces["material"] == material) & (surfaces["calculator"] == calculator)
                    & (surfaces["status"] == "ranked") & surfaces[column].notna()]
    if rows.empty:
        return None, None
    best = rows.loc[rows[column].astype(float).idxmin()]
    return float(best[column]), f"{best['material']}{best['facet']} {best['termination']}"


def descriptor_frame(outputs: list[dict], surfaces: pd.DataFrame) -> pd.DataFrame:
    """One row per material and preset from stored descriptor documents (dicts with ``output``, ``uuid`` and
    ``completed_at``; the newest of each), beside the surfaces table of ``load_results``."""
    newest: dict = {}
    for doc in sorted(outputs, key=lambda d: d.get("completed_at") or ""):
        newest[(doc["output"]["material"], doc["output"]["preset"])] = doc
    rows = []
    for doc in newest.values():
        o = doc["output"]
        enabled = [name for name in o["settings"] if name != "bulk" and o["settings"][name] not in (None, False)]
        barrier, barrier_surface = best_surface(surfaces, o["material"], o["preset"], "barrier")
        adsorption, adsorption_surface = (best_surface(surfaces, o["material"], o["preset"], "adsorption_energy")
                                          if o["settings"].get("sodiophilicity") else (None, None))
        rows.append({"material": o["material"], "calculator": o["preset"], "role": o.get("role", "material"),
                     "barrier": barrier, "barrier_surface": barrier_surface, "adsorption_energy": adsorption,
                     "adsorption_surface": adsorption_surface,
                     **{k: v for name, f in PART_COLUMNS.items() for k, v in f(o.get(name)).items()},
                     "reference_metal": o["reference_metal"], "enabled": ", ".join(enabled),
                     "errors": "; ".join(f"{k}: {v}" for k, v in (o.get("errors") or {}).items()),
                     "content_hash": o.get("content_hash"), "created_at": o["provenance"]["created_at"],
                     "job_uuid": doc.get("uuid")})
    frame = pd.DataFrame(rows, columns=DESCRIPTOR_COLUMNS)
    return frame.sort_values(["calculator", "role", "material"]).reset_index(drop=True)
