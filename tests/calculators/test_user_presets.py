"""Calculator presets defined by the user (seiscreen.user_presets): the same numbers as a built-in code, a
file-based code in folders of its own, one line for each bad definition, and the definitions in child processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from seiscreen.calculators import clear_user_presets, get_preset, register_user_presets, user_presets
from seiscreen.campaign import load_campaign
from seiscreen.catalog import load_bulk
from seiscreen.cli import app
from seiscreen.errors import SeiscreenError
from seiscreen.minima import MinimaSettings, scan_surface
from seiscreen.results import load_results
from seiscreen.runner import run_campaign
from seiscreen.schemas import calculator_identity, content_hash
from seiscreen.surfaces.slabs import make_terminations
from seiscreen.user_presets import DEFINITIONS_VAR, FILES_VAR, UserPresetDefinition
from tests.calculators import fileio_emt
from tests.workflow.test_pipeline_emt import SLAB, emt_campaign

REPO = Path(__file__).resolve().parents[2]
EMT_FACTORY = {"name": "emt-factory", "factory": "ase.calculators.emt:EMT", "description": "EMT, by its class"}


@pytest.fixture(autouse=True)
def no_user_presets(monkeypatch):
    """Each test starts and ends with no user preset registered, in this process or its environment."""
    monkeypatch.delenv(FILES_VAR, raising=False)
    clear_user_presets()
    yield
    clear_user_presets()


def _numbers(location: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every minimum's energies and every hop's barriers of a store, without the preset's name and hashes."""
    results = load_results(location)
    minima = results.minima[["material", "termination", "refinement", "index", "site", "outcome", "energy",
                             "adsorption_energy"]]
    hops = results.hops[["material", "termination", "refinement", "hop_id", "status", "forward_barrier",
                         "reverse_barrier", "saddle_energy"]]
    return (minima.sort_values(["refinement", "index", "site"]).reset_index(drop=True),
            hops.sort_values(["refinement", "hop_id"]).reset_index(drop=True))


def test_the_emt_class_as_a_user_preset_gives_the_built_in_emt_numbers(tmp_path):
    built_in, user = str(tmp_path / "built-in"), str(tmp_path / "user")
    run_campaign(emt_campaign(), built_in, Console(quiet=True))
    run_campaign(emt_campaign(calculator="emt-factory", presets=[EMT_FACTORY]), user, Console(quiet=True))
    (minima_a, hops_a), (minima_b, hops_b) = _numbers(built_in), _numbers(user)
    assert len(minima_a) and len(hops_a) and load_results(user).surfaces["status"].tolist() == ["ranked"]
    pd.testing.assert_frame_equal(minima_a, minima_b, check_exact=False, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(hops_a, hops_b, check_exact=False, rtol=0, atol=1e-9)
    (surface_a,), (surface_b,) = load_results(built_in).surfaces.barrier, load_results(user).surfaces.barrier
    assert surface_b == pytest.approx(surface_a, abs=1e-9)
    stored = load_results(user).surfaces.iloc[0]
    assert stored["calculator"] == "emt-factory"


def test_the_provenance_holds_the_factory_and_parameters_and_the_hash_follows_them():
    register_user_presets([UserPresetDefinition(**EMT_FACTORY),
                           UserPresetDefinition(name="emt-asap", factory="ase.calculators.emt:EMT",
                                                parameters={"asap_cutoff": True}, slab_pbc=(True, True, False))],
                          "a test")
    plain, asap = get_preset("emt-factory").provenance(), get_preset("emt-asap").provenance()
    assert plain["factory"] == "ase.calculators.emt:EMT" and plain["parameters"] == {}
    assert asap["parameters"] == {"asap_cutoff": True} and asap["slab_pbc"] == [True, True, False]
    assert plain["package_version"]  # ase's, found from the factory's top-level package
    hashes = {content_hash("minima", calculator=calculator_identity(p))
              for p in (plain, asap, get_preset("emt").provenance())}
    assert len(hashes) == 3
    newer = {**plain, "package_version": "99.0"}  # a version is stored, not hashed (as for built-in presets)
    assert content_hash("minima", calculator=calculator_identity(newer)) == content_hash(
        "minima", calculator=calculator_identity(plain))


def _au_on_al100():
    (term,) = make_terminations(load_bulk("Al"), "100", SLAB)
    return term.to_atoms()


@pytest.mark.slow  # about thirty Python processes, one per calculation: 10 s
def test_a_file_based_code_runs_each_calculator_in_a_folder_of_its_own(tmp_path):
    script = tmp_path / "fake_code.py"
    script.write_text(fileio_emt.SCRIPT)
    register_user_presets([UserPresetDefinition(name="file-emt", factory="tests.calculators.fileio_emt:file_emt",
                                                parameters={"script": str(script)}, per_calculation_directory=True)],
                          "a test")
    preset, run = get_preset("file-emt"), tmp_path / "run"
    # Loose settings: each calculation starts a Python process, so the search is kept to about thirty of them.
    settings = MinimaSettings(adsorbate="Au", fmax=0.2, max_rounds=1, kick=0.0)
    calc = preset.make(directory=run)
    by_file = scan_surface(_au_on_al100(), calc, settings)
    by_emt = scan_surface(_au_on_al100(), get_preset("emt").make(), settings)

    assert Path(calc.directory) == run / "calc-0000"
    assert sorted(p.name for p in run.iterdir()) == ["calc-0000"]
    calls = (run / "calc-0000" / fileio_emt.LOG).read_text().splitlines()
    assert len(calls) >= by_file.force_calls > 0  # every calculation in that folder (bulk references too)
    assert {fileio_emt.INPUT, fileio_emt.OUTPUT} <= {p.name for p in (run / "calc-0000").iterdir()}
    preset.make(directory=run)  # the next calculator made: the next folder
    assert sorted(p.name for p in run.iterdir()) == ["calc-0000", "calc-0001"]

    assert by_file.clean_energy == pytest.approx(by_emt.clean_energy, abs=1e-9)
    assert by_file.adsorbate_reference == pytest.approx(by_emt.adsorbate_reference, abs=1e-9)
    assert [m.site for m in by_file.minima] == [m.site for m in by_emt.minima]
    for a, b in zip(by_file.minima, by_emt.minima, strict=True):
        assert a.energy == pytest.approx(b.energy, abs=1e-9) and a.outcome == b.outcome
        assert a.position == pytest.approx(b.position, abs=1e-6)


BAD = [
    ("module not importable", {"factory": "no_such_package.calc:Calc"},
     ["cannot import 'no_such_package.calc'", "install it or put its folder on PYTHONPATH"]),
    ("no such callable", {"factory": "ase.calculators.emt:EMTT"}, ["has no 'EMTT'", "check the factory"]),
    ("a class that is no calculator", {"factory": "collections:OrderedDict"},
     ["is the class OrderedDict, not an ASE calculator"]),
    ("a function returning no calculator", {"factory": "tests.calculators.fileio_emt:not_a_calculator"},
     ["returned dict, not an ASE calculator"]),
    ("parameters the factory refuses", {"factory": "tests.calculators.fileio_emt:file_emt",
                                        "parameters": {"scirpt": "code.py"}},
     ["tests.calculators.fileio_emt:file_emt(**parameters) failed: TypeError", "unexpected keyword argument",
      "fix its parameters"]),
    ("not module:callable", {"factory": "ase.calculators.emt.EMT"}, ["is not 'package.module:callable'"]),
    ("unknown key", {"paramters": {}}, ["unknown key 'presets.0.paramters'", "did you mean 'parameters'"]),
    ("a built-in's name", {"name": "emt"}, ["user preset 'emt'", "takes the name of a built-in preset"]),
    ("slab_pbc not in-plane periodic", {"slab_pbc": [True, False, False]},
     ["presets.0.slab_pbc", "give three booleans, periodic in-plane"]),
    ("slab_pbc of two values", {"slab_pbc": [True, True]}, ["presets.0.slab_pbc", "give three booleans"]),
]


@pytest.mark.parametrize("changes, message", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_definition_is_one_line_before_any_computation(changes, message, tmp_path):
    definition = {"name": "mine", "factory": "ase.calculators.emt:EMT", **changes}
    campaign = {"name": "t", "calculator": definition["name"], "adsorbate": "Au",
                "materials": [{"material": "Al"}], "presets": [definition]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(campaign))
    with pytest.raises(SeiscreenError) as raised:
        load_campaign(tmp_path / "c.yaml")
    assert "\n" not in str(raised.value)
    for part in message:
        assert part in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]  # nothing computed, nothing written


def test_a_bad_presets_file_is_one_line_and_exit_status_2(tmp_path):
    (tmp_path / "p.yaml").write_text("presets:\n  - name: mine\n    factroy: ase.calculators.emt:EMT\n")
    (tmp_path / "c.yaml").write_text("name: t\ncalculator: mine\nadsorbate: Au\nmaterials:\n  - material: Al\n")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.yaml"), "--presets", str(tmp_path / "p.yaml"),
                                      "--store", str(tmp_path / "store")], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    assert "unknown key 'presets.0.factroy' (did you mean 'factory'?)" in result.output
    assert not (tmp_path / "store").exists()


def test_seiscreen_presets_lists_user_presets_beside_the_built_in_ones(tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"presets": [EMT_FACTORY]}))
    result = CliRunner().invoke(app, ["presets", "--presets", str(tmp_path / "p.yaml")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "built-in" in rows["emt"] and "gpaw-lcao" in rows
    assert "user-defined" in rows["emt-factory"] and str(tmp_path / "p.yaml") in rows["emt-factory"]
    assert "ase.calculators.emt:EMT" in rows["emt-factory"]


def _in_a_child(env: dict) -> dict:
    """The provenance of ``get_preset("emt-factory")`` as a fresh Python process sees it."""
    code = "import json; from seiscreen.calculators import get_preset; print(json.dumps(get_preset('emt-factory')" \
           ".provenance()))"
    path = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": path}, capture_output=True,
                          text=True, timeout=120, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_child_process_finds_the_user_presets_of_a_file_and_of_a_campaign(tmp_path, monkeypatch):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump([EMT_FACTORY]))
    clean = {k: v for k, v in os.environ.items() if k not in (FILES_VAR, DEFINITIONS_VAR)}
    monkeypatch.chdir(tmp_path)
    from_file = _in_a_child({**clean, FILES_VAR: "p.yaml"})  # relative: from the folder it starts in
    assert from_file["factory"] == "ase.calculators.emt:EMT"

    campaign = emt_campaign(calculator="emt-factory", presets=[EMT_FACTORY])  # registers it, here
    assert "emt-factory" in user_presets()
    from_campaign = _in_a_child(dict(os.environ))  # what a Dask worker or an image process inherits
    assert from_campaign == from_file == get_preset(campaign.calculator).provenance()


def test_a_relative_presets_file_reaches_processes_started_in_other_folders(tmp_path, monkeypatch):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump([EMT_FACTORY]))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(FILES_VAR, "p.yaml")
    assert get_preset("emt-factory").factory == "ase.calculators.emt:EMT"
    assert os.environ[FILES_VAR] == str(tmp_path / "p.yaml")  # made absolute for the job folders
    (tmp_path / "job").mkdir()
    monkeypatch.chdir(tmp_path / "job")
    assert _in_a_child(dict(os.environ))["preset"] == "emt-factory"


def test_a_name_defined_twice_differently_is_refused():
    register_user_presets([UserPresetDefinition(**EMT_FACTORY)], "file a")
    register_user_presets([UserPresetDefinition(**EMT_FACTORY)], "file b")  # the same definition again: fine
    other = UserPresetDefinition(**{**EMT_FACTORY, "parameters": {"asap_cutoff": True}})
    with pytest.raises(SeiscreenError, match="has two different definitions"):
        register_user_presets([other], "file c")


def test_slab_pbc_is_given_to_slabs_only_and_frames_are_recorded(tmp_path):
    from ase.build import bulk, fcc100

    from seiscreen.frames import FRAMES_FILE, read_frames

    register_user_presets([UserPresetDefinition(name="emt-slab", factory="ase.calculators.emt:EMT",
                                                slab_pbc=[True, True, False], records_frames=True)], "a test")
    preset = get_preset("emt-slab")
    assert preset.slab_pbc == (True, True, False) and preset.recording
    slab, crystal = fcc100("Al", (2, 2, 3), vacuum=8.0, periodic=True), bulk("Al", cubic=True)
    calc = preset.make(directory=tmp_path)
    computed_pbc = []
    for atoms in (slab, crystal):
        atoms.calc = calc
        expected = atoms.copy()
        expected.calc = get_preset("emt").make()
        assert atoms.get_potential_energy() == pytest.approx(expected.get_potential_energy(), abs=1e-9)
        assert atoms.pbc.all()  # the caller's structure is left as it was
        computed_pbc.append(calc.inner.inner.atoms.pbc.tolist())  # SlabPeriodicity(RecordingCalculator(EMT))
    assert computed_pbc == [[True, True, False], [True, True, True]]  # the slab without z, the bulk as it is
    assert [f.pbc.tolist() for f in read_frames(tmp_path / FRAMES_FILE)] == computed_pbc  # frames as computed
    prepared = slab.copy()
    preset.make(prepared, tmp_path)  # a structure handed to make() is prepared as GPAW's are
    assert prepared.pbc.tolist() == [True, True, False]


def test_batch_jobs_get_the_user_presets_in_their_script(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from seiscreen.execution.slurm import BatchSettings, make_cluster

    register_user_presets([UserPresetDefinition(**EMT_FACTORY)], "a test")
    with make_cluster(BatchSettings(), tmp_path) as cluster:
        script = cluster.job_script()
    assert f"export {DEFINITIONS_VAR}=" in script and "ase.calculators.emt:EMT" in script
