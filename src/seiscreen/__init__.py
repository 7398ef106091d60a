"""seiscreen: screen SEI coatings for Na-metal anodes by the Na adatom's surface diffusion barrier."""


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata when first asked for (importlib.metadata takes
    ~50 ms to import: not on every command's start-up)."""
    if name != "__version__":
        raise AttributeError(f"module 'seiscreen' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("seiscreen")
    except PackageNotFoundError:  # running from a source tree without installation
        found = "0.0.0"
    globals()["__version__"] = found  # asked once
    return found


def load_results(store=None):
    """Surfaces, hops and minima of a store as pandas DataFrames (see :mod:`seiscreen.results`)."""
    from seiscreen.results import load_results as _load

    return _load(store)


__all__ = ["__version__", "load_results"]
