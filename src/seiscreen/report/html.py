"""``seiscreen report``: one folder with ``index.html``, its PNG figures, CSV tables and the NEB bands.

The folder is self-contained (relative links only): copy it anywhere, open ``index.html`` in a browser.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from seiscreen.descriptor_results import gap_text, stability_text
from seiscreen.report import plots
from seiscreen.report.compare import Comparison, compare_orderings, verdict_counts
from seiscreen.report.literature import Literature, load_literature
from seiscreen.report.panel import compare_moduli, judge_descriptor_claims
from seiscreen.errors import SeiscreenError
from seiscreen.results import (
    Results,
    _as_store,
    band_images,
    committee_note,
    convergence_documents,
    hop_documents,
    load_results,
    plus_minus,
    surface_documents,
)

USABLE = plots.USABLE

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .88em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { background: #d9f2d9; } .bad { background: #f8d4d4; } .na { background: #eeeeee; }
.note { color: #555; font-size: .9em; } img { max-width: 100%; border: 1px solid #ddd; margin: .4em 0; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def _num(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    return f"{value:.{digits}f}"


def _table(rows: list[dict], columns: list[str], numeric: set[str] = frozenset(), row_class: str | None = None) -> str:
    """An HTML table; values are escaped, except cells given as ``("html", text)``."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c, "")
            text = value[1] if isinstance(value, tuple) and value[0] == "html" else html.escape(str(value))
            cells.append(f"<td class='num'>{text}</td>" if c in numeric else f"<td>{text}</td>")
        cls = f" class='{html.escape(str(row.get(row_class, '')))}'" if row_class else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _img(path: Path, root: Path, alt: str) -> str:
    return f"<img src='{html.escape(path.relative_to(root).as_posix())}' alt='{html.escape(alt)}'>"


@dataclass
class Report:
    index: Path  # index.html
    figures: list[Path]  # every PNG it references
    comparison: Comparison  # the review's orderings judged on this store


def write_report(store=None, out: str | Path = "seiscreen-report", literature: Literature | None = None,
                 bands: bool = True) -> Report:
    """Write the report of a store into ``out``: ``index.html``, ``figures/``, ``tables/``, ``bands/``. A store
    with no surface and no hop is refused (SeiscreenError) before anything is written."""
    store = _as_store(store)
    literature = literature or load_literature()
    results = load_results(store)
    if results.surfaces.empty and results.hops.empty:
        raise SeiscreenError(f"the store {_store_name(store)} has no results (no surface or hop): run a campaign "
                             "into it first (seiscreen run CAMPAIGN --store ...), or pass another --store")
    out = Path(out)
    figures, tables = out / "figures", out / "tables"
    for folder in (figures, tables):
        folder.mkdir(parents=True, exist_ok=True)
    docs = surface_documents(store)
    comparison = compare_orderings(results.surfaces, literature)
    band_files = _write_bands(store, docs, out / "bands") if bands else {}
    _write_tables(results, comparison, tables)
    parts = [_head(store, results, comparison),
             _ranking_section(results.surfaces, docs, figures, out, literature.values_frame()),
             _convergence_section(results.convergence, convergence_documents(store), figures, out),
             _comparison_section(comparison, literature),
             _scatter_section(results.surfaces, figures, out),
             _panel_section(results.descriptors, literature, figures, out),
             _surfaces_section(docs, hop_documents(store), band_files, figures, out),
             _fidelity_section(results.fidelity),
             _reruns_section(results.reruns),
             _sources_section(literature),
             _files_section(tables, band_files)]
    index = out / "index.html"
    index.write_text("\n".join(part for part in parts if part), encoding="utf-8")  # "": a section left out
    return Report(index, sorted(figures.glob("*.png")), comparison)


def _write_tables(results: Results, comparison: Comparison, tables: Path) -> None:
    """The tables as CSV, for whoever wants the numbers."""
    results.surfaces.to_csv(tables / "surfaces.csv", index=False)
    results.hops.to_csv(tables / "hops.csv", index=False)
    comparison.claims.to_csv(tables / "review-orderings.csv", index=False)
    comparison.pairs.to_csv(tables / "review-ordering-pairs.csv", index=False)
    comparison.values.to_csv(tables / "review-numbers.csv", index=False)
    if not results.descriptors.empty:
        results.descriptors.to_csv(tables / "descriptors.csv", index=False)
    if not results.reruns.empty:
        results.reruns.to_csv(tables / "hop-reruns.csv", index=False)
    if not results.convergence.empty:  # without the list column of the smaller cells' hashes, as the CLI's CSV
        results.convergence.drop(columns=["smaller_hashes"]).to_csv(tables / "convergence.csv", index=False)


def _head(store, results: Results, comparison: Comparison) -> str:
    """The page's head, title and the two notes that open it: what was read, and how to read the numbers."""
    import seiscreen

    surfaces = results.surfaces
    counts = verdict_counts(comparison.claims)
    return "\n".join([
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>seiscreen report</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>seiscreen report</h1><p class='note'>store <code>{html.escape(_store_name(store))}</code>; "
        f"written {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by seiscreen {seiscreen.__version__}."
        f" {len(surfaces)} surface(s), {int((surfaces['status'] == 'ranked').sum())} ranked; "
        f"{len(results.hops)} hop(s). Review orderings: {counts['reproduced']} reproduced, "
        f"{counts['violated']} violated, {counts['undecidable']} undecidable.</p>",
        "<p class='note'>Energies in eV, lengths in Å. Barriers are ranked only within one protocol "
        "(calculator, minima and NEB settings); the protocol id names it. The percolation barrier is the "
        "lowest saddle level at which the accepted hops connect the lowest minimum to its periodic images, "
        "minus that minimum's energy. A surface with a failed hop that could lower it is shown, never "
        "ranked.</p>"])


def _scatter_section(surfaces: pd.DataFrame, figures: Path, root: Path) -> str:
    """Adsorption energy against barrier, one figure."""
    scatter = plots.save(plots.adsorption_vs_barrier(surfaces), figures / "adsorption-vs-barrier.png")
    return "<h2>Adsorption energy vs barrier</h2>" + _img(scatter, root, "adsorption energy vs barrier")


def _panel_section(panel: pd.DataFrame, literature: Literature, figures: Path, root: Path) -> str:
    """The descriptor panel (a campaign's ``descriptors``): one table per preset, material x criteria with the
    barrier first, the barrier against the Monroe–Newman ratio, and the review's statements judged on it."""
    if panel.empty:
        return ""
    parts = ["<h2>Descriptor panel</h2>",
             "<p class='note'>The other criteria of an ideal SEI beside the surface barrier, each from the same "
             "calculator preset: the lowest ranked percolation barrier of the material (any facet), the "
             "adsorption energy of the adatom against its bulk metal (lowest over the ranked surfaces), the "
             "Voigt–Reuss–Hill moduli of the relaxed bulk, Born stability and the Monroe–Newman ratio "
             "G / G(metal) (≥ 2: roughening suppressed; a Born-unstable metal gives no ratio), the bulk barrier "
             "(3D percolation barrier of the metal's vacancy hops through the bulk) and the stability against the "
             "metal (the reaction energy per metal atom towards the metal-richest phases of the system the catalog "
             "holds, with the products; phases the catalog lacks are named in the CSV) and the PBE band gap from "
             "GPAW at the catalog's geometry (an underestimate; \"metal\" where there is none).</p>"]
    for calculator, group in panel.groupby("calculator", sort=False):
        metal = group["reference_metal"].iloc[0]
        rows = [{"material": r.material + (" (reference)" if r.role == "reference" else ""),
                 "barrier (eV)": _num(r.barrier), "bulk barrier (eV)": _num(r.bulk_barrier),
                 "E_ads (eV)": _num(r.adsorption_energy),
                 "K (GPa)": _num(r.bulk_modulus_gpa, 1), "G (GPa)": _num(r.shear_modulus_gpa, 1),
                 "E (GPa)": _num(r.youngs_modulus_gpa, 1),
                 "Born stable": "-" if pd.isna(r.born_stable) else ("yes" if r.born_stable else "NO"),
                 f"G/G({metal})": _num(r.monroe_newman_ratio, 1) + (" ≥ 2" if r.monroe_newman_satisfied is True
                                                                    else ""),
                 f"vs {metal} (eV/{metal})": stability_text(r), "PBE gap (eV)": gap_text(r),
                 "failed": r.errors or ""} for r in group.itertuples()]
        columns = list(rows[0])
        parts.append(f"<h3>{html.escape(calculator)}</h3>" + _table(rows, columns, numeric=set(columns[1:-4])))
    chart = plots.save(plots.barrier_vs_monroe_newman(panel), figures / "barrier-vs-monroe-newman.png")
    parts.append(_img(chart, root, "barrier vs Monroe-Newman ratio"))
    parts.append(_measured_moduli(panel, literature))
    claims = judge_descriptor_claims(panel, literature)
    rows = [{**c._asdict(), "ours": _num(c.ours), "cls": VERDICT_CLASS[c.verdict]} for c in claims.itertuples()]
    parts.append("<h3>The review's statements on these criteria</h3>" + _table(
        rows, ["statement", "source", "calculator", "verdict", "detail"], row_class="cls"))
    return "\n".join(parts)


def _measured_moduli(panel: pd.DataFrame, literature: Literature) -> str:
    """The panel's VRH moduli beside measured ones (``literature.moduli``, :func:`compare_moduli`) for the
    materials it has: a calculator's error, reported and never judged; "" when no measured material is in the
    panel. A quantity the source does not give reads "ours / -"; the E column appears when a source gives E."""
    compared = compare_moduli(panel, literature)
    if compared.empty:
        return ""
    shown = {"K (GPa)": "bulk", "G (GPa)": "shear"}
    if compared["youngs_measured"].notna().any():
        shown["E (GPa)"] = "youngs"
    rows = [{"material": r["material"], "calculator": r["calculator"],
             **{label: f"{_num(r[q], 1)} / {_num(r[q + '_measured'], 1)}" for label, q in shown.items()},
             "measured": f"{r['source']}, {r['method']}" + (f" ({r['conditions']})" if r["conditions"] else "")}
            for r in compared.to_dict("records")]
    return ("<h3>Moduli against experiment (ours / measured, Voigt–Reuss–Hill)</h3><p class='note'>Ours are "
            "static (0 K); a measured value is compared on the quantity its source gives (a tensor's VRH K and G, "
            "or a bulk, shear or Young's modulus), isothermal or adiabatic and at the temperature it states.</p>"
            + _table(rows, ["material", "calculator", *shown, "measured"]))


def _convergence_section(convergence: pd.DataFrame, series: list[dict], figures: Path, root: Path) -> str:
    """The surfaces computed in growing cells (``results.convergence`` and its documents): the barrier against
    the cell size, and per series its cells, last changes, cell term and verdict; "" for a store without any."""
    if convergence.empty:
        return ""
    chart = plots.save(plots.convergence_chart(series), figures / "cell-convergence.png")
    rows = [{"surface": f"{r.material}{r.facet} {r.termination}",
             "calculator / protocol": f"{r.calculator} / {r.protocol_id}",
             "cells: lateral × thickness Å (atoms): barrier": ("html", "<br>".join(
                 html.escape(cell) for cell in r.cells.split("; "))),
             "last change lateral / thickness (eV)": f"{_signed(r.lateral_change)} / {_signed(r.thickness_change)}",
             "cell term (eV)": _num(r.cell_term), "tolerance (eV)": _num(r.tolerance),
             "ranked barrier (eV)": _num(r.ranked_barrier),
             "verdict": r.status + (f": {r.reason}" if r.reason else ""),
             "cls": "ok" if r.status == "converged" else "bad"} for r in convergence.itertuples()]
    return ("<h2 id='cell-convergence'>Cell convergence</h2><p class='note'>Each surface computed in growing cells "
            "(the campaign's <code>convergence</code> section): its barrier in each cell against the cell's "
            "shortest in-plane period. The largest cell's barrier is the one ranked; an axis is converged when its "
            "last step changed the barrier by no more than the tolerance (the shaded band around the largest "
            "cell's barrier, over the last step), and the cell term, the largest last change, joins the barrier's "
            "uncertainty in quadrature. An unconverged series (dashed, hollow markers) is not ranked: list a larger "
            "size. The smaller cells appear in the ranking as <code>smaller_cell</code>.</p>"
            + _img(chart, root, "barrier vs cell size")
            + _table(rows, ["surface", "calculator / protocol", "cells: lateral × thickness Å (atoms): barrier",
                            "last change lateral / thickness (eV)", "cell term (eV)", "tolerance (eV)",
                            "ranked barrier (eV)", "verdict"],
                     numeric={"last change lateral / thickness (eV)", "cell term (eV)", "tolerance (eV)",
                              "ranked barrier (eV)"}, row_class="cls"))


def _signed(value) -> str:
    """A change with its sign, to 3 decimals; "-" where there is none."""
    return "-" if value is None or pd.isna(value) else f"{value:+.3f}"


def _fidelity_section(fidelity: pd.DataFrame) -> str:
    """The fidelity funnel's comparison rows; "" for a campaign without fidelities."""
    if fidelity.empty:
        return ""
    return _frame_section("Fidelity funnel", "The same surfaces with two presets.", fidelity)


def _reruns_section(reruns: pd.DataFrame) -> str:
    """Saved hop reruns (``rerun-hop --save``): a hop under changed NEB settings or at another level."""
    if reruns.empty:
        return ""
    columns = ["material", "facet", "termination", "hop_id", "calculator", "preset", "start", "neb_changes",
               "through_valleys", "stored_barrier", "barrier", "difference", "status", "force_calls", "created_at"]
    return _frame_section(
        "Hop reruns", "Stored hops recomputed (<code>seiscreen rerun-hop --save</code>): with changed NEB "
        "settings (the change widens the surface's uncertainty), or with another preset, the ends relaxed at "
        "that level first (that level's barrier of the hop, never ranked with the stored level's). A hop "
        "stored through relaxed valleys is rerun through them (<code>through_valleys</code>).",
        reruns[columns])


def _files_section(tables: Path, band_files: dict) -> str:
    """Links to the CSV tables and the band folder; closes the page."""
    return ("<h2>Files</h2><p>Tables: " + ", ".join(
        f"<a href='tables/{p.name}'>{p.name}</a>" for p in sorted(tables.glob("*.csv"))) + ". "
        + ("Bands (extended XYZ, open with <code>ase gui FILE</code>): folder <a href='bands/'>bands/</a>."
           if band_files else "") + "</p></body></html>")


def _frame_section(title: str, note_html: str, frame: pd.DataFrame) -> str:
    """A section holding one pandas table, numbers to 3 decimals."""
    return (f"<h2>{title}</h2><p class='note'>{note_html}</p>"
            + frame.to_html(index=False, float_format=lambda x: f"{x:.3f}", border=0, na_rep="-"))


def _store_name(store) -> str:
    try:
        return str(store.docs_store.database_path)
    except AttributeError:
        return type(store.docs_store).__name__


def _gates(doc: dict) -> str:
    hops = doc.get("hops") or []
    usable = sum(h["status"] in USABLE for h in hops)
    return f"{usable}/{len(hops)} hops"


def _ranking_section(surfaces: pd.DataFrame, docs: list[dict], figures: Path, root: Path,
                     values_frame: pd.DataFrame) -> str:
    parts = ["<h2>Ranking</h2>"]
    if surfaces.empty:
        return parts[0] + "<p>No surfaces in this store yet: run a campaign (<code>seiscreen run</code>).</p>"
    gates = {(d["key"]["material"], "(" + "".join(str(i) for i in d["key"]["miller"]) + ")",
              d["key"]["termination_id"], d["protocol_id"]): _gates(d) for d in docs}
    for protocol, group in surfaces.groupby("protocol_id", sort=False):
        calculators = ", ".join(sorted(set(group["calculator"])))
        rows = []
        for r in group.sort_values(["rank", "material"], na_position="last").itertuples():
            rows.append({"rank": _num(r.rank, 0) if r.status == "ranked" else "-",
                         "surface": f"{r.material}{r.facet} {r.termination}", "adsorbate": r.adsorbate,
                         "percolation barrier (eV)": (_num(r.barrier) + plus_minus(r)
                                                      + (" (1D)" if r.channel_only else "")),
                         "2D / 1D (eV)": f"{_num(r.barrier_2d)} / {_num(r.barrier_1d)}",
                         "lowest hop (eV)": _num(r.lowest_hop_barrier),
                         "D(300 K) (cm²/s)": _diffusion(r),
                         "E_ads (eV)": _num(r.adsorption_energy), "lowest site": r.lowest_site or "-",
                         "fidelity (preset)": r.calculator,
                         "gates passed": gates.get((r.material, r.facet, r.termination, protocol), "-"),
                         "status": r.status + (f": {r.reason}" if r.reason else ""), "cls": _status_class(r.status)})
        parts.append(f"<h3>{html.escape(calculators)}, protocol {html.escape(protocol)}</h3>")
        parts.append(_table(rows, ["rank", "surface", "adsorbate", "percolation barrier (eV)", "2D / 1D (eV)",
                                   "lowest hop (eV)", "D(300 K) (cm²/s)", "E_ads (eV)", "lowest site",
                                   "fidelity (preset)",
                                   "gates passed", "status"],
                            numeric={"rank", "percolation barrier (eV)", "2D / 1D (eV)", "lowest hop (eV)",
                                     "E_ads (eV)"}, row_class="cls"))
        if note := committee_note(group):
            parts.append(f"<p>{html.escape(note)}.</p>")
        parts.append(_rankings_differ(group))
        chart = plots.save(plots.barrier_chart(group, values_frame), figures / f"barriers-{_slug(protocol)}.png")
        parts.append(_img(chart, root, f"barriers, protocol {protocol}"))
        parts.append("<p class='note'>Filled markers: literature surface barriers of the same material "
                     "(facet assumed where the review names none); hollow: a literature number that is not a "
                     "Na-adatom surface barrier (drawn for context, not judged).</p>")
    return "\n".join(parts)


def _diffusion(row) -> str:
    """D(300 K) of a surface row, "*" where an attempt frequency was assumed; "-" without one."""
    d = getattr(row, "d_300", None)
    if d is None or pd.isna(d):
        return "-"
    return f"{d:.1e}" + ("*" if row.attempt_frequencies == "assumed" else "")


def _rankings_differ(group: pd.DataFrame) -> str:
    """A paragraph naming the surfaces whose rank by D(300 K) is not their rank by barrier, and why they can
    differ; "" where the two rankings agree."""
    ranked = group[(group["status"] == "ranked") & group["rank_diffusion"].notna()]
    moved = ranked[ranked["rank"] != ranked["rank_diffusion"]]
    if moved.empty:
        return ""
    names = ", ".join(f"{r.material}{r.facet} {r.termination} ({_num(r.rank, 0)} by barrier, "
                      f"{_num(r.rank_diffusion, 0)} by D)" for r in moved.itertuples())
    return ("<p class='note'>Ranked by D(300 K) instead of the barrier: " + html.escape(names) + ". D weighs "
            "every path of the hop network, its attempt frequencies and hop lengths, and at 300 K a barrier "
            "difference under a few k_BT can be outweighed by them (docs/pipeline.md, Diffusion coefficients)."
            "</p>")


def _status_class(status: str) -> str:
    return "ok" if status == "ranked" else "na"


VERDICT_CLASS = {"reproduced": "ok", "violated": "bad", "undecidable": "na"}


def _write_bands(store, docs: list[dict], folder: Path) -> dict[tuple[str, str], Path]:
    """The final band of every hop of every surface as extended XYZ, named by the surface and the hop id the
    surface uses; keyed by (surface job uuid, hop id)."""
    from ase.io import write

    from seiscreen.report.export import _readable

    written = {}
    for doc in docs:
        slug = _slug(f"{plots.surface_label(doc)}-{doc['key']['calculator']}-{doc['protocol_id']}")
        for hop in doc.get("hops") or []:
            if not hop.get("job_uuid"):
                continue
            try:
                images = band_images(store, hop["job_uuid"])
            except SeiscreenError:
                continue
            if images:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{slug}_{_slug(hop['hop_id'])}.xyz"
                write(path, [_readable(image) for image in images], format="extxyz")
                written[(doc["job_uuid"], hop["hop_id"])] = path
    return written


def _comparison_section(comparison, literature: Literature) -> str:
    parts = ["<h2>Comparison with the review (Zhu et al. 2024)</h2>",
             "<p class='note'>Each ordering the review reports, judged within one protocol of this store "
             "(metal self-diffusion: within one calculator preset). <b>reproduced</b>: our percolation barriers "
             "(for the orderings of how strongly Na binds: the adsorption energies of the lowest verified "
             "minima, without a ±) are in the review's order; <b>violated</b>: they are not; "
             "<b>undecidable</b>: a material is "
             "missing from this campaign or was not ranked (failed gate, incomplete surface), named in the "
             "detail. <i>number</i>: the review quotes both numbers; <i>ordering-only</i>: it does not. The "
             "literature methods differ from ours (see Sources): a reproduced ordering is agreement, not "
             "validation, and a violated one is a finding to check, e.g. at a higher fidelity.</p>"]
    rows = [{"review ordering": c.statement, "source": c.source, "kind": c.kind,
             "method": literature.sources[_source_key(literature, c.source)].method_short,
             "calculator / protocol": f"{c.calculator} / {c.protocol_id}" if c.calculator else "-",
             "facet": c.facet, "verdict": c.verdict, "ours": c.ours, "literature": c.literature,
             "detail": c.detail, "cls": VERDICT_CLASS[c.verdict]}
            for c in comparison.claims.itertuples()]
    parts.append(_table(rows, ["review ordering", "source", "kind", "method", "calculator / protocol", "facet",
                               "verdict", "ours", "literature", "detail"], row_class="cls"))
    parts.append("<h3>Literature numbers beside ours</h3>")
    rows = [{"material": v.material, "facet": v.facet + ("" if v.facet_stated or v.facet == "any" else " (assumed)"),
             "literature (eV)": _num(v.literature_ev, 4) + ("" if v.unit == "eV" else f" (= {v.value:g} {v.unit})"),
             "source": v.source, "judged": "yes" if v.comparable else "no (not a surface barrier)",
             "calculator / protocol": f"{v.calculator} / {v.protocol_id}" if v.calculator else "-",
             "ours (eV)": _num(v.ours), "ours − literature (eV)": _num(v.difference), "detail": v.detail}
            for v in comparison.values.itertuples()]
    parts.append(_table(rows, ["material", "facet", "literature (eV)", "source", "judged", "calculator / protocol",
                               "ours (eV)", "ours − literature (eV)", "detail"],
                        numeric={"literature (eV)", "ours (eV)", "ours − literature (eV)"}))
    return "\n".join(parts)


def _source_key(literature: Literature, label: str) -> str:
    return next((k for k in literature.sources if literature.source_label(k) == label), next(iter(literature.sources)))


def _surfaces_section(docs: list[dict], hop_docs: dict, band_files: dict, figures: Path, root: Path) -> str:
    parts = ["<h2>Surfaces</h2>", "<p class='note'>Top view: every copy of every minimum; hops coloured by "
             "their saddle energy above the lowest minimum; the red band marks the hops of the percolating "
             "network at the barrier level; failed hops dashed. NEB profiles: accepted and barrierless hops, "
             "energies relative to the start image, saddle starred (spline through the images).</p>"]
    if not docs:
        return "\n".join(parts + ["<p>No surfaces.</p>"])
    for doc in sorted(docs, key=lambda d: (d["protocol_id"], plots.surface_label(d))):
        label = plots.surface_label(doc)
        slug = _slug(f"{label}-{doc['key']['calculator']}-{doc['protocol_id']}")
        barrier = doc["barrier_1d"] if doc["channel_only"] else doc["barrier_2d"]
        parts.append(f"<h3 id='{slug}'>{html.escape(label)} ({html.escape(doc['key']['calculator'])}, protocol "
                     f"{doc['protocol_id']})</h3><p>{html.escape(doc['status'])}"
                     + (f": {html.escape(doc['reason'])}" if doc["reason"] else "")
                     + (f"; percolation barrier {barrier:.3f} eV" if barrier is not None else "")
                     + f"; {doc['n_minima']} minima, {len(doc['hops'])} symmetry-unique hops.</p>")
        if doc.get("slab") is None:  # its slabs could not be cut: nothing to draw, the reason says why
            continue
        top = plots.save(plots.top_view(doc), figures / f"top-{slug}.png")
        parts.append(_img(top, root, f"top view {label}"))
        profiles = plots.neb_profiles(plots.surface_hops(doc, hop_docs), f"{label}: NEB energy profiles")
        profile = plots.save(profiles, figures / f"neb-{slug}.png")
        parts.append(_img(profile, root, f"NEB profiles {label}"))
        rows = []
        for h in doc["hops"]:
            full = hop_docs.get(h.get("job_uuid"), {})
            failed_gates = [k for k, ok in (full.get("gates") or {}).items() if not ok]
            if h["status"] == "barrierless":  # by definition its highest image is an end: not a failure
                failed_gates = ["- (highest image at an end: barrierless)"]
            band = band_files.get((doc["job_uuid"], h["hop_id"]))
            rows.append({"hop": h["hop_id"],
                         "from → to": f"{_site(doc, h['start_minimum'])} → {_site(doc, h['end_minimum'])}",
                         "length (Å)": _num(h["length"], 2), "per cell": h["multiplicity"],
                         "forward / reverse (eV)": f"{_num(h['forward_barrier'])} / {_num(h['reverse_barrier'])}",
                         "saddle above lowest minimum (eV)": _num(_saddle_level(doc, h)),
                         "status": h["status"] + (f": {h['reason']}" if h["reason"] else ""),
                         "failed gates": ", ".join(failed_gates) or "-",
                         "band": ("html", f"<a href='{band.relative_to(root).as_posix()}'>{band.name}</a>")
                         if band else "-",
                         "cls": "ok" if h["status"] in USABLE else "bad"})
        parts.append(_table(rows, ["hop", "from → to", "length (Å)", "per cell", "forward / reverse (eV)",
                                   "saddle above lowest minimum (eV)", "status", "failed gates", "band"],
                            numeric={"length (Å)", "per cell", "forward / reverse (eV)",
                                     "saddle above lowest minimum (eV)"}, row_class="cls"))
    return "\n".join(parts)


def _site(doc: dict, index: int) -> str:
    for m in doc.get("minima") or []:
        if m["index"] == index:
            return f"m{index} {m['site']}"
    return f"m{index}"


def _saddle_level(doc: dict, hop: dict):
    minima = doc.get("minima") or []
    if hop.get("saddle_energy") is None or not minima:
        return None
    return hop["saddle_energy"] - min(m["energy"] for m in minima)


def _sources_section(literature: Literature) -> str:
    rows = [{"source": literature.source_label(key), "method (as the review describes it)": s.method,
             "solvent": s.solvent, "citation": s.citation} for key, s in literature.sources.items()]
    context = "".join(f"<li>{html.escape(literature.source_label(c.source))}: {html.escape(c.statement)} "
                      f"<span class='note'>({html.escape(c.where)})</span></li>" for c in literature.context)
    review = literature.review
    return ("<h2>Sources</h2><p>Review: " + html.escape(review.get("citation", "")) + f" doi:{review.get('doi', '')}"
            + ". Reference numbers [n] are the review's. Data: <code>seiscreen/data/literature.yaml</code>.</p>"
            + _table(rows, ["source", "method (as the review describes it)", "solvent", "citation"])
            + (f"<p>Context, not evaluated:</p><ul>{context}</ul>" if context else ""))

