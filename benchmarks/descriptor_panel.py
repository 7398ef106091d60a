"""The descriptor panel's steps for the review catalog under one preset: wall time per descriptor and material.

Usage (repository root): PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/descriptor_panel.py \
    [--preset chgnet] [--materials NaF NaBr ...] [--out panel.jsonl] [--surfaces results/review-chgnet.json.gz]
    [--from-json panel.jsonl] [--gap] [--band-gaps NaBr=4.160 Na3P=0.430]

Runs what ``DescriptorMaker`` runs, step by step and timed, without a store: the deposited metal's reference (bulk,
mechanical), each competing phase of the materials' systems relaxed once (shared), then per material its bulk
relaxation and every step of ``DescriptorMaker.steps()`` with the default ``DescriptorSettings``. Materials default
to those of workflows/review.yaml. Prints one JSON line per material (and per phase) and a table at the end; with
``--out``, the lines are also written there after each material. With ``--surfaces`` (a store or results file
holding the same preset's ranked surfaces), the review's ``descriptor_claims`` are judged on the panel (each
material's lowest ranked surface barrier beside its descriptors), as the report judges them; ``--from-json``
judges an earlier run's lines instead of computing. The GPAW band gap is left out unless ``--gap`` (it is DFT,
measured by benchmarks/band_gaps.py); ``--band-gaps`` gives the judge gaps measured there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import yaml

from seiscreen.descriptor_schemas import DescriptorSettings
from seiscreen.descriptors.bulk import relax_bulk
from seiscreen.workflow.descriptors import DescriptorMaker, StepInputs, _phase_names, material_atoms

REVIEW = Path(__file__).resolve().parents[1] / "workflows" / "review.yaml"


CPU: dict[str, float] = {}  # part -> CPU seconds of the last timed call (a shared machine's wall time is longer)


def timed(function, *args):
    """(result or the exception's text, wall seconds); the CPU seconds (all threads of this process) in CPU."""
    start, cpu = time.perf_counter(), time.process_time()
    try:
        result = function(*args)
    except Exception as exc:  # noqa: BLE001 - a failed step is reported, the others go on
        result = f"{type(exc).__name__}: {exc}"
    CPU["last"] = round(time.process_time() - cpu, 1)
    return result, round(time.perf_counter() - start, 1)


def summary(name: str, role: str, parts: dict, seconds: dict, cpu: dict) -> dict:
    """The numbers the note's table shows."""
    line = {"material": name, "role": role, "seconds": seconds, "total_s": round(sum(seconds.values()), 1),
            "cpu_seconds": cpu, "total_cpu_s": round(sum(cpu.values()), 1)}
    for key, part in parts.items():
        if isinstance(part, str):
            line[key] = part
        elif key == "bulk":
            line.update(energy_per_atom=round(part.energy_per_atom, 4), bulk_atoms=len(part.atoms()))
        elif key == "mechanical":
            line.update(K=round(part.bulk_modulus_vrh_gpa, 1), G=round(part.shear_modulus_vrh_gpa, 1),
                        E=round(part.youngs_modulus_gpa, 1), born_stable=part.born_stable,
                        G_over_G_Na=None if part.monroe_newman_ratio is None else round(part.monroe_newman_ratio, 2))
        elif key == "stability":
            line.update(stable=part.stable_against_metal, dE_per_Na=round(part.reaction_energy_ev_per_metal_atom, 3),
                        reaction=part.reaction, e_hull=part.energy_above_hull_ev_per_atom,
                        missing=part.phases_missing)
        elif key == "gap":
            line.update(gap=part.gap_eV, gap_kind=part.kind)
        elif key == "transport":
            line.update(bulk_barrier=part.percolation_barrier_eV, supercell_atoms=part.vacancy.supercell_atoms,
                        hops=[(h.label, round(h.length_A, 2), h.status, h.forward_barrier_eV, h.reason)
                              for h in part.vacancy.hops], transport_reason=part.vacancy.reason,
                        percolation_1d_2d=(part.vacancy.percolation_1d_eV, part.vacancy.percolation_2d_eV))
    return line


def run_one(maker: DescriptorMaker, name: str, inputs: StepInputs, steps: bool = True) -> tuple[dict, dict, dict]:
    """(parts, wall seconds per part, CPU seconds per part) of one material: its bulk relaxed, then each step."""
    calc = maker.calculator
    bulk, seconds = timed(relax_bulk, material_atoms(name), calc, maker.settings.bulk)
    parts, times, cpu = {"bulk": bulk}, {"bulk": seconds}, {"bulk": CPU["last"]}
    for key, step in maker.steps().items() if steps and not isinstance(bulk, str) else ():
        parts[key], times[key] = timed(step, bulk, calc, inputs)
        cpu[key] = CPU["last"]
    return parts, times, cpu


def judge(lines: list[dict], preset: str, surfaces_file: str, gaps: dict[str, float]) -> None:
    """Print the review's descriptor claims judged on the panel, the barriers read from ``surfaces_file``."""
    import pandas as pd

    from seiscreen.descriptor_results import best_surface
    from seiscreen.report.panel import judge_descriptor_claims
    from seiscreen.results import load_results
    from seiscreen.store import open_store

    surfaces = load_results(open_store(surfaces_file)).surfaces
    panel = pd.DataFrame([{"material": x["material"], "calculator": preset, "role": x["role"],
                           "barrier": best_surface(surfaces, x["material"], preset, "barrier")[0],
                           "bulk_barrier": x.get("bulk_barrier"), "monroe_newman_ratio": x.get("G_over_G_Na"),
                           "stable_against_na": x.get("stable"), "band_gap_ev": gaps.get(x["material"], x.get("gap"))}
                          for x in lines if x["role"] == "material"])
    print(panel[["material", "barrier", "bulk_barrier", "stable_against_na", "band_gap_ev"]].to_string(index=False))
    claims = judge_descriptor_claims(panel)
    for c in claims.itertuples():
        print(f"{c.claim}: {c.verdict} ({c.detail})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="chgnet")
    parser.add_argument("--materials", nargs="*")
    parser.add_argument("--out")
    parser.add_argument("--surfaces")
    parser.add_argument("--from-json")
    parser.add_argument("--gap", action="store_true")
    parser.add_argument("--band-gaps", nargs="*", default=[])
    args = parser.parse_args()
    gaps = {k: float(v) for k, v in (item.split("=") for item in args.band_gaps)}
    if args.from_json:
        judge([json.loads(x) for x in Path(args.from_json).read_text().splitlines()], args.preset, args.surfaces,
              gaps)
        return
    materials = args.materials or [m["material"] for m in yaml.safe_load(REVIEW.read_text())["materials"]]
    settings = DescriptorSettings(**({} if args.gap else {"gap": False}))
    maker = DescriptorMaker(calculator_preset=args.preset, settings=settings.for_metal("Na"))
    lines = []

    def report(line: dict) -> None:
        lines.append(line)
        print(json.dumps(line, default=str), flush=True)
        if args.out:
            Path(args.out).write_text("\n".join(json.dumps(x, default=str) for x in lines) + "\n")

    parts, seconds, cpu = run_one(maker, "Na", StepInputs("Na", "reference"))
    reference = SimpleNamespace(**parts)
    report(summary("Na", "reference", parts, seconds, cpu))
    phases: dict = {}
    for material in materials:
        for name in _phase_names(material, "Na"):
            if name not in phases:  # each competing phase relaxed once, shared by the materials of its system
                part, phase_seconds, phase_cpu = run_one(maker, name, StepInputs(name, "phase"), steps=False)
                phases[name] = SimpleNamespace(bulk=None if isinstance(part["bulk"], str) else part["bulk"])
                report(summary(name, "phase", part, phase_seconds, phase_cpu))
        own = {name: phases[name] for name in _phase_names(material, "Na")}
        parts, seconds, cpu = run_one(maker, material, StepInputs(material, "material", reference, own))
        report(summary(material, "material", parts, seconds, cpu))
    total, total_cpu = sum(x["total_s"] for x in lines), sum(x["total_cpu_s"] for x in lines)
    print(f"\n{'material':10s} {'role':9s} " + " ".join(f"{k:>10s}" for k in ("bulk", "mechanical", "stability",
                                                                          "transport", "total")))
    for x in lines:  # wall / CPU seconds
        s, c = x["seconds"], x["cpu_seconds"]
        print(f"{x['material']:10s} {x['role']:9s} " + " ".join(f"{s.get(k, 0):5.0f}/{c.get(k, 0):4.0f}" for k in
                                                             ("bulk", "mechanical", "stability", "transport"))
              + f" {x['total_s']:5.0f}/{x['total_cpu_s']:4.0f}")
    print(f"total {total:.0f} s wall ({total / 3600:.2f} h), {total_cpu:.0f} s CPU ({total_cpu / 3600:.2f} h)")
    if args.surfaces:
        judge(lines, args.preset, args.surfaces, gaps)


if __name__ == "__main__":
    main()
