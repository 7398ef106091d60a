"""The minima Makers: a surface's adatom minima searched and verified, and refined from band valleys."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from jobflow import job
from pymatgen.io.ase import AseAtomsAdaptor

from seiscreen import progress
from seiscreen.progress import Event
from seiscreen.catalog import load_bulk
from seiscreen.hopgraph import symmetry_of
from seiscreen.minima import Minimum, ScanCheckpoint, merge_equivalent, relax_and_verify, scan_surface
from seiscreen.parallel import CalculatorProcessKilled
from seiscreen.schemas import (HopDoc, MinimaDoc, MinimumDoc, MinimumSeed, SlabDoc, SplitHop, atoms_from_dict,
                               atoms_to_dict, content_hash, structure_fingerprints)
from seiscreen.store import checkpoint_folder
from seiscreen.surfaces.sites import CandidateSite
from seiscreen.verdicts import _minimum_from_doc, _valley_next_to_hop, same_network
from seiscreen.workflow.base import EXPOSE_STORE, CalculatorMaker, current_store

log = logging.getLogger(__name__)


def minimum_doc(m: Minimum) -> MinimumDoc:
    return MinimumDoc(index=m.index, site=m.site, started_from=m.started_from, outcome=m.outcome.value,
                      verified=m.verified, energy=m.energy, adsorption_energy=m.adsorption_energy,
                      frac_xy=m.frac_xy.tolist(), position=m.position.tolist(), details=m.details,
                      force_calls=m.force_calls, structure=atoms_to_dict(m.atoms))


@dataclass
class MinimaMaker(CalculatorMaker):
    """Relax the clean slab and every candidate site; keep verified, symmetry-distinct minima."""

    name: str = "minima"

    def content_hash(self, slab: SlabDoc, seeds: list[MinimumSeed] | None = None) -> str:
        return self.content_hashes(slab, seeds)[0]

    def content_hashes(self, slab: SlabDoc, seeds: list[MinimumSeed] | None = None) -> list[str]:
        """The search's identity, then the one it had before a slab's face atoms were all taken at fraction 0
        (``schemas.structure_fingerprints``), if that differs: lookups try both."""
        key = slab.key.model_dump(mode="json", exclude={"calculator"})  # the preset is in identity()
        return [content_hash("minima", surface=key, structure=structure,
                             seeds=[{"name": s.name, "position": np.round(s.position, 4)} for s in seeds or []],
                             **self.identity()) for structure in structure_fingerprints(slab.structure)]

    @job(config=EXPOSE_STORE)  # the store names the checkpoint folder of a long (DFT) search
    def make(self, slab: SlabDoc, seeds: list[MinimumSeed] | None = None) -> MinimaDoc:
        """``seeds``: extra starts (another fidelity's minima, a smaller cell's); site classes always run."""
        progress.emit(Event.MINIMA_STARTED, key=slab.key, surface=slab.key.label)
        identities = self.content_hashes(slab, seeds)
        identity = identities[0]
        extra = [CandidateSite(f"seed-{s.name}", np.array(s.position)) for s in seeds or []]
        folders = [checkpoint_folder(current_store()) / f"minima-{i}" for i in identities]
        saved = next((folder for folder in folders if folder.exists()), folders[0])  # begun under either
        try:
            with self.recording_frames("minima", identity, slab.key):
                scan = scan_surface(atoms_from_dict(slab.structure), self.calculator, self.minima_settings,
                                    _adsorbate_bulk(self.minima_settings.adsorbate), seeds=extra, checkpoint=saved)
        except Exception as exc:  # noqa: BLE001 - stored as a failed surface with why; the campaign goes on
            log.exception("minima of %s failed", slab.key.label)
            return MinimaDoc(key=slab.key, slab=slab, clean_energy=None, clean_structure=slab.structure,
                             adsorbate_reference=None, minima=[], rejected=[], force_calls=0,
                             provenance=self.provenance(), content_hash=identity,
                             error=f"minima search failed: {type(exc).__name__}: {exc}")
        shutil.rmtree(saved, ignore_errors=True)  # finished: its document replaces the checkpoint
        accepted = [minimum_doc(m) for m in scan.accepted]
        rejected = [minimum_doc(m) for m in scan.minima if not m.accepted]
        progress.emit(Event.MINIMA_DONE, surface=slab.key.label, n=len(accepted))
        return MinimaDoc(key=slab.key, slab=slab, clean_energy=scan.clean_energy,
                         clean_structure=atoms_to_dict(scan.clean), adsorbate_reference=scan.adsorbate_reference,
                         minima=accepted, rejected=rejected, force_calls=scan.force_calls,
                         provenance=self.provenance(), content_hash=identity)


def _adsorbate_bulk(element: str) -> Atoms | None:
    """The catalog's bulk of the adsorbate element (bcc Na for Na) when there is one; else ASE's default."""
    try:
        return AseAtomsAdaptor.get_atoms(load_bulk(element).structure.remove_oxidation_states())
    except Exception:  # not in the catalog: ase.build.bulk(element) is used
        return None


@dataclass
class RefineMinimaMaker(CalculatorMaker):
    """Relax (with the kick-and-return check) from each valley found inside a band; merge with the old minima."""

    name: str = "refine minima"

    def content_hash(self, minima: MinimaDoc, split: list[HopDoc], deeper: bool = False) -> str:
        # "routes": refined minima record where each valley went (split_hops); ones stored before that cannot
        # route a split hop, and reusing them would rebuild it again.
        return content_hash("refined-minima", routes="valley-splits-merged", minima=minima.content_hash,
                            split=sorted(h.content_hash or h.hop_id for h in split), **self.identity(),
                            **({"deeper": True} if deeper else {}))

    @job(config=EXPOSE_STORE)  # the store names the checkpoint folder of the valleys' relaxations (DFT: minutes)
    def make(self, minima: MinimaDoc, split: list[HopDoc], deeper: bool = False) -> MinimaDoc:
        """``deeper``: the valleys are below every minimum (``deeper_valleys``), the surface's one such round."""
        clean = atoms_from_dict(minima.clean_structure)
        symmetry = symmetry_of(minima.slab)
        calc = self.calculator
        progress.emit(Event.MINIMA_REFINING, key=minima.key, surface=minima.key.label, valleys=len(split),
                      refinement=minima.refinement + 1)
        identity = self.content_hash(minima, split, deeper)
        # One file per relaxed valley, as in a minima search: a killed refinement resumes at the valley it was in.
        saved = checkpoint_folder(current_store()) / f"refine-{identity}"
        checkpoint = ScanCheckpoint(saved)
        new, splits = [], []
        with self.recording_frames("refine", identity, minima.key):
            for k, hop in enumerate(split):
                # Start from the band's valley image itself: the slab around it is already relaxed.
                image = atoms_from_dict(hop.band[hop.interior_minimum_image])
                # One random stream per valley, so a resumed refinement kicks the rest as an unbroken one would.
                rng = np.random.default_rng([self.minima_settings.seed, minima.refinement + 1, k])
                try:
                    # No "verified by a known minimum one basin away" here: the band rose between the valley and
                    # its ends, so a valley within one basin of an end is just what needs its own verification.
                    found = checkpoint.cached(f"valley-{k}", lambda image=image, hop=hop, rng=rng: relax_and_verify(
                        image, clean, f"valley-of-{hop.hop_id}", calc, self.minima_settings, rng))
                except CalculatorProcessKilled:  # the run is being stopped: no valley result, nothing stored
                    raise
                except Exception as exc:  # noqa: BLE001 - one bad valley must not lose the others
                    log.warning("relaxing the valley of %s failed: %s", hop.hop_id, exc)
                    continue
                found.adsorption_energy = found.energy - minima.clean_energy - minima.adsorbate_reference
                new.append((hop, found))
        merged = merge_equivalent([_minimum_from_doc(d) for d in minima.minima] + [f for _, f in new], symmetry)
        accepted = [minimum_doc(m) for m in merged if m.accepted]
        for hop, found in new:
            # Where the valley went, so the next network routes the hop through it: the copy of the minimum it
            # was merged into (by energy and position), not its own relaxed position, which can lie nearer another
            # minimum of that basin (the hop would then be rebuilt round after round).
            holders = [m for m in accepted if found.started_from[0] in m.started_from]  # a label of an older
            holder = min(holders, key=lambda m: abs(m.energy - found.energy), default=None)  # round may repeat
            if found.accepted and holder is not None:
                splits.append(SplitHop(start=list(hop.start), end=list(hop.end),
                                       valley=_valley_next_to_hop(hop, holder.frac_xy, symmetry).tolist()))
        progress.emit(Event.MINIMA_REFINED, surface=minima.key.label, n=len(accepted))
        shutil.rmtree(saved, ignore_errors=True)  # finished: its document replaces the checkpoint
        return minima.model_copy(update={
            "same_network": same_network(minima, accepted, splits),
            "minima": accepted, "rejected": minima.rejected + [minimum_doc(f) for _, f in new if not f.accepted],
            "refinement": minima.refinement + 1, "provenance": self.provenance(),
            "split_hops": minima.split_hops + splits, "deeper_refined": minima.deeper_refined or deeper,
            "force_calls": minima.force_calls + sum(f.force_calls for _, f in new),
            "content_hash": identity})
