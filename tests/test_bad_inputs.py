"""Bad input, one clear error each: the message names the problem and the fix, the CLI exits with status 2, and
the store is left byte for byte as it was. The table in docs/reliability.md lists the same cases."""

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from seiscreen.cli import app
from seiscreen.errors import SeiscreenError

runner = CliRunner()
CAMPAIGN = "name: t\ncalculator: emt\nadsorbate: Au\nmaterials:\n  - material: Al\n"
SMALL_SLAB = "slab:\n  min_thickness: 5.0\n  vacuum: 10.0\n  min_lateral_size: 5.5\n"
GOOD_CIF = """data_NaCl
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0.0 0.0 0.0
Cl1 Cl 0.5 0.5 0.5
"""
OVERLAPPING_CIF = GOOD_CIF + "Na2 Na 0.01 0.0 0.0\n"


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory):
    """A store holding one document, written by another process (so every SQLite file is closed and final)."""
    path = tmp_path_factory.mktemp("stores") / "store"
    code = ("import sys; from seiscreen.store import open_store; s = open_store(sys.argv[1]); "
            "s.docs_store.update({'uuid': 'u1', 'index': 1, 'output': {'doc_type': 'marker'}}, key=['uuid'])")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return path


def fingerprint(path: Path) -> dict:
    """Every file under ``path`` with the hash of its bytes (or the bytes of ``path`` itself)."""
    if path.is_file():
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(path.rglob("*"))}


def _campaign(tmp, text):
    (tmp / "c.yaml").write_text(text)
    return ["run", str(tmp / "c.yaml"), "--store", str(tmp / "store")]


def _cif(tmp, text, name):
    (tmp / name).write_text(text)
    return _campaign(tmp, CAMPAIGN.replace("material: Al", f"material: {tmp / name}") + SMALL_SLAB)


def _no_gpaw(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == "gpaw" else real(name, *a,
                                                                                                            **k))


def _corrupt(tmp):
    for db_file in (tmp / "store").glob("seiscreen/*.collection"):
        db_file.write_bytes(b"this is not an SQLite database" * 10)
    return _campaign(tmp, CAMPAIGN + SMALL_SLAB)


def _store_under_a_file(tmp):
    (tmp / "plain-file").write_text("x")
    (tmp / "c.yaml").write_text(CAMPAIGN + SMALL_SLAB)
    return ["run", str(tmp / "c.yaml"), "--store", str(tmp / "plain-file" / "store")]


def _store_is_a_file(tmp):
    shutil.rmtree(tmp / "store")
    (tmp / "store").write_text("not a folder")
    return _campaign(tmp, CAMPAIGN + SMALL_SLAB)


# (id, how to build the command line in tmp_path, what the one line must say: problem and fix)
CASES = [
    ("unknown material", lambda t: _campaign(t, CAMPAIGN.replace("Al", "NaQ")),
     ["unknown material 'NaQ'", "seiscreen materials"]),
    ("misspelt material", lambda t: _campaign(t, CAMPAIGN.replace("Al", "NaFF")),
     ["unknown material 'NaFF'", "or a path to a CIF file"]),
    ("cif does not parse", lambda t: _cif(t, "data_x\nthis is not a cif\n", "bad.cif"),
     ["cannot read a crystal structure", "check it is a valid CIF"]),
    ("overlapping atoms", lambda t: _cif(t, OVERLAPPING_CIF, "overlap.cif"),
     ["overlap", "fix the coordinates or remove duplicate sites"]),
    ("only polar terminations", lambda t: _campaign(t, CAMPAIGN.replace("Al", "NaF") + "    facets: [[1, 1, 1]]\n"),
     ["every termination is polar", "choose another Miller index"]),
    ("miller all zero", lambda t: _campaign(t, CAMPAIGN + "    facets: ['000']\n"),
     ["Miller index", "e.g. [1, 0, 0]"]),
    ("unknown termination id", lambda t: _campaign(t, CAMPAIGN + "    terminations: [nope]\n" + SMALL_SLAB),
     ["no termination 'nope' (there are 100-s0.250)", "fix 'terminations'", "seiscreen slabs Al 100"]),
    ("facet listed twice", lambda t: _campaign(t, CAMPAIGN + "    facets: [[1, 0, 0], '100']\n" + SMALL_SLAB),
     ["Al (1, 0, 0) is listed twice", "remove the duplicate"]),
    ("unknown adsorbate element", lambda t: _campaign(t, CAMPAIGN.replace("Au", "Xy") + SMALL_SLAB),
     ["unknown adsorbate element 'Xy'", "use a chemical symbol"]),
    ("a fidelity listed twice", lambda t: _campaign(t, CAMPAIGN.replace("calculator: emt\n", "")
                                                    + "fidelities: [ml, chgnet]\n" + SMALL_SLAB),
     ["list one preset twice", "list each preset once"]),
    ("elements the calculator cannot treat", lambda t: _campaign(t, CAMPAIGN.replace("Al", "NaF").replace("Au", "Na")),
     ["calculator preset 'emt' has no parameters for F, Na", "use an ML or GPAW preset"]),
    ("negative vacuum", lambda t: _campaign(t, CAMPAIGN + "slab:\n  vacuum: -5\n"),
     ["vacuum -5.0 Å is too small", "use at least 8 Å"]),
    ("tiny vacuum", lambda t: _campaign(t, CAMPAIGN + "slab:\n  vacuum: 3\n"), ["vacuum 3.0 Å is too small",
                                                                                 "use at least 8 Å"]),
    ("supercell too small for the adatom's images", lambda t: _campaign(t, CAMPAIGN + "slab:\n  min_lateral_size: 3\n"),
     ["supercell too small for the adatom", "set slab.min_lateral_size to at least 5"]),
    ("unknown calculator preset", lambda t: _campaign(t, CAMPAIGN.replace("emt", "vasp")),
     ["unknown calculator preset 'vasp'", "choose one of"]),
    ("gpaw requested, not installed", lambda t: _campaign(t, CAMPAIGN.replace("emt", "gpaw-lcao")),
     ["needs gpaw, which is not installed", "pip install"]),
    ("misspelt campaign key", lambda t: _campaign(t, CAMPAIGN + "slab:\n  vacum: 12\n"),
     ["unknown key 'slab.vacum'", "did you mean 'vacuum'"]),
    ("misspelt per-material slab key", lambda t: _campaign(t, CAMPAIGN + "    slab: {vacum: 12}\n"),
     ["unknown key 'materials.0.slab.vacum'", "did you mean 'vacuum'"]),
    ("misspelt minima key", lambda t: _campaign(t, CAMPAIGN + "minima:\n  fmaxx: 0.01\n"),
     ["unknown key 'minima.fmaxx'", "did you mean 'fmax'"]),
    ("unknown campaign key", lambda t: _campaign(t, CAMPAIGN + "walltime: 3h\n"),
     ["unknown key 'walltime'", "allowed keys are"]),
    ("empty campaign", lambda t: _campaign(t, "name: t\nmaterials: []\n"),
     ["lists no materials", "add at least one under 'materials'"]),
    ("empty campaign file", lambda t: _campaign(t, ""), ["holds no campaign", "expected a mapping"]),
    ("conflicting calculator and fidelities", lambda t: _campaign(t, CAMPAIGN + "fidelities: [ml, gpaw-lcao]\n"),
     ["conflicting settings: calculator 'emt' but fidelities start with 'ml'", "drop 'calculator' or list it first"]),
    ("top_k without fidelities", lambda t: _campaign(t, CAMPAIGN + "top_k: 2\n"),
     ["top_k without fidelities", "list at least two presets"]),
    ("cold_bands without fidelities", lambda t: _campaign(t, CAMPAIGN + "cold_bands: true\n"),
     ["cold_bands without fidelities", "list at least two presets"]),
    ("negative neb fmax", lambda t: _campaign(t, CAMPAIGN + "neb:\n  fmax: -0.05\n"),
     ["neb.fmax", "greater than 0"]),
    ("campaign file missing", lambda t: ["run", str(t / "nope.yaml"), "--store", str(t / "store")],
     ["campaign file", "not found", "pass the path of a YAML file"]),
    ("invalid yaml", lambda t: _campaign(t, "name: [unclosed\n"), ["is not valid YAML", "fix the file"]),
    ("store path not writable", _store_under_a_file, ["cannot create the store folder", "choose a writable place"]),
    ("store path is a file", _store_is_a_file, ["is a file, not a folder", "pass a folder with --store"]),
    ("corrupted store file", _corrupt, ["is not a valid database", "move the store folder aside"]),
    ("results of a store that does not exist", lambda t: ["results", "--store", str(t / "nothing-here")],
     ["no store at", "run a campaign first or pass --store"]),
]


@pytest.mark.parametrize("make_args, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line_exit_2_and_the_store_untouched(make_args, message, filled_store, tmp_path,
                                                                     monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(filled_store, tmp_path / "store")
    if "gpaw" in request.node.callspec.id:
        _no_gpaw(monkeypatch)
    args = make_args(tmp_path)
    before = fingerprint(tmp_path)
    result = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.startswith("error:") and "\n" not in line, line
    for part in message:
        assert part in line
    assert fingerprint(tmp_path) == before  # nothing created, nothing written: the store is as it was


def _slab_with_adatom():
    from ase.build import fcc100

    return fcc100("Al", size=(2, 2, 3), vacuum=8.0)


API_CASES = [
    # No CLI command places an adatom or chooses a hop by hand; these are the errors the API gives.
    ("adatom placed inside the slab",
     lambda: __import__("seiscreen.surfaces.sites", fromlist=["placed"]).placed(
         _slab_with_adatom(), _slab_with_adatom().positions[-1] - [0, 0, 1.0], "Au"),
     ["is inside the slab", "place it above the surface"]),
    ("hop whose ends are the same site", lambda: _same_site_hop(),
     ["the hop's two ends are the same site", "pick two different minima"]),
]


def _same_site_hop():
    from ase.calculators.emt import EMT

    from seiscreen.neb import NebProtocol, run_neb

    slab = _slab_with_adatom()
    from seiscreen.surfaces.sites import placed

    start = placed(slab, slab.positions[-1] + [1.43, 1.43, 1.8], "Au")
    start.calc = EMT()
    end = start.copy()
    end.positions[-1] += np.array([0.05, 0.0, 0.0])  # relaxed back into the same hollow
    end.calc = EMT()
    calls = []
    run_neb(start, end, lambda k, im: calls.append(k) or EMT(), NebProtocol())


@pytest.mark.parametrize("action, message", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_bad_input_through_the_api_is_one_clear_error(action, message):
    with pytest.raises(SeiscreenError) as raised:
        action()
    text = str(raised.value)
    assert "\n" not in text
    for part in message:
        assert part in text
