"""The review's statements about the other criteria of an ideal SEI, judged on the descriptor panel.

Input: the panel of ``load_results(store).descriptors`` (one row per material and calculator preset). A claim
(``literature.DescriptorClaim``) compares one material's panel value with a number or with another panel value,
within one calculator preset, as the barrier orderings are judged within one protocol:

- ``reproduced`` when the comparison holds,
- ``violated`` when it does not,
- ``undecidable`` when a material or a value is missing (a descriptor not computed, a material not in the
  campaign, a surface not ranked), named in the detail.

Beside them, :func:`compare_moduli` puts the panel's moduli next to measured ones (``literature.moduli``): a
calculator's error, reported and never judged.
"""

from __future__ import annotations

import operator

import pandas as pd

from seiscreen.report.literature import DescriptorClaim, Literature, load_literature

MODULI_COLUMNS = ["material", "calculator", "bulk", "bulk_measured", "shear", "shear_measured", "youngs",
                  "youngs_measured", "source", "method", "conditions"]
# each compared quantity: the panel's column (Voigt–Reuss–Hill; Young's from the VRH K and G)
MODULUS_COLUMNS = {"bulk": "bulk_modulus_gpa", "shear": "shear_modulus_gpa", "youngs": "youngs_modulus_gpa"}
CLAIM_COLUMNS = ["claim", "statement", "source", "calculator", "material", "column", "ours", "reference", "verdict",
                 "detail"]
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def _value(panel: pd.DataFrame, material: str, column: str) -> tuple[float | None, str]:
    """(the material's panel value, "" or why there is none)."""
    if column not in panel.columns:
        return None, f"no {column} in the panel (that descriptor is not computed in this store)"
    rows = panel[panel["material"] == material]
    if rows.empty:
        return None, f"{material} has no descriptors in this store"
    value = rows[column].iloc[0]
    if value is None or pd.isna(value):
        return None, f"{material} has no {column}"
    return float(value), ""


def judge_claim(panel: pd.DataFrame, claim: DescriptorClaim) -> tuple[str, float | None, float | None, str]:
    """(verdict, ours, reference, detail) of one claim on one preset's panel."""
    ours, why = _value(panel, claim.material, claim.column)
    if claim.value is not None:
        reference, why_ref, name = claim.value, "", f"{claim.value:g}"
    else:
        other = claim.than_material or claim.material
        column = claim.than_column or claim.column
        reference, why_ref = _value(panel, other, column)
        name = f"{other} {column} {reference:.3g}" if reference is not None else f"{other} {column}"
    if ours is None or reference is None:
        return "undecidable", ours, reference, "; ".join(x for x in (why, why_ref) if x)
    holds = _OPS[claim.op](ours, reference)
    detail = f"{claim.material} {claim.column} {ours:.3g} {claim.op if holds else 'not ' + claim.op} {name}"
    return ("reproduced" if holds else "violated"), ours, reference, detail


def judge_descriptor_claims(panel: pd.DataFrame, literature: Literature | None = None) -> pd.DataFrame:
    """Every descriptor claim of the literature judged on every calculator preset of the panel (one row each; a
    panel without rows gives each claim one undecidable row)."""
    literature = literature or load_literature()
    groups = list(panel.groupby("calculator", sort=False)) if not panel.empty else [("-", panel)]
    rows = []
    for claim in literature.descriptor_claims:
        for calculator, group in groups:
            verdict, ours, reference, detail = judge_claim(group, claim)
            rows.append({"claim": claim.id, "statement": claim.statement,
                         "source": literature.source_label(claim.source), "calculator": calculator,
                         "material": claim.material, "column": claim.column, "ours": ours, "reference": reference,
                         "verdict": verdict, "detail": detail})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def compare_moduli(panel: pd.DataFrame, literature: Literature | None = None) -> pd.DataFrame:
    """One row per measured entry and preset of each material the panel has: ours (``bulk``, ``shear``,
    ``youngs``, GPa) beside what the source gives (``*_measured``; NaN where it gives none), with the source, its
    method and the conditions it states (isothermal or adiabatic, temperature)."""
    literature = literature or load_literature()
    rows = []
    if "material" not in panel.columns:
        return pd.DataFrame(rows, columns=MODULI_COLUMNS)
    for entry in literature.moduli:
        measured = entry.measured()
        for r in panel[panel["material"] == entry.material].to_dict("records"):
            row = {"material": entry.material, "calculator": r.get("calculator"),
                   "source": literature.source_label(entry.source), "method": entry.method,
                   "conditions": entry.conditions()}
            for quantity, column in MODULUS_COLUMNS.items():
                ours = r.get(column)
                row[quantity] = float("nan") if ours is None or pd.isna(ours) else float(ours)
                row[f"{quantity}_measured"] = float("nan") if measured[quantity] is None else measured[quantity]
            rows.append(row)
    return pd.DataFrame(rows, columns=MODULI_COLUMNS)
