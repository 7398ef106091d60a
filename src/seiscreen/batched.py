"""Batched ML inference for NEB bands: every image that moved is evaluated in one model call.

ASE's NEB asks its images for forces one after another; with one calculator per image, an ML potential then runs
one forward pass per image. Here the images' calculators share a :class:`BandBatch`: the first image asked
collects every registered image whose positions changed since its last evaluation, runs the model once on all of
them (as fairchem's OCPNEB does), and hands each image its own results; the others are then served from their
cache. Nothing else in the NEB changes: ``make_calculator(k, image)`` of :func:`seiscreen.neb.run_neb` becomes
``batch.image_calculator``, and force calls are counted per image exactly as before. Every CHGNet hop of a
campaign runs this way (``bands.CalculatorLevel.band_calculators``).

    batch = BandBatch.for_preset(get_preset("ml"))
    run_neb(initial, final, batch.image_calculator, protocol)

Implemented for CHGNet (the ``ml`` preset), on the preset's device; on a GPU a batch too large for its memory is
split in halves and retried (:meth:`BandBatch.forward`). Forces equal the per-image ``CHGNetCalculator``'s within
float32 round-off (tests/neb/test_performance.py).
"""

from __future__ import annotations

import contextlib
import io
import weakref
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from seiscreen.calculators import CalculatorPreset
from seiscreen.errors import SeiscreenError


class SharedBand:
    """The images of one band, evaluated together: the first image asked evaluates every image whose positions
    changed since its calculator last computed it (``evaluate``, which subclasses define), the rest are then
    served from their cache. :class:`BandBatch` batches them through one model call;
    :class:`seiscreen.parallel.ProcessBand` sends them to processes of their own at the same time."""

    def __init__(self) -> None:
        self._images: list[tuple[weakref.ref, BatchedImageCalculator]] = []
        self.batch_sizes: list[int] = []  # images evaluated together, per evaluation

    def image_calculator(self, k: int, image: Atoms) -> BatchedImageCalculator:
        """The calculator of intermediate image ``k`` (the ``make_calculator`` of run_neb)."""
        calc = BatchedImageCalculator(self)
        self._images.append((weakref.ref(image), calc))
        return calc

    def evaluate(self, pairs: list[tuple[Atoms, BatchedImageCalculator]]) -> list[tuple[float, np.ndarray]]:
        """(energy in eV, forces in eV/Å) of each (structure, its image's calculator)."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Evaluate every registered image whose positions changed since its calculator last computed it."""
        stale: list[tuple[Atoms, BatchedImageCalculator]] = []
        for ref, calc in self._images:
            image = ref()
            if image is None or image.calc is not calc:
                continue  # the image was dropped or handed another calculator
            if calc.atoms is None or calc.check_state(image):
                stale.append((image, calc))
        if not stale:
            return
        self.batch_sizes.append(len(stale))
        for (image, calc), (energy, forces) in zip(stale, self.evaluate(stale), strict=True):
            calc.store(image, energy, forces)


class BandBatch(SharedBand):
    """A CHGNet model shared by the images of one band; evaluates the stale images together.

    ``task="ef"``: energy and forces only, which is all a NEB uses (the per-image calculator also computes stress
    and magnetic moments).
    """

    def __init__(self, model, task: str = "ef") -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.model_calls = 0  # forward passes (one per batch)
        self.evaluations = 0  # structures evaluated (one per image per batch)
        self.max_batch: int | None = None  # structures per forward pass that fit in GPU memory; None: no limit

    @classmethod
    def for_preset(cls, preset: CalculatorPreset, task: str = "ef") -> BandBatch:
        if preset.code != "chgnet":
            raise SeiscreenError(f"batched band evaluation is implemented for CHGNet presets only, not "
                                 f"{preset.name!r} ({preset.code}): use the per-image calculators (run_neb's "
                                 "make_calculator) for it")
        from seiscreen.calculators import _torch_threads, chgnet_model

        _torch_threads()
        return cls(chgnet_model(preset)[0], task=task)  # a fine-tuned preset's own weights

    def evaluate(self, pairs) -> list[tuple[float, np.ndarray]]:
        return self.predict([atoms for atoms, _ in pairs])

    def predict(self, structures: Sequence[Atoms]) -> list[tuple[float, np.ndarray]]:
        """(energy in eV, forces in eV/Å) of each structure, from one forward pass of the model (on a GPU, as many
        as its memory takes: :meth:`forward`)."""
        from pymatgen.io.ase import AseAtomsAdaptor

        graphs = [self.model.graph_converter(AseAtomsAdaptor.get_structure(a)) for a in structures]
        predictions: list[dict] = []
        while len(predictions) < len(graphs):
            start = len(predictions)
            predictions += self.forward(graphs[start:start + (self.max_batch or len(graphs))])
        self.evaluations += len(structures)
        out = []
        for atoms, p in zip(structures, predictions, strict=True):
            factor = len(atoms) if self.model.is_intensive else 1  # CHGNet predicts eV/atom
            out.append((float(np.ravel(p["e"])[0]) * factor, np.asarray(p["f"], dtype=float)))
        return out

    def forward(self, graphs: list) -> list[dict]:
        """The model's predictions for ``graphs``, one forward pass; a batch that runs out of GPU memory is split
        in halves, each retried, and the largest size that fitted is kept (``max_batch``) for the next calls."""
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                predictions = self.model.predict_graph(graphs, task=self.task, batch_size=len(graphs))
        except Exception as error:
            if len(graphs) == 1 or not out_of_memory(error):
                raise
            half = len(graphs) // 2
            self.max_batch = min(self.max_batch or half, half)
            return self.forward(graphs[:half]) + self.forward(graphs[half:])
        self.model_calls += 1
        return [predictions] if isinstance(predictions, dict) else list(predictions)


def energy_forces_only(calc: Calculator) -> Calculator:
    """``calc`` for relaxations: a ``CHGNetCalculator``'s model asked for energy and forces only (it also computes
    stress and magnetic moments, which a relaxation of fixed cell never reads: the same numbers, fewer CPU seconds
    per call); any other calculator as it is."""
    if type(calc).__name__ != "CHGNetCalculator" or getattr(calc, "model", None) is None:
        return calc
    return BatchedImageCalculator(BandBatch(calc.model))


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is torch running out of GPU memory (then its cached blocks are handed back)."""
    import torch

    # Older torch raises a plain RuntimeError with this message
    if not (isinstance(error, torch.OutOfMemoryError) or (isinstance(error, RuntimeError)
                                                         and "CUDA out of memory" in str(error))):
        return False
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return True


class BatchedImageCalculator(Calculator):
    """One image's view of a :class:`SharedBand`: asking it for forces evaluates the whole stale band at once.
    ``own``: the image's own calculator, where the band has one per image (:class:`ProcessBand`)."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, batch: SharedBand) -> None:
        super().__init__()
        self.batch = batch
        self.own: Calculator | None = None

    def store(self, atoms: Atoms, energy: float, forces: np.ndarray) -> None:
        self.atoms = atoms.copy()
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        # Calculator.calculate would copy ``atoms`` into self.atoms and make the refresh see no change.
        if atoms is not None and self.atoms is not None and not self.check_state(atoms) and self.results:
            return
        self.batch.refresh()
        if atoms is not None and (self.atoms is None or self.check_state(atoms)):
            # An image this batch does not know (or a copy of one): evaluated on its own.
            [(energy, forces)] = self.batch.evaluate([(atoms, self)])
            self.store(atoms, energy, forces)
