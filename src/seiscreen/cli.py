"""The ``seiscreen`` command line. Bad input ends with one line naming the problem and the fix, exit status 2."""

from __future__ import annotations

import functools
import sys
import warnings
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from seiscreen.errors import SeiscreenError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Screen SEI coatings for Na-metal anodes by the Na adatom's surface diffusion barrier.")
console = Console()


def _clean_errors(command):
    """Turn SeiscreenError (and pydantic validation errors) into one line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from pydantic import ValidationError

        try:
            return command(*args, **kwargs)
        except SeiscreenError as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "input"
            Console(stderr=True).print(f"[bold red]error:[/] {where}: {first['msg']}", soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@_clean_errors
def materials() -> None:
    """List the bulk-structure catalog with the source of every structure."""
    from seiscreen.catalog import load_catalog

    table = Table(title="seiscreen catalog (structures/catalog.yaml)")
    for column in ("name", "role", "type", "space group", "lattice (Å)", "atoms", "DFT", "source"):
        table.add_column(column, overflow="fold")
    for entry in load_catalog().values():
        lattice = ", ".join(f"{k}={v:g}" for k, v in (entry.lattice or {}).items())
        shipped = "" if entry.file else " [red](no file)[/]"
        table.add_row(entry.name + shipped, entry.role, entry.structure_type, f"{entry.space_group or '-'}",
                      lattice or "-", str(entry.n_atoms_conventional or "-"), "yes" if entry.dft_feasible else "no",
                      entry.source)
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
        names = ", ".join(site.name for site in candidate_sites(term.slab, term.to_atoms()))
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
        scan = scan_surface(term, calc, MinimaSettings(adsorbate=adsorbate))
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
    for column in ("name", "code", "description"):
        table.add_column(column)
    for preset in PRESETS.values():
        aliases = [a for a, target in ALIASES.items() if target == preset.name]
        table.add_row(preset.name + (f" (= {', '.join(aliases)})" if aliases else ""), preset.code, preset.description)
    console.print(table)


def main() -> None:  # pragma: no cover - console entry point
    warnings.filterwarnings("ignore", module="pymatgen")
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
