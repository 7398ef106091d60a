"""The README's main job, as CI runs it: the quickstart campaign with the ML potential. Slow (minutes)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seiscreen.results import load_results

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def seiscreen(*args, cwd):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "seiscreen.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1200)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    where = tmp_path_factory.mktemp("quickstart")
    run = seiscreen("run", str(REPO / "workflows" / "quickstart.yaml"), cwd=where)
    assert run.returncode == 0, run.stdout + run.stderr
    return where, run.stdout


def test_quickstart_ranks_three_coatings_from_gated_nebs(quickstart):
    where, output = quickstart
    results = load_results(where / "seiscreen-store")  # the default store, in the working directory
    surfaces = results.surfaces.set_index("material")
    assert sorted(surfaces.index) == ["Na2Se", "NaBr", "NaF"]
    assert (surfaces["status"] == "ranked").all(), surfaces[["status", "reason"]]
    assert sorted(surfaces["rank"]) == [1, 2, 3]
    hops = results.hops
    final = hops.loc[hops.groupby("material")["refinement"].transform("max") == hops["refinement"]]
    # Every hop the ranking rests on is a converged band (accepted: gated barrier; barrierless: converged band
    # rising to its higher end).
    assert final["status"].isin(["accepted", "barrierless", "failed"]).all()
    used = final[final["status"].isin(["accepted", "barrierless"])]
    assert used["gate_converged"].all() and used["gate_no_interior_minimum"].all()
    for material in ("NaF", "NaBr", "Na2Se"):
        assert f"{material}(100)" in output
    assert (hops["neb_n_images"] == 5).all() and (hops["protocol_id"] == surfaces["protocol_id"].iloc[0]).all()


def test_results_in_a_new_process_print_the_same_ranking(quickstart):
    where, output = quickstart
    again = seiscreen("results", cwd=where)
    assert again.returncode == 0, again.stderr
    ranking_lines = [line for line in output.splitlines() if "ranked" in line and "│" in line]  # table rows
    assert ranking_lines and all(line in again.stdout for line in ranking_lines)
