"""Results as pandas DataFrames, for notebooks and for the CLI tables.

``load_results(store)`` reads the surface, hop and minima documents of a store. Barriers computed with
different protocols (calculator parameters, slab, minima or NEB settings) get different ``protocol_id`` values
and are ranked separately, never against each other.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from ase import Atoms

from seiscreen.descriptor_results import DESCRIPTOR_COLUMNS, descriptor_frame
from seiscreen.schemas import atom_count, calculator_identity, minima_identity
from seiscreen.store_open import open_reader
from seiscreen.store_frames import frames_database, load_frames, store_runs

# Not part of the ranking identity: versions, date and machine; and the slab settings, which are per material
# (a Tasker-2 slab needs more planes than a rocksalt one) and stored with every number all the same.
_NOT_PROTOCOL = {"versions", "created_at", "machine", "slab_settings", "parallel"}  # parallel: where, not what


def protocol_id(provenance: dict) -> str:
    """Short hash of the calculator, minima and NEB settings: barriers are ranked only within one protocol."""
    relevant = {k: v for k, v in provenance.items() if k not in _NOT_PROTOCOL}
    relevant["calculator"] = calculator_identity(relevant.get("calculator", {}))  # not the version nor the device
    if isinstance(relevant.get("minima_settings"), dict):  # a call-saving field off is the search before it existed
        relevant["minima_settings"] = minima_identity(relevant["minima_settings"])
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:10]


@dataclass
class Results:
    surfaces: pd.DataFrame  # one row per surface: barrier, status, rank within its protocol
    hops: pd.DataFrame  # one row per symmetry-unique hop: barriers, gates, protocol
    minima: pd.DataFrame  # one row per minimum (accepted and rejected)
    fidelity: pd.DataFrame  # fidelity funnel: one row per candidate and pair of fidelities
    reruns: pd.DataFrame  # one row per saved hop rerun (`seiscreen rerun-hop --save`): stored and rerun barrier
    # One row per surface computed in growing cells (a campaign's ``convergence``): the verdict and the cell term.
    convergence: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_CONVERGENCE_COLUMNS))
    # One row per material and preset of the descriptor panel (a campaign's ``descriptors``; descriptor_results.py).
    descriptors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DESCRIPTOR_COLUMNS))
    frames_database: Path | None = None  # the store's training frames (seiscreen.store_frames), when it has any

    @property
    def frames(self) -> list[Atoms]:
        """The training frames the store's DFT calculations recorded (energy, forces; tags in ``atoms.info``)."""
        return load_frames(self.frames_database) if self.frames_database is not None else []

    @property
    def ranking(self) -> pd.DataFrame:
        ranked = self.surfaces[self.surfaces["status"] == "ranked"]
        return ranked.sort_values(["protocol_id", "rank"]).reset_index(drop=True)


def _key_columns(key: dict) -> dict:
    return {"material": key["material"], "facet": "(" + "".join(str(i) for i in key["miller"]) + ")",
            "termination": key["termination_id"], "adsorbate": key["adsorbate"], "calculator": key["calculator"]}


def _bounds(surface: dict, barrier: float | None) -> tuple[float | None, float | None]:
    """A ranked surface's range is its barrier; an incomplete one's is stored (SurfaceDoc.barrier_bounds)."""
    if surface["status"] == "ranked":
        return barrier, barrier
    return tuple(surface.get("barrier_bounds") or (None, None))


def _latest(docs: list[dict], identity) -> list[dict]:
    """Keep the newest document per identity (a rerun replaces, it does not duplicate)."""
    newest: dict = {}
    for doc in sorted(docs, key=lambda d: d.get("completed_at") or ""):
        newest[identity(doc["output"])] = doc
    return list(newest.values())


def _outputs(store, doc_type: str) -> list[dict]:
    docs = list(store.query({"output.doc_type": doc_type}, properties=["output", "completed_at", "uuid"]))
    return docs


def load_results(store=None) -> Results:
    """Surfaces, hops and minima of a store (a JobStore, a folder, a MongoDB URI, or the default store)."""
    if store is None or isinstance(store, str) or hasattr(store, "__fspath__"):
        store = open_reader(store)  # a folder without jobflow: `seiscreen results` starts in well under a second
    reruns = _reruns(store)
    surfaces = pd.DataFrame(_surface_rows(store, reruns, _committee_spreads(store)), columns=_SURFACE_COLUMNS)
    convergence = _convergence(store)
    _apply_convergence(surfaces, convergence)
    _rank(surfaces)
    _rank_by_diffusion(surfaces)
    runs = store_runs(store)
    return Results(surfaces, pd.DataFrame(_hop_rows(store)), pd.DataFrame(_minima_rows(store)),
                   pd.DataFrame(_fidelity_rows(store)), reruns, convergence,
                   descriptor_frame(_outputs(store, "descriptors"), surfaces),
                   frames_database(runs) if runs is not None else None)


def _committee_spreads(store) -> dict[str, float]:
    """Per surface document (content hash): its limiting barrier's committee spread, from the active-learning
    rounds that re-screened it (``active_learning.RoundRecord``; the newest round wins)."""
    spreads = {}
    for doc in sorted(_outputs(store, "active_learning_round"), key=lambda d: d.get("completed_at") or ""):
        spreads.update({row["content_hash"]: row["spread"] for row in doc["output"]["spreads"] if row["content_hash"]})
    return spreads


def _surface_rows(store, reruns: pd.DataFrame, spreads: dict[str, float]) -> list[dict]:
    """One row per surface computation (``SurfaceDoc``), the newest of each; ``spreads``: committee spreads by
    content hash."""
    rows = []
    # A rerun of the same surface, protocol and slab settings replaces the earlier document, even where a newer
    # seiscreen names its inputs differently (another content hash); a changed slab (thickness, vacuum) is a
    # different surface computation and both are shown, told apart by slab_atoms and content_hash.
    for doc in _latest(_outputs(store, "surface"), lambda o: (
            json.dumps(o["key"], sort_keys=True), protocol_id(o["provenance"]),
            json.dumps(o["provenance"].get("slab_settings"), sort_keys=True))):
        o = doc["output"]
        failed = [h for h in o["hops"] if h["status"] not in ("accepted", "barrierless")]
        barrier = o["barrier_1d"] if o["channel_only"] else o["barrier_2d"]
        rows.append({
            **_key_columns(o["key"]), "status": o["status"], "barrier": barrier,
            "barrier_2d": o["barrier_2d"], "barrier_1d": o["barrier_1d"], "channel_only": o["channel_only"],
            "lowest_hop_barrier": o["lowest_hop_barrier"], "adsorption_energy": o["adsorption_energy"],
            "lowest_site": o["lowest_site"], "n_minima": o["n_minima"], "n_hops": len(o["hops"]),
            "failed_hops": len(failed),
            "limiting_hop": o["limiting_hop_1d"] if o["channel_only"] else o["limiting_hop_2d"],
            "reason": o["reason"], "force_calls": o["force_calls"], "protocol_id": protocol_id(o["provenance"]),
            "created_at": o["provenance"]["created_at"], "job_uuid": doc["uuid"],
            "slab_atoms": atom_count(o["slab"]["structure"]) if o.get("slab") else None,
            "content_hash": o.get("content_hash"),
            **_uncertainties(_uncertainty(o["key"]["calculator"]), _protocol_sensitivity(o, reruns),
                             spreads.get(o.get("content_hash"))),
            **dict(zip(("barrier_lower", "barrier_upper"), _bounds(o, barrier), strict=True)),
            **_diffusion_columns(o.get("diffusion")),
        })
    return rows


def _diffusion_columns(diffusion: dict | None) -> dict:
    """D(300 K) of a ranked surface (SurfaceDoc.diffusion), its Arrhenius fit and where its prefactors came from."""
    if not diffusion:
        return {"d_300": None, "diffusion_activation": None, "diffusion_d0": None, "diffusion_rank": None,
                "attempt_frequencies": None}
    return {"d_300": diffusion["d_300"], "diffusion_activation": diffusion["activation_energy"],
            "diffusion_d0": diffusion["prefactor"], "diffusion_rank": diffusion["rank"],
            "attempt_frequencies": diffusion["attempt_frequencies"]}


# eV/K: Boltzmann's constant, for D(300 K)'s range from the barrier's ± (D ~ exp(-E/kT)).
_KB = 8.617333262e-5


def _rank_by_diffusion(surfaces: pd.DataFrame) -> None:
    """Rank the ranked surfaces by D(300 K), fastest first, within each protocol, and give D(300 K) the range the
    barrier's ± makes of it (in place)."""
    surfaces["rank_diffusion"] = pd.Series(dtype="Int64")
    if surfaces.empty:
        return
    ranked = (surfaces["status"] == "ranked") & surfaces["d_300"].notna()
    surfaces.loc[ranked, "rank_diffusion"] = (surfaces[ranked].groupby("protocol_id")["d_300"]
                                              .rank(method="min", ascending=False))
    surfaces["rank_diffusion"] = surfaces["rank_diffusion"].astype("Int64")
    factor = (surfaces["barrier_uncertainty"].astype(float) / (_KB * 300.0)).map(math.exp)
    surfaces["d_300_lower"] = surfaces["d_300"].astype(float) / factor
    surfaces["d_300_upper"] = surfaces["d_300"].astype(float) * factor


def _rank(surfaces: pd.DataFrame) -> None:
    """Rank the ranked surfaces by barrier within each protocol (in place; ties share the lower rank)."""
    if not surfaces.empty:
        ranked = surfaces["status"] == "ranked"
        surfaces.loc[ranked, "rank"] = (surfaces[ranked].groupby("protocol_id")["barrier"]
                                        .rank(method="min"))
    surfaces["rank"] = surfaces["rank"].astype("Int64")


def _saddle_checks(store) -> dict[str, dict]:
    """The newest saddle check (``SaddleCheckDoc``) of each checked hop, by the hop's content hash."""
    return {doc["output"]["hop_content_hash"]: doc["output"] for doc in sorted(
        _outputs(store, "saddle_check"), key=lambda d: d.get("completed_at") or "")}


def _check_columns(check: dict | None) -> dict:
    """A hop's saddle check: the gate, the climbing image's imaginary frequency, its overlap with the band, the
    attempt frequencies (Hz) and the shell; None where the hop was not checked."""
    if check is None:
        return dict.fromkeys(("first_order_saddle", "imaginary_frequency", "tangent_overlap", "attempt_forward",
                              "attempt_reverse", "shell_radius"))
    frequencies = check["saddle"]["frequencies"]
    return {"first_order_saddle": check["first_order_saddle"],
            "imaginary_frequency": -frequencies[0] if frequencies and frequencies[0] < 0 else None,
            "tangent_overlap": check["saddle"].get("tangent_overlap"), "attempt_forward": check["attempt_forward"],
            "attempt_reverse": check["attempt_reverse"], "shell_radius": check["shell_radius"]}


def _hop_rows(store) -> list[dict]:
    """One row per hop computation (``HopDoc``), the newest of each, with its saddle check where it has one."""
    rows, checks = [], _saddle_checks(store)
    # A band recomputed cold beside its warm-started one (benchmarks/warm_start.py) is another computation, and so
    # is a hop computed through its relaxed valleys beside the one band that found them: both rows are kept.
    docs = _outputs(store, "hop")
    # A band computed off a higher-order saddle, or a limiting hop's band kept after its second band, is stored twice:
    # as its NEB made it, and with the other band in its alternatives (workflow.saddles): the second is the hop's.
    # A second band that lost to the first is listed in the first's alternatives, not as a row of its own.
    resolved = {d["output"].get("content_hash") for d in docs if _replaces_failed_check(d["output"])}
    lost = {a.get("content_hash") for d in docs for a in d["output"].get("alternatives", []) if a.get("second_band")}
    docs = [d for d in docs if _replaces_failed_check(d["output"])
            or d["output"].get("content_hash") not in resolved | lost]
    for doc in _latest(docs, lambda o: (json.dumps(o["key"], sort_keys=True), o["refinement"],
                                                           o["hop_id"], protocol_id(o["provenance"]),
                                                           o.get("warm_start", False),
                                                           o.get("intermediate") is not None,
                                                           _replaces_failed_check(o))):
        o = doc["output"]
        protocol = o["provenance"].get("neb_protocol") or {}
        rows.append({
            **_key_columns(o["key"]), "refinement": o["refinement"], "hop_id": o["hop_id"],
            "start_site": o["start_site"], "end_site": o["end_site"],
            "length": o["length"], "multiplicity": o["multiplicity"], "status": o["status"], "reason": o["reason"],
            "forward_barrier": o["forward_barrier"], "reverse_barrier": o["reverse_barrier"],
            "saddle_energy": o["saddle_energy"], "exchange": o["exchange"], "force_calls": o["force_calls"],
            "warm_start": o.get("warm_start", False),
            # Computed through relaxed valleys (HopDoc.intermediate), and through how many.
            "through_valleys": o.get("intermediate") is not None,
            "intermediates": len((o.get("intermediate") or {}).get("states", [])),
            "bypass": o.get("bypass", False),  # left out by the neighbour test, computed as a possible lower path
            **{f"gate_{k}": v for k, v in o["gates"].items()},
            **{f"neb_{k}": protocol.get(k) for k in ("n_images", "spring_constant", "fmax", "optimizer",
                                                      "interpolation")},
            "protocol_id": protocol_id(o["provenance"]), "job_uuid": doc["uuid"],
            **_check_columns(checks.get(o.get("content_hash"))),
        })
    return rows


def _replaces_failed_check(hop: dict) -> bool:
    """A band kept over another of its hop's by the saddle checks (kinetics.failed_alternative, or a limiting hop's
    second band, saddles.lower_verified): the row of its hop."""
    return any(a.get("saddle_check") == "failed" or a.get("second_band") for a in hop.get("alternatives", []))


def _minima_rows(store) -> list[dict]:
    """One row per minimum, accepted or rejected, of the newest minima document of each surface and refinement."""
    rows = []
    for doc in _latest(_outputs(store, "minima"), lambda o: (json.dumps(o["key"], sort_keys=True), o["refinement"],
                                                              protocol_id(o["provenance"]))):
        o = doc["output"]
        for m in o["minima"] + o["rejected"]:
            rows.append({**_key_columns(o["key"]), "index": m["index"], "site": m["site"],
                         "outcome": m["outcome"], "verified": m["verified"], "energy": m["energy"],
                         "adsorption_energy": m["adsorption_energy"], "started_from": ", ".join(m["started_from"]),
                         "height": m["details"].get("height"), "refinement": o["refinement"],
                         "protocol_id": protocol_id(o["provenance"])})
    return rows


def _fidelity_rows(store) -> list[dict]:
    """One row per candidate and pair of fidelities of the funnel's comparison documents."""
    rows = []
    for doc in _outputs(store, "fidelity_comparison"):
        o = doc["output"]
        for row in o["rows"]:
            rows.append({"lower": o["lower"], "higher": o["higher"], **row, "spearman": o["spearman"],
                         "kendall": o["kendall"], "top_k_recall": o["top_k_recall"]})
    return rows


_SURFACE_COLUMNS = ["rank", "material", "facet", "termination", "adsorbate", "calculator", "status", "barrier",
                    "barrier_2d", "barrier_1d", "channel_only", "lowest_hop_barrier", "adsorption_energy",
                    "lowest_site", "n_minima", "n_hops", "failed_hops", "limiting_hop", "reason", "force_calls",
                    "protocol_id", "created_at", "job_uuid", "slab_atoms", "content_hash", "barrier_uncertainty",
                    "settings_uncertainty", "protocol_sensitivity", "committee_spread", "cell_term", "barrier_lower",
                    "barrier_upper", "d_300", "diffusion_activation", "diffusion_d0", "diffusion_rank",
                    "attempt_frequencies"]

_CONVERGENCE_COLUMNS = ["material", "facet", "termination", "adsorbate", "calculator", "status", "ranked_barrier",
                        "cell_term", "tolerance", "converged_lateral", "converged_thickness", "lateral_change",
                        "thickness_change", "adsorption_change_lateral", "adsorption_change_thickness", "n_cells",
                        "cells", "reason", "largest_hash", "smaller_hashes", "protocol_id", "job_uuid"]


def _convergence(store) -> pd.DataFrame:
    """The newest convergence document per surface and protocol (schemas.ConvergenceDoc) as one row each."""
    rows = []
    for doc in _latest(_outputs(store, "convergence"), lambda o: (json.dumps(o["key"], sort_keys=True),
                                                                   protocol_id(o["provenance"]))):
        o = doc["output"]
        cells = o["cells"]
        rows.append({
            **_key_columns(o["key"]), **{k: o[k] for k in ("status", "ranked_barrier", "cell_term", "tolerance",
                                                           "reason")},
            **{f"converged_{axis}": o["converged"].get(axis) for axis in ("lateral", "thickness")},
            **{f"{axis}_change": o["last_change"].get(axis) for axis in ("lateral", "thickness")},
            **{f"adsorption_change_{axis}": o["adsorption_change"].get(axis) for axis in ("lateral", "thickness")},
            "n_cells": len(cells), "cells": "; ".join(map(_cell_text, cells)),
            "largest_hash": cells[-1].get("surface_hash"),
            "smaller_hashes": [c["surface_hash"] for c in cells[:-1] if c.get("surface_hash")],
            "protocol_id": protocol_id(o["provenance"]), "job_uuid": doc["uuid"],
        })
    return pd.DataFrame(rows, columns=_CONVERGENCE_COLUMNS)


def _cell_text(cell: dict) -> str:
    """One cell of a series as "8.59x6.08 Å (36): 0.367 eV" (or its status where it has no barrier)."""
    if cell.get("lateral") is None:
        return f"{cell['requested_lateral']:g}x{cell['requested_thickness']:g} Å: {cell['status']}"
    value = f"{cell['barrier']:.3f} eV" if cell.get("barrier") is not None else cell["status"]
    return f"{cell['lateral']:.2f}x{cell['thickness']:.2f} Å ({cell['n_atoms']}): {value}"


def _apply_convergence(surfaces: pd.DataFrame, convergence: pd.DataFrame) -> None:
    """A surface computed in growing cells is ranked by its largest cell (in place): the smaller cells' rows
    are marked ``smaller_cell``, an unconverged series' largest cell ``unconverged`` (neither is ranked), and the
    cell term joins the largest cell's barrier uncertainty in quadrature."""
    for row in convergence.itertuples():
        smaller = surfaces["content_hash"].isin(row.smaller_hashes)
        surfaces.loc[smaller, "status"] = "smaller_cell"
        surfaces.loc[smaller, "reason"] = "a smaller cell of its convergence series: ranked by its largest cell"
        largest = surfaces["content_hash"] == row.largest_hash
        if row.cell_term is not None and not pd.isna(row.cell_term):
            surfaces.loc[largest, "cell_term"] = row.cell_term
            before = surfaces.loc[largest, "barrier_uncertainty"].fillna(0.0).astype(float)
            surfaces.loc[largest, "barrier_uncertainty"] = (before ** 2 + row.cell_term ** 2) ** 0.5
        if row.status != "converged":
            ranked = largest & (surfaces["status"] == "ranked")
            surfaces.loc[ranked, "status"] = "unconverged"
            surfaces.loc[ranked, "reason"] = f"cell size not converged: {row.reason}"


_RERUN_COLUMNS = ["material", "facet", "termination", "adsorbate", "calculator", "refinement", "hop_id",
                  "hop_job_uuid", "start", "preset", "neb_changes", "through_valleys", "stored_status",
                  "stored_barrier", "status",
                  "barrier", "difference", "reason", "force_calls", "end_energy_drift", "protocol_id", "created_at",
                  "job_uuid"]


def _reruns(store) -> pd.DataFrame:
    """Saved hop reruns, newest last (``seiscreen rerun-hop --save``; schemas.HopRerunDoc)."""
    rows = []
    for doc in sorted(_outputs(store, "hop_rerun"), key=lambda d: d.get("completed_at") or ""):
        o = doc["output"]
        barrier, stored = o["barrier"], o["stored_barrier"]
        rows.append({**_key_columns(o["key"]), **{k: o[k] for k in (
            "refinement", "hop_id", "hop_job_uuid", "start", "stored_status", "stored_barrier", "status", "barrier",
            "reason", "force_calls", "end_energy_drift")},
            "preset": o.get("preset") or o["key"]["calculator"], "through_valleys": o.get("through_valleys", 0),
            "neb_changes": ", ".join(f"{k}={v}" for k, v in o["neb_changes"].items()) or "same protocol",
            "difference": barrier - stored if barrier is not None and stored is not None else None,
            "protocol_id": protocol_id(o["provenance"]), "created_at": o["provenance"]["created_at"],
            "job_uuid": doc["uuid"]})
    return pd.DataFrame(rows, columns=_RERUN_COLUMNS)


def _protocol_sensitivity(surface: dict, reruns: pd.DataFrame) -> float | None:
    """How far the NEB protocol moves this surface's barrier: the largest |change| of its limiting hop's barrier
    among its saved cold reruns under changed NEB settings, with its own preset, that gave a barrier (None: not
    measured)."""
    limiting = surface["limiting_hop_1d"] if surface["channel_only"] else surface["limiting_hop_2d"]
    uuids = {h["job_uuid"] for h in surface["hops"] if h["hop_id"] == limiting and h.get("job_uuid")}
    if reruns.empty or not uuids:
        return None
    measured = reruns[reruns["hop_job_uuid"].isin(uuids) & (reruns["start"] == "cold")
                      & (reruns["preset"] == reruns["calculator"])
                      & (reruns["neb_changes"] != "same protocol") & reruns["status"].isin(("accepted", "barrierless"))
                      & reruns["difference"].notna()]
    return float(measured["difference"].abs().max()) if not measured.empty else None


def _uncertainties(settings: float | None, protocol: float | None, committee: float | None = None) -> dict:
    """A barrier's uncertainty: the preset's measured settings residual, the NEB protocol's measured sensitivity
    and, at a fine-tuned level of the active-learning loop, the committee's spread, independent, in quadrature
    (None where none was measured)."""
    terms = [t for t in (settings, protocol, committee) if t is not None]
    return {"barrier_uncertainty": math.hypot(*terms) if terms else None, "settings_uncertainty": settings,
            "protocol_sensitivity": protocol, "committee_spread": committee}


def plus_minus(row) -> str:
    """" ± u" with a surface row's measured uncertainty (settings residual, NEB protocol sensitivity, the
    active-learning committee's spread and, from a convergence series, the cell term), when there is one and a
    barrier: the CLI tables and the HTML report."""
    u = getattr(row, "barrier_uncertainty", None)
    return f" ± {u:.3f}" if u is not None and not pd.isna(u) and not pd.isna(row.barrier) else ""


def committee_note(group: pd.DataFrame) -> str:
    """Where a table's ± comes from at a fine-tuned level of the active-learning loop ("" elsewhere)."""
    if "committee_spread" not in group or group["committee_spread"].isna().all():
        return ""
    return ("± includes the committee spread (committee_spread): the largest minus the smallest barrier of the "
            "round's fine-tuned models at the limiting hop's start and highest image, in quadrature with the other "
            "measured terms")


def _uncertainty(preset_name: str) -> float | None:
    """The preset's measured convergence residual (eV), None when not measured or the preset is unknown here."""
    from seiscreen.calculators import PRESETS

    preset = PRESETS.get(preset_name)
    return preset.barrier_uncertainty if preset else None


# ------------------------------------------------------------------ documents and bands (for plots and exports)


def _as_store(store):
    if store is None or isinstance(store, str) or hasattr(store, "__fspath__"):
        return open_reader(store)
    return store


def surface_documents(store=None) -> list[dict]:
    """The newest surface document (``SurfaceDoc`` as a dict) per surface and protocol, as ``load_results``
    reads them, each with ``protocol_id`` and ``job_uuid`` added: minima positions, hops, percolating path, slab."""
    store = _as_store(store)
    docs = []
    for doc in _latest(_outputs(store, "surface"), lambda o: (json.dumps(o["key"], sort_keys=True),
                                                                protocol_id(o["provenance"]))):
        docs.append({**doc["output"], "protocol_id": protocol_id(doc["output"]["provenance"]),
                     "job_uuid": doc["uuid"]})
    return docs


def convergence_documents(store=None) -> list[dict]:
    """The newest convergence document (``ConvergenceDoc`` as a dict) per surface and protocol, the rows of
    ``load_results(store).convergence``, each with ``protocol_id`` and ``job_uuid`` added: every cell's size and
    barrier, for the convergence plot."""
    store = _as_store(store)
    return [{**doc["output"], "protocol_id": protocol_id(doc["output"]["provenance"]), "job_uuid": doc["uuid"]}
            for doc in _latest(_outputs(store, "convergence"), lambda o: (json.dumps(o["key"], sort_keys=True),
                                                                          protocol_id(o["provenance"])))]


def hop_documents(store=None) -> dict[str, dict]:
    """Every hop document (``HopDoc`` as a dict, band and trajectory left in the data store) by the uuid of the
    NEB job that made it: the ``job_uuid`` of ``load_results(store).hops`` and of a surface's hops."""
    store = _as_store(store)
    return {doc["uuid"]: doc["output"] for doc in _outputs(store, "hop")}


def band_images(store, job_uuid: str, trajectory: bool = False) -> list:
    """The final NEB band of one hop as ASE Atoms with their energies (with ``trajectory=True``: every stored
    band, a list of lists, without energies), read from the store's ``data`` collection. ``job_uuid``: the hop's
    NEB job (see ``hop_documents``), or a saved rerun's job (``load_results(store).reruns``; no trajectory)."""
    from seiscreen.errors import SeiscreenError
    from seiscreen.schemas import atoms_from_dict

    store = _as_store(store)
    doc = store.query_one({"uuid": job_uuid, "output.doc_type": {"$in": ["hop", "hop_rerun"]}}, properties=["output"])
    if doc is None:
        raise SeiscreenError(f"no hop or saved rerun with job uuid {job_uuid!r} in this store: see `seiscreen results "
                             "--hops --format csv` or `--reruns --format csv` (column job_uuid)")
    maker = doc["output"].get("job_uuid")
    if trajectory and maker and maker != job_uuid:  # a copy (workflow.hops.lower_saddle) was passed the band without it
        # the history stays under the job that made the band; a store without that job keeps what the copy has
        made = store.query_one({"uuid": maker, "output.doc_type": "hop"}, properties=["output"])
        if made is not None:
            doc, job_uuid = made, maker
    field = "trajectory" if trajectory else "band"
    ref = doc["output"].get(field)
    if isinstance(ref, dict) and "blob_uuid" in ref:  # routed to the data store by @job(data=[...])
        blob = store.additional_stores[ref.get("store", "data")].query_one({"blob_uuid": ref["blob_uuid"]})
        if blob is None:
            raise SeiscreenError(f"the {field} of hop {job_uuid} is missing from the data store")
        ref = blob["data"]
    if trajectory:
        return [[atoms_from_dict(d) for d in images] for images in ref or []]
    images = [atoms_from_dict(d) for d in ref or []]
    energies = doc["output"].get("image_energies") or []
    if len(energies) == len(images):  # so that `ase gui` draws the band's energy profile
        from ase.calculators.singlepoint import SinglePointCalculator

        for image, energy in zip(images, energies, strict=True):
            image.calc = SinglePointCalculator(image, energy=(doc["output"].get("start_energy") or 0.0) + energy)
    return images
