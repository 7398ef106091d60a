"""The NEB start band (interpolate_band): geometry only, no calculator.

Na2Se(100) hop m6-m6 (review store, 2026-11-26): the two ends are mirror copies of a minimum whose adatom is stored
in a neighbouring cell, and a slab Na moves 4.7 Å between them. IDPP without the minimum-image convention did not
see the adatom across the cell boundary and drove that Na 1.18 Å past it (+23 eV). The same situation in a small
synthetic cell: the adatom sits over the path of a moving slab atom, but is stored one cell vector away.
"""

import numpy as np
from ase import Atoms
from ase.mep import NEB

from seiscreen.neb import NebProtocol, interpolate_band

CELL = 8.0


def _ends(adatom_offset=(-CELL, CELL, 0.0)):
    """A 'slab' of four fixed-ish atoms, one slab atom moving 5 Å along y under the adatom, and the adatom
    (last) moving 0.6 Å along y, stored one cell away in x and y (as a symmetry-copied minimum can be)."""
    slab = [(1.0, 1.0, 5.0), (5.0, 1.0, 5.0), (1.0, 5.0, 5.0), (5.0, 5.0, 5.0)]
    offset = np.array(adatom_offset)
    start = Atoms("Na6", positions=[*slab, (4.0, 1.5, 6.0), np.array([4.0, 3.7, 7.2]) + offset],
                  cell=[CELL, CELL, 15.0], pbc=True)
    end = start.copy()
    end.positions[4] = (4.0, 6.5, 6.0)
    end.positions[5] = np.array([4.0, 4.3, 7.2]) + offset
    return start, end


def _adatom_clearance(images):
    """Closest periodic distance from the adatom (last atom) to any other atom, per image."""
    return [float(im.get_distances(len(im) - 1, range(len(im) - 1), mic=True).min()) for im in images]


def test_idpp_start_keeps_the_ends_clearance_across_the_cell_boundary():
    start, end = _ends()
    ends_clearance = min(_adatom_clearance([start, end]))
    images = interpolate_band(start, end, NebProtocol(n_images=5, interpolation="idpp"))
    clearance = _adatom_clearance(images)
    assert min(clearance) > 0.75 * ends_clearance, clearance

    # What the band looked like before (IDPP blind to the adatom's periodic copy): the slab atom runs into it.
    old = [start.copy() for _ in range(6)] + [end.copy()]
    NEB(old, method="improvedtangent").interpolate(method="idpp")
    assert min(_adatom_clearance(old)) < 0.5 * ends_clearance


def test_idpp_start_is_the_same_wherever_the_adatom_is_stored():
    """Storing the adatom in another periodic cell must not change the band (up to that lattice vector)."""
    protocol = NebProtocol(n_images=5, interpolation="idpp")
    wrapped = interpolate_band(*_ends((0.0, 0.0, 0.0)), protocol)
    unwrapped = interpolate_band(*_ends(), protocol)
    for a, b in zip(wrapped, unwrapped, strict=True):
        shift = b.positions - a.positions
        assert np.allclose(shift[:-1], 0.0, atol=1e-6)
        assert np.allclose(shift[-1], (-CELL, CELL, 0.0), atol=1e-6)


def test_long_hop_keeps_its_unwrapped_direction():
    """A hop longer than half the cell (ends unwrapped on purpose) is not shortened the other way round."""
    atoms = Atoms("Na3", positions=[(0.0, 0.0, 5.0), (0.0, 4.0, 5.0), (1.0, 1.0, 7.5)], cell=[6.0, 8.0, 15.0],
                  pbc=True)
    end = atoms.copy()
    end.positions[-1] = (4.6, 1.0, 7.5)  # 3.6 Å along +x: the minimum image would go 2.4 Å along -x
    images = interpolate_band(atoms, end, NebProtocol(n_images=3, interpolation="idpp"))
    x = [im.positions[-1, 0] for im in images]
    assert all(b > a for a, b in zip(x[:-1], x[1:], strict=True)), x
    assert abs(x[2] - 2.8) < 0.5, x


def test_linear_start_unchanged():
    start, end = _ends()
    images = interpolate_band(start, end, NebProtocol(n_images=3, interpolation="linear"))
    for k, im in enumerate(images):
        assert np.allclose(im.positions, start.positions + k / 4 * (end.positions - start.positions))
