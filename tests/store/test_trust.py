"""A store from someone else runs no code: checkpoints are plain data, stored documents name only seiscreen's and
jobflow's classes; and a damaged checkpoint is reported, discarded and computed again."""

from __future__ import annotations

import gzip
import json
import logging
import os
import pickle
import stat
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from jobflow import Flow, JobStore, OutputReference, job, run_locally
from maggma.stores import MemoryStore
from typer.testing import CliRunner

from seiscreen.checkpoints import StepCheckpoint, dumps, loads
from seiscreen.cli import app
from seiscreen.errors import SeiscreenError
from seiscreen.minima import MinimaSettings, scan_surface
from seiscreen.results import load_results
from seiscreen.store import EXPORT_FORMAT, find_done, open_store
from seiscreen.surfaces.slabs import SlabSettings, make_terminations
from seiscreen.trust import foreign_code

SHIPPED = Path(__file__).resolve().parents[2] / "results"


class _WritesMarker:
    """A pickle whose loading writes ``marker``: what a planted checkpoint would do with ``pickle.load``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def _planted(marker: Path) -> bytes:
    return pickle.dumps(_WritesMarker(marker))


@pytest.fixture(scope="module")
def al100(aluminium):
    (term,) = make_terminations(aluminium, (1, 0, 0), SlabSettings(min_thickness=5, min_lateral_size=5.5))
    return term


def _scan(term, folder, calc=None):
    from ase.calculators.emt import EMT

    return scan_surface(term.to_atoms(), calc or EMT(), MinimaSettings(adsorbate="Au"), checkpoint=folder)


def _same_minima(a, b) -> bool:
    return [(m.site, m.energy, m.verified, m.started_from) for m in a.minima] == [
        (m.site, m.energy, m.verified, m.started_from) for m in b.minima] and all(
        np.array_equal(x.atoms.positions, y.atoms.positions) for x, y in zip(a.minima, b.minima, strict=True))


def test_a_pickle_planted_in_a_minima_checkpoint_never_runs(al100, tmp_path, caplog):
    # Two places an attacker could put one: the old name (<step>.pkl, what earlier versions read) and the new one.
    clean = _scan(al100, tmp_path / "clean")
    folder = tmp_path / "planted"
    _scan(al100, folder)
    marker = tmp_path / "marker"
    pickle.loads(_planted(tmp_path / "control"))
    assert (tmp_path / "control").exists()  # the planted bytes do run code when unpickled
    (folder / "site-1.json").write_bytes(_planted(marker))
    (folder / "site-2.json").unlink()
    (folder / "site-2.pkl").write_bytes(_planted(marker))
    with caplog.at_level(logging.WARNING, logger="seiscreen.checkpoints"):
        rerun = _scan(al100, folder)
    assert not marker.exists()
    assert _same_minima(rerun, clean)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("discarding unreadable checkpoint" in m and "site-1.json" in m for m in messages) == 1
    assert sum("ignoring the pickle checkpoints of an older seiscreen" in m for m in messages) == 1
    assert loads((folder / "site-1.json").read_text()).site == rerun.minima[0].site  # recomputed and saved again


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "unknown type"])
def test_a_damaged_minima_checkpoint_is_reported_discarded_and_recomputed(al100, tmp_path, caplog, damage):
    from ase.calculators.emt import EMT

    class Counting(EMT):
        calls = 0

        def calculate(self, *args, **kwargs):
            Counting.calls += 1
            super().calculate(*args, **kwargs)

    clean = _scan(al100, None)
    folder = tmp_path / "search"
    _scan(al100, folder)
    path = folder / "clean.json"
    text = path.read_text()
    path.write_text({"truncated": text[: len(text) // 2], "garbage": "\x00\x13 not a checkpoint", "empty": "",
                     "unknown type": text.replace('"~": "atoms"', '"~": "os.system"', 1)}[damage])
    with caplog.at_level(logging.WARNING, logger="seiscreen.checkpoints"):
        rerun = _scan(al100, folder, Counting())
    assert Counting.calls > 0  # the clean slab was relaxed again; the starts came back from their files
    assert _same_minima(rerun, clean) and rerun.clean_energy == clean.clean_energy
    warned = [r.getMessage() for r in caplog.records if "clean.json" in r.getMessage()]
    assert len(warned) == 1 and "discarding unreadable checkpoint" in warned[0]
    assert loads(path.read_text())[1] == clean.clean_energy  # written again, whole


def test_a_band_and_a_valley_round_trip_exactly(au_on_al100_hop_ends):
    # What the through-valley and rerun steps keep: relaxed ends, (done, calls, valley), (NebResult, smearing).
    from ase.calculators.emt import EMT

    from seiscreen.neb import NebProtocol, run_neb, with_fixed_results

    initial, final = au_on_al100_hop_ends
    result = run_neb(initial, final, lambda k, image: EMT(), NebProtocol(n_images=3), history_every=2)
    result.images = [with_fixed_results(image) for image in result.images]
    value = ((with_fixed_results(initial), with_fixed_results(final)), (True, 7, result.images[2]),
             (result, [0.05, None, np.float64(0.05)]))
    back = loads(dumps(value))
    (ends, (done, calls, valley), (band, smearing)) = back
    assert done is True and calls == 7 and smearing == [0.05, None, 0.05] and type(smearing[2]) is np.float64
    assert ends[0].get_potential_energy() == initial.get_potential_energy()
    assert np.array_equal(valley.get_forces(), result.images[2].get_forces())
    assert valley.constraints[0].index.tolist() == initial.constraints[0].index.tolist()
    assert type(band) is type(result) and band.status == result.status and band.path == result.path
    assert band.forward_barrier == result.forward_barrier and band.gates == result.gates
    assert band.energies == result.energies and len(band.history) == len(result.history) > 1
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(band.images, result.images, strict=True))
    assert all(np.array_equal(a.positions, b.positions)
               for old, new in zip(result.history, band.history, strict=True) for a, b in zip(old, new, strict=True))


def test_a_checkpoint_refuses_values_it_could_not_rebuild_and_a_run_goes_on(tmp_path, caplog):
    with pytest.raises(TypeError, match="cannot hold a"):
        dumps({"callback": print})
    with pytest.raises(TypeError):
        dumps(np.array([object()]))  # an object array: only numbers are stored
    steps = StepCheckpoint(tmp_path)
    with caplog.at_level(logging.WARNING, logger="seiscreen.checkpoints"):
        assert steps.cached("odd", lambda: {"callback": print}) == {"callback": print}
    assert not list(tmp_path.iterdir()) and "not checkpointed" in caplog.text
    assert steps.cached("plain", lambda: (1, 2.5)) == (1, 2.5)
    assert StepCheckpoint(tmp_path).cached("plain", lambda: pytest.fail("computed again")) == (1, 2.5)


def test_a_calculator_process_gets_its_spec_as_plain_data_only_its_user_can_read(tmp_path):
    from ase.build import fcc100
    from ase.calculators.emt import EMT

    from seiscreen.calculators import get_preset
    from seiscreen.parallel import ParallelSettings, SubprocessCalculator

    atoms = fcc100("Al", size=(2, 2, 3), vacuum=6.0)
    calc = SubprocessCalculator(get_preset("emt"), tmp_path, ParallelSettings(images_at_once=2))
    try:
        energy = calc.get_potential_energy(atoms)
        spec = calc._client.spec
        assert stat.S_IMODE(spec.stat().st_mode) == 0o600
        sent = loads(spec.read_text())
        assert sent["preset"]["name"] == "emt" and np.array_equal(sent["atoms"].positions, atoms.positions)
    finally:
        calc.close()
    assert not spec.exists()
    assert energy == pytest.approx(EMT().get_potential_energy(atoms), abs=1e-9)


# --------------------------------------------------------------------------------------------- stored documents


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A module outside seiscreen and jobflow that writes a marker when imported, named by a planted document:
    (module name, marker path)."""
    name = f"probe_{uuid.uuid4().hex[:12]}"
    marker = tmp_path / f"{name}.imported"
    folder = tmp_path / "site-packages"
    folder.mkdir()
    (folder / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\n"
                                       "class Band:\n    def __init__(self, **kwargs):\n        pass\n")
    monkeypatch.syspath_prepend(str(folder))
    yield name, marker
    sys.modules.pop(name, None)


def _planted_doc(module: str, job_uuid: str | None = None) -> dict:
    return {"uuid": job_uuid or str(uuid.uuid4()), "index": 1, "name": "hop", "completed_at": "2000-01-01T00:00:00",
            "metadata": {}, "hosts": [],
            "output": {"doc_type": "hop", "content_hash": "planted", "status": "accepted", "error": False,
                       "band": {"@module": module, "@class": "Band", "images": []}}}


_RAN: list = []  # what _consume was given


@job
def _consume(value):
    _RAN.append(value)
    return 1


def test_a_stored_document_naming_foreign_code_is_refused_where_seiscreen_reads(tmp_path, probe):
    module, marker = probe
    store = open_store(tmp_path / "store")
    doc = _planted_doc(module)
    store.docs_store.update([doc], key=["uuid", "index"])
    for read in (lambda: find_done(store, "hop", "planted", load=True), lambda: load_results(store),
                 lambda: OutputReference(doc["uuid"]).resolve(store)):
        with pytest.raises(SeiscreenError, match=f"names code outside seiscreen and jobflow .*@module '{module}'"):
            read()
    # A job whose input is that document's output: jobflow resolves it before the job runs, and is refused.
    _RAN.clear()
    responses = run_locally(Flow([_consume(OutputReference(doc["uuid"], (("a", "band"),)))]), store=store, log=False,
                            allow_external_references=True)
    assert not responses and _RAN == []
    result = CliRunner().invoke(app, ["results", "--store", str(tmp_path / "store")], env={"COLUMNS": "400"})
    line = result.output.strip()
    assert result.exit_code == 2 and line.startswith("error:") and "\n" not in line, result.output
    assert not marker.exists() and module not in sys.modules


def test_jobflow_alone_would_import_what_a_planted_document_names(probe):
    # The control: without seiscreen's check, resolving the reference imports the named module.
    module, marker = probe
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    doc = _planted_doc(module)
    store.docs_store.update([doc], key=["uuid", "index"])
    OutputReference(doc["uuid"]).resolve(store)
    assert marker.exists()


def test_a_store_folder_naming_a_foreign_storage_engine_is_refused_before_montydb_imports_it(tmp_path, probe):
    from montydb import MontyClient

    module, marker = probe
    open_store(tmp_path / "store")  # a real store folder, then its engine file rewritten
    (tmp_path / "store" / ".monty.storage").write_text(module)
    with pytest.raises(SeiscreenError, match=f"storage engine '{module}'|cannot be opened"):
        open_store(tmp_path / "store")
    result = CliRunner().invoke(app, ["results", "--store", str(tmp_path / "store")], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and result.output.strip().startswith("error:"), result.output
    assert not marker.exists() and module not in sys.modules
    with pytest.raises(Exception):  # noqa: B017 - the control: montydb alone imports it (and then finds no engine)
        MontyClient(str(tmp_path / "store"))
    assert marker.exists()


def test_a_results_file_naming_foreign_code_is_refused(tmp_path, probe):
    module, marker = probe
    path = tmp_path / "shared.json.gz"
    with gzip.open(path, "wt") as handle:
        json.dump({"format": EXPORT_FORMAT, "jobs": [_planted_doc(module)], "data": []}, handle)
    with pytest.raises(SeiscreenError, match="names code outside seiscreen and jobflow"):
        load_results(path)
    result = CliRunner().invoke(app, ["results", "--store", str(path)], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and result.output.strip().startswith("error:"), result.output
    assert not marker.exists()


@pytest.mark.parametrize("planted", [
    {"@module": "seiscreen.cli", "@callable": "app"},  # a function, even one of seiscreen's
    {"@module": "os.path", "@class": "join"}, {"@module": ["os"], "@class": "x"},
    [{"ok": 1}, {"deep": [{"@module": "subprocess", "@class": "Popen"}]}]])
def test_only_seiscreen_and_jobflow_classes_pass(planted):
    assert foreign_code({"output": planted}) is not None
    assert foreign_code({"output": {"@module": "seiscreen.schemas", "@class": "HopDoc",
                                    "band": {"@module": "", "@class": "", "blob_uuid": "x"}}}) is None


def test_the_shipped_results_files_name_only_allowed_classes():
    files = sorted(SHIPPED.glob("*.json.gz"))
    assert files
    for path in files:
        with gzip.open(path, "rt") as handle:
            payload = json.load(handle)
        assert [foreign_code(d) for d in payload["jobs"] + payload["data"] if foreign_code(d)] == [], path


def test_checkpoints_follow_the_umask_and_a_calculator_spec_is_private(tmp_path):
    # Checkpoints follow the umask (a group store shares them); a calculator's spec is this user's alone.
    from seiscreen.checkpoints import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "step.json", "{}")
        write_atomic(tmp_path / "spec.json", "{}", private=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "step.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "spec.json").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json", "step.json"]  # no temporary file left
