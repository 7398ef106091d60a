"""seiscreen: screen SEI coatings for Na-metal anodes by the Na adatom's surface diffusion barrier."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seiscreen")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"


def load_results(store=None):
    """Surfaces, hops and minima of a store as pandas DataFrames (see :mod:`seiscreen.results`)."""
    from seiscreen.results import load_results as _load

    return _load(store)


__all__ = ["__version__", "load_results"]
