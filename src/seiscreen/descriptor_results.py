"""The descriptor panel as a DataFrame: one row per material and calculator preset (``load_results(...).descriptors``).

Each row puts the material's surface barrier first (its lowest ranked barrier under the same preset, any facet),
then the sodiophilicity read from its surface documents (the lowest adsorption energy of the adatom against its
bulk metal over its ranked surfaces: stored with every surface, never computed again), then the columns of every
computed part of its ``DescriptorDoc``. A new descriptor adds its columns in ``PART_COLUMNS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a frame is built: the command line's tables start without it
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


_STABILITY = ["stable_against_na", "reaction_energy_per_na", "reaction_products", "energy_above_hull",
              "stability_missing"]


def _stability(part: dict | None) -> dict:
    """Stability against the deposited metal ("na": the campaign's adsorbate, Na for Na anodes): stable or not,
    the reaction energy per metal atom consumed (eV), its products, the energy above the hull (eV/atom) and the
    phases of the system that were not available."""
    if not part:
        return dict.fromkeys(_STABILITY)
    return {"stable_against_na": part["stable_against_metal"],
            "reaction_energy_per_na": part["reaction_energy_ev_per_metal_atom"],
            "reaction_products": ", ".join(part["products"]),
            "energy_above_hull": part["energy_above_hull_ev_per_atom"],
            "stability_missing": ", ".join(part["phases_missing"])}


_TRANSPORT = ["bulk_barrier", "bulk_vacancy_barrier", "bulk_interstitial_barrier", "bulk_transport_notes"]


def _transport(part: dict | None) -> dict:
    """Bulk transport of the deposited metal (eV): the 3D percolation barrier (the lower mechanism's), each
    mechanism's, and why a mechanism has none."""
    if not part:
        return dict.fromkeys(_TRANSPORT)
    vacancy, interstitial = part["vacancy"], part["interstitial"]
    notes = [f"{m['mechanism']}: {m['reason'] or m['site']}" for m in (vacancy, interstitial)
             if m["percolation_barrier_eV"] is None and m["site"] != "off"]
    return {"bulk_barrier": part["percolation_barrier_eV"], "bulk_vacancy_barrier": vacancy["percolation_barrier_eV"],
            "bulk_interstitial_barrier": interstitial["percolation_barrier_eV"],
            "bulk_transport_notes": "; ".join(notes)}


def _gap(part: dict | None) -> dict:
    """The PBE band gap (eV; 0 for a metal) and its kind (direct, indirect, metal)."""
    if not part:
        return {"band_gap_ev": None, "band_gap_kind": None}
    return {"band_gap_ev": part["gap_eV"], "band_gap_kind": part["kind"]}


# DescriptorDoc part -> its columns. A new descriptor: one entry (its part's name and a function of the part's dict).
PART_COLUMNS: dict[str, Callable[[dict | None], dict]] = {"bulk": _bulk, "mechanical": _mechanical,
                                                           "stability": _stability, "transport": _transport,
                                                           "gap": _gap}

DESCRIPTOR_COLUMNS = ["material", "calculator", "role", "barrier", "barrier_surface", "adsorption_energy",
                      "adsorption_surface", *(c for f in PART_COLUMNS.values() for c in f(None)),
                      "reference_metal", "enabled", "errors", "skipped", "content_hash", "created_at", "job_uuid"]


def stability_text(row) -> str:
    """A panel row's stability against the metal in a table: "stable", the reaction energy per metal atom and its
    products, or "-" when not computed."""
    stable = row.stable_against_na
    if stable is None or stable != stable:  # None or NaN
        return "-"
    return "stable" if stable else f"{row.reaction_energy_per_na:.2f} → {row.reaction_products}"


def gap_text(row) -> str:
    """A panel row's band gap in a table: "metal", the PBE gap in eV, or "-" when not computed."""
    if row.band_gap_kind is None or row.band_gap_kind != row.band_gap_kind:
        return "-"
    return "metal" if row.band_gap_kind == "metal" else f"{row.band_gap_ev:.2f}"


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
        if doc["output"].get("role") == "phase":  # a competing phase: its energy is in the materials' stability
            continue
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
                     "skipped": "; ".join(f"{k}: {v}" for k, v in (o.get("skipped") or {}).items()),
                     "content_hash": o.get("content_hash"), "created_at": o["provenance"]["created_at"],
                     "job_uuid": doc.get("uuid")})
    import pandas as pd

    frame = pd.DataFrame(rows, columns=DESCRIPTOR_COLUMNS)
    return frame.sort_values(["calculator", "role", "material"]).reset_index(drop=True)
