"""The review's orderings against a campaign's barriers, on plain DataFrames.

Input: a surfaces table with the columns of ``load_results(store).surfaces`` (material, facet, termination,
adsorbate, calculator, status, barrier, reason, protocol_id). Barriers are compared only within one protocol
(for metal self-diffusion, where each metal needs its own adatom and so its own protocol: within one calculator
preset). An ordering "A below B" is

- ``reproduced`` when A's percolation barrier is lower than B's,
- ``violated`` when it is not (equal counts as violated: the review claims a strict ordering),
- ``undecidable`` when A or B has no result in this store, or is there but not ranked (a failed gate, an incomplete
  surface, no path, no minima): the detail says which and why.

An ordering of adsorption energies (``Ordering.quantity``) compares each material's lowest adsorption energy (its
most strongly bound verified minimum, on any termination whose minima search finished, ranked or not: the NEB
gates say nothing about a minimum).

An incomplete surface still bounds its barrier (``barrier_lower``, ``barrier_upper``: every failed hop as easy as
it can be, and left out). A material then has a range, and an ordering is decided when the ranges do not overlap.

A material with several ranked terminations of the facet enters with its lowest barrier (named in the detail).
"A lowest among G" is one pair per member of G; the claim is violated if any pair is, reproduced if all are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from seiscreen.report.literature import Literature, Ordering, load_literature

PAIR_COLUMNS = ["ordering", "statement", "kind", "quantity", "source", "method", "calculator", "protocol_id", "facet",
                "lower", "higher", "lower_value", "higher_value", "difference", "literature_lower",
                "literature_higher", "uncertainty", "verdict", "detail"]
CLAIM_COLUMNS = ["ordering", "statement", "kind", "quantity", "source", "method", "calculator", "protocol_id", "facet",
                 "verdict", "ours", "literature", "detail"]
VALUE_COLUMNS = ["id", "material", "facet", "facet_stated", "literature_ev", "unit", "value", "source", "method",
                 "comparable", "calculator", "protocol_id", "ours", "surface", "difference", "detail"]


@dataclass
class Comparison:
    pairs: pd.DataFrame  # one row per (ordering, group, facet, pair)
    claims: pd.DataFrame  # one row per (ordering, group, facet): the verdict on the review's statement
    values: pd.DataFrame  # one row per (literature number, protocol): ours beside theirs


@dataclass
class _Lookup:
    value: float | None  # eV: the barrier, or the adsorption energy (Ordering.quantity)
    label: str  # "NaF(100) 100-s0.250"
    detail: str  # "0.152 eV" or why there is none
    protocols: tuple[str, ...] = ()
    uncertainty: float | None = None  # eV: the preset's settings residual and the NEB protocol's sensitivity
    lower: float | None = None  # the barrier's range when an incomplete termination bounds it (else = barrier)
    upper: float | None = None  # None with a lower bound: no upper bound


def _short(reason: str, limit: int = 90) -> str:
    reason = " ".join(str(reason or "").split())
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def _material_rows(frame: pd.DataFrame, material: str, facet: str | None,
                   adsorbate: str) -> tuple[str, pd.DataFrame | None, _Lookup | None]:
    """("NaF(100)", the material's rows on ``facet`` with the ordering's adatom, None), or (name, None, the
    lookup saying why there are none)."""
    want_adsorbate = material if adsorbate == "self" else adsorbate
    name = f"{material}{facet or ''}"
    if frame.empty or "material" not in frame:
        return name, None, _Lookup(None, name, "no surfaces in this store")
    rows = frame[(frame["material"] == material) & (frame["adsorbate"] == want_adsorbate)]
    if facet is not None:
        rows = rows[rows["facet"] == facet]
    if rows.empty:
        what = f"{name} with a {want_adsorbate} adatom" if adsorbate == "self" else name
        return name, None, _Lookup(None, name, f"{what} with no result in this store")
    return name, rows, None


def lookup_barrier(frame: pd.DataFrame, material: str, facet: str | None, adsorbate: str) -> _Lookup:
    """The material's percolation barrier in ``frame`` (one protocol or one calculator), or why there is none."""
    name, rows, missing = _material_rows(frame, material, facet, adsorbate)
    if missing is not None:
        return missing
    ranked = rows[(rows["status"] == "ranked") & rows["barrier"].notna()]
    unranked = rows[~rows.index.isin(ranked.index)]
    not_ranked = "; ".join(f"{r.material}{r.facet} {r.termination} not ranked ({r.status}"
                           + (f": {_short(r.reason)}" if r.reason else "") + ")" for r in unranked.itertuples())
    bounded = (unranked[unranked["barrier_lower"].notna()] if "barrier_lower" in unranked
               else unranked.iloc[0:0])
    if not bounded.empty:  # an incomplete termination may lie below the ranked ones: a range, not a value
        lows = [*bounded["barrier_lower"], *ranked["barrier"]]
        highs = [*bounded["barrier_upper"].dropna(), *ranked["barrier"]]
        lower, upper = float(min(lows)), (float(min(highs)) if highs else None)
        if upper is None or lower < upper:
            span = f"{lower:.3f}-{upper:.3f} eV" if upper is not None else f"at least {lower:.3f} eV"
            detail = f"{name} between {span} (bounded by its incomplete terminations: " + "; ".join(
                f"{r.termination} {r.barrier_lower:.3f}-" + (f"{r.barrier_upper:.3f}" if pd.notna(r.barrier_upper)
                                                             else "?") for r in bounded.itertuples()) + ")"
            if not ranked.empty:
                detail += f"; ranked: {ranked['barrier'].min():.3f} eV"
            return _Lookup(None, name, detail, tuple(sorted(set(rows["protocol_id"]))), lower=lower, upper=upper)
    if ranked.empty:
        return _Lookup(None, name, not_ranked)
    best = ranked.loc[ranked["barrier"].idxmin()]
    label = f"{best['material']}{best['facet']} {best['termination']}"
    uncertainty = best.get("barrier_uncertainty")
    uncertainty = None if uncertainty is None or pd.isna(uncertainty) else float(uncertainty)
    plus_minus = f" ± {uncertainty:.3f}" if uncertainty is not None else ""
    detail = f"{label} {best['barrier']:.3f}{plus_minus} eV"
    if len(ranked) > 1:
        detail += f" (lowest of {len(ranked)} ranked {'terminations' if facet else 'surfaces'})"
    if not_ranked:
        detail += f"; also {not_ranked}"
    return _Lookup(float(best["barrier"]), label, detail, tuple(sorted(set(ranked["protocol_id"]))), uncertainty,
                   float(best["barrier"]), float(best["barrier"]))


def lookup_adsorption_energy(frame: pd.DataFrame, material: str, facet: str | None, adsorbate: str) -> _Lookup:
    """The material's lowest adsorption energy in ``frame`` (one protocol or one calculator), or why there is
    none. Carried without a ±: no preset has a measured residual for it."""
    name, rows, missing = _material_rows(frame, material, facet, adsorbate)
    if missing is not None:
        return missing
    if "adsorption_energy" not in rows:
        return _Lookup(None, name, "no adsorption energies in this store")
    found = rows[rows["adsorption_energy"].notna()]
    if found.empty:
        return _Lookup(None, name, f"{name} with no accepted minimum in this store")
    best = found.loc[found["adsorption_energy"].idxmin()]
    label = f"{best['material']}{best['facet']} {best['termination']}"
    value = float(best["adsorption_energy"])
    detail = f"{label} E_ads {value:.3f} eV" + (f" (lowest of {len(found)} surfaces)" if len(found) > 1 else "")
    return _Lookup(value, label, detail, tuple(sorted(set(found["protocol_id"]))), None, value, value)


_LOOKUP = {"barrier": lookup_barrier, "adsorption_energy": lookup_adsorption_energy}


def _ranges_verdict(low: _Lookup, high: _Lookup, margin: float) -> str | None:
    """reproduced / violated when the two ranges (at least one of them not a single value) do not overlap."""
    if low.lower is None or high.lower is None:
        return None
    if low.upper is not None and low.upper + margin < high.lower:
        return "reproduced"
    if high.upper is not None and low.lower >= high.upper + margin:
        return "violated"
    return None


def _pair_uncertainty(low: _Lookup, high: _Lookup) -> float | None:
    """Uncertainty of a difference of two barriers (independent residuals added in quadrature)."""
    if low.uncertainty is None and high.uncertainty is None:
        return None
    return math.hypot(low.uncertainty or 0.0, high.uncertainty or 0.0)


def _groups(surfaces: pd.DataFrame, ordering_adsorbate: str):
    """(calculator, protocol_id, rows) per group: protocols, or calculators for self-diffusion."""
    if surfaces.empty:
        return [("", "", surfaces)]
    if ordering_adsorbate == "self":
        return [(calc, "any", rows) for calc, rows in surfaces.groupby("calculator", sort=True)]
    return [(rows["calculator"].iloc[0], protocol, rows)
            for protocol, rows in surfaces.groupby("protocol_id", sort=False)]


def _groups_with(surfaces: pd.DataFrame, ordering_adsorbate: str, materials: list[str]):
    """The groups holding at least one of ``materials`` (a campaign of metals says nothing about halides); the
    first group when none does, so the claim is still listed as undecidable."""
    groups = _groups(surfaces, ordering_adsorbate)
    found = [g for g in groups if not g[2].empty and g[2]["material"].isin(materials).any()]
    return found or groups[:1]


def _fmt(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f} eV"


def _literature_number(literature: Literature, ordering: Ordering, material: str) -> float | None:
    if ordering.kind != "number":
        return None
    for value in literature.values:
        if value.source == ordering.source and value.material == material and value.comparable:
            return value.value_ev
    return None


def _verdict(verdicts: list[str]) -> str:
    if "violated" in verdicts:
        return "violated"
    if verdicts and all(v == "reproduced" for v in verdicts):
        return "reproduced"
    return "undecidable"


def _claim_detail(pairs: list[dict], missing: list[str]) -> str:
    """Decided pairs with their numbers, then what kept the others undecidable (each reason once)."""
    parts = [f"vs {p['higher']}: {p['verdict']} ({p['detail']})" for p in pairs if p["verdict"] != "undecidable"]
    if missing:
        parts.append("undecidable: " + "; ".join(dict.fromkeys(missing)))
    return "; ".join(parts)


def compare_orderings(surfaces: pd.DataFrame, literature: Literature | None = None) -> Comparison:
    """Every review ordering judged on every protocol (or calculator) of ``surfaces``."""
    literature = literature or load_literature()
    pairs, claims = [], []
    for ordering in literature.orderings:
        source = literature.sources[ordering.source]
        common = {"ordering": ordering.id, "statement": ordering.statement, "kind": ordering.kind,
                  "quantity": ordering.quantity, "source": literature.source_label(ordering.source),
                  "method": source.method}
        lookup = _LOOKUP[ordering.quantity]
        for calculator, protocol, rows in _groups_with(surfaces, ordering.adsorbate,
                                                       [ordering.lower, *ordering.higher]):
            for facet in ordering.facets:
                low = lookup(rows, ordering.lower, facet, ordering.adsorbate)
                group_pairs, missing = [], []
                for higher in ordering.higher:
                    high = lookup(rows, higher, facet, ordering.adsorbate)
                    decided = low.value is not None and high.value is not None
                    margin = _pair_uncertainty(low, high) if decided else None
                    by_ranges = None if decided else _ranges_verdict(low, high, _pair_uncertainty(low, high) or 0.0)
                    if by_ranges is not None:
                        verdict, detail = by_ranges, f"{low.detail} {'<' if by_ranges == 'reproduced' else '>'} " \
                                                     f"{high.detail}"
                    elif not decided:
                        verdict = "undecidable"
                        why = list(dict.fromkeys(x.detail for x in (low, high) if x.value is None))
                        missing.extend(why)
                        detail = "; ".join(why)
                    else:
                        verdict = "reproduced" if low.value < high.value else "violated"
                        sign = "<" if low.value < high.value else ("=" if low.value == high.value else ">")
                        detail = f"{low.detail} {sign} {high.detail}"
                        if margin is not None and abs(high.value - low.value) <= margin:
                            verdict = "undecidable"  # the order is inside what the settings can resolve
                            detail += (f" (difference {abs(high.value - low.value):.3f} eV, within the "
                                       f"±{margin:.3f} eV uncertainty)")
                            missing.append(f"vs {higher}: {detail}")
                    group_pairs.append({
                        **common, "calculator": calculator, "protocol_id": protocol, "facet": facet or "any",
                        "lower": ordering.lower, "higher": higher, "lower_value": low.value,
                        "higher_value": high.value,
                        "difference": high.value - low.value if decided else None,
                        "literature_lower": _literature_number(literature, ordering, ordering.lower),
                        "literature_higher": _literature_number(literature, ordering, higher),
                        "uncertainty": margin,
                        "verdict": verdict, "detail": detail})
                pairs.extend(group_pairs)
                verdicts = [p["verdict"] for p in group_pairs]
                ours = ", ".join(dict.fromkeys(
                    [f"{ordering.lower} {_fmt(low.value)}"]
                    + [f"{p['higher']} {_fmt(p['higher_value'])}" for p in group_pairs]))
                lit = ", ".join(f"{m} {_fmt(v)}" for m, v in
                                [(ordering.lower, group_pairs[0]["literature_lower"])]
                                + [(p["higher"], p["literature_higher"]) for p in group_pairs] if v is not None)
                claims.append({**common, "calculator": calculator, "protocol_id": protocol, "facet": facet or "any",
                               "verdict": _verdict(verdicts),
                               "ours": ours, "literature": lit or "ordering only",
                               "detail": _claim_detail(group_pairs, missing)})
    return Comparison(pd.DataFrame(pairs, columns=PAIR_COLUMNS), pd.DataFrame(claims, columns=CLAIM_COLUMNS),
                      compare_values(surfaces, literature))


def compare_values(surfaces: pd.DataFrame, literature: Literature | None = None) -> pd.DataFrame:
    """Each literature number beside this campaign's barrier for the same material and facet, per protocol."""
    literature = literature or load_literature()
    rows = []
    for value in literature.values:
        base = {"id": value.id, "material": value.material, "facet": value.facet or "any",
                "facet_stated": value.facet_stated, "literature_ev": value.value_ev, "unit": value.unit,
                "value": value.value, "source": literature.source_label(value.source),
                "method": literature.sources[value.source].method, "comparable": value.comparable}
        for calculator, protocol, group in _groups_with(surfaces, value.adsorbate, [value.material]):
            found = lookup_barrier(group, value.material, value.facet, value.adsorbate)
            rows.append({**base, "calculator": calculator, "protocol_id": protocol, "ours": found.value,
                         "surface": found.label if found.value is not None else None,
                         "difference": found.value - value.value_ev if found.value is not None else None,
                         "detail": found.detail if value.comparable else
                         f"{found.detail}; not a surface diffusion barrier of a Na adatom: not judged"})
    return pd.DataFrame(rows, columns=VALUE_COLUMNS)


def verdict_counts(claims: pd.DataFrame) -> dict[str, int]:
    """How many claims were reproduced, violated, undecidable."""
    counts = claims["verdict"].value_counts().to_dict() if not claims.empty else {}
    return {k: int(counts.get(k, 0)) for k in ("reproduced", "violated", "undecidable")}
