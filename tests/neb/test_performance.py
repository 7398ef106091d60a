"""Performance levers change no result: the NEB levers keep the barrier, batched ML inference keeps the forces.

Speed itself is measured by benchmarks/ (neb_force_calls.py, batched_ml.py), never asserted on time here.
"""

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc100, fcc111
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms
from ase.mep import NEB
from ase.optimize import BFGS

from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.neb import NebCheckpoint, NebProtocol, find_band_mirror, run_neb, with_fixed_results
from seiscreen.surfaces.symmetry import SurfaceSymmetry


@pytest.fixture(scope="module")
def usual(au_on_al_ends):
    return _usual_recipe(*au_on_al_ends)


def _usual_recipe(initial, final):
    """ASE's usual CI-NEB: linear interpolation, 5 images, climbing from the start, BFGS; evaluations counted."""
    calls = []
    images = [with_fixed_results(initial), *(initial.copy() for _ in range(5)), with_fixed_results(final)]
    for image in images[1:-1]:
        image.calc = EMT()
        compute = image.calc.calculate
        image.calc.calculate = lambda *a, _c=compute, **k: calls.append(1) or _c(*a, **k)
    band = NEB(images, climb=True, method="improvedtangent")
    band.interpolate()
    assert BFGS(band, logfile=None).run(fmax=0.05, steps=500)
    energies = [im.get_potential_energy() for im in images]
    return max(energies) - energies[0], len(calls)


@pytest.mark.parametrize("levers", [
    {},  # the defaults: IDPP, two stages, BFGS with a soft initial Hessian, DyNEB
    {"dynamic": False},
    {"optimizer_alpha": 70.0, "dynamic": False},  # ASE's BFGS
    {"interpolation": "linear"},
    {"n_images": 3},
    {"optimizer": "FIRE", "dynamic": False},
])
def test_neb_levers_keep_the_barrier_of_the_usual_recipe(au_on_al_ends, usual, levers):
    usual_barrier, usual_calls = usual
    result = run_neb(*au_on_al_ends, lambda k, image: EMT(), NebProtocol(**levers))
    assert result.status == "accepted"
    assert result.forward_barrier == pytest.approx(usual_barrier, abs=0.01)
    # Converged for real: the climbing band's largest force at the final positions (cached, no new call).
    band = NEB(result.images, climb=True, method="improvedtangent")
    assert np.sqrt((band.get_forces() ** 2).sum(axis=1)).max() <= 0.05 + 1e-9
    if not levers:
        assert result.force_calls < usual_calls  # the point of the defaults (ratio: benchmarks/neb_force_calls.py)


def test_dynamic_relaxation_skips_converged_images(au_on_al_ends):
    """DyNEB does not recompute images already below fmax: fewer evaluations than moving every image every step."""
    per_image = []
    result = run_neb(*au_on_al_ends, lambda k, image: _counted_emt(per_image, k), NebProtocol())
    steps = result.steps_plain + result.steps_climb + 2  # each stage evaluates its start
    assert sum(per_image) == result.force_calls < steps * 5


def test_a_stalled_band_starts_its_optimiser_again(au_on_al_ends, usual, monkeypatch, stiff_bfgs):
    # Stand-in for a DFT band whose SCF jumps taught BFGS a useless Hessian: the band's optimiser starts so stiff
    # that it moves 1e-4 Å a step and learns nothing, until run_neb sees the stall and resets it.
    from seiscreen import neb

    Stiff, resets = stiff_bfgs()
    monkeypatch.setitem(neb.OPTIMIZERS, "BFGS", Stiff)
    result = run_neb(*au_on_al_ends, lambda k, image: EMT(), NebProtocol(dynamic=False))
    # Reset after one window of 20 steps (41 plain steps here); without the reset the plain stage used all 200.
    assert result.steps_plain < 60 and len(resets) == 3 and result.status == "accepted"
    assert result.forward_barrier == pytest.approx(usual[0], abs=0.01)


def test_a_band_that_went_round_the_cell_is_stopped_not_relaxed(au_on_al_ends):
    # The cold GPAW NaF(100) band spent 297 calls converging on the path to a copy of its end one cell over.
    # Once round, ASE's minimum-image springs keep it there, so run_neb stops it at its next window.
    initial, final = au_on_al_ends
    copy = final.positions.copy()
    copy[-1] -= initial.cell[0]  # the end's adatom one cell back along x
    round_the_cell = [initial.positions + (copy - initial.positions) * k / 6 for k in range(1, 6)]
    result = run_neb(initial, final, lambda k, image: EMT(), NebProtocol(), initial_band=round_the_cell)
    assert result.status == "failed" and "round the cell" in result.reason
    assert result.steps_plain == result.steps_climb == 0 and result.force_calls == 5  # only the judging


def _slab_symmetry(slab) -> SurfaceSymmetry:
    return SurfaceSymmetry.from_structure(AseAtomsAdaptor.get_structure(slab))


@pytest.fixture(scope="module")
def au_on_al_mirror(au_on_al_ends):
    """The hollow-to-hollow hop is its own mirror image: the mirror through the bridge swaps its ends."""
    slab = fcc100("Al", size=(3, 3, 4), a=4.05, vacuum=10.0)
    slab.set_constraint(FixAtoms(mask=slab.get_tags() > 2))
    mirror = find_band_mirror(*au_on_al_ends, _slab_symmetry(slab))
    assert mirror is not None and mirror.residual < 0.01
    return mirror


def test_a_symmetric_hop_computes_half_its_band_for_the_same_barrier(au_on_al_ends, au_on_al_mirror):
    """The band's second half is served as the first half's mirror copy; once converged, every image is computed
    and the band converged again unmirrored: the barrier of the band computed in full, for fewer force calls."""
    full_calls, half_calls = [], []
    full = run_neb(*au_on_al_ends, lambda k, image: _counted_emt(full_calls, k), NebProtocol())
    half = run_neb(*au_on_al_ends, lambda k, image: _counted_emt(half_calls, k), NebProtocol(),
                   mirror=au_on_al_mirror)
    assert half.mirrored and not full.mirrored and half.status == full.status == "accepted"
    assert half.forward_barrier == pytest.approx(full.forward_barrier, abs=0.002)
    assert sum(half_calls) == half.force_calls < 0.8 * full.force_calls
    # The mirrored images (4 and 5) were made only for the final check, and computed there once each.
    assert len(half_calls) == 5 and half_calls[3:] == [1, 1]
    band = NEB(half.images, climb=True, method="improvedtangent")
    assert np.sqrt((band.get_forces() ** 2).sum(axis=1)).max() <= 0.05 + 1e-9
    assert half.energies[-1] == half.energies[0]  # the end is the start's exact copy
    off = run_neb(*au_on_al_ends, lambda k, image: EMT(), NebProtocol(mirror=False), mirror=au_on_al_mirror)
    assert not off.mirrored and off.force_calls == full.force_calls


def test_a_mirrored_band_resumed_from_any_checkpoint_costs_no_more_than_the_unbroken_one(tmp_path, au_on_al_ends,
                                                                                          au_on_al_mirror):
    """The checkpoint keeps the mirror and which images were copies: a resumed band goes on serving them."""
    paths = []

    def save(state):
        paths.append(tmp_path / f"ck{len(paths):03d}.npz")
        state.save(paths[-1])

    unbroken = run_neb(*au_on_al_ends, lambda k, image: EMT(), NebProtocol(), mirror=au_on_al_mirror, checkpoint=save)
    assert unbroken.mirrored and NebCheckpoint.load(paths[1]).mirrored_images  # copies at that step
    for path in (paths[1], paths[len(paths) // 2], paths[-2]):
        checkpoint = NebCheckpoint.load(path)
        initial, final = (checkpoint.images(au_on_al_ends[0])[k] for k in (0, -1))
        resumed = run_neb(initial, final, lambda k, image: EMT(), NebProtocol(), resume=checkpoint)
        assert resumed.force_calls <= unbroken.force_calls
        assert resumed.forward_barrier == pytest.approx(unbroken.forward_barrier, abs=1e-6)
        assert resumed.mirrored == bool(checkpoint.mirrored_images)


def test_a_band_that_leaves_its_mirror_symmetry_is_computed_in_full_from_there(au_on_al_ends, au_on_al_mirror):
    # Four images have no middle one: the two highest are a mirror pair, the climbing image is one of them, and
    # the band stops being symmetric once it climbs. Its mirrored images are then computed like the others.
    calls = []
    result = run_neb(*au_on_al_ends, lambda k, image: _counted_emt(calls, k), NebProtocol(n_images=4),
                     mirror=au_on_al_mirror)
    full = run_neb(*au_on_al_ends, lambda k, image: EMT(), NebProtocol(n_images=4))
    assert result.mirrored and result.status == "accepted"
    assert result.forward_barrier == pytest.approx(full.forward_barrier, abs=0.005)
    assert len(calls) == 4 and min(calls[2:]) > 1  # the mirrored pair computed for several steps


def test_an_asymmetric_hop_has_no_mirror():
    """fcc to hcp on (111): no operation of the slab swaps the two sites (one has an atom below, one not)."""
    slab = fcc111("Al", size=(3, 3, 4), a=4.05, vacuum=10.0)
    slab.set_constraint(FixAtoms(mask=slab.get_tags() > 2))
    ends = []
    for site in ("fcc", "hcp"):
        end = slab.copy()
        add_adsorbate(end, "Au", 1.7, site)
        end.calc = EMT()
        BFGS(end, logfile=None).run(fmax=0.02)
        ends.append(end)
    assert find_band_mirror(*ends, _slab_symmetry(slab)) is None


def _counted_emt(per_image: list, k: int) -> EMT:
    per_image.append(0)
    index = len(per_image) - 1
    calc = EMT()
    compute = calc.calculate

    def counted(*args, **kwargs):
        per_image[index] += 1
        return compute(*args, **kwargs)

    calc.calculate = counted
    return calc


@pytest.mark.slow
def test_batched_chgnet_gives_the_per_image_forces_in_one_model_call_per_band_step():
    from seiscreen.batched import BandBatch
    from seiscreen.calculators import get_preset
    from seiscreen.catalog import load_bulk
    from seiscreen.surfaces.sites import candidate_sites, placed
    from seiscreen.surfaces.slabs import SlabSettings, make_terminations

    (term,) = make_terminations(load_bulk("NaF"), (1, 0, 0), SlabSettings(min_thickness=4.0, min_lateral_size=6.5))
    slab = term.to_atoms()
    site = candidate_sites(slab)[0].position
    rng = np.random.default_rng(1)
    images = []
    for k in range(5):  # five different structures, as along a band
        image = placed(slab, site + [0.4 * k, 0.2 * k, 0.0])
        image.positions += rng.normal(0, 0.03, image.positions.shape)
        images.append(image)
    preset = get_preset("ml")
    reference = []
    for image in images:
        single = image.copy()
        single.calc = preset.make()
        reference.append((single.get_potential_energy(), single.get_forces()))

    batch = BandBatch.for_preset(preset)
    for k, image in enumerate(images):
        image.calc = batch.image_calculator(k, image)
    for _ in range(2):  # the second pass is served from the images' caches
        for image, (energy, forces) in zip(images, reference, strict=True):
            assert image.get_potential_energy() == pytest.approx(energy, abs=1e-4)
            assert np.abs(image.get_forces() - forces).max() < 1e-4  # eV/Å: float32 round-off
    assert (batch.model_calls, batch.evaluations) == (1, 5)
    # A band step moves some images: only those are evaluated, together.
    images[1].positions[-1, 0] += 0.05
    images[3].positions[-1, 0] += 0.05
    moved = images[3].get_forces()
    assert (batch.model_calls, batch.evaluations) == (2, 7)
    single = images[3].copy()
    single.calc = preset.make()
    assert np.abs(moved - single.get_forces()).max() < 1e-4
    images[1].get_forces()
    assert batch.model_calls == 2  # image 1 was computed in the same call


def test_batched_refuses_other_presets_with_a_message():
    from seiscreen.batched import BandBatch
    from seiscreen.calculators import get_preset
    from seiscreen.errors import SeiscreenError

    with pytest.raises(SeiscreenError, match="CHGNet presets only"):
        BandBatch.for_preset(get_preset("emt"))
