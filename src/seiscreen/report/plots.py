"""Figures of a campaign (matplotlib, no pyplot state: every function returns a new ``Figure``).

- ``barrier_chart``: percolation barriers of one protocol, literature numbers overlaid where materials match;
- ``neb_profiles``: the energy profile of each usable hop of a surface (images, spline, saddle marked);
- ``top_view``: the surface seen from above with its minima, the hops coloured by saddle height and the
  percolating network highlighted;
- ``adsorption_vs_barrier``: adsorption energy against percolation barrier;
- ``convergence_chart``: the barrier of each surface computed in growing cells against the cell size;
- ``barrier_vs_monroe_newman``: the descriptor panel's barrier against the Monroe–Newman ratio.

Energies are in eV, lengths in Å. ``save`` writes a PNG with the Agg canvas.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch

USABLE = ("accepted", "barrierless")
SOURCE_MARKERS = ["D", "s", "^", "v", "P", "X", "*"]


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """PNG at 110 dpi; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=110)
    return path


def surface_label(row) -> str:
    """'NaF(100) 100-s0.250' from a surfaces row or a surface document."""
    if isinstance(row, dict) and "key" in row:
        key = row["key"]
        return f"{key['material']}({''.join(str(i) for i in key['miller'])}) {key['termination_id']}"
    return f"{row['material']}{row['facet']} {row['termination']}"


# --------------------------------------------------------------------------------------------- barriers


def barrier_chart(surfaces: pd.DataFrame, values: pd.DataFrame | None = None, title: str | None = None) -> Figure:
    """Bars: the percolation barrier of every surface of ONE protocol (unranked ones named, without a bar).

    ``values``: ``Literature.values_frame()``; a number is drawn on the bar of the same material (and facet,
    when it has one) and adsorbate: filled markers for surface barriers, hollow ones for numbers that are not
    (they are never judged against ours).
    """
    frame = surfaces.copy()
    frame["is_ranked"] = (frame["status"] == "ranked") & frame["barrier"].notna()
    frame = frame.sort_values(["is_ranked", "barrier", "material"], ascending=[False, True, True],
                              na_position="last").reset_index(drop=True)
    n = max(len(frame), 1)
    with_d = "d_300" in frame and bool(frame["d_300"].notna().any())
    fig = _figure(max(5.5, 1.15 * n + 2.5), 7.0 if with_d else 4.6)
    ax, ax_d = (fig.subplots(2, 1, sharex=True, height_ratios=[3, 2]) if with_d else (fig.add_subplot(), None))
    labels = [f"{r.material}{r.facet}\n{r.termination}" for r in frame.itertuples()]
    heights = [r.barrier if r.is_ranked else 0.0 for r in frame.itertuples()]
    bars = ax.bar(range(len(frame)), heights, color="#4C72B0", width=0.6, label="this campaign (ranked)")
    top = max([h for h in heights if h] + [0.05])
    for i, r in enumerate(frame.itertuples()):
        if r.is_ranked:
            ax.annotate(f"{r.barrier:.3f}", (i, r.barrier), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=9)
        else:
            bars[i].set_height(0)
            ax.text(i, 0.02 * top, f"not ranked:\n{r.status}", ha="center", va="bottom", fontsize=8,
                    color="#B03030", rotation=90)
    handles = [bars]
    if values is not None and not values.empty and not frame.empty:
        markers, top = _literature_markers(ax, frame, values, top)
        handles += markers
        if not markers:
            ax.text(0.99, 0.97, "no literature number for these materials\n(review orderings: comparison table)",
                    transform=ax.transAxes, ha="right", va="top", fontsize=8, color="#555555")
    ax.set_xlim(-0.5 - max(0, 3 - n) * 0.5, n - 0.5 + max(0, 3 - n) * 0.5)
    ax.set_ylim(0, top * 1.35)
    adsorbate = ", ".join(sorted(set(frame["adsorbate"]))) if not frame.empty else "Na"
    ax.set_ylabel(f"{adsorbate} adatom percolation barrier (eV)")
    bottom = ax if ax_d is None else _diffusion_panel(ax_d, frame)
    bottom.set_xticks(range(len(frame)), labels, fontsize=9)
    bottom.set_xlabel("surface: material(facet), termination")
    if title is None and not frame.empty:
        title = (f"{', '.join(sorted(set(frame['calculator'])))}, protocol {frame['protocol_id'].iloc[0]}: "
                 f"{int(frame['is_ranked'].sum())} ranked, {int((~frame['is_ranked']).sum())} not ranked")
    ax.set_title(title or "no surfaces", fontsize=10)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _diffusion_panel(ax, frame: pd.DataFrame):
    """D(300 K) of the same surfaces on a log axis, with the range the barrier's ± spans (``d_300_lower/upper``)."""
    xs = [i for i, r in enumerate(frame.itertuples()) if r.is_ranked and pd.notna(r.d_300)]
    d = frame["d_300"].astype(float).to_numpy()
    lower = frame.get("d_300_lower", frame["d_300"]).astype(float).to_numpy()
    upper = frame.get("d_300_upper", frame["d_300"]).astype(float).to_numpy()
    low = np.nan_to_num(d[xs] - lower[xs]) if xs else []
    high = np.nan_to_num(upper[xs] - d[xs]) if xs else []
    ax.errorbar(xs, d[xs], yerr=[low, high], fmt="o", color="#55A868", capsize=3,
                label="D(300 K), HTST on the verified hop network (bars: the barrier's ±)")
    ax.set_yscale("log")
    ax.set_ylabel("D(300 K) (cm²/s)")
    ax.legend(fontsize=7.5, loc="upper left", frameon=False)
    ax.grid(axis="y", alpha=0.3, which="both")
    return ax


def _literature_markers(ax, frame: pd.DataFrame, values: pd.DataFrame, top: float) -> tuple[list, float]:
    """Literature numbers drawn on the bars of ``frame`` (same material, facet where named, adsorbate), one
    marker per source; returns their legend handles and the new top of the y axis."""
    adsorbates = set(frame["adsorbate"])
    markers, handles = {}, []
    for v in values.itertuples():
        if v.adsorbate not in adsorbates:
            continue
        any_facet = not isinstance(v.facet, str)  # None (NaN in a frame): the source names no facet
        xs = [i for i, r in enumerate(frame.itertuples())
              if r.material == v.material and (any_facet or v.facet == r.facet)]
        if not xs:
            continue
        marker = markers.setdefault(v.source, SOURCE_MARKERS[len(markers) % len(SOURCE_MARKERS)])
        facet = "" if any_facet else (v.facet if v.facet_stated else f"{v.facet} assumed")
        text = f"{v.source}, {v.method_short}: {v.material}{facet and ' ' + facet} {v.value_ev:.3f} eV"
        if not v.comparable:
            text += " (not a surface barrier)"
        handles.append(ax.scatter(xs, [v.value_ev] * len(xs), marker=marker, s=70, zorder=5,
                                  facecolors="#DD8452" if v.comparable else "none", edgecolors="#8C3A0B",
                                  linewidths=1.5, label=text))
        top = max(top, v.value_ev)
    return handles, top


# --------------------------------------------------------------------------------------------- NEB profiles


def surface_hops(surface: dict, hop_docs: dict[str, dict]) -> list[dict]:
    """The hops a surface's barrier rests on, as full hop documents (``hop_documents(store)``), named as the
    surface names them: a hop kept from before a refinement keeps its band and site names but gets the new id."""
    out = []
    for summary in surface.get("hops") or []:
        full = hop_docs.get(summary.get("job_uuid"))
        if full is not None:
            out.append({**full, "hop_id": summary["hop_id"], "multiplicity": summary["multiplicity"],
                        "status": summary["status"]})
    return out



def neb_profiles(hops: list[dict], title: str = "") -> Figure:
    """One panel per usable hop (``HopDoc`` dicts): images as dots, ASE's spline through them, saddle starred.

    Energies relative to the hop's start image; the reaction coordinate is ASE's cumulative image distance.
    """
    hops = [h for h in hops if h.get("status") in USABLE and h.get("path")]
    ncols = max(1, min(3, len(hops)))
    nrows = max(1, math.ceil(len(hops) / ncols))
    fig = _figure(4.3 * ncols, 3.3 * nrows + 0.4)
    if not hops:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no accepted hop: nothing to draw", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    for k, hop in enumerate(hops):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        path = hop["path"]
        ax.plot(path["fit_path"], path["fit_energies"], color="#4C72B0", lw=1.8, label="spline fit")
        ax.plot(path["path"], path["energies"], "o", color="#1f3b66", ms=5, label="NEB images")
        i = int(np.argmax(path["fit_energies"]))
        saddle_x, saddle_y = path["saddle_coordinate"], path["fit_energies"][i]
        if hop["status"] == "accepted":
            ax.plot([saddle_x], [saddle_y], "*", color="#C44E52", ms=15, zorder=5, label="saddle")
            ax.annotate(f"forward {hop['forward_barrier']:.3f} eV\nreverse {hop['reverse_barrier']:.3f} eV",
                        (saddle_x, saddle_y), xytext=(0.03, 0.97), textcoords="axes fraction", va="top",
                        fontsize=8.5)
        else:
            ax.annotate("barrierless: rises to its higher end", (0.03, 0.97), xycoords="axes fraction",
                        va="top", fontsize=8.5)
        low = min(path["fit_energies"] + path["energies"])
        high = max(path["fit_energies"] + path["energies"])
        ax.set_ylim(low - 0.08 * (high - low + 1e-3), high + 0.45 * (high - low + 1e-3))
        ax.set_title(f"{hop['hop_id']}: {hop['start_site']} → {hop['end_site']}\n"
                     f"{hop['length']:.2f} Å, ×{hop['multiplicity']} per cell", fontsize=9)
        ax.set_xlabel("reaction coordinate (Å)")
        ax.set_ylabel("E − E(start) (eV)")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=7.5, loc="lower center", frameon=False)
    if title:
        fig.suptitle(title, fontsize=10.5)
    return fig


# --------------------------------------------------------------------------------------------- top view


def _hop_segments(start, end, symmetry) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every copy of a hop inside one cell (start wrapped into [0, 1)), from the surface's operations."""
    images = symmetry.apply(np.stack([np.asarray(start, float), np.asarray(end, float)]))  # (ops, 2, 2)
    seen, out = set(), []
    for s, e in images:
        shift = np.floor(s + 1e-6)
        s, e = s - shift, e - shift
        # A hop is its start (modulo the lattice) and its vector; the same hop walked backwards is one too.
        key = tuple(np.round(np.concatenate([s % 1.0, e - s]), 3))
        key_r = tuple(np.round(np.concatenate([e % 1.0, s - e]), 3))
        if key in seen or key_r in seen:
            continue
        seen.add(key)
        out.append((s, e))
    return out


def top_view(surface: dict, reps: tuple[int, int] | None = None) -> Figure:
    """The surface (a ``SurfaceDoc`` dict) from above, ``reps`` cells (default: 2×2 for cells under 8 Å, else
    one): top-layer atoms, every copy of every minimum, every hop coloured by its saddle energy above the lowest
    minimum, failed hops dashed grey, and the hops of the percolating network (the barrier's path) drawn over a
    red band. Atoms are drawn at one size per layer (colour tells the element; radii would mislead for ions)."""
    from seiscreen.schemas import atoms_from_dict

    slab = atoms_from_dict(surface["slab"]["structure"])
    symmetry = _surface_symmetry(surface)
    lattice = np.asarray(slab.cell.array[:2, :2])
    if reps is None:
        reps = (2, 2) if np.linalg.norm(lattice, axis=1).min() < 8.0 else (1, 1)
    fig = _figure(7.4, 6.2)
    ax = fig.add_subplot()
    around = [np.array([i, j]) for i in range(-1, reps[0] + 1) for j in range(-1, reps[1] + 1)]  # axes clip
    atom_handles = _draw_atoms(ax, slab, lattice, around)
    _draw_cells(ax, lattice, reps)
    minima = surface.get("minima") or []
    e_min = min((m["energy"] for m in minima), default=0.0)
    norm, cmap, hop_handles = _draw_hops(ax, surface, symmetry, lattice, around, e_min)
    minimum_handles = _draw_minima(ax, minima, symmetry, lattice, around, e_min)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.8, pad=0.02)
    bar.set_label("hop saddle energy above the lowest minimum (eV)")

    box = np.array([[0, 0], [reps[0], 0], [0, reps[1]], [reps[0], reps[1]]], float) @ lattice
    margin = 1.2
    ax.set_xlim(box[:, 0].min() - margin, box[:, 0].max() + margin)
    ax.set_ylim(box[:, 1].min() - margin, box[:, 1].max() + margin)
    ax.set_aspect("equal")
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.set_title(f"{surface_label(surface)}: {surface['key']['adsorbate']} minima and hops, {reps[0]}×{reps[1]} "
                 f"cells\n{_barrier_summary(surface)}", fontsize=10)
    ax.legend(handles=minimum_handles + hop_handles + atom_handles, fontsize=7.5, loc="upper left",
              bbox_to_anchor=(0.0, -0.09), ncol=2, frameon=False)
    return fig


def _surface_symmetry(surface: dict):
    """The in-plane symmetry operations stored with a surface's slab, as a ``SurfaceSymmetry``."""
    from seiscreen.surfaces.symmetry import SurfaceSymmetry

    sym = surface["slab"]["symmetry"]
    return SurfaceSymmetry(np.array(sym["rotations"], dtype=int), np.array(sym["translations"], float),
                           np.array(sym["lattice"], float))


def _barrier_summary(surface: dict) -> str:
    """'percolation barrier 0.123 eV (2D)', or why the surface is not ranked."""
    channel_only = surface.get("channel_only")
    barrier = surface["barrier_1d"] if channel_only else surface["barrier_2d"]
    kind = "1D channel" if channel_only else "2D"
    return (f"percolation barrier {barrier:.3f} eV ({kind})" if barrier is not None
            else f"not ranked: {surface['status']}")


def _draw_atoms(ax, slab, lattice: np.ndarray, around: list[np.ndarray]) -> list[Line2D]:
    """The top layer large, the one under it small and faded (fractional xy tiled, then Cartesian); returns the
    legend handles, one per element."""
    from ase.data import atomic_numbers, chemical_symbols
    from ase.data.colors import jmol_colors

    z = slab.positions[:, 2]
    frac = slab.cell.scaled_positions(slab.positions)[:, :2] % 1.0
    ztop = z.max()
    species = []
    for depth, (lo, hi, scale, alpha) in enumerate(((ztop - 1.0, ztop + 0.1, 1.0, 1.0),
                                                    (ztop - 3.2, ztop - 1.0, 0.6, 0.45))):
        mask = (z > lo) & (z <= hi)
        numbers = slab.numbers[mask]
        circles = [Circle(xy, 0.55 * scale) for t in around
                   for xy, n in zip((frac[mask] + t) @ lattice, numbers, strict=True)]
        colors = [jmol_colors[n] for t in around for n in numbers]
        ax.add_collection(PatchCollection(circles, facecolors=colors, edgecolors="#444444", linewidths=0.5,
                                          alpha=alpha, zorder=1 + (1 - depth)))
        species += [chemical_symbols[n] for n in slab.numbers[mask]]
    return [Line2D([], [], ls="", marker="o", ms=9, mfc=jmol_colors[atomic_numbers[s]], mec="#444444",
                   label=f"{s} (top layer; below: small, faded)" if k == 0 else s)
            for k, s in enumerate(dict.fromkeys(species))]


def _draw_cells(ax, lattice: np.ndarray, reps: tuple[int, int]) -> None:
    """The outline of each cell drawn: the first solid, the others dotted."""
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], float)
    for t in (np.array([i, j]) for i in range(reps[0]) for j in range(reps[1])):
        xy = (corners + t) @ lattice
        ax.plot(xy[:, 0], xy[:, 1], color="#888888", lw=0.8 if t.any() else 1.6, ls=":" if t.any() else "-",
                zorder=2)


def _draw_hops(ax, surface: dict, symmetry, lattice: np.ndarray, around: list[np.ndarray], e_min: float):
    """Every copy of every hop, coloured by its saddle above ``e_min``, failed ones dashed grey, the percolating
    network's over a red band; returns the colour scale (norm, cmap) and the legend handles of the red band and
    the dashes where drawn."""
    hops = surface.get("hops") or []
    path = set(surface.get("path_hops_1d") if surface.get("channel_only") else surface.get("path_hops_2d") or [])
    levels = [h["saddle_energy"] - e_min for h in hops if h["status"] in USABLE and h["saddle_energy"] is not None]
    norm = Normalize(vmin=0.0, vmax=max(levels + [1e-3]))
    cmap = colormaps["viridis"]
    path_drawn = failed_drawn = False
    for hop in hops:
        usable = hop["status"] in USABLE and hop["saddle_energy"] is not None
        for s, e in _hop_segments(hop["start"], hop["end"], symmetry):
            for t in around:
                xy = np.array([s + t, e + t]) @ lattice
                if hop["hop_id"] in path and usable:
                    ax.plot(xy[:, 0], xy[:, 1], color="#E0433A", lw=7, alpha=0.35, solid_capstyle="round",
                            zorder=3)
                    path_drawn = True
                if usable:
                    ax.plot(xy[:, 0], xy[:, 1], color=cmap(norm(hop["saddle_energy"] - e_min)), lw=2.2, zorder=4)
                else:
                    ax.plot(xy[:, 0], xy[:, 1], color="#777777", lw=1.5, ls="--", zorder=4)
                    failed_drawn = True
    handles = []
    if path_drawn:
        handles.append(Line2D([], [], color="#E0433A", lw=7, alpha=0.35,
                              label="percolating network at the barrier level"))
    if failed_drawn:
        handles.append(Line2D([], [], color="#777777", lw=1.5, ls="--", label="failed hop (no barrier)"))
    return norm, cmap, handles


def _draw_minima(ax, minima: list[dict], symmetry, lattice: np.ndarray, around: list[np.ndarray],
                 e_min: float) -> list[Line2D]:
    """Every copy of every minimum, one colour each; returns their legend handles (energy above ``e_min``)."""
    handles = []
    for m in minima:
        points = symmetry.orbit(np.asarray(m["frac_xy"], float) % 1.0)
        color = f"C{m['index'] % 10}"
        for t in around:
            xy = (points + t) @ lattice
            ax.scatter(xy[:, 0], xy[:, 1], s=60, marker="o", c=color, edgecolors="black", linewidths=1.0,
                       zorder=6)
        handles.append(Line2D([], [], ls="", marker="o", ms=9, mfc=color, mec="black",
                              label=f"m{m['index']} {m['site']}: {m['energy'] - e_min:+.3f} eV"))
    return handles


# --------------------------------------------------------------------------------------------- scatter


def adsorption_vs_barrier(surfaces: pd.DataFrame) -> Figure:
    """Ranked surfaces: adsorption energy of the lowest minimum against the percolation barrier, one marker
    style per calculator preset (numbers from different protocols are not comparable with each other)."""
    fig = _figure(6.4, 4.6)
    ax = fig.add_subplot()
    ranked = surfaces[(surfaces["status"] == "ranked") & surfaces["barrier"].notna()
                      & surfaces["adsorption_energy"].notna()]
    for k, (protocol, group) in enumerate(ranked.groupby("protocol_id", sort=False)):
        calculators = ", ".join(sorted(set(group["calculator"])))
        ax.scatter(group["adsorption_energy"], group["barrier"], s=60, marker=SOURCE_MARKERS[k % 7],
                   color=f"C{k}", edgecolors="black", linewidths=0.6, label=f"{calculators} (protocol {protocol})",
                   zorder=3)
        for r in group.itertuples():
            ax.annotate(f"{r.material}{r.facet}", (r.adsorption_energy, r.barrier), xytext=(5, 4),
                        textcoords="offset points", fontsize=8.5)
    if ranked.empty:
        ax.text(0.5, 0.5, "no ranked surface", ha="center", va="center", transform=ax.transAxes)
    adsorbate = ", ".join(sorted(set(surfaces["adsorbate"]))) if not surfaces.empty else "Na"
    ax.set_xlabel(f"adsorption energy of the lowest minimum vs bulk {adsorbate} (eV)")
    ax.set_ylabel("percolation barrier (eV)")
    ax.set_title("adsorption energy vs diffusion barrier (ranked surfaces)", fontsize=10)
    if not ranked.empty:
        xs, ys = ranked["adsorption_energy"], ranked["barrier"]
        dx, dy = max(xs.max() - xs.min(), 0.1), max(ys.max() - ys.min(), 0.05)
        ax.set_xlim(xs.min() - 0.15 * dx, xs.max() + 0.35 * dx)
        ax.set_ylim(min(0, ys.min() - 0.2 * dy), ys.max() + 0.25 * dy)
        ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------------------------- cell convergence


def convergence_chart(series: list[dict], title: str | None = None) -> Figure:
    """The barrier of each surface computed in growing cells against the cell size (its shortest in-plane
    period), one line per series (``ConvergenceDoc`` dicts: ``results.convergence_documents``).

    The cells grown along the lateral axis are joined by a line; cells grown in thickness are triangles at their
    lateral size, labelled with their thickness. The band around the largest cell's barrier (the value ranked)
    is ± the series' tolerance, drawn over the last step: an axis is converged when the cell before its last lands
    inside it. Unconverged
    series are dashed, with hollow markers, and named so in the legend. Cells without a barrier are left out.
    """
    fig = _figure(8.6, 4.8)
    ax = fig.add_subplot()
    several = len({s["key"]["calculator"] for s in series}) > 1  # name the calculator only where they differ
    for k, s in enumerate(series):
        _draw_series(ax, s, f"C{k % 10}", surface_label(s) + (f" [{s['key']['calculator']}]" if several else ""))
    if not series:
        ax.text(0.5, 0.5, "no convergence series", ha="center", va="center", transform=ax.transAxes)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Patch(color="#888888", alpha=0.2, lw=0,
                         label="± tolerance around the largest cell's barrier (last step)"))
    if any(c["axis"] == "thickness" for s in series for c in s["cells"]):
        handles.append(Line2D([], [], ls="", marker="^", ms=7, mfc="#888888", mec="#444444",
                              label="cell grown in thickness (label: its thickness)"))
    adsorbate = ", ".join(sorted({s["key"]["adsorbate"] for s in series})) or "Na"
    ax.set_xlabel("cell size: shortest in-plane period (Å)")
    ax.set_ylabel(f"{adsorbate} adatom percolation barrier (eV)")
    converged = sum(s["status"] == "converged" for s in series)
    ax.set_title(title or f"barrier vs cell size: {len(series)} series, {converged} converged, "
                          f"{len(series) - converged} unconverged", fontsize=10)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return fig


def _draw_series(ax, series: dict, color: str, label: str) -> None:
    """One surface's cells: the lateral ones as a line, the thickness ones as triangles, the tolerance band."""
    converged = series["status"] == "converged"
    drawn = [c for c in series["cells"] if c.get("barrier") is not None and c.get("lateral") is not None]
    lateral = [c for c in drawn if c["axis"] != "thickness"]
    style = {"color": color, "mec": color, "mfc": color if converged else "white", "zorder": 3}
    ax.plot([c["lateral"] for c in lateral], [c["barrier"] for c in lateral], ls="-" if converged else "--",
            marker="o", ms=6, lw=1.6, label=label + ("" if converged else " (unconverged)"), **style)
    for c in drawn:
        if c["axis"] == "thickness":
            ax.plot([c["lateral"]], [c["barrier"]], ls="", marker="^", ms=7, **style)
            ax.annotate(f"{c['thickness']:.1f} Å", (c["lateral"], c["barrier"]), xytext=(6, -3),
                        textcoords="offset points", fontsize=7.5, color=color)
    last_step = [c["lateral"] for c in series["cells"][-2:] if c.get("lateral") is not None]
    barrier, tolerance = series.get("ranked_barrier"), series["tolerance"]
    if barrier is not None and last_step:  # over the last step: the cell before lands inside or not
        ax.fill_between([min(last_step) - 0.4, max(last_step) + 0.4], barrier - tolerance, barrier + tolerance,
                        color=color, alpha=0.15, lw=0, zorder=1)


# --------------------------------------------------------------------------------------------- descriptor panel


def barrier_vs_monroe_newman(panel: pd.DataFrame) -> Figure:
    """The descriptor panel (``load_results(...).descriptors``): each material's surface barrier against its
    Monroe–Newman ratio G / G(metal), one marker shape per preset; coloured by band gap where the panel has one
    (grey without), hollow where the material is not stable against Na metal (filled where stable or unknown)."""
    fig = _figure(6.4, 4.6)
    ax = fig.add_subplot()
    shown = panel[(panel["role"] == "material") & panel["barrier"].notna() & panel["monroe_newman_ratio"].notna()]
    gaps = shown["band_gap_ev"] if "band_gap_ev" in shown else pd.Series(np.nan, index=shown.index)
    norm = Normalize(0.0, max(float(np.nanmax(gaps)) if gaps.notna().any() else 1.0, 1.0))
    cmap = colormaps["viridis"]
    for k, (calculator, group) in enumerate(shown.groupby("calculator", sort=False)):
        for r in group.itertuples():
            gap = gaps.loc[r.Index]
            color = "0.6" if pd.isna(gap) else cmap(norm(gap))
            stable = getattr(r, "stable_against_na", None)
            ax.scatter(r.monroe_newman_ratio, r.barrier, s=70, marker=SOURCE_MARKERS[k % 7], zorder=3,
                       facecolors="none" if stable is False else color, edgecolors=color if stable is False
                       else "black", linewidths=1.2)
            ax.annotate(r.material, (r.monroe_newman_ratio, r.barrier), xytext=(5, 4), textcoords="offset points",
                        fontsize=8.5)
        ax.scatter([], [], marker=SOURCE_MARKERS[k % 7], color="0.6", edgecolors="black", label=calculator)
    ax.axvline(2.0, color="C3", ls="--", lw=1, label="Monroe–Newman: G = 2 G(metal)")
    if gaps.notna().any():
        fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label="band gap (eV)")
    if shown.empty:
        ax.text(0.5, 0.5, "no material with both a ranked barrier and a ratio", ha="center", va="center",
                transform=ax.transAxes)
    metal = ", ".join(sorted(set(panel["reference_metal"].dropna()))) or "Na"
    ax.set_xlabel(f"Monroe–Newman ratio G / G({metal}), same calculator")
    ax.set_ylabel("lowest percolation barrier (eV)")
    ax.set_title("surface barrier vs shear modulus (descriptor panel)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig
