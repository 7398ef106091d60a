"""notebooks/analysis.ipynb executes top to bottom against a store made here (the EMT demo campaign)."""

from pathlib import Path

import nbformat
from jobflow import run_locally
from nbclient import NotebookClient

from seiscreen.campaign import load_campaign
from seiscreen.flows import campaign_flow
from seiscreen.store import open_store

REPO = Path(__file__).resolve().parents[1]


def test_analysis_notebook_runs_on_a_real_store(tmp_path, monkeypatch):
    store_path = tmp_path / "store"
    run_locally(campaign_flow(load_campaign(REPO / "workflows" / "emt-demo.yaml")), store=open_store(store_path),
                log=False)
    monkeypatch.setenv("SEISCREEN_STORE", str(store_path))
    notebook = nbformat.read(REPO / "notebooks" / "analysis.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "".join(str(o.get("data", {}).get("text/plain", "")) for cell in notebook.cells
                      if cell.cell_type == "code" for o in cell.outputs)
    assert "Al" in outputs and "ranked" in outputs
