"""The band engine on its own, with no jobflow and no store: a level's calculators, checkpoint files that only
resume their own band, the slide check of a hop's ends, and one band run and resumed."""

from __future__ import annotations

import numpy as np
import pytest

from seiscreen.bands import BandFiles, CalculatorLevel, relaxed_hop_ends, run_band
from seiscreen.calculators import get_preset
from seiscreen.neb import NebProtocol
from seiscreen.surfaces.symmetry import SurfaceSymmetry

EMT = CalculatorLevel(get_preset("emt"))


def test_a_band_runs_and_its_checkpoint_only_resumes_the_same_band(au_on_al100_hop_ends, tmp_path):
    """The checkpoint a band writes names its band (``meta["hop_hash"]``): another band's files, or files of
    another image count, are not resumed; the same band's are, and it finishes where an unbroken run did."""
    initial, final = au_on_al100_hop_ends
    protocol = NebProtocol(n_images=3)
    path = tmp_path / "band.npz"
    files = BandFiles([path], meta={"hop_hash": "this-hop"})
    whole = run_band(EMT, initial, final, protocol, tmp_path, files)
    assert whole.status == "accepted" and path.exists()  # the last state stays until the caller removes it
    assert BandFiles([path], meta={"hop_hash": "another-hop"}).load(3, len(initial)) is None
    assert BandFiles([path], meta={"hop_hash": "this-hop"}).load(5, len(initial)) is None
    saved = files.load(3, len(initial))
    assert saved is not None and saved.meta["hop_hash"] == "this-hop"
    resumed = run_band(EMT, initial, final, protocol, tmp_path, BandFiles(), resume=saved)
    assert resumed.forward_barrier == pytest.approx(whole.forward_barrier, abs=1e-6)
    files.remove()
    assert not path.exists()


def test_an_end_placed_off_its_minimum_slides_and_fails_the_hop(au_on_al100_hop_ends, tmp_path):
    """An end put onto an Al top site (a maximum of EMT) relaxes into a hollow: more than the slide tolerance from
    where it was put, so the hop is refused with why; well-placed ends pass and come back unwrapped."""
    initial, final = au_on_al100_hop_ends
    symmetry = SurfaceSymmetry.trivial(initial.cell.array)
    frac = [initial.cell.scaled_positions(a.positions[-1:])[0, :2] for a in (initial, final)]
    ends = relaxed_hop_ends(EMT, ((initial.copy(), frac[0]), (final.copy(), frac[1])), tuple(frac), symmetry,
                            fmax=0.05, max_steps=200, slide_tolerance=0.3, run_dir=tmp_path)
    assert ends.failure == "" and max(ends.endpoints["start_slide"], ends.endpoints["end_slide"]) < 0.3
    assert ends.force_calls >= 2  # at their minima already: one evaluation each, or a few steps
    on_top = final.copy()
    on_top.positions[-1, :2] = on_top.positions[-5, :2] + 0.05  # above an Al atom of the top plane, just off it
    on_top.positions[-1, 2] = on_top.positions[-5, 2] + 2.5
    put = on_top.cell.scaled_positions(on_top.positions[-1:])[0, :2]
    slid = relaxed_hop_ends(EMT, ((initial.copy(), frac[0]), (on_top, put)), (frac[0], put), symmetry,
                            fmax=0.05, max_steps=200, slide_tolerance=0.3, run_dir=tmp_path)
    assert "slid" in slid.failure and slid.endpoints["end_slide"] > 0.3
    assert np.isfinite(slid.endpoints["end_energy"])
    assert slid.force_calls > ends.force_calls + 5  # the slide from the top site into a hollow took steps, counted
