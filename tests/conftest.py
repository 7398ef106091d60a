"""Shared fixtures: stand-in chemistry for EMT (Au adatom on Al(100)) and catalog slabs."""

from __future__ import annotations

import warnings

import pytest
from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen.catalog import make_bulk

warnings.filterwarnings("ignore", module="pymatgen")


@pytest.fixture(scope="session")
def aluminium():
    """fcc Al at ASE's EMT-friendly lattice constant: the host of ASE's classic Au-on-Al(100) NEB."""
    return make_bulk("Al", AseAtomsAdaptor.get_structure(bulk("Al", "fcc", a=4.05)), {"Al": 0})
