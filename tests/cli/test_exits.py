"""Exit statuses a batch script can trust (`seiscreen run --help`), and progress where batch jobs look: stdout
redirected to a file gets the log's path first, one plain line per finished step and tables that are not folded."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from seiscreen.cli import app
from seiscreen.store import open_store

UNCHECKED = {"saddle_check": False}  # exits, reruns and cells here, not saddle checks (tests/workflow/test_kinetics.py)

runner = CliRunner()
SEISCREEN = str(Path(sys.executable).with_name("seiscreen"))
SMALL_SLAB = {"min_thickness": 5.0, "vacuum": 10.0, "min_lateral_size": 5.5}


def write_campaign(folder: Path, materials: list[dict], **settings) -> Path:
    """A tiny EMT campaign (Au adatom, ASE's stand-in chemistry) in ``folder``."""
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump({"name": "exits", "calculator": "emt", "adsorbate": "Au", "materials": materials,
                                    "slab": SMALL_SLAB, "kinetics": UNCHECKED, **settings}))
    return path


def surface_docs(store: Path) -> list[dict]:
    return [d["output"] for d in open_store(str(store), create=False).query({"output.doc_type": "surface"},
                                                                             properties=["output"])]


@pytest.mark.slow
def test_every_surface_failing_exits_1_with_the_summary_line_and_a_rerun_that_finishes_them_exits_0(
        tmp_path, monkeypatch):
    import seiscreen.workflow.minima

    campaign = write_campaign(tmp_path, [{"material": "Al", "facets": [[1, 0, 0], [1, 1, 0]]}])
    args = ["run", str(campaign), "--store", str(tmp_path / "store")]
    real_scan = seiscreen.workflow.minima.scan_surface

    def broken(*args, **kwargs):
        raise RuntimeError("SCF exploded (test)")

    with monkeypatch.context() as patch:
        patch.setattr(seiscreen.workflow.minima, "scan_surface", broken)
        failed = runner.invoke(app, args)
    assert failed.exit_code == 1, failed.output
    last = failed.output.strip().splitlines()[-1]
    assert last.startswith("error: 2 of 2 surfaces failed: Al(100) 100-s0.250: minima search failed: RuntimeError: "
                           "SCF exploded (test); Al(110) "), last
    assert "rerun the same command" in last and "Traceback" not in failed.output
    assert sorted(d["status"] for d in surface_docs(tmp_path / "store")) == ["failed", "failed"]  # stored, with why

    calls = []

    def first_fails(*args, **kwargs):  # the next run: one of the two searches raises again
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("node lost (test)")
        return real_scan(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(seiscreen.workflow.minima, "scan_surface", first_fails)
        half = runner.invoke(app, args)
    assert half.exit_code == 1, half.output
    last = half.output.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 2 surfaces failed: ") and "node lost (test)" in last, last
    assert "SCF exploded" not in last  # the older failed documents of the same surfaces are not counted

    done = runner.invoke(app, args)  # the computed surface is reused, the failed one retried
    assert done.exit_code == 0, done.output
    assert "error:" not in done.output
    assert re.search(r"Al\(100\) 100-s0\.250 .* ranked", done.output) and re.search(r"Al\(110\) .* ranked",
                                                                                     done.output), done.output


@pytest.mark.slow
def test_a_material_with_its_own_adatom_is_a_result_of_the_campaign_and_exits_0(tmp_path):
    # workflows/metals.yaml: Li on Li, Mg on Mg. A material's own adatom is a protocol of its own; its surfaces
    # were counted as "no result stored" because only the campaign adatom's protocol was looked for.
    campaign = write_campaign(tmp_path, [{"material": "Al", "facets": [[1, 0, 0]]},
                                         {"material": "Al", "adsorbate": "Cu", "facets": [[1, 1, 1]]}])
    args = ["run", str(campaign), "--store", str(tmp_path / "store")]
    for _ in range(2):  # computed, then reused
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "error:" not in result.output and "Al(111) 111-s0.167" in result.output
    assert sorted(d["key"]["adsorbate"] for d in surface_docs(tmp_path / "store")) == ["Au", "Cu"]


def test_a_surface_left_unranked_by_a_gate_is_a_result_and_exits_0(tmp_path):
    # Every start judged desorbed (desorption_ratio far below any bond): no verified minimum, a physics result.
    campaign = write_campaign(tmp_path, [{"material": "Al", "facets": [[1, 0, 0]]}],
                              minima={"desorption_ratio": 0.1})
    result = runner.invoke(app, ["run", str(campaign), "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    (surface,) = surface_docs(tmp_path / "store")
    assert surface["status"] == "no_minima" and "no verified adsorbed minimum" in surface["reason"]
    assert "error:" not in result.output


def test_a_crash_in_run_is_one_error_line_exit_1_and_its_traceback_with_seiscreen_debug(tmp_path, monkeypatch):
    import seiscreen.runner

    def crashing(*args, **kwargs):
        raise RuntimeError("lost the database connection (test)")

    monkeypatch.setattr(seiscreen.runner, "run_campaign", crashing)
    campaign = write_campaign(tmp_path, [{"material": "Al"}])
    args = ["run", str(campaign), "--store", str(tmp_path / "store")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.startswith("error: RuntimeError: lost the database connection (test)") and "\n" not in line, line
    assert "SEISCREEN_DEBUG=1" in line
    debug = runner.invoke(app, args, env={"SEISCREEN_DEBUG": "1"})
    assert debug.exit_code == 1 and isinstance(debug.exception, RuntimeError)  # the traceback goes through
    assert "error:" not in debug.output


def _long_named_cif(folder: Path) -> Path:
    """fcc Al (EMT's lattice constant) in a CIF whose name, the material's name, is longer than a terminal."""
    from ase.build import bulk
    from ase.io import write

    path = folder / ("aluminium-fcc-a4.05-" + "from-a-file-name-long-enough-to-be-folded-at-80-columns-" * 2
                     + "end.cif")
    write(path, bulk("Al", "fcc", a=4.05, cubic=True))
    return path


def test_run_to_a_file_prints_the_log_first_then_a_plain_line_per_finished_step_and_unfolded_tables(tmp_path):
    cif = _long_named_cif(tmp_path)
    campaign = write_campaign(tmp_path, [{"material": str(cif), "facets": [[1, 0, 0]]}])
    store = tmp_path / "store"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "80"}  # a terminal's width does not apply to a file
    with open(tmp_path / "job.out", "w") as out:  # as a batch job's stdout
        done = subprocess.run([SEISCREEN, "run", str(campaign), "--store", str(store)], stdout=out,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "job.out").read_text().splitlines()
    assert lines[0] == f"log: {store / 'runs' / 'last-run.log'}" and (store / "runs" / "last-run.log").is_file()

    stamp = r"^\[(\d+):(\d\d):(\d\d\.\d)\] "
    steps = [line for line in lines if re.match(stamp, line)]
    docs = open_store(str(store), create=False)
    count = (lambda **criteria: docs.count({f"output.{k}": v for k, v in criteria.items()}))
    assert count(doc_type="hop") >= 1  # one band at least, so the band lines are tested
    for kind, n in (("minima search", count(doc_type="minima", refinement=0)),
                    ("minima refined", count(doc_type="minima") - count(doc_type="minima", refinement=0)),
                    ("NEB band", count(doc_type="hop")), ("surface", count(doc_type="surface"))):
        assert sum(re.match(stamp + kind + " ", line) is not None for line in steps) == n, (kind, lines)
    elapsed = [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in (re.match(stamp, x).groups() for x in steps)]
    assert elapsed == sorted(elapsed)  # time since the start, in the order the steps finished

    name = cif.stem
    (row,) = [line for line in lines if f"{name}(100) 100-" in line and "│" in line]  # the ranking's row, whole
    assert re.search(r"│ ranked\s*│$", row), row
    assert "…" not in "\n".join(lines)  # nothing cut with an ellipsis either


def test_materials_to_a_file_is_full_width_and_csv_on_request():
    from seiscreen.catalog import load_catalog

    catalog = load_catalog()
    table = runner.invoke(app, ["materials"], env={"COLUMNS": "80"})  # CliRunner's stdout is not a terminal
    assert table.exit_code == 0
    for entry in catalog.values():  # each row on one line, its source in full
        assert any(line.startswith(f"│ {entry.name} ") and entry.source in line for line in table.output.splitlines())
    csv = runner.invoke(app, ["materials", "--format", "csv"])
    import csv as csv_module

    rows = list(csv_module.DictReader(csv.output.splitlines()))
    assert [r["name"] for r in rows] == list(catalog) and rows[0]["source"] == next(iter(catalog.values())).source
