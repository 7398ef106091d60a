"""notebooks/analysis.ipynb executes top to bottom against a store made here (the EMT demo campaign)."""

import re
from pathlib import Path

import pytest
import nbformat
from jobflow import run_locally
from nbclient import NotebookClient

from seiscreen.campaign import load_campaign
from seiscreen.workflow.flows import campaign_flow
from seiscreen.store import open_store

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_analysis_notebook_runs_on_a_real_store(tmp_path, monkeypatch):
    store_path = tmp_path / "store"
    run_locally(campaign_flow(load_campaign(REPO / "workflows" / "emt-demo.yaml")), store=open_store(store_path),
                log=False)
    monkeypatch.setenv("SEISCREEN_STORE", str(store_path))
    notebook = nbformat.read(REPO / "notebooks" / "analysis.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises on the first failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs)
    assert "Al" in text and "ranked" in text  # the ranking
    assert "Cao 2024 [77]" in text and "undecidable" in text  # the review comparison (no Na chemistry in EMT)
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    # a bar chart per protocol, a top view and NEB profiles per surface, the scatter
    assert len(pictures) >= 4, len(pictures)
    # the band's energies read back from the data store: a printed list peaking at Au on Al(100)'s EMT barrier
    band = [float(x) for x in re.search(r"\[0\.0, ([-0-9., ]+)\]", text).group(1).split(",")]
    assert abs(max(band) - 0.37) < 0.01
