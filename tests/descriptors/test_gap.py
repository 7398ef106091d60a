"""The PBE band gap engine: band edges and the metal check on made-up bands, the primitive cell and k-mesh
series, and GPAW itself on silicon (indirect gap) and aluminium (a metal) with small settings."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from pydantic import ValidationError

from seiscreen.descriptors.gap import GapSettings, band_edges, compute_gap, monkhorst_pack_series, primitive_cell
from seiscreen.errors import SeiscreenError

# Small settings for the GPAW tests: a low cut-off and short series, enough for silicon's band edges to ~0.05 eV.
SMALL = GapSettings(pw_cutoff_eV=250, kpt_density_start=1.5, tolerance_eV=0.1, max_meshes=3, band_path_points=40)


def test_band_edges_of_an_indirect_gap():
    # Two bands over three k-points: the valence top at k0 (0.0 eV), the conduction bottom at k2 (1.0 eV).
    kpts = np.array([[0, 0, 0], [0.25, 0, 0], [0.5, 0, 0]])
    eigenvalues = np.array([[0.0, 3.0], [-0.5, 2.0], [-1.0, 1.0]])
    edges = band_edges(kpts, eigenvalues, fermi_level=0.5, valence_electrons=2)
    assert not edges["metal"] and edges["occupied"] == 1
    assert edges["gap"] == pytest.approx(1.0) and edges["direct_gap"] == pytest.approx(2.0)
    assert np.allclose(edges["vbm"], [0, 0, 0]) and np.allclose(edges["cbm"], [0.5, 0, 0])


def test_a_band_crossing_the_fermi_level_is_a_metal():
    # The lower band rises above the Fermi level at the last k-point: 1 state below it there, 2 elsewhere.
    kpts = np.zeros((3, 3))
    eigenvalues = np.array([[-2.0, -1.0, 3.0], [-2.0, -0.5, 3.0], [-2.0, 0.6, 3.0]])
    assert band_edges(kpts, eigenvalues, fermi_level=0.5, valence_electrons=4) == {"metal": True, "gap": 0.0}


def test_states_below_the_fermi_level_must_hold_the_valence_electrons():
    # The same count at every k-point, but one band for three electrons: a half-filled band, not a gap.
    eigenvalues = np.array([[-1.0, 2.0], [-0.8, 2.5]])
    assert band_edges(np.zeros((2, 3)), eigenvalues, fermi_level=0.0, valence_electrons=3)["metal"]


def test_primitive_cell_of_conventional_rocksalt():
    conventional = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    primitive = primitive_cell(conventional)
    assert len(conventional) == 8 and len(primitive) == 2
    assert primitive.get_volume() == pytest.approx(5.64 ** 3 / 4, rel=1e-6)


def test_a_slab_or_molecule_is_refused():
    with pytest.raises(SeiscreenError, match="periodic along all three"):
        primitive_cell(Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]], cell=[10, 10, 10], pbc=(True, True, False)))


def test_mesh_series_grows_along_every_axis():
    atoms = bulk("Si", "diamond", a=5.43)
    series = monkhorst_pack_series(atoms, GapSettings(kpt_density_start=1.5, max_meshes=4))
    meshes = np.array([mesh for _, mesh in series])
    assert len(series) == 4 and (np.diff(meshes, axis=0) >= 0).all() and (np.diff(meshes, axis=0).sum(1) > 0).all()
    # ASE's density: ceil(2π |b| d) points along b; fcc with a = 5.43 Å has |b| = √3 / a.
    assert meshes[0].tolist() == [int(np.ceil(2 * np.pi * np.sqrt(3) / 5.43 * 1.5))] * 3


def test_settings_refuse_unknown_keys():
    with pytest.raises(ValidationError):
        GapSettings(kpoints=4)


@pytest.mark.slow
def test_silicon_pbe_gap_is_indirect_near_0_6_ev(tmp_path):
    # Plane-wave PBE at the experimental cell gives silicon an indirect gap of ~0.6 eV (1.17 eV measured): the
    # valence top at Γ, the conduction bottom at ~85 % of Γ-X; the direct gap at Γ is ~2.5 eV. Seconds with SMALL.
    result = compute_gap(bulk("Si", "diamond", a=5.43), SMALL, txt=tmp_path / "gpaw.txt", geometry="experimental")
    assert result.kind == "indirect" and 0.45 < result.gap_eV < 0.75
    assert 2.2 < result.direct_gap_eV < 2.9
    assert result.vbm_label == "G" and result.cbm_label == "G-X"
    # Γ-X is 1/a long (reciprocal Å, without 2π): the CBM lies between 3/4 and the whole way.
    cbm = np.array(result.cbm_kpoint) @ np.linalg.inv(np.array(result.cell_angstrom)).T
    assert 0.75 < np.linalg.norm(cbm) * 5.43 < 0.95
    # The reported gap is the smallest over mesh and path, and the series is the mesh's.
    assert result.gap_eV == pytest.approx(min(result.mesh_gap_eV, result.path_gap_eV), abs=1e-4)
    assert result.convergence[-1].gap_eV == pytest.approx(result.mesh_gap_eV, abs=1e-4)
    assert result.occupied_bands == 4 and result.valence_electrons == 8 and result.xc == "PBE"
    assert result.geometry == "experimental" and "underestimates" in result.note
    assert (tmp_path / "gpaw.txt").read_text().count("Fermi level") >= 2  # every SCF appended to one file


@pytest.mark.slow
def test_aluminium_is_a_metal():
    result = compute_gap(bulk("Al", "fcc", a=4.05), SMALL)
    assert result.kind == "metal" and result.gap_eV == 0.0 and result.occupied_bands is None
    assert result.path_gap_eV is None and result.k_converged  # the gap is 0 on every mesh
