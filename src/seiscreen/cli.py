"""The ``seiscreen`` command line. Bad input ends with one line naming the problem and the fix, exit status 2.

This module holds the Typer ``app`` with the commands that look at structures before a campaign (``materials``,
``slabs``, ``minima``, ``presets``) and ``run``; it registers the commands on a stored campaign
(:mod:`seiscreen.cli_store`) and the cluster commands (:mod:`seiscreen.execution.commands`) on it. What they
share is in :mod:`seiscreen.cli_common`, the result tables in :mod:`seiscreen.cli_tables`.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seiscreen.cli_common import (  # noqa: F401 - re-exported: importable from seiscreen.cli as before
    LOG_WIDTH,
    PRESETS_HELP,
    STORE_HELP,
    OutputConsole,
    clean_errors,
    console,
    crash_line,
    exit_for_failures,
    fmt,
    refuse_results_file,
    use_preset_files,
)
from seiscreen.cli_store import register as register_store_commands
from seiscreen.cli_training import register as register_training_commands
from seiscreen.cli_tables import campaign_surfaces, loop_protocols, print_ranking
from seiscreen.errors import SeiscreenError
from seiscreen.execution.commands import register as register_cluster_commands


def quiet_library_warnings() -> None:
    """Deprecation chatter of dependencies is not the user's business."""
    for category in (DeprecationWarning, FutureWarning, UserWarning):
        for module in ("pymatgen", "jobflow", "spglib", "chgnet", "torch", "ase", "monty", "maggma"):
            warnings.filterwarnings("ignore", category=category, module=module)


app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Screen SEI coatings for Na-metal anodes by the Na adatom's surface diffusion barrier.")


@app.command()
@clean_errors
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
@clean_errors
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
@clean_errors
def minima(
    material: Annotated[str, typer.Argument(help="catalog name or CIF path")],
    miller: Annotated[str, typer.Argument(help="Miller index: 100, 1,1,0 or '1 -1 0'")],
    calculator: Annotated[str, typer.Option(help="calculator preset (see seiscreen presets)")] = "ml",
    adsorbate: str = "Na",
    min_thickness: float = 6.0,
    vacuum: float = 12.0,
    min_lateral_size: float = 9.0,
    termination: Annotated[str | None, typer.Option(help="termination id (default: every one)")] = None,
    presets: Annotated[list[Path] | None, typer.Option("--presets", help=PRESETS_HELP)] = None,
) -> None:
    """Find, verify and merge the adatom minima of a facet, then list the symmetry-unique hops between them."""
    from seiscreen.calculators import get_preset
    from seiscreen.catalog import load_bulk
    from seiscreen.minima import MinimaSettings, scan_surface
    from seiscreen.surfaces.hops import build_hop_network
    from seiscreen.surfaces.slabs import SlabSettings, make_terminations

    use_preset_files(presets)
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
@clean_errors
def presets(
    files: Annotated[list[Path] | None, typer.Option("--presets", help=PRESETS_HELP)] = None,
) -> None:
    """List the calculator presets: the built-in ones, then those defined by the user (--presets FILE, env
    SEISCREEN_PRESETS), marked as user-defined with where they were defined."""
    from seiscreen.calculators import ALIASES, PRESETS, user_preset_source, user_presets

    use_preset_files(files)
    table = Table(title="calculator presets")
    for column in ("name", "code", "description", "barrier ± (eV)", "training frames", "defined"):
        table.add_column(column)
    for preset in [*PRESETS.values(), *user_presets().values()]:
        aliases = [a for a, target in ALIASES.items() if target == preset.name]
        uncertainty = "-" if preset.barrier_uncertainty is None else f"{preset.barrier_uncertainty:.3f}"
        defined = "built-in" if preset.name in PRESETS else f"user-defined ({user_preset_source(preset.name)})"
        code = f"factory {preset.factory}" if preset.code == "factory" else preset.code
        table.add_row(preset.name + (f" (= {', '.join(aliases)})" if aliases else ""), code, preset.description,
                      uncertainty, "recorded" if preset.recording else "-", defined)
    console.print(table)


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
@clean_errors
def run(
    campaign_file: Annotated[Path, typer.Argument(help="campaign YAML (see workflows/)", show_default=False)],
    calculator: Annotated[str | None, typer.Option(help="override the campaign's calculator preset")] = None,
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    workers: Annotated[int | None, typer.Option(help="run the surfaces on N local worker processes (Dask)")] = None,
    wait: Annotated[bool, typer.Option(help="when another run is writing into the store, wait for it to finish "
                                            "instead of stopping (exit 2)")] = False,
    presets: Annotated[list[Path] | None, typer.Option("--presets", help=PRESETS_HELP)] = None,
) -> None:
    """Run a screening campaign into the store and print its ranking (the help text: :data:`RUN_HELP`)."""
    from seiscreen.campaign import load_campaign
    from seiscreen.workflow.flows import plan_surfaces
    from seiscreen.runner import run_campaign

    use_preset_files(presets)  # before the campaign: its calculator may name one
    campaign = load_campaign(campaign_file, calculator=calculator)
    location = store or campaign.store
    refuse_results_file(location)
    planned = plan_surfaces(campaign)  # bad materials or facets fail here, before the store is created
    if workers is not None:  # one Dask task per surface; the client is the store's only writer
        from seiscreen.execution.local import run_with_workers
        from seiscreen.results import load_results

        protocols = run_with_workers(campaign, location, workers, console, wait=wait)
        print_ranking(campaign_surfaces(load_results(location).surfaces, protocols), title=f"{campaign.name}: ranking")
        exit_for_failures(campaign, location, protocols, planned)
        return
    # Surfaces already finished in the store are reused, not recomputed (see docs/reliability.md).
    results, protocols = run_campaign(campaign, location, console, planned=planned, wait=wait)
    shown = protocols + loop_protocols(campaign, results.surfaces)  # the loop's last fine-tuned level too
    print_ranking(campaign_surfaces(results.surfaces, shown), title=f"{campaign.name}: ranking")
    exit_for_failures(campaign, location, protocols, planned)


# The commands on a stored campaign, then `submit` and `status`: listed by `seiscreen --help` in this order.
register_store_commands(app)
register_training_commands(app)
register_cluster_commands(app)


def main() -> None:  # pragma: no cover - console entry point
    quiet_library_warnings()
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
