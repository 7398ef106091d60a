"""ML presets' device (auto, cpu, cuda): recorded in the provenance, never in a content hash; and a batch that
runs out of GPU memory split in halves (the OOM faked, on CPU)."""

import numpy as np
import pytest
from ase.build import bulk

torch = pytest.importorskip("torch")

from seiscreen import calculators  # noqa: E402
from seiscreen.batched import BandBatch  # noqa: E402
from seiscreen.calculators import CalculatorPreset, get_preset, resolve_device  # noqa: E402
from seiscreen.errors import SeiscreenError  # noqa: E402
from seiscreen.parallel import ParallelSettings  # noqa: E402
from seiscreen.schemas import calculator_identity, content_hash  # noqa: E402
from seiscreen.workflow.base import CalculatorMaker  # noqa: E402

needs_cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="checks 'auto' on a machine without a GPU")


def _hash(preset) -> str:
    return content_hash("minima", calculator=calculator_identity(preset.provenance()))


@needs_cpu_only
def test_cpu_and_auto_give_the_hash_of_stored_cpu_results_and_record_the_device():
    auto, cpu = get_preset("chgnet"), get_preset("chgnet").on_device("cpu")
    # The identity CHGNet documents were stored under before presets had a device
    before = {"preset": "chgnet", "code": "chgnet", "parameters": {"model": "0.3.0"}, "adatom_magmom": 0.0}
    assert calculator_identity(auto.provenance()) == calculator_identity(cpu.provenance()) == before
    assert _hash(auto) == _hash(cpu)
    assert auto.provenance()["device"] == cpu.provenance()["device"] == "cpu"


def test_a_gpu_run_is_recorded_as_one_and_keeps_the_hash(monkeypatch):
    cpu_hash = _hash(get_preset("chgnet").on_device("cpu"))
    monkeypatch.setattr(calculators, "_cuda_available", lambda: True)
    auto = get_preset("chgnet")
    assert auto.provenance()["device"] == "cuda"
    assert _hash(auto) == _hash(auto.on_device("cuda")) == cpu_hash


@needs_cpu_only
def test_cuda_without_a_gpu_is_refused_in_one_line():
    assert resolve_device("auto") == "cpu"
    with pytest.raises(SeiscreenError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_only_ml_presets_take_a_device():
    assert get_preset("emt").on_device("cuda") is get_preset("emt")  # a campaign's override leaves EMT alone
    with pytest.raises(ValueError, match="ML presets only"):
        CalculatorPreset(**{**get_preset("emt").model_dump(), "device": "cpu"})


def test_the_campaign_override_reaches_the_makers_preset():
    maker = CalculatorMaker(calculator_preset="ml", parallel=ParallelSettings(device="cpu"))
    assert maker.preset.device == "cpu"
    assert CalculatorMaker(calculator_preset="ml").preset.device == "auto"
    assert maker.identity() == CalculatorMaker(calculator_preset="ml").identity()


@needs_cpu_only
@pytest.mark.slow
def test_cpu_and_auto_give_the_same_numbers():
    results = []
    for preset in (get_preset("chgnet"), get_preset("chgnet").on_device("cpu")):
        atoms = bulk("NaF", "rocksalt", a=4.7)
        atoms.rattle(0.05, seed=3)
        atoms.calc = preset.make(atoms)
        results.append((atoms.get_potential_energy(), atoms.get_forces()))
    assert results[0][0] == pytest.approx(results[1][0], abs=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-6)


class _Model:
    """A stand-in for CHGNet: energy = first atom's x, forces = positions; runs out of memory above ``fits``."""

    is_intensive = False

    def __init__(self, fits: int, error=torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")):
        self.fits, self.error, self.sizes = fits, error, []

    def graph_converter(self, structure):
        return structure

    def predict_graph(self, graphs, task, batch_size):
        self.sizes.append(len(graphs))
        if len(graphs) > self.fits:
            raise self.error
        return [{"e": np.array([g.cart_coords[0, 0]]), "f": g.cart_coords} for g in graphs]


def _structures(n: int):
    out = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.positions[0, 0] = 0.1 * k
        out.append(atoms)
    return out


def test_a_batch_out_of_gpu_memory_is_split_in_halves_and_gives_every_result_in_order():
    batch = BandBatch(_Model(fits=3))
    structures = _structures(10)
    results = batch.predict(structures)
    assert [e for e, _ in results] == pytest.approx([0.1 * k for k in range(10)])
    for atoms, (_, forces) in zip(structures, results, strict=True):
        np.testing.assert_allclose(forces, atoms.positions, atol=1e-9)
    # 10 -> 5 + 5 -> (2 + 3) + (2 + 3): four passes that fitted, and 2 is kept as the batch size that fits
    assert batch.model_calls == 4 and batch.evaluations == 10 and batch.max_batch == 2
    batch.model.sizes.clear()
    batch.predict(_structures(5))  # the next call starts at the size that fitted: no failed pass
    assert batch.model.sizes == [2, 2, 1]


def test_a_single_structure_out_of_memory_and_other_errors_are_raised():
    with pytest.raises(torch.OutOfMemoryError):
        BandBatch(_Model(fits=0)).predict(_structures(2))
    model = _Model(fits=1, error=RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        BandBatch(model).predict(_structures(4))
    assert model.sizes == [4]  # not retried
