"""What every ``seiscreen`` command shares: the console, the wrappers that turn exceptions into one ``error:``
line and an exit status, number formatting, and the exit status of a campaign run."""

from __future__ import annotations

import functools
import math
import os
import traceback

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

from seiscreen.errors import SeiscreenError

STORE_HELP = "store folder, mongodb:// URI or exported results file [env SEISCREEN_STORE]"
PRESETS_HELP = ("YAML file of calculator presets of your own (repeat for several; also env SEISCREEN_PRESETS, "
                "os.pathsep-separated)")
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


def clean_errors(command):
    """Turn SeiscreenError, pydantic validation errors and a path the system refuses (OSError) into one line on
    stderr and exit status 2; any other exception into one line and exit status 1 (:func:`crash_line`)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from pydantic import ValidationError

        try:
            return crash_line(command)(*args, **kwargs)
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



def crash_line(command):
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



def use_preset_files(paths: list | None) -> None:
    """Register the user presets of the files ``paths`` (``--presets``), for this process and those it starts."""
    from pathlib import Path

    from seiscreen.calculators import register_user_presets
    from seiscreen.user_presets import read_preset_file

    for path in paths or []:
        register_user_presets(read_preset_file(path), str(Path(path).resolve()))


def fmt(value, digits: int = 3) -> str:
    """A number to ``digits`` decimals for a table; "-" for None or NaN; anything else as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, (float, int)) else str(value)
