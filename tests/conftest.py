"""Shared fixtures: stand-in chemistry for EMT (Au adatom on Al(100)) and catalog slabs."""

from __future__ import annotations

import warnings

import pytest
from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.catalog import make_bulk

warnings.filterwarnings("ignore", module="pymatgen")


@pytest.fixture
def killed_saved_rerun(monkeypatch):
    """``killed_saved_rerun(store, uuid, dies, **options)``: ``rerun_hop(store, uuid, save=True, **options)`` on a
    node lost mid-run, the NEB checkpoint write for which ``dies(checkpoint, path)`` is true raising; nothing is
    saved, and the store's checkpoints are what the next rerun resumes from."""
    from pathlib import Path

    from seiscreen.errors import SeiscreenError
    from seiscreen.neb import NebCheckpoint
    from seiscreen.reproduce import rerun_hop

    real_save = NebCheckpoint.save

    def run(store, uuid, dies, **options):
        def save(checkpoint, path):
            if dies(checkpoint, Path(path)):
                raise RuntimeError("node lost (test)")
            real_save(checkpoint, path)

        with monkeypatch.context() as patch:
            patch.setattr(NebCheckpoint, "save", save)
            patch.setattr("seiscreen.bands.run.CHECKPOINT_SECONDS", 0.0)  # EMT steps take ms: save every one here
            with pytest.raises(SeiscreenError, match="failed and nothing was saved"):
                rerun_hop(store, uuid, save=True, **options)

    return run


@pytest.fixture(scope="session")
def aluminium():
    """fcc Al at ASE's EMT-friendly lattice constant: the host of ASE's classic Au-on-Al(100) NEB."""
    return make_bulk("Al", AseAtomsAdaptor.get_structure(bulk("Al", "fcc", a=4.05)), {"Al": 0})


@pytest.fixture
def au_on_al100_hop_ends():
    """ASE's classic hop written from scratch: Au from one hollow of a 2x2x4 Al(100) slab (lower two planes fixed)
    to the next, both ends relaxed with EMT. Returns (initial, final)."""
    import numpy as np
    from ase.build import add_adsorbate, fcc100
    from ase.calculators.emt import EMT
    from ase.constraints import FixAtoms
    from ase.optimize import BFGS

    def endpoint(shift):
        slab = fcc100("Al", size=(2, 2, 4), a=4.05, vacuum=10.0)
        slab.set_constraint(FixAtoms(mask=slab.positions[:, 2] < slab.positions[:, 2].min() + 2.5))
        add_adsorbate(slab, "Au", 1.7, "hollow")
        slab.positions[-1, 0] += shift
        slab.calc = EMT()
        BFGS(slab, logfile=None).run(fmax=0.01)
        return slab

    return endpoint(0.0), endpoint(4.05 / np.sqrt(2))



@pytest.fixture
def stiff_bfgs():
    """Makes a BFGS stand-in for one that learnt a useless Hessian across DFT SCF jumps: until its first reset
    (``initialize`` called again) it moves 1e-4 Å a step and learns nothing. Each call: a fresh (class, resets)."""
    from ase.optimize import BFGS

    def make():
        resets = []

        class Stiff(BFGS):
            def initialize(self):
                super().initialize()
                resets.append(self)
                if len(resets) == 1:
                    self.H0 = self.H0 / self.alpha * 1e4

            def update(self, pos, forces, pos0, forces0):
                if len(resets) > 1 or self.state is None:
                    super().update(pos, forces, pos0, forces0)

        return Stiff, resets

    return make


@pytest.fixture(scope="session")
def au_on_al_ends():
    """A Au adatom on a 3x3x4 Al(100) slab (top two layers free): hollow and the neighbouring hollow."""
    import numpy as np
    from ase.build import add_adsorbate, fcc100
    from ase.calculators.emt import EMT
    from ase.constraints import FixAtoms
    from ase.optimize import BFGS

    ends = []
    for shift in (0.0, 4.05 / np.sqrt(2)):
        slab = fcc100("Al", size=(3, 3, 4), a=4.05, vacuum=10.0)
        slab.set_constraint(FixAtoms(mask=slab.get_tags() > 2))
        add_adsorbate(slab, "Au", 1.7, "hollow")
        slab.positions[-1, 0] += shift
        slab.calc = EMT()
        BFGS(slab, logfile=None).run(fmax=0.02)
        ends.append(slab)
    return ends
