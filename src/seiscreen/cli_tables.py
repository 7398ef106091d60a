"""The tables ``seiscreen`` prints of stored results: the ranking (one table per protocol), the cell
convergence, the hops, the saved hop reruns and the descriptor panel (with its moduli against experiment)."""

from __future__ import annotations

from rich.table import Table

from seiscreen.cli_common import console, fmt
from seiscreen.descriptor_results import gap_text, stability_text


def campaign_surfaces(surfaces, protocols: list[str]):
    """The surfaces of a campaign's protocols (one per fidelity), in the funnel's order: one table each."""
    mine = surfaces[surfaces["protocol_id"].isin(protocols)]
    return mine.iloc[mine["protocol_id"].map(protocols.index).argsort(kind="stable")]


def loop_protocols(campaign, surfaces) -> list[str]:
    """The protocols of the active-learning loop's last round (calculator ``ml-ft:<name>-r<round>-<digest>``)."""
    if campaign.finetune is None or surfaces.empty:
        return []
    prefix = f"ml-ft:{campaign.finetune.prefix(campaign.name)}-r"
    mine = surfaces[surfaces["calculator"].str.startswith(prefix)]
    rounds = mine["calculator"].str.removeprefix(prefix).str.split("-").str[0].astype(int)
    return list(dict.fromkeys(mine[rounds == rounds.max()]["protocol_id"])) if not mine.empty else []


def print_ranking(frame, title: str, rank_by: str = "barrier") -> None:
    """One table per protocol: barriers from different protocols are never ranked against each other.
    ``rank_by``: "barrier" (lowest first) or "diffusion" (largest D(300 K) first)."""
    from seiscreen.results import committee_note, plus_minus

    if frame.empty:
        console.print("no surfaces in this store yet")
        return
    rank = "rank" if rank_by == "barrier" else "rank_diffusion"
    for protocol, group in frame.groupby("protocol_id", sort=False):
        calculators = ", ".join(sorted(group["calculator"].unique()))
        table = Table(title=f"{title} ({calculators}, protocol {protocol}, ranked by {rank_by})")
        for column in ("rank", "surface", "barrier (eV)", "2D / 1D", "D(300 K) (cm²/s)", "lowest hop", "E_ads (eV)",
                       "site", "status"):
            table.add_column(column)
        for row in group.sort_values([rank, "material"], na_position="last").itertuples():
            flag = " 1D only" if row.channel_only else ""
            table.add_row(fmt(getattr(row, rank) if row.status == "ranked" else None, 0),
                          f"{row.material}{row.facet} {row.termination}", fmt(row.barrier) + plus_minus(row) + flag,
                          f"{fmt(row.barrier_2d)} / {fmt(row.barrier_1d)}", _diffusion_text(row),
                          fmt(row.lowest_hop_barrier), fmt(row.adsorption_energy), fmt(row.lowest_site),
                          row.status + (f": {row.reason}" if row.reason else ""))
        console.print(table)
        if note := committee_note(group):
            console.print(note, highlight=False, soft_wrap=True)


def _diffusion_text(row) -> str:
    """D(300 K) as "2.1e-05 (6.3e-06-7.0e-05)": the range from the barrier's ±; "-" without one; "*" where a
    hop's attempt frequency was assumed rather than computed."""
    d = _number(getattr(row, "d_300", None))
    if d is None:
        return "-"
    text = f"{d:.1e}"
    low, high = _number(getattr(row, "d_300_lower", None)), _number(getattr(row, "d_300_upper", None))
    if low is not None and high is not None:
        text += f" ({low:.1e}-{high:.1e})"
    return text + ("*" if row.attempt_frequencies == "assumed" else "")


def _number(value) -> float | None:
    """A table cell's number, None for a missing one (None, NaN or pandas' NA)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if value != value else value


def print_convergence(frame) -> None:
    """One row per surface series: status, ranked barrier, cell term, last change per axis and the cells."""
    if frame.empty:
        console.print("no convergence series in this store (a campaign with a 'convergence' section makes them)")
        return
    table = Table(title="cell convergence")
    for column in ("surface", "status", "barrier (eV)", "cell term", "Δ lateral", "Δ thickness", "cells"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(f"{row.material}{row.facet} {row.termination}",
                      row.status + (f": {row.reason}" if row.reason else ""), fmt(row.ranked_barrier),
                      fmt(row.cell_term), fmt(row.lateral_change), fmt(row.thickness_change), row.cells)
    console.print(table)


def print_hops(frame) -> None:
    table = Table(title="hops")
    for column in ("surface", "hop", "from -> to", "length (Å)", "mult.", "forward / reverse (eV)", "status",
                   "force calls"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(f"{row.material}{row.facet} {row.termination}", row.hop_id, f"{row.start_site} -> {row.end_site}",
                      fmt(row.length, 2), str(row.multiplicity),
                      f"{fmt(row.forward_barrier)} / {fmt(row.reverse_barrier)}",
                      row.status + (f": {row.reason}" if row.reason else ""), str(row.force_calls))
    console.print(table)


def print_reruns(frame) -> None:
    table = Table(title="hop reruns")
    for column in ("surface", "hop (job)", "rerun", "stored eV", "rerun eV", "change eV", "status", "force calls"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(f"{row.material}{row.facet} {row.termination}", f"{row.hop_id} ({row.hop_job_uuid[:8]})",
                      f"{row.start}, {row.neb_changes}" + (f", {row.preset}" if row.preset != row.calculator else ""),
                      fmt(row.stored_barrier), fmt(row.barrier),
                      fmt(row.difference), row.status + (f": {row.reason}" if row.reason else ""),
                      str(row.force_calls))
    console.print(table)



def print_descriptors(frame) -> None:
    """The descriptor panel, one table per preset: the barrier first, then each criterion of an ideal SEI."""
    if frame.empty:
        console.print("no descriptors in this store (a campaign with a 'descriptors' section computes them)")
        return
    for calculator, group in frame.groupby("calculator", sort=False):
        metal = group["reference_metal"].iloc[0]
        table = Table(title=f"descriptor panel ({calculator})")
        for column in ("material", "barrier (eV)", "bulk barrier (eV)", "E_ads (eV)", "K (GPa)", "G (GPa)",
                       "E (GPa)", "Born", f"G/G({metal})", f"vs {metal} (eV/{metal})", "PBE gap (eV)", "notes"):
            table.add_column(column)
        for row in group.itertuples():
            notes = "; ".join(x for x in ("reference metal" if row.role == "reference" else "",
                                          "reference unstable: no ratio" if row.reference_born_stable is False
                                          else "", row.bulk_transport_notes, row.errors) if isinstance(x, str) and x)
            table.add_row(row.material, fmt(row.barrier), fmt(row.bulk_barrier), fmt(row.adsorption_energy),
                          fmt(row.bulk_modulus_gpa, 1), fmt(row.shear_modulus_gpa, 1), fmt(row.youngs_modulus_gpa, 1),
                          _yes_no(row.born_stable), _ratio_text(row), stability_text(row), gap_text(row), notes)
        console.print(table)


def print_measured_moduli(compared) -> None:
    """The panel's moduli beside measured ones (``report.panel.compare_moduli``): "ours / measured" for each
    quantity the source gives ("-": it gives none); nothing when no measured material is in the panel."""
    if compared.empty:
        return
    table = Table(title="moduli against experiment (ours, static VRH / measured)")
    for column in ("material", "preset", "K (GPa)", "G (GPa)", "E (GPa)", "measured"):
        table.add_column(column)
    for r in compared.to_dict("records"):
        cells = [f"{fmt(r[q], 1)} / {fmt(r[q + '_measured'], 1)}" for q in ("bulk", "shear", "youngs")]
        source = f"{r['source']}, {r['method']}" + (f" ({r['conditions']})" if r["conditions"] else "")
        table.add_row(r["material"], str(r["calculator"]), *cells, source)
    console.print(table)


def _yes_no(value) -> str:
    return "-" if value is None or value != value else ("yes" if value else "NO")


def _ratio_text(row) -> str:
    """The Monroe–Newman ratio, "≥ 2" flagged."""
    ratio = _number(row.monroe_newman_ratio)
    if ratio is None:
        return "-"
    return f"{ratio:.1f}" + (" (≥ 2)" if row.monroe_newman_satisfied else "")
