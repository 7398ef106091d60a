"""The ``seiscreen`` commands on what a store holds: ``results``, ``report``, ``export``, ``export-bands``,
``rerun-hop`` and ``compare`` (registered on the CLI's Typer app by :func:`register`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seiscreen.cli_common import STORE_HELP, clean_errors, console, fmt
from seiscreen.cli_tables import (print_convergence, print_descriptors, print_hops, print_measured_moduli,
                                  print_ranking, print_reruns)
from seiscreen.errors import SeiscreenError


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``, in the order ``seiscreen --help`` lists them."""
    app.command()(clean_errors(results))
    app.command()(clean_errors(report))
    app.command("export")(clean_errors(export_command))
    app.command("import")(clean_errors(import_command))
    app.command("export-bands")(clean_errors(export_bands_command))
    app.command("rerun-hop")(clean_errors(rerun_hop_command))
    app.command("compare")(clean_errors(compare_command))


def results(
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    hops: Annotated[bool, typer.Option(help="one row per hop instead of per surface")] = False,
    reruns: Annotated[bool, typer.Option(help="one row per saved hop rerun (`seiscreen rerun-hop --save`)")] = False,
    convergence: Annotated[bool, typer.Option(help="one row per surface computed in growing cells: converged or "
                                                   "not, the cell term")] = False,
    descriptors: Annotated[bool, typer.Option(help="one row per material and preset: the descriptor panel (barrier, "
                                                   "sodiophilicity, moduli, Monroe–Newman ratio), then its moduli "
                                                   "beside measured ones")] = False,
    rank_by: Annotated[str, typer.Option(help="barrier (lowest first) or diffusion (largest D(300 K) first)")]
    = "barrier",
) -> None:
    """Print the ranking (or the hops, the saved reruns, the cell convergence or the descriptor panel) stored in a
    store."""
    from seiscreen.results import load_results

    if format not in ("table", "csv", "json"):
        raise SeiscreenError(f"unknown format {format!r}: use table, csv or json")
    if rank_by not in ("barrier", "diffusion"):
        raise SeiscreenError(f"unknown --rank-by {rank_by!r}: use barrier or diffusion")
    if hops + reruns + convergence + descriptors > 1:
        raise SeiscreenError("--hops, --reruns, --convergence and --descriptors are separate tables: pass one of them")
    loaded = load_results(store)
    frame = (loaded.hops if hops else loaded.reruns if reruns else loaded.convergence if convergence
             else loaded.descriptors if descriptors else loaded.surfaces)
    if convergence and format != "table":
        frame = frame.drop(columns=["smaller_hashes"])
    if format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif format == "json":
        sys.stdout.write(frame.to_json(orient="records", indent=1) + "\n")
    elif hops:
        print_hops(frame)
    elif reruns:
        print_reruns(frame)
    elif convergence:
        print_convergence(frame)
    elif descriptors:
        from seiscreen.report.literature import load_literature
        from seiscreen.report.panel import compare_moduli

        print_descriptors(frame)
        print_measured_moduli(compare_moduli(frame, load_literature()))
    else:
        print_ranking(frame, title="seiscreen results", rank_by=rank_by)



def report(
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    out: Annotated[Path, typer.Option(help="report folder (index.html, figures/, tables/, bands/)")] = Path(
        "seiscreen-report"),
    literature: Annotated[Path | None, typer.Option(help="literature YAML (default: the review's, shipped)")] = None,
    bands: Annotated[bool, typer.Option(help="write every NEB band as extended XYZ into bands/")] = True,
) -> None:
    """Write an HTML report of a store: ranking, figures, NEB profiles, top views, comparison with the review."""
    from seiscreen.report.compare import verdict_counts
    from seiscreen.report.html import write_report
    from seiscreen.report.literature import load_literature

    if out.exists() and not out.is_dir():
        raise SeiscreenError(f"--out {out} is a file: pass a folder for the report (it gets index.html, figures/, "
                             "tables/ and bands/)")
    lit = load_literature(literature)
    written = write_report(store, out, literature=lit, bands=bands)
    counts = verdict_counts(written.comparison.claims)
    console.print(f"report: {written.index} with {len(written.figures)} figures (review orderings: "
                  f"{counts['reproduced']} reproduced, {counts['violated']} violated, {counts['undecidable']} "
                  "undecidable)", highlight=False, soft_wrap=True)



def export_command(
    out: Annotated[Path, typer.Argument(help="results file to write (.json or .json.gz)")],
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    note: Annotated[str | None, typer.Option(help="a line saying what these results are")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing results file")] = False,
) -> None:
    """Write every result of a store, with its provenance, into one file that `results`, `report` and
    `load_results` read like a store (--store FILE): how results are shipped."""
    from seiscreen.store import export_store, open_store

    if out.exists() and not force:  # a shipped file is not replaced by accident
        raise SeiscreenError(f"{out} exists: pass --force to replace it, or write another file")
    counts = export_store(open_store(store, create=False), out, note=note)
    console.print(f"exported {counts['jobs']} job documents and {counts['data']} bands to {out}", highlight=False)



def import_command(
    results_file: Annotated[Path, typer.Argument(help="results file written by `seiscreen export`")],
    store: Annotated[str | None, typer.Option(help="store folder or mongodb:// URI to import into (made when "
                                                   "new) [env SEISCREEN_STORE]")] = None,
) -> None:
    """Copy every result of a results file into a store, so that `seiscreen run` continues the campaign from it:
    what the file holds is reused by its content hash, as in the store it was exported from."""
    from seiscreen.store import import_results, resolve_location

    counts = import_results(results_file, store)
    there = (f" ({counts['jobs_present']} job documents and {counts['data_present']} bands were there already)"
             if counts["jobs_present"] or counts["data_present"] else "")
    console.print(f"imported {counts['jobs']} job documents and {counts['data']} bands from {results_file} into "
                  f"{resolve_location(store)}{there}", highlight=False, soft_wrap=True)


def export_bands_command(
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    out: Annotated[Path, typer.Option(help="folder for the band files")] = Path("seiscreen-bands"),
    format: Annotated[str, typer.Option("--format", help="traj (ASE trajectory) or xyz (extended XYZ)")] = "traj",
    material: Annotated[str | None, typer.Option(help="only this material's hops")] = None,
    hop: Annotated[str | None, typer.Option(help="only this hop: hop id (hop0-m0-m1) or NEB job uuid")] = None,
    history: Annotated[bool, typer.Option(help="every stored band of the optimisation, not only the final one")]
    = False,
) -> None:
    """Write NEB bands from the store as files `ase gui` opens (one file per hop)."""
    from seiscreen.report.export import export_bands

    written = export_bands(store, out, format, material=material, hop=hop, trajectory=history)
    table = Table(title=f"{len(written)} band file(s) in {out}  (open one with: ase gui FILE)")
    for column in ("surface", "hop", "status", "images", "file"):
        table.add_column(column, overflow="fold")
    for _, doc, path in written:
        key = doc["key"]
        n = len(doc.get("image_energies") or []) or "-"
        table.add_row(f"{key['material']}({''.join(str(i) for i in key['miller'])}) {key['termination_id']}",
                      doc["hop_id"], doc["status"], str(n), path.name)
    console.print(table)



def rerun_hop_command(
    hop: Annotated[str, typer.Argument(help="the hop's NEB job uuid (or its first 8+ characters): the job_uuid "
                                            "column of `seiscreen results --hops --format csv`")],
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    start: Annotated[str, typer.Option("--from", help="cold (a new band, as the campaign made it) or band (the "
                                                      "stored final band)")] = "cold",
    neb: Annotated[list[str] | None, typer.Option(help="change an NEB setting of the stored protocol, KEY=VALUE "
                                                       "(repeatable): n_images=9, fmax=0.02, ...")] = None,
    save: Annotated[bool, typer.Option(help="store the rerun beside the hop (a store folder, not a results "
                                            "file): its change widens the surface's barrier uncertainty")] = False,
    images_at_once: Annotated[int, typer.Option(help="images of the band computed at the same time, each in its "
                                                     "own process (GPAW, EMT)")] = 1,
    ranks: Annotated[int, typer.Option(help="MPI ranks of each GPAW calculation")] = 1,
    launcher: Annotated[str, typer.Option(help="the command that starts the ranks")] = "mpiexec -n {ranks}",
    preset: Annotated[str | None, typer.Option(help="recompute with another calculator preset (e.g. a "
                                                    "gpaw-lcao-gamma hop with gpaw-lcao): the ends are relaxed "
                                                    "with it first")] = None,
    one_band: Annotated[bool, typer.Option(help="a hop stored through relaxed valleys: one band between its ends "
                                                "(it may find them again) instead of a band between each two of "
                                                "its stored states")] = False,
) -> None:
    """Recompute one stored hop's NEB from its stored ends, protocol and calculator; compare with the stored
    barrier. A hop stored through relaxed valleys is rerun through them. Nothing is written to the store unless
    --save."""
    from seiscreen.reproduce import rerun_hop

    changes = _neb_changes(neb or [])
    with console.status("rerunning the band"):
        rerun = rerun_hop(store, hop, start=start, neb=changes, save=save, preset=preset, one_band=one_band,
                          parallel={"images_at_once": images_at_once, "ranks": ranks, "launcher": launcher})
    _print_rerun(rerun, changes, save)


def _neb_changes(items: list[str]) -> dict[str, str]:
    """``--neb KEY=VALUE`` options as {KEY: VALUE}; one line (SeiscreenError) for an item without ``=``."""
    changes = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SeiscreenError(f"--neb {item!r} is not KEY=VALUE: write e.g. --neb n_images=9")
        changes[name.strip()] = value.strip()
    return changes


def _print_rerun(rerun, changes: dict[str, str], save: bool) -> None:
    """The stored and the rerun barrier of a hop side by side, how far its ends moved, its notes, and where a
    saved rerun counts (``rerun``: the ``HopRerunDoc`` that ``reproduce.rerun_hop`` returns)."""
    changed = "".join(f", {k}={v}" for k, v in changes.items()) + (f", with {rerun.preset}" if rerun.preset else "")
    changed += f", through {rerun.through_valleys} valley(s)" if rerun.through_valleys else ""
    table = Table(title=f"{rerun.label}  (job {rerun.hop_job_uuid}, from {rerun.start}{changed})")
    for column in ("", "status", "barrier eV", "force calls"):
        table.add_column(column)
    table.add_row(f"stored ({rerun.key.calculator})", rerun.stored_status, fmt(rerun.stored_barrier), "")
    table.add_row(f"rerun ({rerun.preset or rerun.key.calculator})", rerun.status, fmt(rerun.barrier),
                  str(rerun.force_calls))
    console.print(table)
    difference = "-" if rerun.difference is None else f"{rerun.difference:+.4f} eV"
    states = "end and valley energies" if rerun.through_valleys else "end energies"
    ends = (f"no stored {states}" if rerun.end_energy_drift is None else
            f"{states} recomputed within {rerun.end_energy_drift:.4f} eV of the stored ones")
    console.print(f"difference {difference}; {ends}" + (f"; rerun: {rerun.reason}" if rerun.reason else ""),
                  highlight=False)
    for note in rerun.notes:
        console.print(f"note: {note}", highlight=False)
    if save and rerun.preset:
        console.print("saved beside the hop: `seiscreen results --reruns` lists it (another preset: not part of "
                      "the surface's barrier uncertainty)", highlight=False)
    elif save and not rerun.neb_changes:
        console.print("saved beside the hop: `seiscreen results --reruns` lists it (the same protocol: a check of "
                      "the stored number, not part of its uncertainty)", highlight=False)
    elif save:
        console.print("saved beside the hop: `seiscreen results --reruns` lists it, and the surface's barrier "
                      "uncertainty includes the change when this is its limiting hop", highlight=False)


def compare_command(
    a: Annotated[str, typer.Argument(metavar="A", help="store folder, mongodb:// URI or results file",
                                     show_default=False)],
    b: Annotated[str, typer.Argument(metavar="B", help="the other store or results file", show_default=False)],
    tolerance: Annotated[float, typer.Option(help="eV: numbers further apart than this differ")] = 0.001,
    slice_of_b: Annotated[bool, typer.Option("--slice", help="A reran some surfaces of B: only what B has of "
                                                             "those, under A's protocols, is compared")] = False,
) -> None:
    """Compare two stores or results files number by number (barriers, adsorption and minima energies, hop
    barriers, statuses): exit 0 when they agree within the tolerance, 1 when they do not."""
    from rich.markup import escape

    from seiscreen.compare_stores import compare_stores, describe_code_version

    found = compare_stores(a, b, tolerance, a_is_slice=slice_of_b)
    if found.differences:
        table = Table(title=f"differences beyond {tolerance:g} eV")
        for column in ("item", "field", "A", "B", "B - A"):
            table.add_column(column, overflow="fold")
        for d in found.differences:  # escaped: "[chgnet]" in a label is not rich markup
            shown = [escape(str(v) if isinstance(v, (bool, int)) else fmt(v, 4)) for v in (d.a, d.b)]
            counts = all(isinstance(v, int) and not isinstance(v, bool) for v in (d.a, d.b))
            change = ("" if d.change is None else f"{d.change:+.0f}" if counts else f"{d.change:+.4f}"
                      if abs(d.change) >= 5e-5 else f"{d.change:+.1e}")
            table.add_row(escape(d.item), d.field, *shown, change)
        console.print(table)
    lines = [f"only in {side}: {item}" for side, items in (("A", found.only_a), ("B", found.only_b)) for item in items]
    for line in lines + [f"note: {note}" for note in found.notes]:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if any(found.code_versions):
        console.print("code: A " + describe_code_version(found.code_versions[0]) + ", B "
                      + describe_code_version(found.code_versions[1]), highlight=False)
    console.print(found.summary(), highlight=False, soft_wrap=True)
    if not found.agree:
        raise typer.Exit(1)

