"""Start-up stays quick (docs/performance.md, "Start-up"): the command line and the read-only commands import none of
the heavy packages, and the campaign's flow module not pymatgen's adsorption module. Checked by what a fresh
process has in ``sys.modules``, not by timing (benchmarks/startup.py times it)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
CALCULATORS = ("torch", "chgnet", "sevenn", "gpaw")
WORKFLOW = ("jobflow", "maggma", "dask", "distributed", "jobflow_remote")


def imported_after(code: str, *argv: str) -> set[str]:
    """The top-level packages (and ``scipy.stats``, ``pymatgen.analysis.adsorption``) a fresh process holds after
    running ``code`` with ``argv``."""
    script = (f"import sys\nsys.argv = ['seiscreen', *{list(argv)!r}]\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
              "import json\nprint(json.dumps(sorted(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return {m.split(".")[0] for m in modules} | {m for m in modules if m in ("scipy.stats",
                                                                              "pymatgen.analysis.adsorption")}


def test_importing_the_command_line_imports_no_calculator_no_workflow_package_and_no_plotting():
    loaded = imported_after("import seiscreen.cli")
    assert "typer" in loaded  # the check sees what the import brings
    assert loaded.isdisjoint({*CALCULATORS, *WORKFLOW, "matplotlib", "pandas", "scipy", "pymatgen"})


@pytest.mark.parametrize("command", ["results", "status"])
def test_results_and_status_of_a_store_folder_import_no_jobflow_and_no_calculator(tmp_path, command):
    """A store folder is read with montydb alone (seiscreen.store_read); an empty folder reads as an empty store."""
    loaded = imported_after("from seiscreen.cli import main; main()", command, "--store", str(tmp_path))
    assert "montydb" in loaded  # the command went as far as reading the folder
    assert loaded.isdisjoint({*CALCULATORS, *WORKFLOW, "matplotlib", "boto3", "paramiko", "scipy"})


def test_the_campaign_flow_module_leaves_pymatgens_adsorption_module_and_the_calculators_until_used():
    loaded = imported_after("import seiscreen.workflow.flows")
    assert "jobflow" in loaded  # the flow itself is jobflow's
    # Not gpaw: ASE's file-format plugins (ase.io, which ASE's optimisers import) load gpaw's package for its plugin.
    assert loaded.isdisjoint({"torch", "chgnet", "sevenn", "matplotlib", "pandas", "dask", "scipy.stats",
                              "pymatgen.analysis.adsorption"})
