"""The one exception type for bad input.

Every message names the problem and the fix on one line; the CLI prints it and exits with status 2.
"""


class SeiscreenError(Exception):
    """Bad input or an impossible request, with the fix in the message."""


class UnknownNameError(SeiscreenError, KeyError):
    """A name (material, preset, ...) that is not in its registry."""

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0])
