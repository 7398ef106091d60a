"""Shipped results stay true: every results file in results/ names the code that wrote it, and a cheap slice of
the shipped review campaign, rerun with the code as it is now, gives the shipped numbers within a stated tolerance.
A code change that moves shipped science fails here: explain it in docs/notes and regenerate the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jobflow import run_locally

from seiscreen.campaign import load_campaign
from seiscreen.compare_stores import compare_stores, export_header
from seiscreen.workflow.flows import campaign_flow
from seiscreen.store import open_store

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "results"
# Exported before exports named their code (store.code_version), with their export times: this list only shrinks
# (a file exported again names its code and leaves it). docs/notes/2026-12-06-determinism.md: their likely commits.
EXPORTED_WITHOUT_CODE_VERSION = {
    "gpaw-halides.json.gz": "2026-11-28T14:59:19.741049+00:00",
    "gpaw-naf100-wide.json.gz": "2026-11-27T14:24:21.591646+00:00",
    "gpaw-naf100.json.gz": "2026-11-26T16:01:53.292938+00:00",
    "review-chgnet.json.gz": "2026-11-27T03:37:44.208958+00:00",
}
# eV. Two runs of one code agree to the last digit (tests/reliability/test_determinism.py); today's code gives NaF(100)
# and NaCl(100) within 0.3 meV of the shipped file, written by the code of 2026-11-26. Relaxations stop at fmax 0.01
# (minima) and 0.05 eV/Å (bands): a change in how they get there moves numbers by a few meV, not science. 5 meV is
# a fifth of the closest gap the shipped ranking draws between two halides (NaF(100) 0.210, NaI(100) 0.234 eV).
TOLERANCE = 0.005
# NaCl(100) in the review's 64-atom cell: two minima, two hops; 70-80 s. NaF(100) agrees too (0.2 meV) but a second
# surface would double the time: docs/notes/2026-12-06-determinism.md has both, and NaBr(100), which moved.
SLICE = ("NaCl",)


def test_every_shipped_results_file_names_the_committed_code_that_wrote_it():
    files = sorted(SHIPPED.glob("*.json.gz"))
    assert {p.name for p in files} >= set(EXPORTED_WITHOUT_CODE_VERSION), "a listed file is gone: drop it from the list"
    for path in files:
        found = export_header(path)
        if path.name in EXPORTED_WITHOUT_CODE_VERSION and "code_version" not in found:
            # the very file exported then; one exported again records its code
            assert found["exported_at"] == EXPORTED_WITHOUT_CODE_VERSION[path.name], path.name
            continue
        code = found.get("code_version") or {}
        assert re.fullmatch(r"[0-9a-f]{40}", code.get("commit") or ""), (
            f"{path.name} names no git commit: export it with `seiscreen export` from a git checkout")
        assert code.get("dirty") is False, (f"{path.name} was exported from a tree with changes not committed "
                                            f"({', '.join(code.get('changed', []))}): commit the code, then export")


@pytest.mark.slow  # about 80 s: NaCl(100) at CHGNet
def test_a_slice_of_the_review_campaign_gives_the_shipped_numbers(tmp_path):
    review = load_campaign(REPO / "workflows" / "review.yaml")
    # The shipped file holds the smallest cell of each series: the slice runs that cell alone.
    # The saddle checks (tested in tests/workflow/test_kinetics.py) pass on NaCl(100) and change none of its numbers;
    # without them the slice takes 80 s instead of 210.
    campaign = review.model_copy(update={"materials": [m for m in review.materials if m.material in SLICE],
                                         "convergence": None,
                                         "kinetics": review.kinetics.model_copy(update={"saddle_check": False})})
    assert [m.facets for m in campaign.materials] == [[(1, 0, 0)]] * len(SLICE)
    store = open_store(tmp_path / "store")
    run_locally(campaign_flow(campaign, store=store), store=store, log=False)
    found = compare_stores(tmp_path / "store", SHIPPED / "review-chgnet.json.gz", TOLERANCE, a_is_slice=True)
    assert found.agree, "\n".join([found.summary(), *map(str, found.differences), *found.only_a, *found.only_b])
    assert found.paired["surface"] == len(SLICE) and found.paired["hop"] >= len(SLICE), found.summary()
