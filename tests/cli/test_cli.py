"""The command line: the catalog listing, and bad input as one line on stderr with exit status 2."""

import pytest
from typer.testing import CliRunner

from seiscreen.cli import app

runner = CliRunner()


def test_materials_lists_the_catalog_with_sources():
    result = runner.invoke(app, ["materials"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for name in ("NaF", "NaBr", "Na2Se", "Na3P", "NaIn", "NaZn13", "Na15Sn4", "Na22Ga39", "Mg"):
        assert name in result.output
    assert "Wyckoff" in result.output  # sources are shown


def test_slabs_command_shows_the_tasker2_reconstruction():
    result = runner.invoke(app, ["slabs", "Na2Se", "100"], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "tasker2" in result.output and "100-s0.125-t20" in result.output


@pytest.mark.parametrize("args, message", [
    (["slabs", "NaQ", "100"], "unknown material 'NaQ'"),
    (["slabs", "NaF", "111"], "every termination is polar"),
    (["slabs", "NaF", "000"], "Miller index"),
    (["minima", "NaF", "100", "--calculator", "vasp"], "unknown calculator preset 'vasp'"),
    (["run", "no-such-campaign.yaml"], "campaign file no-such-campaign.yaml not found"),
    (["results", "--store", "no-such-store"], "no-such-store: run a campaign first"),
    (["results", "--store", ".", "--format", "xml"], "unknown format 'xml'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.strip().count("\n") == 0, result.output
