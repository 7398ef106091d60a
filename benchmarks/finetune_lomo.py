"""Leave-one-material-out: does CHGNet fine-tuned on the other materials' DFT frames reproduce a material's DFT
minima and barrier better than the raw potentials? Raw CHGNet, raw SevenNet-0 and the fine-tuned model, side by
side in one run, on the surfaces a DFT results file holds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/finetune_lomo.py --frames FRAMES.extxyz \
        [--source results/gpaw-halides.json.gz] [--preset gpaw-lcao-gamma] [--epochs 10] [--materials NaF NaCl] \
        [--base 7net-0] [--raw chgnet sevennet]

Per held-out material X (every material with frames, or --materials):
1. fine-tune the base model (CHGNet 0.3.0, or ``--base 7net-0``: SevenNet-0) on every frame but X's
   (``seiscreen.finetune``, X held out: its frames are the test set);
2. for each model, on each of X's DFT surfaces, in the DFT's own cells:
   - site energies: every accepted DFT minimum relaxed by the model (BFGS to 0.05 eV/Å, the stored constraints),
     its energy relative to the lowest; compared with the DFT's relative energies (the lowest left out);
   - the barrier of the surface's limiting hop: the stored DFT hop recomputed by the model
     (``seiscreen.reproduce.rerun_hop``: ends relaxed by the model, a cold band, the stored NEB protocol);
   - force MAE on X's frames.
Then per model: site-energy MAE, barrier MAE and max error, Spearman and Kendall of the barriers' order against
the DFT's. The held-out model never saw X; nothing here is fitted to the numbers it is judged on.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from ase.io import read
from ase.optimize import BFGS
from scipy.stats import kendalltau, spearmanr

from seiscreen.calculators import get_preset
from seiscreen.errors import SeiscreenError
from seiscreen.finetune import FinetuneSettings, finetune
from seiscreen.reproduce import rerun_hop
from seiscreen.results import load_results
from seiscreen.schemas import atoms_from_dict
from seiscreen.store import open_store

RAW = ("chgnet", "sevennet")


def dft_surfaces(source, preset: str, material: str) -> list[dict]:
    """The material's surfaces: accepted minima (structure, energy) and the limiting hop (uuid, DFT barrier)."""
    results = load_results(source)
    surfaces = results.surfaces[(results.surfaces.material == material) & (results.surfaces.calculator == preset)]
    out = []
    for row in surfaces.itertuples():
        hops = results.hops[(results.hops.material == material) & (results.hops.calculator == preset)
                            & (results.hops.termination == row.termination) & (results.hops.hop_id == row.limiting_hop)]
        accepted = hops[hops.status == "accepted"].sort_values("refinement")
        if accepted.empty or row.barrier is None or np.isnan(row.barrier):
            continue
        minima = source.query_one({"output.doc_type": "minima", "output.key.material": material,
                                   "output.key.calculator": preset,
                                   "output.key.termination_id": row.termination},
                                  properties=["output.minima"], sort={"output.refinement": -1})
        out.append({"label": f"{material}{row.facet} {row.termination}", "hop": accepted.iloc[-1].job_uuid,
                    "barrier": float(accepted.iloc[-1].forward_barrier),
                    "minima": [(atoms_from_dict(m["structure"]), m["energy"]) for m in minima["output"]["minima"]]})
    return out


def relaxed_site_energies(minima: list, preset: str) -> list[float]:
    """Each DFT minimum relaxed by ``preset``: energies relative to the lowest of them."""
    energies = []
    for atoms, _ in minima:
        atoms = atoms.copy()
        atoms.calc = get_preset(preset).make(atoms)
        BFGS(atoms, logfile=None).run(fmax=0.05, steps=300)
        energies.append(atoms.get_potential_energy())
    return list(np.array(energies) - min(energies))


def force_mae(frames: list, preset: str) -> float:
    errors = []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = get_preset(preset).make(atoms)
        errors.append(np.abs(atoms.get_forces() - frame.get_forces()).ravel())
    return float(np.mean(np.concatenate(errors)))


def evaluate(source, surfaces: list[dict], frames: list, preset: str, workdir: Path) -> dict:
    """Site-energy errors, barriers and force MAE of ``preset`` on one material's DFT surfaces."""
    site_errors, barriers = [], []
    for surface in surfaces:
        dft = np.array([e for _, e in surface["minima"]])
        dft -= dft.min()
        ml = relaxed_site_energies(surface["minima"], preset)
        site_errors += [abs(a - b) for a, b in zip(ml, dft, strict=True) if b > 0]
        try:
            rerun = rerun_hop(source, surface["hop"], preset=preset, workdir=workdir)
            outcome = (rerun.barrier if rerun.status == "accepted" else None, rerun.status)
        except SeiscreenError as exc:  # e.g. the model relaxes both ends into one site: no such hop at this level
            outcome = (None, f"failed: {exc}")
        barriers.append((surface["label"], surface["barrier"], *outcome))
    return {"site_errors": site_errors, "barriers": barriers, "force_mae": force_mae(frames, preset)}


def summary(rows: list[dict]) -> dict:
    sites = [e for r in rows for e in r["site_errors"]]
    pairs = [(d, m) for r in rows for _, d, m, _ in r["barriers"] if m is not None]
    errors = [abs(m - d) for d, m in pairs]
    dft, ml = zip(*pairs, strict=True) if len(pairs) > 1 else ((), ())
    return {"site MAE": np.mean(sites) if sites else np.nan, "barrier MAE": np.mean(errors) if errors else np.nan,
            "barrier max": max(errors) if errors else np.nan,
            "Spearman": spearmanr(dft, ml).statistic if len(pairs) > 2 else np.nan,
            "Kendall": kendalltau(dft, ml).statistic if len(pairs) > 2 else np.nan,
            "force MAE": np.mean([r["force_mae"] for r in rows]), "barriers": len(pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=Path, required=True)
    parser.add_argument("--source", default="results/gpaw-halides.json.gz")
    parser.add_argument("--preset", default="gpaw-lcao-gamma")
    parser.add_argument("--materials", nargs="*")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--base", default="0.3.0", help="the base model: 0.3.0 (CHGNet) or 7net-0 (SevenNet-0)")
    parser.add_argument("--raw", nargs="*", default=list(RAW), help="the raw presets compared")
    parser.add_argument("--models", type=Path, default=Path(tempfile.mkdtemp(prefix="lomo-models-")))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ["SEISCREEN_MODELS"] = str(args.models)
    frames = [f for f in read(args.frames, ":") if f.info.get("preset") == args.preset]
    source = open_store(args.source, create=False)
    materials = args.materials or sorted({f.info["material"] for f in frames})
    rows: dict[str, list[dict]] = {}
    for material in materials:
        held = [f for f in frames if f.info["material"] == material]
        surfaces = dft_surfaces(source, args.preset, material)
        name = f"lomo-{material}" + ("" if args.base == "0.3.0" else f"-{args.base}")
        if not (args.models / name).exists():
            settings = FinetuneSettings(base_model=args.base, epochs=args.epochs, holdout_materials=[material])
            manifest = finetune(frames, args.models / name, settings)
            print(f"{name}: {len(manifest.split.train)} train frames, {manifest.train_seconds:.0f} s "
                  f"({manifest.seconds_per_epoch:.1f} s/epoch); validation force MAE "
                  f"{manifest.validation.base.force_mae:.3f} -> {manifest.validation.finetuned.force_mae:.3f}",
                  flush=True)
        with tempfile.TemporaryDirectory() as work:
            for model in (*args.raw, f"ml-ft:{name}"):
                result = evaluate(source, surfaces, held, model, Path(work))
                rows.setdefault("fine-tuned" if model.startswith("ml-ft") else model, []).append(result)
                print(material, model, result, flush=True)
    print("\n| model | site MAE (eV) | barrier MAE (eV) | barrier max (eV) | Spearman | Kendall | force MAE (eV/Å) |"
          " barriers |\n|---|---|---|---|---|---|---|---|")
    for model, results in rows.items():
        s = summary(results)
        print(f"| {model} | {s['site MAE']:.3f} | {s['barrier MAE']:.3f} | {s['barrier max']:.3f} | "
              f"{s['Spearman']:.2f} | {s['Kendall']:.2f} | {s['force MAE']:.3f} | {s['barriers']} |")
    print("\nper surface: DFT barrier, then each model's")
    for label, dft, *_ in (b for r in rows[next(iter(rows))] for b in r["barriers"]):
        got = [next(b for r in rows[m] for b in r["barriers"] if b[0] == label) for m in rows]
        print(f"{label}: {dft:.3f} | " + " | ".join(f"{b[2]:.3f}" if b[2] is not None else b[3][:60] for b in got))


if __name__ == "__main__":
    main()
