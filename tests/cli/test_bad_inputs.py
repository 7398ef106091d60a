"""Bad input, one clear error each: the message names the problem and the fix, the CLI exits with status 2, and
the store is left byte for byte as it was. The table in docs/reliability.md is generated from CASES (the last
test checks it; SEISCREEN_UPDATE_DOCS=1 rewrites it)."""

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from seiscreen.calculators import clear_user_presets
from seiscreen.cli import app
from seiscreen.errors import SeiscreenError
from seiscreen.store import LOCK_FILE
from seiscreen.user_presets import FILES_VAR

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
    # An empty writer lock file (store.store_lock, released) holds no data: a store with one is as it was.
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(path.rglob("*")) if not (p.name == LOCK_FILE and p.stat().st_size == 0)}


def _campaign(tmp, text):
    (tmp / "c.yaml").write_text(text)
    return ["run", str(tmp / "c.yaml"), "--store", str(tmp / "store")]


def _cif(tmp, text, name, calculator="emt"):
    (tmp / name).write_text(text)
    return _campaign(tmp, CAMPAIGN.replace("material: Al", f"material: {tmp / name}").replace("emt", calculator)
                     + SMALL_SLAB)


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


def _bcc(element: str, a: float) -> str:
    """A CIF of a bcc crystal of ``element``: a 3D crystal of an element some calculators cannot treat."""
    return (GOOD_CIF.replace("5.64", str(a)).replace("data_NaCl", f"data_{element}")
            .replace("Na1 Na", f"{element}1 {element}").replace("Cl1 Cl", f"{element}2 {element}"))


def _in_a_box(atoms, box: float) -> str:
    """A CIF of ``atoms`` alone in a cubic box of side ``box`` Å (a molecule or an atom, not a crystal)."""
    header, sites = GOOD_CIF.split("Na1 Na")
    rows = [f"{s}{k} {s} {x:.5f} {y:.5f} {z:.5f}"
            for k, (s, (x, y, z)) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions / box + 0.5,
                                                   strict=True))]
    return header.replace("5.64", str(box)) + "\n".join(rows) + "\n"


def _water_in_a_box() -> str:
    from ase.build import molecule

    return _in_a_box(molecule("H2O"), 15.0)


def _one_atom_in_a_box() -> str:
    from ase import Atoms

    return _in_a_box(Atoms("Na", positions=[(0, 0, 0)]), 10.0)


def _not_utf8(tmp):
    (tmp / "c.yaml").write_bytes(CAMPAIGN.replace("name: t", "name: caf\xe9").encode("latin-1"))
    return ["run", str(tmp / "c.yaml"), "--store", str(tmp / "store")]


def _user_preset(tmp, definition: str):
    """A campaign whose calculator is its own preset ``mine``, defined by ``definition`` (YAML lines after the
    name, four spaces in)."""
    return _campaign(tmp, CAMPAIGN.replace("calculator: emt", "calculator: mine") + SMALL_SLAB
                     + "presets:\n  - name: mine\n" + definition)


def _presets_file(tmp, text: str):
    (tmp / "presets.yaml").write_text(text)
    return [*_campaign(tmp, CAMPAIGN.replace("calculator: emt", "calculator: mine") + SMALL_SLAB),
            "--presets", str(tmp / "presets.yaml")]


def _report_into_a_file(tmp):
    (tmp / "index.html").write_text("<html>an earlier report</html>")
    return ["report", "--store", str(tmp / "store"), "--out", str(tmp / "index.html")]


def _literature_moduli_without_a_value(tmp):
    from importlib.resources import files

    text = files("seiscreen").joinpath("data", "literature.yaml").read_text(encoding="utf-8")
    for line in ("    c11_gpa: 48.2\n", "    c12_gpa: 12.8\n", "    c44_gpa: 12.7\n"):
        text = text.replace(line, "")
    (tmp / "lit.yaml").write_text(text, encoding="utf-8")
    return ["report", "--store", str(tmp / "store"), "--literature", str(tmp / "lit.yaml")]


def _into_a_results_file(tmp):
    (tmp / "results.json.gz").write_bytes(b"exported results (test)")
    return [*_campaign(tmp, CAMPAIGN + SMALL_SLAB)[:2], "--store", str(tmp / "results.json.gz")]


# (id, the input as the docs table shows it, how to build the command line in tmp_path, what the one line must say:
# problem and fix). docs/reliability.md's "Bad input" table is generated from these rows with each case's actual
# message (test_the_docs_bad_input_tables_are_the_cases_with_their_messages).
CASES = [
    ("unknown material", "`material: NaQ`", lambda t: _campaign(t, CAMPAIGN.replace("Al", "NaQ")),
     ["unknown material 'NaQ'", "seiscreen materials"]),
    ("misspelt material", "`material: NaFF`", lambda t: _campaign(t, CAMPAIGN.replace("Al", "NaFF")),
     ["unknown material 'NaFF'", "or a path to a CIF file"]),
    ("CIF path that does not exist", "`material: missing/NaCl.cif`",
     lambda t: _campaign(t, CAMPAIGN.replace("material: Al", "material: missing/NaCl.cif")),
     ["no structure file at", "missing/NaCl.cif", "check the path of the CIF"]),
    ("cif does not parse", "`material: bad.cif`", lambda t: _cif(t, "data_x\nthis is not a cif\n", "bad.cif"),
     ["cannot read a crystal structure", "check it is a valid CIF"]),
    ("overlapping atoms", "CIF with two Na 0.06 Å apart", lambda t: _cif(t, OVERLAPPING_CIF, "overlap.cif"),
     ["overlap", "fix the coordinates or remove duplicate sites"]),
    ("molecule in a box", "CIF of one H2O molecule in a 15 Å box",
     lambda t: _cif(t, _water_in_a_box(), "water.cif"),
     ["water.cif is not a 3D crystal", "15.0 Å thick", "pass the CIF of the bulk crystal"]),
    ("single atom in a box", "CIF of one Na atom in a 10 Å box", lambda t: _cif(t, _one_atom_in_a_box(), "atom.cif"),
     ["atom.cif is not a 3D crystal", "10.0 Å thick", "pass the CIF of the bulk crystal"]),
    ("only polar terminations", "NaF `facets: [[1, 1, 1]]`",
     lambda t: _campaign(t, CAMPAIGN.replace("Al", "NaF") + "    facets: [[1, 1, 1]]\n"),
     ["every termination is polar", "choose another Miller index"]),
    ("miller all zero", "`facets: ['000']`", lambda t: _campaign(t, CAMPAIGN + "    facets: ['000']\n"),
     ["Miller index", "e.g. [1, 0, 0]"]),
    ("miller not integers", "`facets: [[1.5, 0, 0]]`", lambda t: _campaign(t, CAMPAIGN + "    facets: [[1.5, 0, 0]]\n"),
     ["Miller index [1.5, 0, 0] is not three integers", "write it like [1, 0, 0]"]),
    ("miller not reduced", "`facets: [[100, 0, 0]]`", lambda t: _campaign(t, CAMPAIGN + "    facets: [[100, 0, 0]]\n"),
     ["Miller index [100, 0, 0] has the common factor 100", "write the plane as [1, 0, 0]"]),
    ("unknown termination id", "`terminations: [nope]`",
     lambda t: _campaign(t, CAMPAIGN + "    terminations: [nope]\n" + SMALL_SLAB),
     ["no termination 'nope' (there are 100-s0.250)", "fix 'terminations'", "seiscreen slabs Al 100"]),
    ("facet listed twice", "`facets: [[1, 0, 0], '100']`",
     lambda t: _campaign(t, CAMPAIGN + "    facets: [[1, 0, 0], '100']\n" + SMALL_SLAB),
     ["Al (1, 0, 0) is listed twice", "remove the duplicate"]),
    ("unknown adsorbate element", "`adsorbate: Xy`", lambda t: _campaign(t, CAMPAIGN.replace("Au", "Xy") + SMALL_SLAB),
     ["unknown adsorbate element 'Xy'", "use a chemical symbol"]),
    ("a fidelity listed twice", "`fidelities: [ml, chgnet]` (`ml` is CHGNet)",
     lambda t: _campaign(t, CAMPAIGN.replace("calculator: emt\n", "") + "fidelities: [ml, chgnet]\n" + SMALL_SLAB),
     ["list one preset twice", "list each preset once"]),
    ("elements the calculator cannot treat", "NaF with Na under `calculator: emt`",
     lambda t: _campaign(t, CAMPAIGN.replace("Al", "NaF").replace("Au", "Na")),
     ["calculator preset 'emt' has no parameters for F, Na", "use an ML or GPAW preset"]),
    ("element without a DFT setup", "a Tc crystal under `calculator: gpaw-lcao` (gpaw-data has no Tc)",
     lambda t: _cif(t, _bcc("Tc", 3.08), "Tc.cif", "gpaw-lcao"),
     ["calculator preset 'gpaw-lcao' has no GPAW setup for Tc", "no Tc.PBE(.gz) in", "use an ML preset"]),
    ("element outside the ML training set", "a Ra crystal under `calculator: ml` (MPtrj has no Ra)",
     lambda t: _cif(t, _bcc("Ra", 5.15), "Ra.cif", "ml"),
     ["calculator preset 'ml' was not trained on Ra", "use a GPAW preset"]),
    ("negative vacuum", "`vacuum: -5`", lambda t: _campaign(t, CAMPAIGN + "slab:\n  vacuum: -5\n"),
     ["vacuum -5.0 Å is too small", "use at least 8 Å"]),
    ("tiny vacuum", "`vacuum: 3`", lambda t: _campaign(t, CAMPAIGN + "slab:\n  vacuum: 3\n"),
     ["vacuum 3.0 Å is too small", "use at least 8 Å"]),
    ("supercell too small for the adatom's images", "`min_lateral_size: 3`",
     lambda t: _campaign(t, CAMPAIGN + "slab:\n  min_lateral_size: 3\n"),
     ["supercell too small for the adatom", "set slab.min_lateral_size to at least 5"]),
    ("unknown calculator preset", "`calculator: vasp`", lambda t: _campaign(t, CAMPAIGN.replace("emt", "vasp")),
     ["unknown calculator preset 'vasp'", "choose one of"]),
    ("user preset: module not importable", "`presets: [{name: mine, factory: 'no_such_package.calc:Calc'}]`",
     lambda t: _user_preset(t, "    factory: 'no_such_package.calc:Calc'\n"),
     ["user preset 'mine': cannot import 'no_such_package.calc'", "install it or put its folder on PYTHONPATH"]),
    ("user preset: no such callable", "`factory: 'ase.calculators.emt:EMTT'`",
     lambda t: _user_preset(t, "    factory: 'ase.calculators.emt:EMTT'\n"),
     ["ase.calculators.emt has no 'EMTT'", "check the factory"]),
    ("user preset: a class that is no calculator", "`factory: 'collections:OrderedDict'`",
     lambda t: _user_preset(t, "    factory: 'collections:OrderedDict'\n"),
     ["is the class OrderedDict, not an ASE calculator", "name a subclass of"]),
    ("user preset: returns no calculator", "`factory: 'json:dumps'` with `parameters: {obj: 1}`",
     lambda t: _user_preset(t, "    factory: 'json:dumps'\n    parameters: {obj: 1}\n"),
     ["json:dumps returned str, not an ASE calculator", "must return an ase.calculators Calculator"]),
    ("user preset: parameters the factory refuses", "`factory: 'ase.calculators.vasp:Vasp'` with "
     "`parameters: {xc: nope-xc}`",
     lambda t: _user_preset(t, "    factory: 'ase.calculators.vasp:Vasp'\n    parameters: {xc: nope-xc}\n"),
     ["ase.calculators.vasp:Vasp(**parameters) failed", "fix its parameters"]),
    ("user preset: misspelt key", "`presets: [{name: mine, factory: ..., paramters: {}}]`",
     lambda t: _user_preset(t, "    factory: 'ase.calculators.emt:EMT'\n    paramters: {}\n"),
     ["unknown key 'presets.0.paramters'", "did you mean 'parameters'"]),
    ("user preset: a built-in's name", "`presets: [{name: emt, factory: 'ase.calculators.emt:EMT'}]`",
     lambda t: _campaign(t, CAMPAIGN + "presets:\n  - name: emt\n    factory: 'ase.calculators.emt:EMT'\n"),
     ["user preset 'emt'", "takes the name of a built-in preset", "give it another name"]),
    ("user preset: bad slab_pbc", "`slab_pbc: [true, false, false]`",
     lambda t: _user_preset(t, "    factory: 'ase.calculators.emt:EMT'\n    slab_pbc: [true, false, false]\n"),
     ["presets.0.slab_pbc", "give three booleans, periodic in-plane"]),
    ("presets file missing", "`run --presets nope.yaml`",
     lambda t: [*_campaign(t, CAMPAIGN + SMALL_SLAB), "--presets", str(t / "nope.yaml")],
     ["presets file", "nope.yaml not found", "pass the path of a YAML file"]),
    ("presets file with a misspelt key", "`run --presets presets.yaml` with `factroy:`",
     lambda t: _presets_file(t, "presets:\n  - name: mine\n    factroy: 'ase.calculators.emt:EMT'\n"),
     ["presets.yaml: unknown key 'presets.0.factroy'", "did you mean 'factory'"]),
    ("GPAW requested, not installed", "`calculator: gpaw-lcao` (find_spec patched)",
     lambda t: _campaign(t, CAMPAIGN.replace("emt", "gpaw-lcao")),
     ["needs gpaw, which is not installed", "pip install"]),
    ("MPI ranks without GPAW", "`calculator: emt` with `parallel: {ranks: 2}`",
     lambda t: _campaign(t, CAMPAIGN + "parallel: {ranks: 2}\n"),
     ["MPI ranks apply to GPAW presets only", "drop the ranks"]),
    ("MPI launcher missing", "`parallel: {ranks: 2, launcher: 'no-such-mpirun -np {ranks}'}` under gpaw-test",
     lambda t: _campaign(t, CAMPAIGN.replace("emt", "gpaw-test")
                         + "parallel: {ranks: 2, launcher: 'no-such-mpirun -np {ranks}'}\n"),
     ["parallel.launcher: 'no-such-mpirun' not found", "name your launcher"]),
    ("misspelt campaign key", "`slab: {vacum: 12}`", lambda t: _campaign(t, CAMPAIGN + "slab:\n  vacum: 12\n"),
     ["unknown key 'slab.vacum'", "did you mean 'vacuum'"]),
    ("misspelt per-material slab key", "`materials: [{material: Al, slab: {vacum: 12}}]`",
     lambda t: _campaign(t, CAMPAIGN + "    slab: {vacum: 12}\n"),
     ["unknown key 'materials.0.slab.vacum'", "did you mean 'vacuum'"]),
    ("misspelt minima key", "`minima: {fmaxx: 0.01}`", lambda t: _campaign(t, CAMPAIGN + "minima:\n  fmaxx: 0.01\n"),
     ["unknown key 'minima.fmaxx'", "did you mean 'fmax'"]),
    ("misspelt kinetics key", "`kinetics: {shell_radious: 4}`",
     lambda t: _campaign(t, CAMPAIGN + "kinetics:\n  shell_radious: 4\n"),
     ["unknown key 'kinetics.shell_radious'", "did you mean 'shell_radius'"]),
    ("negative Hessian shell", "`kinetics: {shell_radius: -1}`",
     lambda t: _campaign(t, CAMPAIGN + "kinetics:\n  shell_radius: -1\n"), ["kinetics.shell_radius"]),
    ("misspelt descriptor key", "`descriptors: {mechanical: {relax_ion: false}}`",
     lambda t: _campaign(t, CAMPAIGN + "descriptors:\n  mechanical: {relax_ion: false}\n"),
     ["unknown key 'descriptors.mechanical.relax_ion'", "did you mean 'relax_ions'"]),
    ("unknown descriptor", "`descriptors: {hardness: true}`",
     lambda t: _campaign(t, CAMPAIGN + "descriptors:\n  hardness: true\n"),
     ["unknown key 'descriptors.hardness'",
      "allowed keys are bulk, gap, mechanical, sodiophilicity, stability, transport"]),
    ("zero strain of the elastic tensor", "`descriptors: {mechanical: {norm_strains: [0, 0.01]}}`",
     lambda t: _campaign(t, CAMPAIGN + "descriptors:\n  mechanical: {norm_strains: [0, 0.01]}\n"),
     ["strains must be non-zero", "drop the 0"]),
    ("unknown campaign key", "`walltime: 3h`", lambda t: _campaign(t, CAMPAIGN + "walltime: 3h\n"),
     ["unknown key 'walltime'", "allowed keys are"]),
    ("empty campaign", "`materials: []`", lambda t: _campaign(t, "name: t\nmaterials: []\n"),
     ["lists no materials", "add at least one under 'materials'"]),
    ("empty campaign file", "empty file", lambda t: _campaign(t, ""), ["holds no campaign", "expected a mapping"]),
    ("conflicting calculator and fidelities", "`calculator: emt` with `fidelities: [ml, gpaw-lcao]`",
     lambda t: _campaign(t, CAMPAIGN + "fidelities: [ml, gpaw-lcao]\n"),
     ["conflicting settings: calculator 'emt' but fidelities start with 'ml'", "drop 'calculator' or list it first"]),
    ("top_k without fidelities", "`top_k: 2`", lambda t: _campaign(t, CAMPAIGN + "top_k: 2\n"),
     ["top_k without fidelities", "list at least two presets"]),
    ("cold_bands without fidelities", "`cold_bands: true`", lambda t: _campaign(t, CAMPAIGN + "cold_bands: true\n"),
     ["cold_bands without fidelities", "list at least two presets"]),
    ("negative neb fmax", "`neb: {fmax: -0.05}`", lambda t: _campaign(t, CAMPAIGN + "neb:\n  fmax: -0.05\n"),
     ["neb.fmax", "greater than 0"]),
    ("campaign file missing", "`run nope.yaml`",
     lambda t: ["run", str(t / "nope.yaml"), "--store", str(t / "store")],
     ["campaign file", "not found", "pass the path of a YAML file"]),
    ("campaign file not UTF-8", "a Latin-1 file (`name: café`)", _not_utf8,
     ["is not UTF-8 text (byte 0xe9", "save it as UTF-8"]),
    ("invalid yaml", "`name: [unclosed`", lambda t: _campaign(t, "name: [unclosed\n"),
     ["is not valid YAML", "fix the file"]),
    ("store path not writable", "`--store plain-file/store`", _store_under_a_file,
     ["cannot create the store folder", "choose a writable place"]),
    ("store path is a file", "`--store store` (a file)", _store_is_a_file,
     ["is a file, not a folder", "pass a folder with --store"]),
    ("corrupted store file", "garbage in `seiscreen/*.collection`", _corrupt,
     ["is not a valid database", "move the store folder aside"]),
    ("run into a results file", "`run --store results.json.gz` (an exported file)", _into_a_results_file,
     ["results.json.gz is a results file", "read-only", "pass a store folder or mongodb:// URI"]),
    ("unreachable MongoDB", "`--store mongodb://127.0.0.1:1/` (nothing listens)",
     lambda t: [*_campaign(t, CAMPAIGN + SMALL_SLAB)[:2], "--store", "mongodb://127.0.0.1:1/"],
     ["cannot reach the MongoDB server of mongodb://127.0.0.1:1/ within 5 s", "check the URI"]),
    ("export over an existing results file", "`export results.json` (an existing file)",
     lambda t: ((t / "results.json").write_text("{}"), ["export", str(t / "results.json"), "--store",
                                                        str(t / "store")])[1],
     ["results.json exists", "pass --force to replace it"]),
    ("export where nothing can be written", "`export /proc/seiscreen/out.json`",
     lambda t: ["export", "/proc/seiscreen/out.json", "--store", str(t / "store")],
     ["cannot use /proc/seiscreen", "check the path and its permissions"]),
    ("import of a file that is not a results file", "`import notes.txt`",
     lambda t: ((t / "notes.txt").write_text("notes"), ["import", str(t / "notes.txt"), "--store",
                                                         str(t / "store")])[1],
     ["notes.txt is not a results file", "written by 'seiscreen export'"]),
    ("import of a damaged results file", "`import results.json.gz` (not gzip) into a new store",
     lambda t: ((t / "results.json.gz").write_bytes(b"exported results (test)"),
                ["import", str(t / "results.json.gz"), "--store", str(t / "new-store")])[1],
     ["cannot be read (BadGzipFile)", "not a 'seiscreen export' file"]),
    ("import into a results file", "`import a.json.gz --store b.json.gz`",
     lambda t: ["import", str(t / "a.json.gz"), "--store", str(t / "b.json.gz")],
     ["b.json.gz is a results file", "read-only", "pass a store folder or mongodb:// URI"]),
    ("results of a store that does not exist", "`results --store nothing-here`",
     lambda t: ["results", "--store", str(t / "nothing-here")],
     ["no store at", "run a campaign first or pass --store"]),
    ("report into a file", "`report --out index.html` (an existing file)", _report_into_a_file,
     ["--out", "index.html is a file", "pass a folder for the report"]),
    ("literature moduli entry without a value", "`report --literature lit.yaml` (a `moduli:` entry without "
     "c11_gpa, c12_gpa, c44_gpa)", _literature_moduli_without_a_value,
     ["literature file", "moduli[0]: whitfield1976-NaCl: gives no value",
      "give c11_gpa, c12_gpa and c44_gpa, or at least one of bulk_gpa, shear_gpa, youngs_gpa"]),
]
MESSAGES: dict[str, str] = {}  # case id -> its line as a test saw it: the rows of the docs table


def run_case(case, filled_store: Path, tmp_path: Path, monkeypatch) -> str:
    """Run one case in ``tmp_path`` (a copy of the filled store beside it) and check the rules; its one line."""
    name, _, make_args, message = case
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(FILES_VAR, raising=False)
    clear_user_presets()  # a case's presets are its own: none from an earlier case (and none left after it)
    try:
        return _run_case(name, make_args, message, filled_store, tmp_path, monkeypatch)
    finally:
        clear_user_presets()


def _run_case(name, make_args, message, filled_store: Path, tmp_path: Path, monkeypatch) -> str:
    shutil.copytree(filled_store, tmp_path / "store")
    if name == "GPAW requested, not installed":
        _no_gpaw(monkeypatch)
    args = make_args(tmp_path)
    before = fingerprint(tmp_path)
    result = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.startswith("error:") and "\n" not in line and "Traceback" not in line, line
    for part in message:
        assert part in line
    assert fingerprint(tmp_path) == before  # nothing created, nothing written: the store is as it was
    MESSAGES[name] = _as_documented(line, tmp_path)
    return line


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line_exit_2_and_the_store_untouched(case, filled_store, tmp_path, monkeypatch):
    run_case(case, filled_store, tmp_path, monkeypatch)


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


# ------------------------------------------------------------------------------------ the docs table, generated

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
TABLE_HEADER = "| case | input | message |"


def _as_documented(line: str, tmp_path: Path) -> str:
    """A case's line as the docs show it: without ``error:``, the test's folder as ``.``, GPAW's setup folders
    as ``<GPAW setups>`` (machine-specific), and ``|`` escaped for markdown."""
    text = line.removeprefix("error:").strip()
    for folder in {str(tmp_path.resolve()), str(tmp_path)}:
        text = text.replace(folder, ".")
    if importlib.util.find_spec("gpaw") is not None:
        from gpaw import setup_paths

        for folder in setup_paths:
            text = text.replace(str(folder), "<GPAW setups>")
    return text.replace("|", "\\|")


def docs_table() -> str:
    """The "Bad input" table of docs/reliability.md: one row per case of CASES with its line (MESSAGES)."""
    rows = [f"| {name} | {shown} | {MESSAGES[name]} |" for name, shown, _, _ in CASES]
    return "\n".join([TABLE_HEADER, "| --- | --- | --- |", *rows])


def test_the_docs_bad_input_table_is_the_cases_with_their_messages(filled_store, tmp_path, monkeypatch):
    """docs/reliability.md's table is CASES with each case's actual line; SEISCREEN_UPDATE_DOCS=1 rewrites it."""
    for k, case in enumerate(CASES):
        if case[0] not in MESSAGES:  # not run yet in this session (pytest -k): run here
            with monkeypatch.context() as patch:
                (tmp_path / str(k)).mkdir()
                run_case(case, filled_store, tmp_path / str(k), patch)
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(TABLE_HEADER)
    end = text.find("\n\n", start)
    current = text[start:end if end >= 0 else len(text)]
    table = docs_table()
    if current != table and os.environ.get("SEISCREEN_UPDATE_DOCS"):
        DOCS.write_text(text[:start] + table + text[start + len(current):], encoding="utf-8")
        return
    assert current == table, ("docs/reliability.md's bad-input table differs from CASES; rewrite it with "
                              "SEISCREEN_UPDATE_DOCS=1 pytest tests/cli/test_bad_inputs.py -k docs, "
                              "or paste:\n" + table)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sevenn") is None, reason="SevenNet is not installed")
def test_the_ml_element_list_is_the_one_of_sevennet_0s_checkpoint():
    """campaign.ML_ELEMENTS (MPtrj's elements) are exactly the species the shipped 7net-0 model was trained on."""
    import torch
    from sevenn.util import pretrained_name_to_path

    from seiscreen.campaign import ML_ELEMENTS

    checkpoint = torch.load(pretrained_name_to_path("7net-0"), map_location="cpu", weights_only=False)
    assert set(checkpoint["config"]["chemical_species"]) == ML_ELEMENTS
