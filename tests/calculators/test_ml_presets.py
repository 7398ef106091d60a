"""Every ML preset whose weights ship in its wheel builds offline and gives its model's own energy."""

import pytest
from ase.build import bulk

from seiscreen.calculators import PRESETS, get_preset

pytestmark = pytest.mark.slow
SEVENNET = [name for name, preset in PRESETS.items() if preset.code == "sevennet"]


@pytest.mark.parametrize("name", SEVENNET)
def test_every_sevennet_preset_loads_offline_and_is_its_model(name):
    pytest.importorskip("sevenn")
    from sevenn.calculator import SevenNetCalculator

    atoms = bulk("NaCl", "rocksalt", a=5.64)
    atoms.calc = get_preset(name).make(atoms)
    params = dict(get_preset(name).parameters)
    direct = bulk("NaCl", "rocksalt", a=5.64)
    direct.calc = SevenNetCalculator(params.pop("model"), device="cpu", **params)
    assert atoms.get_potential_energy() == pytest.approx(direct.get_potential_energy(), abs=1e-6)


def test_the_multi_fidelity_heads_differ():
    pytest.importorskip("sevenn")
    energies = []
    for name in ("sevennet-mf0", "sevennet-mf0-r2scan"):
        atoms = bulk("NaCl", "rocksalt", a=5.64)
        atoms.calc = get_preset(name).make(atoms)
        energies.append(atoms.get_potential_energy())
    assert abs(energies[0] - energies[1]) > 1.0  # r2SCAN and PBE total energies differ by eV per cell
