"""The jobflow layer: one Maker per physical step, each a few lines around an engine, and the flows that chain them.

- :mod:`~seiscreen.workflow.base`: ``CalculatorMaker``, the settings and provenance every Maker shares.
- :mod:`~seiscreen.workflow.slabs`: ``TerminationsMaker``, every termination of a facet.
- :mod:`~seiscreen.workflow.minima`: ``MinimaMaker`` and ``RefineMinimaMaker``.
- :mod:`~seiscreen.workflow.hops`: ``HopNebMaker`` (one hop, :mod:`seiscreen.bands`) and ``HopsMaker`` (fan-out).
- :mod:`~seiscreen.workflow.summary`: ``SurfaceSummaryMaker``, refinements and the verdict
  (:mod:`seiscreen.verdicts`).
- :mod:`~seiscreen.workflow.surface`: ``SurfaceFlowMaker``, one surface's flow, and the Makers of a campaign.
- :mod:`~seiscreen.workflow.flows`: ``campaign_flow``, the ranking and the fidelity funnel.
- :mod:`~seiscreen.workflow.cells`: the cell-convergence series.

Reruns: every computing Maker has a ``content_hash(...)`` of the inputs of its ``make``; the document it makes
carries that hash, and the job that would create it first looks it up in the store and reuses a finished one.
"""

from seiscreen.workflow.base import CalculatorMaker, current_store
from seiscreen.workflow.cells import convergence_flow
from seiscreen.workflow.flows import (PlannedSurface, campaign_flow, funnel_candidates, plan_surfaces, rank_surfaces,
                                      surfaces_done)
from seiscreen.workflow.hops import HopNebMaker, HopsMaker, lower_saddle, unseeded_twin
from seiscreen.workflow.minima import MinimaMaker, RefineMinimaMaker
from seiscreen.workflow.slabs import TerminationsMaker, slab_doc
from seiscreen.workflow.summary import SurfaceSummaryMaker
from seiscreen.workflow.surface import SurfaceFlowMaker, surface_makers

__all__ = ["CalculatorMaker", "HopNebMaker", "HopsMaker", "MinimaMaker", "PlannedSurface", "RefineMinimaMaker",
           "SurfaceFlowMaker", "SurfaceSummaryMaker", "TerminationsMaker", "campaign_flow", "convergence_flow",
           "current_store", "funnel_candidates", "lower_saddle", "plan_surfaces", "rank_surfaces", "slab_doc",
           "surface_makers", "surfaces_done", "unseeded_twin"]
