"""GPAW installs and runs through the real preset code: a tiny NaF slab with a Na adatom. Slow (seconds)."""

import numpy as np
import pytest

from seiscreen.calculators import get_preset
from seiscreen.catalog import load_bulk
from seiscreen.frames import FRAMES_FILE, read_frames
from seiscreen.surfaces.sites import candidate_sites, placed
from seiscreen.surfaces.slabs import SlabSettings, make_terminations

pytestmark = pytest.mark.slow


def test_gpaw_single_point_on_a_tiny_naf_slab(tmp_path):
    # 2x2 primitive NaF(100) cell, 2 planes (16 atoms) + adatom, Γ only, sz basis, loose SCF: seconds here.
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0),
                                SlabSettings(min_thickness=2.0, min_lateral_size=6.5, vacuum=8.0))
    slab = term.to_atoms()
    (hollow,) = [s for s in candidate_sites(slab) if s.name == "hollow4-F2Na2"]
    atoms = placed(slab, hollow.position)
    preset = get_preset("gpaw-test")
    atoms.calc = preset.make(atoms, tmp_path / "gpaw")
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    assert np.isfinite(energy) and forces.shape == (17, 3)
    assert tuple(atoms.pbc) == (True, True, False)  # the preset prepares a slab for the dipole layer
    assert (tmp_path / "gpaw" / "gpaw.txt").read_text().count("Free energy") >= 1
    # The job folder keeps a restart file of the last state, which GPAW reads back with its energy.
    from gpaw import GPAW

    restarted = GPAW(str(tmp_path / "gpaw" / "gpaw.gpw"), txt=None)
    assert restarted.get_potential_energy() == pytest.approx(energy, abs=1e-6)
    assert not list((tmp_path / "gpaw").glob("*.partial*"))
    # By symmetry the adatom in the hollow feels no lateral force.
    assert np.abs(forces[-1, :2]).max() < 0.05
    # Moving the adatom off the symmetric site (what every relaxation does) must not stop GPAW.
    atoms.positions[-1, 0] += 0.1
    assert np.isfinite(atoms.get_potential_energy())
    # Every calculation with forces is a training frame in the folder (the energy-only one after it is not).
    (frame,) = read_frames(tmp_path / "gpaw" / FRAMES_FILE)
    moving = np.abs(forces).sum(axis=1) > 0  # the frame keeps the raw forces, also on the fixed atoms
    assert frame.get_potential_energy() == pytest.approx(energy)
    assert np.allclose(frame.get_forces()[moving], forces[moving]) and np.abs(frame.get_forces()[~moving]).sum() > 0
    assert frame.info["preset"] == "gpaw-test" and frame.info["scf_rung"] == 0


def test_gpaw_production_presets_are_complete():
    for name in ("gpaw-lcao", "gpaw-pw"):
        preset = get_preset(name)
        params = preset.parameters
        assert params["xc"] == "PBE" and params["spinpol"] and params["poissonsolver"] == {"dipolelayer": "xy"}
        assert preset.provenance()["package_version"]  # GPAW is installed by scripts/setup.sh
        # The dipole layer needs a non-periodic z; a resumed band rebuilds its ends with the same periodicity.
        slab = _tiny_naf_with_adatom()
        slab.pbc = True
        preset.make(slab)
        assert tuple(slab.pbc) == preset.slab_pbc == (True, True, False)
    assert get_preset("emt").slab_pbc is None


def _tiny_naf_with_adatom():
    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0),
                                SlabSettings(min_thickness=2.0, min_lateral_size=6.5, vacuum=8.0))
    slab = term.to_atoms()
    (hollow,) = [s for s in candidate_sites(slab) if s.name == "hollow4-F2Na2"]
    atoms = placed(slab, hollow.position)
    atoms.pbc = (True, True, False)
    return atoms


def test_scf_failure_is_retried_with_gentler_settings(tmp_path):
    from seiscreen.calculators import ScfRetryCalculator

    params = {**get_preset("gpaw-test").parameters, "maxiter": 3}  # 3 SCF iterations: provoked failure
    atoms = _tiny_naf_with_adatom()
    atoms.calc = ScfRetryCalculator(params, tmp_path)
    energy = atoms.get_potential_energy()
    assert atoms.calc.history == ["rung 0: SCF not converged"] and atoms.calc.rung == 1
    # The rung the energy came from, for the job that reads its images' folders (bands.same_smearing_gate).
    from seiscreen.calculators import SCF_RETRIES, scf_record

    assert scf_record(tmp_path) == {"rung": 1, "smearing": SCF_RETRIES[0].get("smearing", params["smearing"]),
                                    "history": ["rung 0: SCF not converged"]}
    # Each rung's text output whole: the failed one kept aside, the next one's not written over by it.
    assert "SCF iterations" in (tmp_path / "gpaw-rung0.txt").read_text()
    text = (tmp_path / "gpaw.txt").read_text()
    assert "\0" not in text and text.count("SCF iterations") == 1 and "Converged in" in text
    reference = _tiny_naf_with_adatom()
    reference.calc = get_preset("gpaw-test").make(reference, tmp_path / "ref")
    assert energy == pytest.approx(reference.get_potential_energy(), abs=2e-3)


def test_the_retry_rungs_keep_the_smearing_until_the_third():
    """The first two rungs change the mixer and the density criterion, which leave energies comparable; a rung's
    convergence criteria update the preset's."""
    from seiscreen.calculators import SCF_RETRIES, ScfRetryCalculator

    calc = ScfRetryCalculator(get_preset("gpaw-lcao").parameters)
    seen = []
    for rung in range(len(SCF_RETRIES) + 1):
        calc.rung = rung
        seen.append((calc.smearing, calc.rung_parameters["convergence"]))
    assert seen == [(0.05, {"energy": 5e-4, "density": 1e-4}), (0.05, {"energy": 5e-4, "density": 1e-4}),
                    (0.05, {"energy": 5e-4, "density": 5e-4, "forces": 0.01}),
                    (0.1, {"energy": 5e-4, "density": 1e-4}),
                    (0.2, {"energy": 5e-4, "density": 1e-4})]


def test_an_scf_that_stalled_within_the_looser_criterion_goes_straight_to_that_rung():
    """Hovering just above the criterion (1.02e-4 per electron against 1e-4), no mixer helps: the next rung is the
    looser density criterion at the same smearing. Stalled far from it, or failed otherwise, the next rung."""
    from seiscreen.calculators import ScfRetryCalculator

    def next_rung(stalled_at):
        calc = ScfRetryCalculator(get_preset("gpaw-lcao").parameters)
        calc._next_rung("slab", writer=False, stalled_at=stalled_at)
        return calc.rung, calc.smearing

    assert next_rung(1.02e-4) == (2, 0.05)
    assert next_rung(3e-3) == (1, 0.05) and next_rung(None) == (1, 0.05)


def test_scf_that_never_converges_fails_with_a_clear_message(tmp_path):
    from seiscreen.calculators import ScfRetryCalculator
    from seiscreen.errors import SeiscreenError

    params = {**get_preset("gpaw-test").parameters, "maxiter": 2}
    atoms = _tiny_naf_with_adatom()
    atoms.calc = ScfRetryCalculator(params, tmp_path, retries=({"maxiter": 2}, {"maxiter": 2}))
    with pytest.raises(SeiscreenError, match="GPAW SCF did not converge after 2 retries"):
        atoms.get_potential_energy()
    assert len(atoms.calc.history) == 3


def test_bulk_na_reference_works_without_stress():
    # GPAW's LCAO mode has no stress tensor: the adsorption reference falls back to an equation-of-state fit.
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiscreen.minima import reference_energy

    bcc = AseAtomsAdaptor.get_atoms(load_bulk("Na").structure.copy().remove_oxidation_states())
    energy = reference_energy("Na", get_preset("gpaw-test").make(), bcc)
    assert np.isfinite(energy)
    strained = bcc.copy()
    strained.set_cell(bcc.cell * 1.04, scale_atoms=True)
    strained.calc = get_preset("gpaw-test").make()
    assert energy <= strained.get_potential_energy() / len(strained) + 1e-6  # the fit's minimum is the lowest


def test_one_gpaw_calculator_serves_slab_and_bulk_with_spin_on_the_adatom():
    # A minima search uses one calculator for the slab and for bulk Na: the dipole layer applies to the slab only,
    # and the adatom starts spin-polarised (a lone Na on an insulator keeps most of its unpaired electron).
    from seiscreen.calculators import CalculatorPreset

    test = get_preset("gpaw-test")
    preset = CalculatorPreset(name="gpaw-test-spin", code="gpaw", description="test", adatom_magmom=1.0,
                              parameters={**test.parameters, "spinpol": True,
                                          "poissonsolver": {"dipolelayer": "xy"}})
    calc = preset.make()
    atoms = _tiny_naf_with_adatom()
    atoms.pbc = True  # as a pymatgen slab arrives: the calculator decides it is a slab by its vacuum
    atoms.calc = calc
    atoms.get_potential_energy()
    assert 0.3 < atoms.calc.results["magmom"] < 1.1 and tuple(atoms.pbc) == (True, True, True)
    bcc = bulk_na()
    bcc.calc = calc
    assert np.isfinite(bcc.get_potential_energy())


def bulk_na():
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_atoms(load_bulk("Na").structure.copy().remove_oxidation_states())


def test_an_scf_whose_density_error_stalls_is_ended_before_its_iteration_budget(tmp_path):
    """A density criterion no SCF reaches (1e-16, below round-off): the rung ends once its error stops falling
    (ScfStall), not after its 200 iterations, and the next rung (a reachable criterion here) converges."""
    from seiscreen.calculators import ScfRetryCalculator

    params = {**get_preset("gpaw-test").parameters, "maxiter": 200,
              "convergence": {"energy": 1e-3, "density": 1e-16}}
    atoms = _tiny_naf_with_adatom()
    atoms.calc = ScfRetryCalculator(params, tmp_path, stall_window=5, retries=(
        {"maxiter": 200, "convergence": {"energy": 1e-3, "density": 1e-4}},))
    assert np.isfinite(atoms.get_potential_energy())
    (failed,) = atoms.calc.history
    # Ended by the hook (running out of iterations ends with no message), 5 iterations after its lowest error.
    assert failed.startswith("rung 0: SCF not converged (density error stalled at 10^-1") and atoms.calc.rung == 1


def test_the_stall_hook_ends_only_an_scf_that_stopped_improving():
    from types import SimpleNamespace

    from gpaw import KohnShamConvergenceError

    from seiscreen.calculators import ScfStall

    stall = ScfStall(window=10, decades=0.1)
    def step(niter, error):  # what GPAW's SCF loop hands its hook, per electron
        from gpaw.mpi import serial_comm

        stall(SimpleNamespace(niter=niter, dens=SimpleNamespace(error=error * 8),
                              wfs=SimpleNamespace(nvalence=8, world=serial_comm)))

    for niter, error in enumerate(10.0 ** -np.linspace(1, 8, 120), start=1):  # converging, slowly: never ended
        step(niter, error)
    hovering = [1e-2, 1e-3] + [10.0 ** -(3.6 + 0.35 * (k % 2)) for k in range(30)]  # 10^-3.6 .. 10^-3.95
    with pytest.raises(KohnShamConvergenceError, match="stalled at 10\\^-3.95"):
        for niter, error in enumerate(hovering, start=1):  # a new SCF: niter starts again at 1
            step(niter, error)
    assert niter == 14  # 10 iterations without a new lowest error after the first 10^-3.95


@pytest.mark.parametrize("own_process", [False, True])
def test_an_atom_at_the_cells_open_face_is_atoms_left_cell_not_a_crash(tmp_path, own_process):
    # GPAW's GridBoundsError (an atom's basis box crosses the non-periodic face): on Na(110) it stopped a whole
    # minima search. It is the geometry's, in this process or a calculator process: a relaxation judges its last
    # state, a hop is stored as failed; the calculator computes the next geometry as before.
    from seiscreen.errors import AtomsLeftCell
    from seiscreen.parallel import ParallelSettings, SubprocessCalculator

    preset = get_preset("gpaw-test")
    atoms = _tiny_naf_with_adatom()
    if own_process:
        preset.prepare(atoms)
        atoms.calc = SubprocessCalculator(preset, tmp_path, ParallelSettings(images_at_once=2))
    else:
        atoms.calc = preset.make(atoms, tmp_path)
    inside = atoms.positions[-1].copy()
    atoms.positions[-1, 2] = atoms.cell[2, 2] - 0.3
    with pytest.raises(AtomsLeftCell, match="non-periodic face"):
        atoms.get_potential_energy()
    atoms.positions[-1] = inside
    assert np.isfinite(atoms.get_potential_energy())
    if own_process:
        atoms.calc.close()
