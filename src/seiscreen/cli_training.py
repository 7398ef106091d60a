"""The commands of training data and fine-tuned potentials: export a store's DFT frames, backfill frames for older
results, fine-tune CHGNet on them, and judge stored barriers by a committee of fine-tuned models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seiscreen.cli_common import STORE_HELP, clean_errors, console
from seiscreen.errors import SeiscreenError


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``, in the order ``seiscreen --help`` lists them."""
    app.command("dataset")(clean_errors(dataset_command))
    app.command("backfill-frames")(clean_errors(backfill_command))
    app.command("finetune")(clean_errors(finetune_command))
    app.command("committee")(clean_errors(committee_command))


def dataset_command(
    out: Annotated[Path, typer.Option(help="extended XYZ file to write (energy, forces, tags per frame)")],
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    preset: Annotated[str | None, typer.Option(help="only this DFT preset's frames (default: all)")] = None,
    material: Annotated[str | None, typer.Option(help="only this material's frames")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing file")] = False,
) -> None:
    """Export the training frames a store's DFT calculations recorded (structure, energy, forces, preset, the job
    and surface that computed each) as extended XYZ: the input of `seiscreen finetune` and of other codes."""
    from collections import Counter

    from seiscreen.store_frames import export_frames

    if out.exists() and not force:
        raise SeiscreenError(f"{out} exists: pass --force to replace it, or write another file")
    frames = _store_frames(store, preset, material)
    export_frames(frames, out)
    counts = Counter((f.info.get("preset"), f.info.get("material", "?")) for f in frames)
    detail = ", ".join(f"{m} ({p}): {n}" for (p, m), n in sorted(counts.items()))
    console.print(f"wrote {len(frames)} frames to {out}: {detail}", highlight=False, soft_wrap=True)


def backfill_command(
    preset: Annotated[str, typer.Option(help="the DFT preset of the single points (and of the stored structures "
                                             "sampled)")],
    source: Annotated[str | None, typer.Argument(help="store or results file whose DFT results lack training "
                                                      "frames")] = None,
    store: Annotated[str | None, typer.Option(help="store folder the frames go into [env SEISCREEN_STORE]")] = None,
    per_surface: Annotated[int, typer.Option(help="structures per surface: clean slab, minima, climbing images, "
                                                  "then other band images")] = 12,
    material: Annotated[str | None, typer.Option(help="only this material's surfaces")] = None,
    structures: Annotated[Path | None, typer.Option(help="single points on these structures instead (extended "
                                                         "XYZ from `seiscreen committee --select`)")] = None,
) -> None:
    """Single points (energy and forces) with a DFT preset as training frames of --store: on a sample of a
    store's stored DFT structures (results computed before frames were recorded), or on the structures of a file
    (where a committee disagrees). Resumes where it stopped."""
    from seiscreen.frames_backfill import recompute, sample_structures, structures_from_file
    from seiscreen.store import open_store, resolve_location, runs_folder, store_folder
    from seiscreen.store_frames import collect_frames, frames_database

    if per_surface < 1:
        raise SeiscreenError(f"--per-surface {per_surface}: give at least 1")
    if (source is None) == (structures is None):
        raise SeiscreenError("give a SOURCE store or results file, or --structures FILE (one of them)")
    sample = (structures_from_file(structures) if structures is not None
              else sample_structures(open_store(source, create=False), preset, per_surface, material))
    runs = runs_folder(str(store_folder(resolve_location(store))))

    def done(outcome, n: int) -> None:
        s = outcome.structure
        stored = "" if outcome.deviation is None else f" (stored {outcome.deviation:+.4f})"
        console.print(f"[{n}/{len(sample)}] {s.surface} {s.kind} {s.label}: {outcome.energy:.4f} eV{stored}",
                      highlight=False, soft_wrap=True)

    outcomes = recompute(sample, runs / "backfill", preset, on_done=done)
    deviations = [abs(o.deviation) for o in outcomes if o.deviation is not None]
    added = collect_frames(runs, frames_database(runs))
    compared = (f"; recomputed minus stored energy: max |Δ| {max(deviations):.4f} eV" if deviations else "")
    console.print(f"{len(sample)} frames of {preset} ({added} new) in {frames_database(runs)}{compared}",
                  highlight=False, soft_wrap=True)


def finetune_command(
    name: Annotated[str, typer.Argument(help="the model's name: its folder under the first SEISCREEN_MODELS "
                                             "directory (default ./models), used as calculator ml-ft:NAME")],
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    frames: Annotated[Path | None, typer.Option(help="extended XYZ frames instead of a store's "
                                                     "(`seiscreen dataset`)")] = None,
    preset: Annotated[str | None, typer.Option(help="the DFT preset whose frames it learns (needed when the "
                                                    "store holds several)")] = None,
    holdout: Annotated[list[str] | None, typer.Option(help="a material never trained on: its frames are the "
                                                           "test set (repeat for several)")] = None,
    base: Annotated[str | None, typer.Option(help="the pretrained model: 0.3.0 (CHGNet, the default) or 7net-0 "
                                                  "(SevenNet-0)")] = None,
    epochs: Annotated[int | None, typer.Option(help="passes over the training frames")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Adam's initial learning rate (default: the base "
                                                             "model's, CHGNet 3e-3, SevenNet 5e-4)")] = None,
    freeze: Annotated[str | None, typer.Option(help="none or all-but-last")] = None,
    seed: Annotated[int | None, typer.Option(help="seeds the split and the training")] = None,
    committee: Annotated[int, typer.Option(help="train this many models, seeds seed, seed+1, ...: NAME, NAME-2, "
                                                "... (`seiscreen committee` compares them)")] = 1,
) -> None:
    """Fine-tune CHGNet (or SevenNet-0, --base 7net-0) on a store's DFT training frames (or an extended XYZ file)
    into a model folder with a manifest (base model, settings, frames and split, validation metrics); a campaign
    uses it as ml-ft:NAME."""
    from seiscreen.calculators import model_dirs
    from seiscreen.finetune import FinetuneSettings, committee_names, finetune

    given = {"base_model": base, "epochs": epochs, "learning_rate": learning_rate, "freeze": freeze,
             "holdout_materials": holdout}
    settings = FinetuneSettings(**{k: v for k, v in given.items() if v is not None})
    if committee < 1:
        raise SeiscreenError(f"--committee {committee}: give at least 1")
    training = _training_frames(store, frames, preset)
    for member, member_name in enumerate(committee_names(name, committee)):
        member_settings = settings.model_copy(update={"seed": (seed or 0) + member})
        _print_manifest(member_name, finetune(training, model_dirs()[0] / member_name, member_settings))


def _print_manifest(name: str, manifest) -> None:
    """The metrics of a fine-tuned model: base, base with refit references, fine-tuned; validation and held out."""
    table = Table(title=f"ml-ft:{name} ({manifest.base_code} {manifest.base_model}): {manifest.n_frames} frames of "
                        f"{manifest.dft_preset}")
    for column in ("frames", "model", "energy MAE (meV/atom)", "force MAE (eV/Å)"):
        table.add_column(column)
    for subset, comparison in (("validation", manifest.validation), ("held out", manifest.test)):
        models = (("base", "base"), ("base_refit", "base, references refit"), ("finetuned", "fine-tuned"))
        for field, model in models if comparison is not None else ():
            metrics = getattr(comparison, field)
            table.add_row(f"{subset} ({metrics.n_frames})", model, f"{1000 * metrics.energy_mae_per_atom:.1f}",
                          f"{metrics.force_mae:.3f}")
    console.print(table)


def _store_frames(store: str | None, preset: str | None = None, material: str | None = None) -> list:
    """A store's training frames (of one preset, one material), after adding those of jobs that were killed
    before they added theirs."""
    from seiscreen.store import resolve_location, runs_folder, store_folder
    from seiscreen.store_export import EXPORT_SUFFIXES
    from seiscreen.store_frames import collect_frames, frames_database, load_frames

    location = resolve_location(store)
    if location.endswith(EXPORT_SUFFIXES):
        raise SeiscreenError(f"{location} is a results file, which holds no training frames: pass the store folder")
    if "://" not in location:
        store_folder(location, create=False)
    runs = runs_folder(location)
    collect_frames(runs, frames_database(runs))
    return load_frames(frames_database(runs), preset=preset, material=material)


def _training_frames(store: str | None, frames: Path | None, preset: str | None) -> list:
    """The frames to learn: an extended XYZ file's, or a store's (of one DFT preset)."""
    from ase.io import read

    if frames is not None:
        if not frames.is_file():
            raise SeiscreenError(f"no frames file {frames}: write one with `seiscreen dataset --out FILE`")
        loaded = read(str(frames), ":")
        return [f for f in loaded if preset is None or f.info.get("preset") == preset]
    loaded = _store_frames(store, preset)
    presets = sorted({f.info.get("preset") for f in loaded})
    if len(presets) > 1:
        raise SeiscreenError(f"the store holds frames of {', '.join(presets)}: pick one with --preset")
    return loaded


def committee_command(
    members: Annotated[list[str], typer.Argument(help="the committee's presets, e.g. ml-ft:m ml-ft:m-2 ml-ft:m-3")],
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    threshold: Annotated[float, typer.Option(help="eV: a barrier whose members disagree by more is flagged")] = 0.05,
    select: Annotated[Path | None, typer.Option(help="write the start and highest image of every flagged hop here "
                                                     "(extended XYZ): the structures for `seiscreen "
                                                     "backfill-frames --structures`")] = None,
) -> None:
    """Judge every accepted hop of a store by each committee member (single points at the stored start and highest
    image): the spread of their barriers says where the training data do not decide the barrier."""
    from ase import Atoms
    from ase.io import write

    from seiscreen.committee import barrier_spreads, start_and_top
    from seiscreen.results import band_images, load_results
    from seiscreen.store import open_store

    opened = open_store(store, create=False)  # once, for the hops and each band
    hops = load_results(opened).hops
    accepted = hops[hops.status == "accepted"] if not hops.empty else hops
    if accepted.empty:
        raise SeiscreenError("no accepted hops in this store: run a campaign first")
    bands = {}
    for row in accepted.itertuples():
        bands[f"{row.material}{row.facet} {row.termination} {row.hop_id}"] = (
            row, *start_and_top(band_images(opened, row.job_uuid)))
    spreads = barrier_spreads([(label, start, top) for label, (_, start, top) in bands.items()], members)
    table = Table(title=f"committee of {len(members)}: barriers at the stored geometries (flagged: spread > "
                        f"{threshold:.3f} eV)")
    for column in ("hop", "calculator", "stored (eV)", "members' mean (eV)", "spread (eV)", ""):
        table.add_column(column)
    flagged = []
    for spread in spreads:
        row = bands[spread.label][0]
        flag = spread.spread > threshold
        flagged += [spread.label] if flag else []
        table.add_row(spread.label, row.calculator, f"{row.forward_barrier:.3f}", f"{spread.mean:.3f}",
                      f"{spread.spread:.3f}", "flagged" if flag else "")
    console.print(table)
    if select is not None and flagged:
        chosen = []
        for label in flagged:
            row, start, top = bands[label]
            for kind, atoms in (("committee start", start), ("committee saddle", top)):
                atoms = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)  # no per-atom tags
                atoms.info.update(material=row.material, facet=row.facet, termination=row.termination, kind=kind,
                                  label=label)
                chosen.append(atoms)
        write(str(select), chosen, format="extxyz")
        console.print(f"{len(chosen)} structures of {len(flagged)} flagged hops written to {select}",
                      highlight=False)
