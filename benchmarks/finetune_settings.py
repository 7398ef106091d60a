"""CHGNet fine-tuning settings on the EMT stand-in of tests/calculators/test_finetune.py (or on DFT frames,
``--dft FILE --holdout MATERIAL``): validation force MAE of the base and fine-tuned models for each freeze mode,
learning rate and energy weight, with seconds per epoch.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/finetune_settings.py [--epochs 10] \
        [--learning-rates 1e-3 3e-3] [--freeze all-but-last none] [--energy-weights 1] [--frames 44] [--seed 0] \
        [--dft frames.extxyz --holdout NaBr]

The frames: ``--frames`` EMT frames of Au on Al(100) (trained and validated on) and 8 of Cu on Cu(100) (held out as
the test set), as the tests build them. One ``seiscreen.finetune.finetune`` per (freeze, learning rate), each into
a fresh temporary folder, every other setting at its default. Printed per run: validation and test force MAE of
the base and fine-tuned models (eV/Å), validation energy MAE of the refit base and fine-tuned models (eV/atom),
the validation force MAE after each epoch, and seconds per epoch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' frame builder

from seiscreen.finetune import FinetuneSettings, finetune  # noqa: E402
from tests.calculators.test_finetune import emt_frames  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[1e-3, 3e-3])
    parser.add_argument("--freeze", nargs="+", default=["all-but-last", "none"])
    parser.add_argument("--frames", type=int, default=44)
    parser.add_argument("--seed", type=int, default=0, help="the settings' seed: split and training")
    parser.add_argument("--dft", type=Path, help="DFT frames (`seiscreen dataset --out`) instead of the EMT stand-in")
    parser.add_argument("--holdout", default="Cu", help="the material held out as the test set")
    parser.add_argument("--energy-weights", type=float, nargs="+", default=[1.0])
    args = parser.parse_args()
    if args.dft is not None:
        from ase.io import read

        frames = read(args.dft, ":")
    else:
        frames = emt_frames("AuAl", args.frames, seed=1) + emt_frames("Cu", 8, seed=2)
    print("| freeze | lr | E weight | val F base | val F fine-tuned | test F base | test F fine-tuned | val E refit | "
          "val E fine-tuned | val F per epoch | s/epoch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    runs = [(f, lr, w) for f in args.freeze for lr in args.learning_rates for w in args.energy_weights]
    for freeze, lr, weight in runs:
        settings = FinetuneSettings(epochs=args.epochs, learning_rate=lr, freeze=freeze, energy_weight=weight,
                                    holdout_materials=[args.holdout], seed=args.seed)
        with tempfile.TemporaryDirectory() as folder:
            m = finetune(frames, Path(folder) / "model", settings)
        v, t = m.validation, m.test
        per_epoch = " ".join(f"{x:.3f}" for x in m.history["val_f"])
        print(f"| {freeze} | {lr:g} | {weight:g} | {v.base.force_mae:.3f} | {v.finetuned.force_mae:.3f} | "
              f"{t.base.force_mae:.3f} | {t.finetuned.force_mae:.3f} | {v.base_refit.energy_mae_per_atom:.4f} | "
              f"{v.finetuned.energy_mae_per_atom:.4f} | {per_epoch} | {m.seconds_per_epoch:.1f} |", flush=True)
    print(f"\n{len(m.split.train)} training, {len(m.split.validation)} validation, {len(m.split.test)} test frames "
          f"({len(frames[0])} atoms each)")


if __name__ == "__main__":
    main()
