"""A file-based calculator for the user-preset tests: ASE's FileIOCalculator runs a script that reads the
positions from a file and writes EMT's energy, forces and stress to another, as a DFT code would."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np
from ase.calculators.calculator import FileIOCalculator

INPUT, OUTPUT, LOG = "structure.json", "results.json", "calls.log"

# The "code": written into a test's folder and run in the calculator's folder, once per calculation.
SCRIPT = '''\
import json, sys
from pathlib import Path
from ase import Atoms
from ase.calculators.emt import EMT

data = json.loads(Path(sys.argv[1]).read_text())
atoms = Atoms(numbers=data["numbers"], positions=data["positions"], cell=data["cell"], pbc=data["pbc"])
atoms.calc = EMT()
results = {"energy": atoms.get_potential_energy(), "free_energy": atoms.get_potential_energy(force_consistent=True),
           "forces": atoms.get_forces().tolist(), "stress": atoms.get_stress().tolist()}
Path(sys.argv[2]).write_text(json.dumps(results))
with open("calls.log", "a") as log:
    log.write("one calculation\\n")
'''


class FileEMT(FileIOCalculator):
    """EMT through files: ``structure.json`` in, ``results.json`` out, by the script ``script``."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]
    name = "fileemt"

    def __init__(self, script: str, directory: str = ".", **kwargs):
        command = f"{shlex.quote(sys.executable)} {shlex.quote(script)} {INPUT} {OUTPUT}"
        super().__init__(directory=directory, command=command, **kwargs)

    def write_input(self, atoms, properties=None, system_changes=None):
        super().write_input(atoms, properties, system_changes)  # makes the folder
        data = {"numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist(),
                "cell": atoms.cell.array.tolist(), "pbc": atoms.pbc.tolist()}
        Path(self.directory, INPUT).write_text(json.dumps(data))  # floats written exactly (repr round-trips)

    def read_results(self):
        data = json.loads(Path(self.directory, OUTPUT).read_text())
        self.results = {"energy": data["energy"], "free_energy": data["free_energy"],
                        "forces": np.array(data["forces"]), "stress": np.array(data["stress"])}


def file_emt(script: str, directory: str = ".") -> FileEMT:
    """The factory a user preset names: ``tests.calculators.fileio_emt:file_emt``."""
    return FileEMT(script, directory=directory)


def not_a_calculator(**parameters) -> dict:
    """A factory that returns something else (a bad definition)."""
    return dict(parameters)
