"""Two stores (or results files) compared number by number: do two runs of a campaign give the same science?

``compare_stores(a, b, tolerance)`` pairs the surfaces, hops and minima that ``load_results`` reads from each
side by identity and lists every number that differs by more than ``tolerance`` (eV), every label or status that
differs, and what one side has and the other has not. ``seiscreen compare A B`` prints it and exits 0 when the
two agree, 1 when they do not. Pairing: a surface by its content hash where both sides have it, else by its key
(material, facet, termination, adsorbate, calculator) and protocol; a hop by its key, protocol, refinement round
and hop id; a minimum by its key, protocol, refinement round and index (a rejected one by where it started).
Where a protocol differs but the key has one item on each side, the two are still paired, with a note.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seiscreen.errors import SeiscreenError
from seiscreen.results import Results, load_results

KEY = ("material", "facet", "termination", "adsorbate", "calculator")
# Numbers compared within the tolerance (eV); the other fields must be equal.
NUMBERS = {"surface": ("barrier", "barrier_2d", "barrier_1d", "lowest_hop_barrier", "adsorption_energy"),
           "hop": ("forward_barrier", "reverse_barrier"),
           "minimum": ("energy", "adsorption_energy")}
LABELS = {"surface": ("status", "channel_only", "n_minima", "n_hops", "failed_hops", "limiting_hop", "lowest_site"),
          "hop": ("status", "start_site", "end_site"),
          "minimum": ("site", "outcome", "verified")}


@dataclass
class Difference:
    """One field of one paired item that differs: ``a`` and ``b`` its two values."""

    table: str  # "surface", "hop" or "minimum"
    item: str
    field: str
    a: object
    b: object

    @property
    def change(self) -> float | None:
        """b - a for two numbers, else None."""
        if _missing(self.a) or _missing(self.b) or not _is_number(self.a) or not _is_number(self.b):
            return None
        return float(self.b) - float(self.a)


@dataclass
class Comparison:
    """What ``compare_stores`` found: differences beyond the tolerance, and items on one side only."""

    tolerance: float
    differences: list[Difference] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # paired across a protocol change
    paired: Counter = field(default_factory=Counter)  # paired items per table
    code_versions: tuple[dict | None, dict | None] = (None, None)  # of results files that record it

    @property
    def agree(self) -> bool:
        return not (self.differences or self.only_a or self.only_b)

    def summary(self) -> str:
        """One line: agree or not, and how many of what."""
        compared = ", ".join(f"{self.paired[t]} {t if self.paired[t] == 1 else plural}"
                             for t, plural in (("surface", "surfaces"), ("hop", "hops"), ("minimum", "minima")))
        if self.agree:
            return f"agree within {self.tolerance:g} eV: {compared} compared"
        return (f"differ: {len(self.differences)} value(s) beyond {self.tolerance:g} eV or not equal, "
                f"{len(self.only_a)} item(s) only in A, {len(self.only_b)} only in B ({compared} compared)")


def compare_stores(a, b, tolerance: float = 0.001, a_is_slice: bool = False) -> Comparison:
    """Every surface, hop and minimum of ``a`` and ``b`` (stores, store folders, results files, or ``Results``)
    paired by identity and compared. ``a_is_slice``: ``a`` reran some surfaces of ``b`` (a regression slice):
    only what ``b`` has of those surfaces under the same protocols is compared (:func:`_what_a_reran`)."""
    if not tolerance >= 0:  # also refuses NaN
        raise SeiscreenError(f"tolerance {tolerance} must be a number of eV, 0 or more: e.g. --tolerance 0.001")
    loaded = [x if isinstance(x, Results) else load_results(x) for x in (a, b)]
    tables = [_rows(r) for r in loaded]
    if not any(tables[0].values()) and not any(tables[1].values()):
        raise SeiscreenError("neither side holds a surface, hop or minimum: nothing to compare (run a campaign "
                             "into the store first, or check the paths)")
    if a_is_slice:
        tables[1] = _what_a_reran(tables[0], tables[1])
    found = Comparison(tolerance, code_versions=(code_version_of(a), code_version_of(b)))
    for table, identities in _IDENTITIES.items():
        pairs, only_a, only_b = pair_rows(tables[0][table], tables[1][table], identities)
        found.paired[table] = len(pairs)
        found.only_a += [_label(table, row) for row in only_a]
        found.only_b += [_label(table, row) for row in only_b]
        for row_a, row_b in pairs:
            if row_a["protocol_id"] != row_b["protocol_id"] and table == "surface":
                found.notes.append(f"{_label(table, row_a)}: protocol {row_a['protocol_id']} in A, "
                                   f"{row_b['protocol_id']} in B (paired by its key alone)")
            found.differences += _differences(table, row_a, row_b, tolerance)
    return found


def _rows(results: Results) -> dict[str, list[dict]]:
    frames = {"surface": results.surfaces, "hop": results.hops, "minimum": results.minima}
    return {t: [] if frame.empty else frame.to_dict("records") for t, frame in frames.items()}


def _what_a_reran(a: dict[str, list[dict]], b: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Of ``b``, the surfaces ``a`` has, under ``a``'s protocols (where ``b`` has none of them, ``b``'s newest),
    their hops, and their minima up to the last refinement round of those hops: not the other surfaces ``b`` holds,
    nor what an older protocol computed beside them."""
    ran: dict[tuple, set] = {}
    for row in a["surface"]:
        ran.setdefault(_key(row), set()).add(row["protocol_id"])
    newest: dict[tuple, dict] = {}
    for row in sorted(b["surface"], key=lambda r: r["created_at"] or ""):
        newest[_key(row)] = row
    same = {_key(row) for row in b["surface"] if row["protocol_id"] in ran.get(_key(row), ())}
    surfaces = [row for row in b["surface"] if _key(row) in ran and (
        row["protocol_id"] in ran[_key(row)] if _key(row) in same else row is newest[_key(row)])]
    kept = {(_key(row), row["protocol_id"]) for row in surfaces}
    hops = [row for row in b["hop"] if (_key(row), row["protocol_id"]) in kept]
    rounds: dict[tuple, int] = {}
    for row in hops:
        rounds[_key(row)] = max(rounds.get(_key(row), 0), row["refinement"])
    minima = [row for row in b["minimum"] if _key(row) in {k for k, _ in kept}
              and row["refinement"] <= rounds.get(_key(row), 0)]
    return {"surface": surfaces, "hop": hops, "minimum": minima}


def _key(row: dict) -> tuple:
    return tuple(row[k] for k in KEY)


def _minimum_id(row: dict) -> tuple:
    """An accepted minimum by its rank; a rejected one (index -1) by the start it was relaxed from."""
    return (row["refinement"], row["index"]) if row["index"] >= 0 else (row["refinement"], "rejected",
                                                                       row["started_from"])


def _hop_id(row: dict) -> tuple:
    return row["refinement"], row["hop_id"], bool(row["warm_start"]), bool(row["through_valleys"])


def _content_hash(row: dict) -> str | None:
    value = row.get("content_hash")
    return None if _missing(value) else value


# Ways to pair, most precise first: each pairs what it tells apart one to one among what is still unpaired.
_IDENTITIES: dict[str, list[Callable[[dict], Hashable | None]]] = {
    "surface": [_content_hash, lambda r: (_key(r), r["protocol_id"], r["slab_atoms"]),
                lambda r: (_key(r), r["protocol_id"]), _key],
    "hop": [lambda r: (_key(r), r["protocol_id"], _hop_id(r)), lambda r: (_key(r), _hop_id(r))],
    "minimum": [lambda r: (_key(r), r["protocol_id"], _minimum_id(r)), lambda r: (_key(r), _minimum_id(r))],
}


def pair_rows(a: list[dict], b: list[dict], identities) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """Pairs of rows, then the rows of ``a`` and of ``b`` left unpaired. Each identity in turn pairs the rows it
    names uniquely on both sides (an identity of None pairs nothing)."""
    pairs: list[tuple[dict, dict]] = []
    for identity in identities:
        names_a = Counter(identity(row) for row in a)
        names_b = Counter(identity(row) for row in b)
        by_name = {identity(row): row for row in b}
        kept_a, taken = [], set()
        for row in a:
            name = identity(row)
            if name is not None and names_a[name] == 1 and names_b[name] == 1:
                pairs.append((row, by_name[name]))
                taken.add(id(by_name[name]))
            else:
                kept_a.append(row)
        a, b = kept_a, [row for row in b if id(row) not in taken]
    return pairs, a, b


def _differences(table: str, row_a: dict, row_b: dict, tolerance: float) -> list[Difference]:
    label = _label(table, row_a)
    found = [Difference(table, label, name, row_a[name], row_b[name]) for name in NUMBERS[table]
             if _numbers_differ(row_a[name], row_b[name], tolerance)]
    found += [Difference(table, label, name, row_a[name], row_b[name]) for name in LABELS[table]
              if _labels_differ(row_a[name], row_b[name])]
    return found


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers_differ(a, b, tolerance: float) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) != _missing(b)
    return abs(float(a) - float(b)) > tolerance


def _labels_differ(a, b) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) != _missing(b)
    return a != b


def _label(table: str, row: dict) -> str:
    surface = f"{row['material']}{row['facet']} {row['termination']} [{row['calculator']}]"
    if table == "surface":
        return surface
    round_ = f"refinement {row['refinement']}"
    if table == "hop":
        how = (", warm-started" if row["warm_start"] else "") + (", through valleys" if row["through_valleys"] else "")
        return f"{surface} {row['hop_id']} ({round_}{how})"
    if row["index"] >= 0:
        return f"{surface} minimum {row['index']} ({round_})"
    return f"{surface} rejected start {row['started_from']} ({round_})"


def code_version_of(location) -> dict | None:
    """The code version a results file records (``store.export_store``), None for a store or an older file."""
    from seiscreen.store import EXPORT_SUFFIXES

    if not isinstance(location, (str, Path)) or not str(location).endswith(EXPORT_SUFFIXES):
        return None
    try:
        return export_header(Path(location)).get("code_version")
    except (OSError, ValueError):  # load_results has read it already: it says what is wrong
        return None


def export_header(path: Path, chunk: int = 1 << 16) -> dict:
    """A results file's fields before its documents (format, exported_at, machine, code_version, note), read
    without parsing the documents: ``export_store`` writes them first, then ``"jobs"``."""
    opener = gzip.open if path.name.endswith(".gz") else open
    text = ""
    with opener(path, "rt") as handle:
        while (cut := text.find(', "jobs": ')) < 0 and (part := handle.read(chunk)):
            text += part
    if cut < 0:  # no documents after all: the whole (small) file
        return {k: v for k, v in json.loads(text).items() if k not in ("jobs", "data")}
    return json.loads(text[:cut] + "}")


def describe_code_version(version: dict | None) -> str:
    """"commit abc123def456 (with changes not committed)", "version 0.1.0" or "not recorded"."""
    if not version:
        return "not recorded"
    if version.get("commit"):
        return f"commit {version['commit'][:12]}" + (" (with changes not committed)" if version.get("dirty") else "")
    return f"version {version.get('version')}"
