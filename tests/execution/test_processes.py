"""Calculations in processes of their own: image-parallel NEB bands and MPI-launched GPAW (seiscreen.parallel).

They change where a number is computed, never the number: the same band, the same force calls, the same protocol.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from seiscreen import parallel
from seiscreen.calculators import get_preset
from seiscreen.cli import app
from seiscreen.errors import SeiscreenError
from seiscreen.neb import NebProtocol, run_neb
from seiscreen.parallel import ParallelSettings, ProcessBand, SubprocessCalculator
from seiscreen.results import load_results


def _process_band(preset_name, folder, at_once):
    settings = ParallelSettings(images_at_once=at_once)
    made = []

    def own(k, image):
        made.append(SubprocessCalculator(get_preset(preset_name), folder / f"image{k:02d}", settings))
        return made[-1]

    return ProcessBand(own, at_once), made


@pytest.mark.slow
def test_an_image_parallel_band_gives_the_in_process_band(au_on_al_ends, tmp_path):
    from ase.calculators.emt import EMT

    protocol = NebProtocol(mirror=False)
    serial = run_neb(*au_on_al_ends, lambda k, image: EMT(), protocol)
    band, made = _process_band("emt", tmp_path, at_once=2)
    result = run_neb(*au_on_al_ends, band.image_calculator, protocol)
    band.close()
    assert result.status == serial.status == "accepted"
    assert result.forward_barrier == pytest.approx(serial.forward_barrier, abs=1e-9)
    assert result.force_calls == serial.force_calls  # counted per image, as in-process
    assert [calc.processes_started for calc in made] == [1] * protocol.n_images  # one process per image, kept
    # The moved images of a step are computed together (seiscreen.neb.BandDyNEB; ASE's DyNEB computed them one
    # by one: 1.1 images per evaluation, benchmarks/band_evaluation.py --emt).
    assert np.mean(band.batch_sizes) > 3
    assert not list(parallel._live)  # closing the band stopped them
    assert all((tmp_path / f"image{k:02d}" / "calculator-process.log").exists() for k in range(protocol.n_images))


def test_a_calculator_process_stopped_by_a_signal_is_no_result_of_its_inputs(tmp_path):
    # Ctrl-C reaches the whole process group, image processes included. Their death says nothing about the
    # inputs, so it is not a SeiscreenError (a hop stores those as its result and a rerun reuses them: a GPAW
    # band of Na2Se(100) was lost that way); a hop that raises anything else is stored as an error and retried.
    import signal

    from ase.build import add_adsorbate, fcc100

    from seiscreen.parallel import CalculatorProcessKilled
    from seiscreen.store_reuse import _is_reusable

    slab = fcc100("Al", size=(2, 2, 3), vacuum=6.0)
    add_adsorbate(slab, "Au", 2.0, "hollow")
    # Ctrl-C as in a terminal: a test run started in the background inherits SIGINT ignored, and so would the
    # calculator process; a handler here gives the process the default action.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        calc = SubprocessCalculator(get_preset("emt"), tmp_path / "calc", ParallelSettings(images_at_once=2))
        slab.calc = calc
        slab.get_potential_energy()
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        calc._client.server.proc.send_signal(signal.SIGINT)
        calc._client.server.proc.wait(timeout=60)  # dead before the next call (a loaded machine delays it)
        slab.positions[-1, 0] += 0.1
        with pytest.raises(CalculatorProcessKilled, match=r"stopped by signal 2: rerun to compute it") as raised:
            slab.get_potential_energy()
        assert not isinstance(raised.value, SeiscreenError) and not list(parallel._live)
    finally:
        calc.close()  # a failure here must not leave its process to the tests after this one
    assert not _is_reusable({"doc_type": "hop", "status": "failed", "error": True})


def test_a_failed_calculator_process_is_a_clear_error_naming_its_output(tmp_path):
    from ase.build import add_adsorbate, fcc100

    slab = fcc100("Al", size=(2, 2, 3), vacuum=6.0)
    add_adsorbate(slab, "Na", 2.0, "hollow")  # EMT has no Na: the process fails on its first call
    slab.calc = SubprocessCalculator(get_preset("emt"), tmp_path / "calc", ParallelSettings(images_at_once=2))
    with pytest.raises(SeiscreenError, match=r"calculator process .* failed: NotImplementedError: .*Na.*"
                                             r"calculator-process.log"):
        slab.get_potential_energy()
    assert not list(parallel._live)


def test_a_calculator_process_ends_when_the_workflow_process_is_killed():
    """A workflow killed mid-band (no atexit) leaves its calculator processes computing until their SCF is done:
    they watch the workflow's pid and end with it. Stand-in: a process busy for a minute watching a short-lived
    one."""
    import subprocess
    import time

    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    watcher = subprocess.Popen([sys.executable, "-c", "import time; from seiscreen.parallel import _exit_with; "
                                f"_exit_with({parent.pid}, every=0.2); time.sleep(60)"])
    parent.wait()
    start = time.monotonic()
    assert watcher.wait(timeout=30) == 1 and time.monotonic() - start < 30


def test_the_launcher_starts_each_mpi_calculation_with_its_ranks(tmp_path):
    spec = tmp_path / "spec.pkl"
    python = [sys.executable, "-m", "seiscreen.parallel", str(spec)]
    assert ParallelSettings().command(spec) == python
    assert ParallelSettings(ranks=4).command(spec) == ["mpiexec", "-n", "4", *python]
    assert ParallelSettings(ranks=8, launcher="srun -n {ranks} --cpu-bind=cores").command(spec) == [
        "srun", "-n", "8", "--cpu-bind=cores", *python]


@pytest.mark.slow  # seconds: run by `make test`, kept out of `make test-fast`
def test_a_campaign_or_a_rerun_with_images_at_once_gives_the_serial_barrier_under_its_protocol(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = yaml.safe_load(open(__file__.replace("tests/execution/test_processes.py", "workflows/emt-demo.yaml")))
    runner = CliRunner()
    barriers = {}
    for name, extra in (("serial", {}), ("images", {"parallel": {"images_at_once": 3}})):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**spec, **extra}))
        result = runner.invoke(app, ["run", f"{name}.yaml", "--store", name])
        assert result.exit_code == 0, result.output
        surfaces = load_results(tmp_path / name).surfaces
        barriers[name] = surfaces.set_index("protocol_id")["barrier"]
    # The same protocol id (parallel settings are where, not what), so both rank in one table; the same barrier.
    assert list(barriers["images"].index) == list(barriers["serial"].index)
    assert np.allclose(barriers["images"], barriers["serial"], atol=1e-6)
    hops = load_results(tmp_path / "images").hops
    assert (tmp_path / "images" / "runs").exists() and len(hops) >= 1
    assert list((tmp_path / "images" / "runs").rglob("calculator-process.log"))
    # A stored hop rerun with its images in processes gives its stored barrier (`seiscreen rerun-hop`).
    hop = hops.iloc[0]
    rerun = runner.invoke(app, ["rerun-hop", hop["job_uuid"], "--store", "images", "--images-at-once", "2"])
    assert rerun.exit_code == 0 and re.search(r"difference [+-]0\.000\d eV", rerun.output), rerun.output
    assert not list(parallel._live)
    bad = runner.invoke(app, ["rerun-hop", hop["job_uuid"], "--store", "images", "--ranks", "2"])
    assert bad.exit_code == 2 and "MPI ranks apply to GPAW presets only" in bad.output, bad.output
    zero = runner.invoke(app, ["rerun-hop", hop["job_uuid"], "--store", "images", "--images-at-once", "0"])
    assert zero.exit_code == 2 and "bad parallel setting for the rerun (images_at_once" in zero.output, zero.output


@pytest.mark.parametrize("parallel, calculator, message", [
    ("{ranks: 0}", "emt", r"parallel.ranks: .*greater than or equal to 1"),
    ("{images: 2}", "emt", r"unknown key 'parallel.images'.*images_at_once"),
    ("{ranks: 2}", "emt", r"MPI ranks apply to GPAW presets only"),
    ("{ranks: 2, launcher: 'no-such-mpirun -np {ranks}'}", "gpaw-test",
     r"parallel.launcher: 'no-such-mpirun' not found"),
])
def test_bad_parallel_settings_are_one_line(tmp_path, parallel, calculator, message):
    from seiscreen.campaign import load_campaign

    path = tmp_path / "c.yaml"
    path.write_text(f"name: x\ncalculator: {calculator}\nadsorbate: Au\nmaterials: [{{material: Al}}]\n"
                    f"parallel: {parallel}\n")
    with pytest.raises(SeiscreenError, match=message):
        load_campaign(path)


def test_a_launcher_that_fails_is_one_line_naming_it(tmp_path):
    # A launcher that exists but fails is a one-line error at the first calculation, naming the command.
    calc = SubprocessCalculator(get_preset("emt"), tmp_path / "calc",
                                ParallelSettings(ranks=2, launcher="/dev/null/mpiexec -n {ranks}"))
    from ase.build import fcc100

    with pytest.raises(SeiscreenError, match=r"cannot start the calculator process \(/dev/null/mpiexec -n 2 .*"
                                             r"check parallel.launcher"):
        calc.get_potential_energy(fcc100("Al", size=(1, 1, 2), vacuum=5.0))
    assert not list(parallel._live)


@pytest.mark.slow
def test_gpaw_in_its_own_process_gives_the_in_process_forces(tmp_path):
    from tests.calculators.test_gpaw import _tiny_naf_with_adatom

    preset = get_preset("gpaw-test")
    here = _tiny_naf_with_adatom()
    here.calc = preset.make(here, tmp_path / "here")
    there = _tiny_naf_with_adatom()
    preset.prepare(there)
    there.calc = SubprocessCalculator(preset, tmp_path / "there", ParallelSettings(images_at_once=2))
    for _ in range(2):  # the second call reuses the process (and its wavefunctions)
        assert there.get_potential_energy() == pytest.approx(here.get_potential_energy(), abs=1e-6)
        assert np.abs(there.get_forces() - here.get_forces()).max() < 1e-5
        for atoms in (here, there):
            atoms.positions[-1, 0] += 0.1
    assert there.calc.processes_started == 1
    assert (tmp_path / "there" / "gpaw.txt").read_text().count("Free energy") >= 2  # GPAW's own output, as ever
    there.calc.close()


@pytest.mark.slow
def test_gpaw_on_two_mpi_ranks_gives_the_serial_forces(tmp_path, monkeypatch):
    import shutil

    import _gpaw
    from tests.calculators.test_gpaw import _tiny_naf_with_adatom

    from seiscreen.workflow.hops import HopNebMaker

    if not hasattr(_gpaw, "Communicator") or shutil.which("mpiexec") is None:
        pytest.skip("GPAW without MPI here: scripts/setup.sh builds it with MPI where it can install OpenMPI")
    monkeypatch.setenv("OMPI_ALLOW_RUN_AS_ROOT", "1")  # CI runs as root, which OpenMPI refuses unless told
    monkeypatch.setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    serial = _tiny_naf_with_adatom()
    serial.calc = get_preset("gpaw-test").make(serial, tmp_path / "serial")
    maker = HopNebMaker(calculator_preset="gpaw-test",
                        parallel=ParallelSettings(ranks=2, launcher="mpiexec --oversubscribe -n {ranks}"))
    mpi = _tiny_naf_with_adatom()
    with maker.band_calculators(tmp_path) as make_calculator:  # as an NEB image: image_calculator inside
        mpi.calc = make_calculator(0, mpi)
        assert isinstance(mpi.calc, SubprocessCalculator)
        assert mpi.get_potential_energy() == pytest.approx(serial.get_potential_energy(), abs=1e-5)
        assert np.abs(mpi.get_forces() - serial.get_forces()).max() < 1e-4
        assert list(parallel._live)
    assert not list(parallel._live)  # the band's MPI job was stopped with the band
    assert "cores:  2" in (tmp_path / "image00" / "gpaw.txt").read_text()  # GPAW itself ran on both ranks
    assert (tmp_path / "image00" / "gpaw.gpw").exists()  # its restart file, written once (by rank 0)

