"""The one exception type for bad input.

Every message names the problem and the fix on one line; the CLI prints it and exits with status 2.
"""


class SeiscreenError(Exception):
    """Bad input or an impossible request, with the fix in the message."""


class UnknownNameError(SeiscreenError, KeyError):
    """A name (material, preset, ...) that is not in its registry."""

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0])


class AtomsLeftCell(RuntimeError):
    """An atom came within the calculator's reach of a non-periodic cell face (GPAW: a basis function's box
    crosses it): the adatom desorbing, or the slab coming apart, past what the cell's vacuum holds. Not bad input
    and not a passing failure: the same geometry fails the same way, so a relaxation stops at its last computed
    state and a hop is stored as failed."""

    force_calls: int = 0  # the relaxation's calculations before it (seiscreen.minima.relax sets it)
