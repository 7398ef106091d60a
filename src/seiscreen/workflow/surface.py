"""One surface's flow: minima -> hops (one NEB per symmetry-unique hop) -> summary; and the Makers of a campaign."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker, OutputReference

from seiscreen.campaign import Campaign
from seiscreen.kinetics import KineticsSettings
from seiscreen.neb import USABLE
from seiscreen.schemas import MinimaDoc, MinimumSeed, SlabDoc, SurfaceDoc, WarmStart, content_hash
from seiscreen.store import find_done
from seiscreen.surfaces.hops import ON_THE_EDGE, POSITION_NOISE
from seiscreen.surfaces.slabs import SlabSettings
from seiscreen.workflow.base import current_store
from seiscreen.workflow.hops import HopNebMaker, HopsMaker, warm_identity
from seiscreen.workflow.minima import MinimaMaker
from seiscreen.workflow.summary import SurfaceSummaryMaker

# Which left-out hops are bypass candidates (surfaces.hops.bypass_hops): part of a surface's identity.
BYPASS_RULE = {"position_noise": POSITION_NOISE, "on_the_edge": ON_THE_EDGE}


@dataclass
class SurfaceFlowMaker(Maker):
    """minima -> hops (fans out one NEB per symmetry-unique hop) -> surface summary."""

    name: str = "surface"
    minima_maker: MinimaMaker = field(default_factory=MinimaMaker)
    hops_maker: HopsMaker = field(default_factory=HopsMaker)

    def content_hash(self, slab: SlabDoc, seeds: list[MinimumSeed] | None = None,
                     warm: list[WarmStart] | None = None) -> str:
        """Identity of the surface document this flow ends in: its minima's identity plus every hop setting."""
        return self.content_hashes(slab, seeds, warm)[0]

    def content_hashes(self, slab: SlabDoc, seeds: list[MinimumSeed] | None = None,
                       warm: list[WarmStart] | None = None) -> list[str]:
        """:meth:`content_hash`, then the identity from each earlier identity of its minima
        (``MinimaMaker.content_hashes``): lookups try them all."""
        hops = self.hops_maker
        return [content_hash("surface", minima=minima, warm=[warm_identity(w) for w in warm or []],
                             max_hop_length=hops.max_hop_length,
                             max_refinements=hops.summary_maker.max_refinements if hops.summary_maker else None,
                             slide_tolerance=hops.neb_maker.slide_tolerance if hops.neb_maker else None,
                             **({"seed_band_preset": hops.seed_band_preset} if hops.seed_band_preset else {}),
                             **({"cold_bands": True} if hops.cold_bands else {}),
                             **({"bypass_hops": BYPASS_RULE} if hops.summary_maker and hops.summary_maker.bypass_hops
                                else {}),
                             **self.kinetics_identity(),
                             **hops.identity(neb=True))
                for minima in self.minima_maker.content_hashes(slab, seeds)]

    def kinetics_identity(self) -> dict:
        """With saddle checks: their settings and the temperatures of D(T), so that a surface stored before its hops
        were checked is not taken for a checked one. Without: nothing (older surfaces keep their identities; their
        D(T) is computed when their summary runs again)."""
        summary = self.hops_maker.summary_maker
        if summary is None or not summary.kinetics.checks_saddles(summary.preset.code):
            return {}
        return {"kinetics": {**summary.kinetics.identity(), "temperatures": summary.kinetics.temperatures}}

    def make(self, slab: SlabDoc, seeds: list[MinimumSeed] | None = None, warm: list[WarmStart] | None = None,
             store=None) -> Flow:
        """``seeds``: extra starts of the minima search; ``warm``: another fidelity's bands of the same hops (their
        references resolved when the hops job runs); ``store``: where finished minima are looked up (default: the
        running job's store, when exposed)."""
        surface_hash = self.content_hash(slab, seeds, warm)
        stored = find_done(store or current_store(), "minima", self.minima_maker.content_hashes(slab, seeds))
        jobs = []
        if stored is not None:  # found by an earlier run: the hops start from it
            minima_output = MinimaDoc.model_validate(stored)
        else:
            minima = self.minima_maker.make(slab, seeds=seeds)
            minima.name = f"minima {slab.key.label}"
            jobs.append(minima)
            minima_output = minima.output
        hops = self.hops_maker.make(minima_output, warm=warm, surface_hash=surface_hash)
        hops.name = f"hops {slab.key.label}"
        return Flow([*jobs, hops], output=hops.output, name=f"surface {slab.key.label}")


def surface_makers(campaign: Campaign, calculator: str, slab: SlabSettings, adsorbate: str | None = None,
                   kinetics: KineticsSettings | None = None) -> tuple[SurfaceFlowMaker, dict]:
    """The Makers of one surface's flow at ``calculator``, and their shared settings; ``kinetics``: the campaign's
    unless given (a convergence series checks saddles in its largest cell only)."""
    settings = dict(calculator_preset=calculator, slab_settings=slab,
                    minima_settings=campaign.minima_settings_for(adsorbate), neb_protocol=campaign.neb,
                    parallel=campaign.parallel)
    summary = SurfaceSummaryMaker(max_refinements=campaign.max_refinements, bypass_hops=campaign.bypass_hops,
                                  kinetics=kinetics or campaign.kinetics, **settings)
    hops = HopsMaker(neb_maker=HopNebMaker(**settings), summary_maker=summary,
                     max_hop_length=campaign.max_hop_length, **settings)
    return SurfaceFlowMaker(minima_maker=MinimaMaker(**settings), hops_maker=hops), settings


def flatten_surfaces(groups: list) -> list[SurfaceDoc]:
    return [SurfaceDoc.model_validate(s) if isinstance(s, dict) else s
            for group in groups if group is not None
            for s in (group if isinstance(group, list) else [group]) if s is not None]


def recompute_surfaces(campaign: Campaign, docs: list[SurfaceDoc], calculator: str,
                       seed_preset: str) -> tuple[list[Flow], list]:
    """``docs`` (another level's surfaces) computed again at ``calculator``: per surface a flow (none where the
    store holds the result) and its output. The new level finds its own minima (``docs``' minima are extra starts)
    and starts its bands from ``docs``' bands where the hop is the same, from a band ``seed_preset`` relaxes between
    its own ends where not."""
    flows, outputs = [], []
    for doc in docs:
        slab_settings = SlabSettings(**doc.provenance.slab_settings)
        surface, _ = surface_makers(campaign, calculator, slab_settings, doc.key.adsorbate)
        surface.hops_maker.seed_band_preset = seed_preset  # for hops it has no band of
        surface.hops_maker.cold_bands = campaign.cold_bands
        slab = doc.slab.model_copy(update={"key": doc.key.model_copy(update={"calculator": calculator})})
        seeds = [MinimumSeed(name=m["site"], position=m["position"]) for m in doc.minima]
        warm = [WarmStart(start=h.start, end=h.end, band=OutputReference(h.job_uuid, (("a", "band"),)))
                for h in doc.hops if h.job_uuid and h.status in USABLE]
        done = find_done(current_store(), "surface", surface.content_hashes(slab, seeds=seeds, warm=warm))
        if done is not None:  # this level finished it in an earlier run
            outputs.append(SurfaceDoc.model_validate(done))
            continue
        flows.append(surface.make(slab, seeds=seeds, warm=warm))
        outputs.append(flows[-1].output)
    return flows, outputs
