"""The ``seiscreen`` command line. Bad input ends with one line naming the problem and the fix, exit status 2."""

from __future__ import annotations

import functools
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table

from seiscreen.errors import SeiscreenError

def quiet_library_warnings() -> None:
    """Deprecation chatter of dependencies is not the user's business."""
    for category in (DeprecationWarning, FutureWarning, UserWarning):
        for module in ("pymatgen", "jobflow", "spglib", "chgnet", "torch", "ase", "monty", "maggma"):
            warnings.filterwarnings("ignore", category=category, module=module)


STORE_HELP = "store folder, mongodb:// URI or exported results file [env SEISCREEN_STORE]"
app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Screen SEI coatings for Na-metal anodes by the Na adatom's surface diffusion barrier.")
LOG_WIDTH = 10_000  # columns of output to a file or pipe: a table is never folded or cut


class OutputConsole(Console):
    """Rich output at the terminal's width; to a file or pipe (a batch job's log) at :data:`LOG_WIDTH`, so no
    table is folded or cut at 80 columns (for machine reading: ``--format csv``)."""

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal:
            return super().size
        return ConsoleDimensions(LOG_WIDTH, super().size.height)


console = OutputConsole()


def _clean_errors(command):
    """Turn SeiscreenError, pydantic validation errors and a path the system refuses (OSError) into one line on
    stderr and exit status 2; any other exception into one line and exit status 1 (:func:`_crash_line`)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from pydantic import ValidationError

        try:
            return _crash_line(command)(*args, **kwargs)
        except OSError as exc:  # a path of the user's the system refuses: bad input, not a crash
            if os.environ.get("SEISCREEN_DEBUG"):
                traceback.print_exc()
            where = f" {exc.filename}" if exc.filename else ""
            Console(stderr=True).print(f"[bold red]error:[/] cannot use{escape(where)}: "
                                       f"{escape(exc.strerror or str(exc))}: check the path and its permissions",
                                       soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None
        except SeiscreenError as exc:
            if os.environ.get("SEISCREEN_DEBUG"):  # where it was raised, for a developer
                traceback.print_exc()
            Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "input"
            Console(stderr=True).print(f"[bold red]error:[/] {escape(where)}: {escape(first['msg'])}", soft_wrap=True,
                                       highlight=False)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@_clean_errors
def materials(
    format: Annotated[str, typer.Option("--format", help="table or csv")] = "table",
) -> None:
    """List the bulk-structure catalog with the source of every structure."""
    import csv

    from seiscreen.catalog import load_catalog

    if format not in ("table", "csv"):
        raise SeiscreenError(f"unknown format {format!r}: use table or csv")
    columns = ("name", "role", "type", "space group", "lattice (Å)", "atoms", "DFT", "file", "source")
    rows = [(entry.name, entry.role, entry.structure_type, f"{entry.space_group or '-'}",
             ", ".join(f"{k}={v:g}" for k, v in (entry.lattice or {}).items()) or "-",
             str(entry.n_atoms_conventional or "-"), "yes" if entry.dft_feasible else "no", entry.file or "-",
             entry.source) for entry in load_catalog().values()]
    if format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows([columns, *rows])
        return
    table = Table(title="seiscreen catalog (structures/catalog.yaml)")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row[:7], row[7] if row[7] != "-" else "[red]no file[/]", row[8])
    console.print(table)


@app.command()
@_clean_errors
def slabs(
    material: Annotated[str, typer.Argument(help="catalog name or CIF path")],
    miller: Annotated[str, typer.Argument(help="Miller index: 100, 1,1,0 or '1 -1 0'")],
    min_thickness: float = 6.0,
    vacuum: float = 12.0,
    min_lateral_size: float = 9.0,
) -> None:
    """Every termination of a facet: polarity, reconstruction, symmetry, supercell and the candidate sites."""
    from seiscreen.catalog import load_bulk
    from seiscreen.surfaces.sites import candidate_sites
    from seiscreen.surfaces.slabs import SlabSettings, make_terminations

    settings = SlabSettings(min_thickness=min_thickness, vacuum=vacuum, min_lateral_size=min_lateral_size)
    table = Table(title=f"{material} ({miller}) terminations")
    for column in ("id", "polar as cleaved", "reconstruction", "symmetric", "atoms", "layers (fixed)", "cell", "sites"):
        table.add_column(column)
    for term in make_terminations(load_bulk(material), miller, settings):
        meta = term.metadata()
        names = ", ".join(site.name for site in candidate_sites(term.to_atoms()))
        table.add_row(term.termination_id, str(term.polar_as_cleaved), term.reconstruction, str(term.symmetric),
                      str(meta["n_atoms"]), f"{term.n_layers} ({term.n_fixed_layers})",
                      " x ".join(f"{x:.2f}" for x in meta["cell_lengths"][:2]) + f" Å, γ={meta['cell_angles'][2]:g}°",
                      names)
    console.print(table)


@app.command()
@_clean_errors
def minima(
    material: Annotated[str, typer.Argument(help="catalog name or CIF path")],
    miller: Annotated[str, typer.Argument(help="Miller index: 100, 1,1,0 or '1 -1 0'")],
    calculator: Annotated[str, typer.Option(help="calculator preset (see seiscreen presets)")] = "ml",
    adsorbate: str = "Na",
    min_thickness: float = 6.0,
    vacuum: float = 12.0,
    min_lateral_size: float = 9.0,
    termination: Annotated[str | None, typer.Option(help="termination id (default: every one)")] = None,
) -> None:
    """Find, verify and merge the adatom minima of a facet, then list the symmetry-unique hops between them."""
    from seiscreen.calculators import get_preset
    from seiscreen.catalog import load_bulk
    from seiscreen.minima import MinimaSettings, scan_surface
    from seiscreen.surfaces.hops import build_hop_network
    from seiscreen.surfaces.slabs import SlabSettings, make_terminations

    preset = get_preset(calculator)
    settings = SlabSettings(min_thickness=min_thickness, vacuum=vacuum, min_lateral_size=min_lateral_size)
    terms = make_terminations(load_bulk(material), miller, settings)
    if termination is not None:
        terms = [t for t in terms if t.termination_id == termination]
        if not terms:
            raise SeiscreenError(f"no termination {termination!r}: run `seiscreen slabs {material} {miller}`")
    calc = preset.make()
    for term in terms:
        scan = scan_surface(term.to_atoms(), calc, MinimaSettings(adsorbate=adsorbate))
        table = Table(title=f"{term.label}: {adsorbate} minima with {preset.name} ({len(term.slab)} slab atoms)")
        for column in ("minimum", "site", "E_ads (eV)", "height (Å)", "reached from", "outcome", "verified"):
            table.add_column(column)
        for m in scan.minima:
            table.add_row(str(m.index) if m.accepted else "-", m.site, f"{m.adsorption_energy:.3f}",
                          f"{m.details['height']:.2f}", ", ".join(m.started_from), m.outcome.value, str(m.verified))
        console.print(table)
        if scan.accepted:
            network = build_hop_network([m.frac_xy for m in scan.accepted], scan.symmetry)
            hops = Table(title=f"{term.label}: symmetry-unique hops")
            for column in ("hop", "from", "to", "length (Å)", "multiplicity per cell"):
                hops.add_column(column)
            for hop in network.hops:
                hops.add_row(hop.hop_id, scan.accepted[hop.start_minimum].site, scan.accepted[hop.end_minimum].site,
                             f"{hop.length:.3f}", str(hop.multiplicity))
            console.print(hops)


@app.command()
@_clean_errors
def presets() -> None:
    """List the calculator presets."""
    from seiscreen.calculators import ALIASES, PRESETS

    table = Table(title="calculator presets")
    for column in ("name", "code", "description", "barrier ± (eV)"):
        table.add_column(column)
    for preset in PRESETS.values():
        aliases = [a for a, target in ALIASES.items() if target == preset.name]
        uncertainty = "-" if preset.barrier_uncertainty is None else f"{preset.barrier_uncertainty:.3f}"
        table.add_row(preset.name + (f" (= {', '.join(aliases)})" if aliases else ""), preset.code, preset.description,
                      uncertainty)
    console.print(table)


def _crash_line(command):
    """An unexpected exception (a bug or a broken installation, not bad input) ends in one ``error:`` line naming
    it and exit status 1, not a traceback; SEISCREEN_DEBUG=1 lets the traceback through."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        import click
        from pydantic import ValidationError

        try:
            return command(*args, **kwargs)
        except (SeiscreenError, ValidationError, OSError, typer.Exit, typer.Abort, click.exceptions.Exit,
                click.Abort, click.ClickException):
            raise  # bad input (exit 2) and typer's and click's own exits
        except Exception as exc:
            if os.environ.get("SEISCREEN_DEBUG"):
                raise
            first = escape((str(exc).splitlines() or [""])[0][:300])
            Console(stderr=True).print(f"[bold red]error:[/] {type(exc).__name__}: {first} (a crash, not bad input: "
                                       "rerun with SEISCREEN_DEBUG=1 for the traceback; finished work is kept)",
                                       soft_wrap=True, highlight=False, markup=True)
            raise typer.Exit(1) from None

    return wrapper


def exit_for_failures(campaign, location: str | None, protocols: list[str], planned: list) -> None:
    """Exit status 1 with one line naming them when surfaces of the campaign failed (``seiscreen run --help``)."""
    from seiscreen.runner import campaign_outcome

    outcome = campaign_outcome(campaign, location, protocols, planned)
    if outcome.failed:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(outcome.summary)}", soft_wrap=True, highlight=False,
                                   markup=True)
        raise typer.Exit(1)


def refuse_results_file(location: str | None) -> None:
    """A campaign runs into a store: an exported results file (``seiscreen export``) is read-only."""
    from seiscreen.store import EXPORT_SUFFIXES, resolve_location

    if resolve_location(location).endswith(EXPORT_SUFFIXES):
        raise SeiscreenError(f"{resolve_location(location)} is a results file, and results files are read-only: pass "
                             "a store folder or mongodb:// URI with --store (or SEISCREEN_STORE)")


RUN_HELP = (
    "Run a screening campaign into the store and print its ranking.\n\n"
    "Progress: a terminal gets a live display; a file or pipe (a batch job) gets the log's path first, then one "
    "plain line per finished minima search, NEB band and surface with the time since the start, and full-width "
    "tables.\n\n"
    "Exit status: 0 when every surface of the campaign has its result: ranked, or unranked by a gate of the "
    "protocol (no verified adsorbed minimum, no percolating path, a hop that failed a gate), stored with the reason. "
    "1 when a surface failed by an exception (its slab cutting, minima search or a hop raised: the next run retries "
    "it) or has no result, with one line saying which; an unexpected crash is 1 too. 2 for bad input, refused "
    "before anything is computed.")


@app.command(help=RUN_HELP)
@_clean_errors
def run(
    campaign_file: Annotated[Path, typer.Argument(help="campaign YAML (see workflows/)", show_default=False)],
    calculator: Annotated[str | None, typer.Option(help="override the campaign's calculator preset")] = None,
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    workers: Annotated[int | None, typer.Option(help="run the surfaces on N local worker processes (Dask)")] = None,
    wait: Annotated[bool, typer.Option(help="when another run is writing into the store, wait for it to finish "
                                            "instead of stopping (exit 2)")] = False,
) -> None:
    """Run a screening campaign into the store and print its ranking (the help text: :data:`RUN_HELP`)."""
    from seiscreen.campaign import load_campaign
    from seiscreen.workflow.flows import plan_surfaces
    from seiscreen.runner import run_campaign

    campaign = load_campaign(campaign_file, calculator=calculator)
    location = store or campaign.store
    refuse_results_file(location)
    planned = plan_surfaces(campaign)  # bad materials or facets fail here, before the store is created
    if workers is not None and campaign.convergence is not None:
        raise SeiscreenError("--workers does not run a convergence campaign yet (its larger cells wait for the "
                             "smaller cells' minima): run it without --workers")
    if workers is not None:  # one Dask task per surface; the client is the store's only writer
        from seiscreen.execution.local import run_with_workers
        from seiscreen.results import load_results

        protocols = run_with_workers(campaign, location, workers, console, wait=wait)
        _print_ranking(campaign_surfaces(load_results(location).surfaces, protocols), title=f"{campaign.name}: ranking")
        exit_for_failures(campaign, location, protocols, planned)
        return
    # Surfaces already finished in the store are reused, not recomputed (see docs/reliability.md).
    results, protocols = run_campaign(campaign, location, console, planned=planned, wait=wait)
    _print_ranking(campaign_surfaces(results.surfaces, protocols), title=f"{campaign.name}: ranking")
    exit_for_failures(campaign, location, protocols, planned)


@app.command()
@_clean_errors
def results(
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    hops: Annotated[bool, typer.Option(help="one row per hop instead of per surface")] = False,
    reruns: Annotated[bool, typer.Option(help="one row per saved hop rerun (`seiscreen rerun-hop --save`)")] = False,
    convergence: Annotated[bool, typer.Option(help="one row per surface computed in growing cells: converged or "
                                                   "not, the cell term")] = False,
) -> None:
    """Print the ranking (or the hops, the saved reruns, or the cell convergence) stored in a store."""
    from seiscreen.results import load_results

    if format not in ("table", "csv", "json"):
        raise SeiscreenError(f"unknown format {format!r}: use table, csv or json")
    if hops + reruns + convergence > 1:
        raise SeiscreenError("--hops, --reruns and --convergence are separate tables: pass one of them")
    loaded = load_results(store)
    frame = (loaded.hops if hops else loaded.reruns if reruns else loaded.convergence if convergence
             else loaded.surfaces)
    if convergence and format != "table":
        frame = frame.drop(columns=["smaller_hashes"])
    if format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif format == "json":
        sys.stdout.write(frame.to_json(orient="records", indent=1) + "\n")
    elif hops:
        _print_hops(frame)
    elif reruns:
        _print_reruns(frame)
    elif convergence:
        _print_convergence(frame)
    else:
        _print_ranking(frame, title="seiscreen results")


@app.command()
@_clean_errors
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


@app.command("export")
@_clean_errors
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


@app.command("import")
@_clean_errors
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


@app.command("export-bands")
@_clean_errors
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


@app.command("rerun-hop")
@_clean_errors
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

    changes = {}
    for item in neb or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SeiscreenError(f"--neb {item!r} is not KEY=VALUE: write e.g. --neb n_images=9")
        changes[name.strip()] = value.strip()
    with console.status("rerunning the band"):
        rerun = rerun_hop(store, hop, start=start, neb=changes, save=save, preset=preset, one_band=one_band,
                          parallel={"images_at_once": images_at_once, "ranks": ranks, "launcher": launcher})
    changed = "".join(f", {k}={v}" for k, v in changes.items()) + (f", with {rerun.preset}" if rerun.preset else "")
    changed += f", through {rerun.through_valleys} valley(s)" if rerun.through_valleys else ""
    table = Table(title=f"{rerun.label}  (job {rerun.hop_job_uuid}, from {rerun.start}{changed})")
    for column in ("", "status", "barrier eV", "force calls"):
        table.add_column(column)
    table.add_row(f"stored ({rerun.key.calculator})", rerun.stored_status, _fmt(rerun.stored_barrier), "")
    table.add_row(f"rerun ({rerun.preset or rerun.key.calculator})", rerun.status, _fmt(rerun.barrier),
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


@app.command("compare")
@_clean_errors
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
            shown = [escape(str(v) if isinstance(v, (bool, int)) else _fmt(v, 4)) for v in (d.a, d.b)]
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


def _fmt(value, digits: int = 3) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, (float, int)) else str(value)


def campaign_surfaces(surfaces, protocols: list[str]):
    """The surfaces of a campaign's protocols (one per fidelity), in the funnel's order: one table each."""
    mine = surfaces[surfaces["protocol_id"].isin(protocols)]
    return mine.iloc[mine["protocol_id"].map(protocols.index).argsort(kind="stable")]


def _print_ranking(frame, title: str) -> None:
    """One table per protocol: barriers from different protocols are never ranked against each other."""
    from seiscreen.results import plus_minus

    if frame.empty:
        console.print("no surfaces in this store yet")
        return
    for protocol, group in frame.groupby("protocol_id", sort=False):
        calculators = ", ".join(sorted(group["calculator"].unique()))
        table = Table(title=f"{title} [{calculators}, protocol {protocol}]")
        for column in ("rank", "surface", "barrier (eV)", "2D / 1D", "lowest hop", "E_ads (eV)", "site", "status"):
            table.add_column(column)
        for row in group.sort_values(["rank", "material"], na_position="last").itertuples():
            flag = " 1D only" if row.channel_only else ""
            table.add_row(_fmt(row.rank if row.status == "ranked" else None, 0),
                          f"{row.material}{row.facet} {row.termination}", _fmt(row.barrier) + plus_minus(row) + flag,
                          f"{_fmt(row.barrier_2d)} / {_fmt(row.barrier_1d)}", _fmt(row.lowest_hop_barrier),
                          _fmt(row.adsorption_energy), _fmt(row.lowest_site),
                          row.status + (f": {row.reason}" if row.reason else ""))
        console.print(table)


def _print_convergence(frame) -> None:
    """One row per surface series: status, ranked barrier, cell term, last change per axis and the cells."""
    if frame.empty:
        console.print("no convergence series in this store (a campaign with a 'convergence' section makes them)")
        return
    table = Table(title="cell convergence")
    for column in ("surface", "status", "barrier (eV)", "cell term", "Δ lateral", "Δ thickness", "cells"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(f"{row.material}{row.facet} {row.termination}",
                      row.status + (f": {row.reason}" if row.reason else ""), _fmt(row.ranked_barrier),
                      _fmt(row.cell_term), _fmt(row.lateral_change), _fmt(row.thickness_change), row.cells)
    console.print(table)


def _print_hops(frame) -> None:
    table = Table(title="hops")
    for column in ("surface", "hop", "from -> to", "length (Å)", "mult.", "forward / reverse (eV)", "status",
                   "force calls"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(f"{row.material}{row.facet} {row.termination}", row.hop_id, f"{row.start_site} -> {row.end_site}",
                      _fmt(row.length, 2), str(row.multiplicity),
                      f"{_fmt(row.forward_barrier)} / {_fmt(row.reverse_barrier)}",
                      row.status + (f": {row.reason}" if row.reason else ""), str(row.force_calls))
    console.print(table)


def _print_reruns(frame) -> None:
    table = Table(title="hop reruns")
    for column in ("surface", "hop (job)", "rerun", "stored eV", "rerun eV", "change eV", "status", "force calls"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(f"{row.material}{row.facet} {row.termination}", f"{row.hop_id} ({row.hop_job_uuid[:8]})",
                      f"{row.start}, {row.neb_changes}" + (f", {row.preset}" if row.preset != row.calculator else ""),
                      _fmt(row.stored_barrier), _fmt(row.barrier),
                      _fmt(row.difference), row.status + (f": {row.reason}" if row.reason else ""),
                      str(row.force_calls))
    console.print(table)


def _register_cluster_commands() -> None:
    from seiscreen.execution.commands import register

    register(app, _clean_errors, console, _print_ranking, campaign_surfaces)  # `submit` and `status`


_register_cluster_commands()


def main() -> None:  # pragma: no cover - console entry point
    quiet_library_warnings()
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
