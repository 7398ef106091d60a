"""The surface summary: refinements, hops through valleys and bypass hops planned, then the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from typing import TYPE_CHECKING

from jobflow import Flow, Response, job

from seiscreen import progress
from seiscreen.progress import Event
from seiscreen.hopgraph import bypass_specs
from seiscreen.bands.saddle import across_the_hop, broken_band
from seiscreen.kinetics import (KineticsSettings, apply_checks, breakable, failed_alternative, second_band_due,
                                with_kinetics)
from seiscreen.neb import USABLE
from seiscreen.schemas import (GraphEdgeSpec, HopDoc, HopGraph, HopSpec, MinimaDoc, SaddleCheckDoc, WarmStart,
                               atoms_from_dict, atoms_to_dict)
from seiscreen.store import find_done
from seiscreen.verdicts import deeper_valleys, summarise_surface, with_later_gates
from seiscreen.workflow.base import EXPOSE_STORE, CalculatorMaker, current_store
from seiscreen.workflow.minima import RefineMinimaMaker
from seiscreen.workflow.saddles import SaddleCheckMaker, instead_of_failed, lower_verified

if TYPE_CHECKING:
    from seiscreen.workflow.hops import HopsMaker


@dataclass
class SurfaceSummaryMaker(CalculatorMaker):
    """Gate-aware summary of one surface: refine minima found inside bands, then the percolation barrier."""

    name: str = "surface summary"
    max_refinements: int = 2
    # Also compute the hops the neighbour test left out that could lower the percolation level (bypass_specs).
    bypass_hops: bool = True
    # Saddle checks of the accepted hops (on for ML presets by default) and the temperatures of D(T).
    kinetics: KineticsSettings = field(default_factory=KineticsSettings)

    @job(config=EXPOSE_STORE)
    def make(self, minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, hops_maker: HopsMaker | None = None,
             surface_hash: str | None = None, checks: list[SaddleCheckDoc] | None = None):
        """``hops``: the surface's hop documents in class order (``HopSpec.index``), then its bypass hops;
        ``graph``: its hop graph (widened by the bypass hops' edges once they were looked for); ``checks``: the
        accepted hops' saddle checks, once made."""
        bypass = graph.bypass_ids  # extra hops: never refined or split, never blocking the ranking
        split = [h for h in hops if h.status == "interior_minimum" and h.band and h.hop_id not in bypass]
        if split and minima.refinement < self.max_refinements and hops_maker is not None and not minima.same_network:
            return self._refined(minima, split, hops, hops_maker, surface_hash)
        if split and hops_maker is not None and hops_maker.neb_maker is not None:
            # Refinements used up and valleys still there: ones the hop network cannot hold as nodes (a valley
            # relaxing next to a hop's end: the same site, another state of the slab). Each such hop is computed
            # as bands through its valleys, then summarised again.
            return self._through_valleys(minima, hops, graph, hops_maker, split, surface_hash)
        deeper = deeper_valleys(minima, hops)
        if deeper and hops_maker is not None and not minima.deeper_refined:
            # A band through valleys relaxed into a state below the lowest minimum that no relaxation has judged
            # yet: the minima search may have missed the surface's lowest state. One refinement (even past
            # max_refinements) starts from it; after that such a surface stays unranked, with why.
            return self._refined(minima, deeper, hops, hops_maker, surface_hash, deeper=True)
        if (self.bypass_hops and minima.minima and not minima.error and graph.bypass is None
                and hops_maker is not None and hops_maker.neb_maker is not None):
            specs, edges = bypass_specs(minima, hops, graph, hops_maker.max_hop_length)
            if specs:
                return self._with_bypass(minima, hops, graph, hops_maker, specs, edges, surface_hash)
        if checks is None and self.kinetics.checks_saddles(self.preset.code) and hops_maker is not None:
            return self._with_checks(minima, hops, graph, hops_maker, surface_hash)
        broken = breakable(hops, checks or [])
        if broken and hops_maker is not None and hops_maker.neb_maker is not None:
            return self._with_broken_bands(minima, hops, graph, hops_maker, broken, surface_hash)
        hops = apply_checks(hops, checks or [])
        doc = summarise_surface(minima, hops, graph, self.provenance(with_neb=True))
        limiting = second_band_due(doc, hops, checks or []) if self.kinetics.second_band else None
        if limiting is not None and hops_maker is not None and hops_maker.neb_maker is not None:
            return self._with_second_band(minima, hops, graph, hops_maker, limiting, checks, surface_hash)
        doc = with_kinetics(doc, minima, hops, graph, checks or [], self.kinetics.temperatures)
        doc = doc.model_copy(update={"content_hash": surface_hash})
        progress.emit(Event.SURFACE_DONE, key=minima.key, surface=minima.key.label, status=doc.status,
                      barrier=doc.ranking_barrier, **({"reason": doc.reason} if doc.status == "failed" else {}))
        return doc

    def _refined(self, minima: MinimaDoc, split: list[HopDoc], hops: list[HopDoc], hops_maker: HopsMaker,
                 surface_hash: str | None, deeper: bool = False) -> Response:
        """Minima relaxed from the valleys of ``split`` (each band's ``interior_minimum_image``), then the hops."""
        settings = {k: v for k, v in self._settings().items() if k != "parallel"}
        refiner = RefineMinimaMaker(**settings)
        stored = find_done(current_store(), "minima", refiner.content_hash(minima, split, deeper))
        if stored is not None:  # refined by an earlier run: go straight to the new hops
            refined, jobs = MinimaDoc.model_validate(stored), []
        else:
            refine = refiner.make(minima, split, deeper)
            refine.name = f"refine minima {minima.key.label}"
            refined, jobs = refine.output, [refine]
        again = hops_maker.make(refined, reuse=[h for h in hops if h.status in (*USABLE, "interior_minimum")],
                                surface_hash=surface_hash)
        again.name = f"hops {minima.key.label} (refinement {minima.refinement + 1})"
        return Response(replace=Flow([*jobs, again], output=again.output))

    def _with_bypass(self, minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, hops_maker: HopsMaker,
                     specs: list[HopSpec], edges: list[GraphEdgeSpec], surface_hash: str | None) -> Response:
        """The bypass hops' bands (each from the store, or a new NEB job), then the summary with them."""
        store, jobs = current_store(), []
        bands = [hops_maker.band_job(minima, spec, None, store, jobs) for spec in specs]
        bands = [b.model_copy(update={"bypass": True}) if isinstance(b, HopDoc) else b for b in bands]
        progress.emit(Event.HOPS_PLANNED, key=minima.key, surface=minima.key.label, n=len(jobs),
                      refinement=minima.refinement)
        widened = graph.model_copy(update={"edges": [*graph.edges, *edges], "bypass": [spec.hop_id for spec in specs]})
        summary = self.make(minima, [*hops, *bands], widened, hops_maker=hops_maker, surface_hash=surface_hash)
        summary.name = f"summary {minima.key.label} (bypass hops)"
        return Response(replace=Flow([*jobs, summary], output=summary.output))

    def _with_checks(self, minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, hops_maker: HopsMaker,
                     surface_hash: str | None) -> Response:
        """Every accepted hop's saddle check (from the store, or a new job), then the summary with them."""
        store, jobs, checks = current_store(), [], []
        maker = SaddleCheckMaker(kinetics=self.kinetics, **self._settings())
        for hop in hops:
            if hop.status != "accepted" or not hop.band:
                continue
            stored = find_done(store, "saddle_check", maker.content_hash(hop))
            if stored is not None:
                checks.append(SaddleCheckDoc.model_validate(stored))
                continue
            check = maker.make(hop)
            check.name = f"saddle check {minima.key.label} {hop.hop_id}"
            jobs.append(check)
            checks.append(check.output)
        summary = self.make(minima, hops, graph, hops_maker=hops_maker, surface_hash=surface_hash, checks=checks)
        summary.name = f"summary {minima.key.label} (saddle checks)"
        return Response(replace=Flow([*jobs, summary], output=summary.output))

    def _with_broken_bands(self, minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, hops_maker: HopsMaker,
                           broken: dict[str, SaddleCheckDoc], surface_hash: str | None) -> Response:
        """Each hop whose climbing image is a higher-order saddle computed again from its band pushed along the
        mode that leads off it, unmirrored (``bands.saddle.broken_band``); that band replaces the hop, the failed
        one listed in its ``alternatives``; then the summary checks it again."""
        jobs, resolved = [], []
        for index, hop in enumerate(hops):
            check = broken.get(hop.hop_id)
            if check is None:
                resolved.append(hop)
                continue
            band = self._pushed_band(minima, hop, index, hops_maker, (check.atoms, np.array(check.sideways)), jobs,
                                     "off its higher-order saddle")
            kept = instead_of_failed(band, failed_alternative(hop, check))
            kept.name = f"replace {minima.key.label} {hop.hop_id}"
            jobs.append(kept)
            resolved.append(kept.output)
        summary = self.make(minima, resolved, graph, hops_maker=hops_maker, surface_hash=surface_hash)
        summary.name = f"summary {minima.key.label} (bands off higher-order saddles)"
        return Response(replace=Flow([*jobs, summary], output=summary.output))

    def _with_second_band(self, minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, hops_maker: HopsMaker,
                          first: HopDoc, checks: list[SaddleCheckDoc], surface_hash: str | None) -> Response:
        """The limiting hop computed again from its band pushed across the hop, unmirrored, and checked; the lower
        verified saddle is the hop's (``saddles.lower_verified``); then the summary again (the limiting hop may
        change, and gets its own second band)."""
        jobs = []
        index = next(k for k, h in enumerate(hops) if h is first)
        push = across_the_hop([atoms_from_dict(d) for d in first.band])
        second = self._pushed_band(minima, first, index, hops_maker, push, jobs, "second band")
        check = SaddleCheckMaker(kinetics=self.kinetics, **self._settings()).make(second)
        check.name = f"saddle check {minima.key.label} {first.hop_id} (second band)"
        kept = lower_verified(first, second, check.output)
        kept.name = f"lower saddle {minima.key.label} {first.hop_id} (second band)"
        jobs += [check, kept]
        resolved = [kept.output if k == index else h for k, h in enumerate(hops)]
        summary = self.make(minima, resolved, graph, hops_maker=hops_maker, surface_hash=surface_hash,
                            checks=[*checks, check.output])
        summary.name = f"summary {minima.key.label} (second band of {first.hop_id})"
        return Response(replace=Flow([*jobs, summary], output=summary.output))

    def _pushed_band(self, minima: MinimaDoc, hop: HopDoc, index: int, hops_maker: HopsMaker, push: tuple,
                     jobs: list, why: str):
        """``hop`` computed again, unmirrored, from its band pushed along ``push`` (atoms, displacements:
        ``bands.saddle.broken_band``): the stored document, or a new NEB job added to ``jobs`` (its output)."""
        neb_maker = replace(hops_maker.neb_maker, neb_protocol=self.neb_protocol.model_copy(update={"mirror": False}))
        images = broken_band([atoms_from_dict(d) for d in hop.band], *push)
        warm = WarmStart(start=hop.start, end=hop.end, band=[atoms_to_dict(a) for a in images])
        spec = HopSpec.of(hop, index)
        stored = find_done(current_store(), "hop", neb_maker.content_hash(minima, spec, warm), load=True)
        if stored is not None:
            return HopDoc.model_validate(stored)
        neb = neb_maker.make(minima, spec, warm=warm)
        neb.name = f"neb {minima.key.label} {hop.hop_id} ({why})"
        jobs.append(neb)
        return neb.output

    def _settings(self) -> dict:
        """The settings every Maker of this surface shares."""
        return {f: getattr(self, f) for f in ("calculator_preset", "slab_settings", "minima_settings",
                                              "neb_protocol", "parallel")}

    def _through_valleys(self, minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, hops_maker: HopsMaker,
                         split: list[HopDoc], surface_hash: str | None) -> Response:
        store, jobs, resolved, neb_maker = current_store(), [], [], hops_maker.neb_maker
        for index, hop in enumerate(hops):  # in class order
            if not any(hop is s for s in split):
                resolved.append(hop)
                continue
            spec = HopSpec.of(hop, index)
            stored = find_done(store, "hop", neb_maker.content_hash(minima, spec, via=hop), load=True)
            if stored is not None:  # finished by an earlier run of the campaign
                resolved.append(with_later_gates(HopDoc.model_validate(stored)))
                continue
            neb = neb_maker.make(minima, spec, via=hop)
            neb.name = f"neb {minima.key.label} {hop.hop_id} (through its valley)"
            jobs.append(neb)
            resolved.append(neb.output)
        progress.emit(Event.HOPS_PLANNED, key=minima.key, surface=minima.key.label, n=len(jobs),
                      refinement=minima.refinement)
        # Hops through valleys have none left (a band that has one past MAX_INTERMEDIATES fails), so this summary
        # splits nothing; with hops_maker it can still refine from a valley deeper than every minimum.
        summary = self.make(minima, resolved, graph, hops_maker=hops_maker, surface_hash=surface_hash)
        summary.name = f"summary {minima.key.label}"
        return Response(replace=Flow([*jobs, summary], output=summary.output))
