"""The PBE band gap of a bulk crystal from GPAW: electronic insulation, one criterion of an ideal SEI.

The crystal is reduced to its primitive cell and computed spin-paired with plane waves at the geometry it comes
in (relaxed by the campaign's calculator, or the catalog's experimental cell). Γ-centred Monkhorst–Pack meshes of
growing density are computed until the gap changes by less than a tolerance; the density of the last mesh is then
held fixed and the bands are computed along the cell's high-symmetry path. The gap is the smallest over every
k-point sampled (mesh and path): a gap read on a set of k-points is an upper bound of the true minimum gap, and the
path reaches the band edges a mesh misses (silicon's conduction-band minimum at 85 % of Γ–X). A crystal is a metal
when some band crosses the Fermi level: the number of states below it differs between k-points, or is not half the
valence electrons.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import kptdensity2monkhorstpack
from ase.dft.bandgap import bandgap
from ase.dft.kpoints import parse_path_string
from pydantic import BaseModel, ConfigDict, Field

from seiscreen.errors import SeiscreenError
from seiscreen.gpaw_scf import gpaw_keywords

PBE_NOTE = ("PBE Kohn-Sham gap: semilocal DFT underestimates the fundamental gap, typically by 30-50 % for ionic "
            "insulators, so this is a lower estimate and orders materials rather than predicting their gaps; on "
            "k-points it is an upper bound of the PBE minimum gap, which the band path tightens")


class GapSettings(BaseModel):
    """How the PBE gap is computed; stored with every gap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["pw", "lcao"] = Field(
        "pw", description="GPAW mode. Plane waves (default) converge the empty states systematically with the "
                          "cut-off; an LCAO basis is built for occupied states and places the conduction band less "
                          "well, so it is for cells too large for plane waves")
    pw_cutoff_eV: float = Field(500.0, gt=0, description="plane-wave cut-off (eV), mode 'pw'. NaF's gap, the "
                                                        "hardest (F), moves by 0.047 eV from 400 to 500 eV and by "
                                                        "0.007 eV from 500 to 600 eV")
    basis: str = Field("dzp", description="GPAW basis set, mode 'lcao' only")
    h_angstrom: float = Field(0.2, gt=0, description="real-space grid spacing (Å), mode 'lcao' only")
    setups: dict[str, str] = Field(
        default_factory=dict, description="GPAW setups per element ({} = GPAW's standard ones, Na with its 2p "
                                          "semicore as in VASP's Na_pv). The campaign presets' cheaper 1-electron "
                                          "Na, {'Na': '1'}, lowers NaF's gap by 0.09 eV")
    smearing_eV: float = Field(0.05, gt=0, description="Fermi–Dirac width (eV): lets a metal's SCF converge; an "
                                                      "insulator's occupations stay 0 or 1")
    kpt_density_start: float = Field(2.0, gt=0, description="k-points per Å⁻¹ of the first mesh (ASE's "
                                                            "kptdensity2monkhorstpack)")
    kpt_density_growth: float = Field(1.5, gt=1, description="factor between the densities of successive meshes")
    max_meshes: int = Field(5, ge=2, description="meshes tried before the series is reported unconverged")
    tolerance_eV: float = Field(0.05, gt=0, description="converged when the gap of two successive meshes differs "
                                                        "by less than this (eV)")
    band_path: bool = Field(True, description="also compute the bands along the cell's high-symmetry path at the "
                                              "converged mesh's density")
    band_path_points: int = Field(60, ge=2, description="k-points along the whole band path")
    conduction_window_eV: float = Field(
        1.0, gt=0, description="states are converged up to the conduction-band minimum plus this (eV; GPAW's "
                               "'CBM+x'): by default GPAW converges the occupied states only")
    symprec: float = Field(0.01, gt=0, description="spglib tolerance (Å) finding the primitive cell")


class MeshGap(BaseModel):
    """One point of the k-mesh convergence series."""

    mesh: list[int] = Field(description="Γ-centred Monkhorst–Pack mesh")
    kpt_density: float = Field(description="k-points per Å⁻¹ asked for")
    n_kpoints: int = Field(description="irreducible k-points computed")
    gap_eV: float = Field(description="gap over this mesh's k-points (eV; 0 for a metal)")
    seconds: float = Field(description="wall time of the SCF (s)")


class GapResult(BaseModel):
    """A bulk's PBE band gap, with where it lies and how it was converged."""

    formula: str = Field(description="reduced formula")
    geometry: str = Field(description="which geometry was computed (e.g. relaxed by which preset, or the catalog's)")
    cell_angstrom: list[list[float]] = Field(description="the primitive cell computed (Å, rows)")
    n_atoms: int = Field(description="atoms in the primitive cell")
    kind: Literal["direct", "indirect", "metal"] = Field(description="direct or indirect gap, or a metal")
    gap_eV: float = Field(description="PBE gap (eV): the smallest over mesh and path; 0 for a metal")
    direct_gap_eV: float | None = Field(description="smallest gap at one k-point (eV); None for a metal")
    vbm_kpoint: list[float] | None = Field(description="valence-band maximum, fractional reciprocal coordinates "
                                                       "of cell_angstrom")
    cbm_kpoint: list[float] | None = Field(description="conduction-band minimum, as vbm_kpoint")
    vbm_label: str | None = Field(description="high-symmetry point of the VBM (ASE's labels, 'G' = Γ), or the "
                                             "segment of the band path it lies on ('G-X'), or None")
    cbm_label: str | None = Field(description="as vbm_label, for the CBM")
    mesh_gap_eV: float = Field(description="gap over the last mesh's k-points (eV)")
    path_gap_eV: float | None = Field(description="gap over the band path's k-points (eV); None without a path")
    band_path: str | None = Field(description="the high-symmetry path computed (ASE's notation)")
    convergence: list[MeshGap] = Field(description="the k-mesh series, coarsest first")
    k_converged: bool = Field(description="the last two meshes' gaps agree within the tolerance")
    valence_electrons: int = Field(description="valence electrons in the primitive cell (GPAW's setups)")
    occupied_bands: int | None = Field(description="bands below the Fermi level at every k-point; None for a metal")
    fermi_level_eV: float = Field(description="Fermi level of the last mesh's SCF (eV)")
    xc: Literal["PBE"] = Field("PBE", description="exchange-correlation functional")
    spin: Literal["paired"] = Field("paired", description="spin treatment")
    mode: Literal["pw", "lcao"] = Field(description="GPAW mode")
    pw_cutoff_eV: float | None = Field(description="plane-wave cut-off (eV); None in LCAO")
    basis: str | None = Field(description="LCAO basis; None with plane waves")
    setups: dict[str, str] = Field(description="GPAW setups other than the standard ones")
    gpaw_version: str = Field(description="GPAW version")
    seconds: float = Field(description="wall time of the whole computation (s)")
    note: str = Field(PBE_NOTE, description="what the number is and is not")


def primitive_cell(atoms: Atoms, symprec: float = 0.01) -> Atoms:
    """The primitive cell of a periodic crystal (spglib through pymatgen; positions idealised within ``symprec``)."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if len(atoms) == 0 or not all(atoms.pbc):
        raise SeiscreenError("a band gap needs a bulk crystal: atoms periodic along all three axes")
    structure = AseAtomsAdaptor.get_structure(atoms.copy())  # copy: the caller's calculator stays attached
    if "magmom" in structure.site_properties:  # spin-paired: moments would only lower the symmetry found
        structure.remove_site_property("magmom")
    primitive = SpacegroupAnalyzer(structure, symprec=symprec).find_primitive()
    if primitive is None:
        raise SeiscreenError(f"spglib found no symmetry cell for {structure.formula} at symprec {symprec} Å")
    return AseAtomsAdaptor.get_atoms(primitive)


def monkhorst_pack_series(atoms: Atoms, settings: GapSettings) -> list[tuple[float, tuple[int, int, int]]]:
    """The (density, mesh) pairs the series tries: densities growing by ``kpt_density_growth``, each giving a
    mesh denser than the last along at least one axis."""
    series: list[tuple[float, tuple[int, int, int]]] = []
    density = settings.kpt_density_start
    while len(series) < settings.max_meshes:
        mesh = tuple(int(n) for n in kptdensity2monkhorstpack(atoms, density, even=False))
        if not series or mesh != series[-1][1]:
            series.append((density, mesh))
        density *= settings.kpt_density_growth
    return series


def _keywords(settings: GapSettings, kpts, txt) -> dict:
    """GPAW keywords of one SCF (the project's ``gpaw_keywords`` turns cut-off and smearing into GPAW objects)."""
    params = {"xc": "PBE", "kpts": kpts, "smearing": settings.smearing_eV, "spinpol": False,
              "setups": dict(settings.setups) or "paw",
              "convergence": {"bands": f"CBM+{settings.conduction_window_eV}"}}
    if settings.mode == "pw":
        params["pw_cutoff"] = settings.pw_cutoff_eV
    else:
        params.update(mode="lcao", basis=settings.basis, h=settings.h_angstrom)
    return gpaw_keywords(params, txt)


def _eigenvalues(calc) -> tuple[np.ndarray, np.ndarray]:
    """Irreducible k-points (fractional) and their eigenvalues (eV), shape (nk, nbands)."""
    kpts = np.asarray(calc.get_ibz_k_points())
    return kpts, np.array([calc.get_eigenvalues(kpt=k) for k in range(len(kpts))])


def band_edges(kpts: np.ndarray, eigenvalues: np.ndarray, fermi_level: float, valence_electrons: int) -> dict:
    """The gap on a set of k-points, spin-paired: a metal (``{"metal": True}``) when the number of states below the
    Fermi level differs between k-points or is not half the valence electrons; else the gap, the direct gap, the
    VBM and CBM k-points and the occupied bands (ASE's ``bandgap``). ``eigenvalues``: shape (nk, nbands)."""
    occupied = (eigenvalues < fermi_level).sum(axis=1)
    if np.ptp(occupied) > 0 or 2 * int(occupied[0]) != valence_electrons:
        return {"metal": True, "gap": 0.0}
    if occupied[0] >= eigenvalues.shape[1]:
        raise SeiscreenError("no empty band was computed: raise GapSettings.conduction_window_eV")
    spin_paired = eigenvalues[np.newaxis]  # (1, nk, nbands): ASE 3.29's bandgap fails on (nk, nbands)
    gap, (_, k_vbm, _), (_, k_cbm, _) = bandgap(eigenvalues=spin_paired, efermi=fermi_level)
    direct, _, _ = bandgap(eigenvalues=spin_paired, efermi=fermi_level, direct=True)
    return {"metal": False, "gap": float(gap), "direct_gap": float(direct), "vbm": kpts[k_vbm], "cbm": kpts[k_cbm],
            "occupied": int(occupied[0])}


def _reciprocal_rotations(atoms: Atoms, symprec: float) -> np.ndarray:
    """The crystal's point-group operations acting on fractional k-points (row vectors: k @ M), with time
    reversal: spglib's real-space rotations R act on reciprocal coordinates as R⁻¹ from the right."""
    import spglib

    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    rotations = spglib.get_symmetry(cell, symprec=symprec)["rotations"]
    inverses = [np.linalg.inv(rotation) for rotation in rotations]
    return np.array(inverses + [-inverse for inverse in inverses])


def _label(kpoint, path, rotations: np.ndarray) -> str | None:
    """The high-symmetry point of ``path`` (an ASE ``BandPath``) at ``kpoint`` or at a symmetry image of it, else
    the segment "A-B" of the path an image lies on, else None."""
    images = np.asarray(kpoint) @ rotations
    for name, point in path.special_points.items():
        delta = images - point
        if np.isclose(delta, np.round(delta), atol=1e-6).all(axis=1).any():
            return name
    for piece in parse_path_string(path.path):  # labels may be longer than a letter ("X1")
        for start, end in zip(piece[:-1], piece[1:], strict=True):
            a, b = path.special_points[start], path.special_points[end]
            t = (images - a) @ (b - a) / np.dot(b - a, b - a)
            on = np.isclose(a + t[:, None] * (b - a), images, atol=1e-6).all(axis=1) & (t > 0) & (t < 1)
            if on.any():
                return f"{start}-{end}"
    return None


def _scf(atoms: Atoms, settings: GapSettings, mesh: tuple[int, int, int], log):
    """A converged GPAW SCF on a Γ-centred mesh (the GPAW calculator, holding its density and eigenvalues)."""
    from gpaw import GPAW

    calc = GPAW(**_keywords(settings, {"size": mesh, "gamma": True}, log))
    atoms = atoms.copy()
    atoms.calc = calc
    atoms.get_potential_energy()
    return calc


def converge_mesh(atoms: Atoms, settings: GapSettings, log=None) -> tuple[object, dict, list[MeshGap], bool]:
    """Meshes of growing density until the gap of two successive ones differs by less than the tolerance: the
    last SCF's calculator, its band edges, the series and whether it converged."""
    series: list[MeshGap] = []
    calc = edges = None
    for density, mesh in monkhorst_pack_series(atoms, settings):
        start = time.perf_counter()
        calc = _scf(atoms, settings, mesh, log)
        kpts, eigenvalues = _eigenvalues(calc)
        edges = band_edges(kpts, eigenvalues, calc.get_fermi_level(), _valence_electrons(calc))
        series.append(MeshGap(mesh=list(mesh), kpt_density=round(density, 4), n_kpoints=len(kpts),
                              gap_eV=round(edges["gap"], 4), seconds=round(time.perf_counter() - start, 2)))
        if len(series) > 1 and abs(series[-1].gap_eV - series[-2].gap_eV) < settings.tolerance_eV:
            return calc, edges, series, True
    return calc, edges, series, False


def _valence_electrons(calc) -> int:
    return int(round(calc.get_number_of_electrons()))


def path_bands(calc, path, settings: GapSettings, log=None) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues along ``path`` (an ASE ``BandPath``) on the SCF's density, held fixed (GPAW's
    ``fixed_density``, no symmetry, states converged up to the CBM plus the window): k-points and (nk, nbands)."""
    bands = calc.fixed_density(kpts=path.kpts, symmetry="off", txt=log,
                               convergence={"bands": f"CBM+{settings.conduction_window_eV}"})
    return _eigenvalues(bands)


def compute_gap(atoms: Atoms, settings: GapSettings | None = None, txt: str | Path | None = None, *,
                geometry: str = "as given") -> GapResult:
    """The PBE band gap of the bulk ``atoms`` at its geometry, k-mesh converged and refined on a band path.

    Args:
        atoms: a bulk crystal (any cell; it is reduced to its primitive cell), already relaxed: the gap is
            computed at this geometry, not relaxed again.
        settings: how (defaults: :class:`GapSettings`).
        txt: GPAW's text output, every SCF and the band path appended to one file (None: none).
        geometry: which geometry ``atoms`` is, stored in the result (e.g. "relaxed with chgnet").

    Returns:
        The gap, direct or indirect (or "metal"), its band edges' k-points and the convergence series.
    """
    import gpaw

    settings = settings or GapSettings()
    start = time.perf_counter()
    primitive = primitive_cell(atoms, settings.symprec)
    handle = open(txt, "a", encoding="utf-8") if txt is not None else None
    try:
        calc, mesh_edges, series, converged = converge_mesh(primitive, settings, handle)
        path = primitive.cell.bandpath(npoints=settings.band_path_points)
        edges, path_gap = mesh_edges, None
        if settings.band_path and not mesh_edges["metal"]:
            path_kpts, path_eigenvalues = path_bands(calc, path, settings, handle)
            mesh_kpts, mesh_eigenvalues = _eigenvalues(calc)
            nbands = min(mesh_eigenvalues.shape[1], path_eigenvalues.shape[1])
            fermi, electrons = calc.get_fermi_level(), _valence_electrons(calc)
            path_gap = band_edges(path_kpts, path_eigenvalues[:, :nbands], fermi, electrons)["gap"]
            edges = band_edges(np.vstack([mesh_kpts, path_kpts]),
                               np.vstack([mesh_eigenvalues[:, :nbands], path_eigenvalues[:, :nbands]]),
                               fermi, electrons)
    finally:
        if handle is not None:
            handle.close()
    metal = edges["metal"]
    rotations = _reciprocal_rotations(primitive, settings.symprec)
    kind = "metal" if metal else ("direct" if np.isclose(edges["gap"], edges["direct_gap"], atol=1e-6) else "indirect")
    return GapResult(
        formula=primitive.get_chemical_formula(empirical=True), geometry=geometry,
        cell_angstrom=primitive.cell.array.round(6).tolist(), n_atoms=len(primitive), kind=kind,
        gap_eV=round(edges["gap"], 4), direct_gap_eV=None if metal else round(edges["direct_gap"], 4),
        vbm_kpoint=None if metal else edges["vbm"].round(6).tolist(),
        cbm_kpoint=None if metal else edges["cbm"].round(6).tolist(),
        vbm_label=None if metal else _label(edges["vbm"], path, rotations),
        cbm_label=None if metal else _label(edges["cbm"], path, rotations),
        mesh_gap_eV=round(mesh_edges["gap"], 4), path_gap_eV=None if path_gap is None else round(path_gap, 4),
        band_path=path.path if path_gap is not None else None, convergence=series, k_converged=converged,
        valence_electrons=_valence_electrons(calc), occupied_bands=None if metal else edges["occupied"],
        fermi_level_eV=round(float(calc.get_fermi_level()), 4), mode=settings.mode,
        pw_cutoff_eV=settings.pw_cutoff_eV if settings.mode == "pw" else None,
        basis=settings.basis if settings.mode == "lcao" else None, setups=dict(settings.setups),
        gpaw_version=gpaw.__version__, seconds=round(time.perf_counter() - start, 2))
