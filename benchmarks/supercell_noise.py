"""How many equivalent supercells `choose_supercell` picks when the surface basis carries rounding noise.

The primitive surface basis comes out of pymatgen with last-bit differences between machines; a hexagonal or square
net has several equally good reduced supercells, and the tie is decided by that noise. Run:
``PYTHONPATH=src python benchmarks/supercell_noise.py`` (docs/notes/2026-12-07-supercell-noise.md).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from seiscreen.surfaces.slabs import choose_supercell

A = 5.176021638285527  # NaIn(111)'s primitive surface vector, Å
HEXAGONAL = (np.array([[A, 0.0], [A / 2, A * np.sqrt(3) / 2]]),
             np.array([[[1, 0], [0, 1]], [[0, -1], [1, -1]], [[-1, 1], [-1, 0]],
                       [[0, -1], [-1, 0]], [[-1, 1], [0, 1]], [[1, 0], [1, -1]]]))
SQUARE = (np.array([[4.6, 0.0], [0.0, 4.6]]),
          np.array([[[1, 0], [0, 1]], [[0, -1], [1, 0]], [[-1, 0], [0, -1]], [[0, 1], [-1, 0]]]))


def choices(basis: np.ndarray, rotations: np.ndarray, noise: float, trials: int = 200, seed: int = 0) -> Counter:
    """The supercell matrices chosen for ``trials`` copies of ``basis`` with Gaussian noise of ``noise`` Å."""
    rng = np.random.default_rng(seed)
    return Counter(choose_supercell(basis + rng.normal(scale=noise, size=(2, 2)), 9.0, rotations=rotations)
                   for _ in range(trials))


if __name__ == "__main__":
    for name, (basis, rotations) in {"hexagonal": HEXAGONAL, "square": SQUARE}.items():
        for noise in (0.0, 1e-15, 1e-13):
            found = choices(basis, rotations, noise)
            print(f"{name:9s} noise {noise:7.0e} Å: {len(found)} distinct supercells in 200 trials {dict(found)}")
