"""The surface summary: refinements, hops through valleys and bypass hops planned, then the verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobflow import Flow, Response, job

from seiscreen import progress
from seiscreen.progress import Event
from seiscreen.hopgraph import bypass_specs
from seiscreen.neb import USABLE
from seiscreen.schemas import GraphEdgeSpec, HopDoc, HopGraph, HopSpec, MinimaDoc
from seiscreen.store import find_done
from seiscreen.verdicts import deeper_valleys, summarise_surface, with_later_gates
from seiscreen.workflow.base import EXPOSE_STORE, CalculatorMaker, current_store
from seiscreen.workflow.minima import RefineMinimaMaker

if TYPE_CHECKING:
    from seiscreen.workflow.hops import HopsMaker


@dataclass
class SurfaceSummaryMaker(CalculatorMaker):
    """Gate-aware summary of one surface: refine minima found inside bands, then the percolation barrier."""

    name: str = "surface summary"
    max_refinements: int = 2
    # Also compute the hops the neighbour test left out that could lower the percolation level (bypass_specs).
    bypass_hops: bool = True

    @job(config=EXPOSE_STORE)
    def make(self, minima: MinimaDoc, hops: list[HopDoc], graph: HopGraph, hops_maker: HopsMaker | None = None,
             surface_hash: str | None = None):
        """``hops``: the surface's hop documents in class order (``HopSpec.index``), then its bypass hops;
        ``graph``: its hop graph (widened by the bypass hops' edges once they were looked for)."""
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
        doc = summarise_surface(minima, hops, graph, self.provenance(with_neb=True))
        doc = doc.model_copy(update={"content_hash": surface_hash})
        progress.emit(Event.SURFACE_DONE, key=minima.key, surface=minima.key.label, status=doc.status,
                      barrier=doc.ranking_barrier, **({"reason": doc.reason} if doc.status == "failed" else {}))
        return doc

    def _refined(self, minima: MinimaDoc, split: list[HopDoc], hops: list[HopDoc], hops_maker: HopsMaker,
                 surface_hash: str | None, deeper: bool = False) -> Response:
        """Minima relaxed from the valleys of ``split`` (each band's ``interior_minimum_image``), then the hops."""
        settings = {f: getattr(self, f) for f in ("calculator_preset", "slab_settings", "minima_settings",
                                                  "neb_protocol")}
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
