"""The active-learning loop's engine: which frames a round trains on, the round's committee (named by what it learns,
trained or found again), whether the loop goes on, and which configurations go to DFT.

A campaign's ``finetune:`` section (:class:`ActiveLearningSettings`) runs, after its fidelity funnel (ML screen,
DFT on ``top_k``), rounds of: fine-tune a committee on the store's DFT frames, re-screen every surface with its
first member, judge each ranked surface's limiting hop by every member (:mod:`seiscreen.committee`: the spread of
their barriers at the hop's start and highest image), and, while a spread exceeds ``spread_threshold``, the DFT
budget is not spent and ``max_rounds`` is not reached, recompute the start and highest image of the disputed hops
with the DFT preset (:mod:`seiscreen.single_points`) for the next round's training. The jobs are in
:mod:`seiscreen.workflow.active_learning`; this module knows no store and no jobflow.

A round's models are named ``<name>-r<round>-<digest>``, the digest of the frames it trains on and the fine-tune
settings, so a rerun (or a run resumed after a kill) finds its models again instead of training them; the members
are ``NAME``, ``NAME-2``, ... (:func:`seiscreen.finetune.committee_names`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ase import Atoms
from pydantic import BaseModel, ConfigDict, Field, model_validator

from seiscreen.committee import BarrierSpread
from seiscreen.errors import SeiscreenError
from seiscreen.finetune import FinetuneManifest, FinetuneSettings, committee_names, finetune
from seiscreen.finetuned_models import FINETUNED_MANIFEST, read_finetuned_manifest
from seiscreen.single_points import StoredStructure

TAG = "active-learning"  # the kind of the loop's own DFT frames: "active-learning r<round> <start|saddle>"


class ActiveLearningSettings(BaseModel):
    """A campaign's ``finetune:`` section: the committee, its training, and when the loop stops."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="the models' name prefix (default: the campaign's name)")
    base_model: str = Field("0.3.0", description="the pretrained model fine-tuned: 0.3.0 (CHGNet) or 7net-0")
    committee: int = Field(3, ge=2, description="models per round, seeds 0, 1, ...: the first re-screens, all judge")
    epochs: int = Field(10, ge=1, description="passes over the training frames per model")
    learning_rate: float | None = Field(None, gt=0, description="Adam's initial rate (default: the base code's)")
    spread_threshold: float = Field(0.05, gt=0, description="eV: a ranked barrier whose committee spread is larger "
                                                            "sends its hop to DFT")
    dft_budget: int = Field(20, ge=0, description="DFT single points the loop may add (the funnel's DFT not "
                                                  "counted)")
    max_rounds: int = Field(3, ge=1, description="fine-tune and re-screen rounds at most, the first included")

    @model_validator(mode="after")
    def _trainable(self) -> ActiveLearningSettings:
        self.finetune_settings(0)  # an unknown base model or bad rate: one line now, not after the DFT
        return self

    def prefix(self, campaign_name: str) -> str:
        """The models' name prefix: ``name``, else the campaign's."""
        return self.name or campaign_name

    def finetune_settings(self, seed: int) -> FinetuneSettings:
        """How each member is fine-tuned (member k: seed k)."""
        rate = {"learning_rate": self.learning_rate} if self.learning_rate is not None else {}
        return FinetuneSettings(base_model=self.base_model, epochs=self.epochs, seed=seed, **rate)


def added_in(frame: Atoms) -> int | None:
    """The round whose DFT single point ``frame`` is (its kind ``active-learning r<k> ...``); None for others."""
    found = re.match(rf"{TAG} r(\d+) ", str(frame.info.get("kind", "")))
    return int(found.group(1)) if found else None


def round_frames(frames: list[Atoms], round_: int) -> list[Atoms]:
    """The frames round ``round_`` trains on: every frame but the loop's own single points of this round or later
    (so a rerun's round 1 trains on what the first run's round 1 did)."""
    return [f for f in frames if (k := added_in(f)) is None or k < round_]


def round_name(prefix: str, round_: int, frames: list[Atoms], settings: ActiveLearningSettings) -> str:
    """``<prefix>-r<round>-<digest>``: the digest of the frames' ids and the fine-tune settings."""
    identity = {"frames": sorted(str(f.info["frame_id"]) for f in frames),
                "settings": settings.finetune_settings(0).model_dump(mode="json")}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    return f"{prefix}-r{round_}-{digest}"


@dataclass(frozen=True)
class Member:
    """One committee member: its model name, manifest, and whether an earlier run had trained it."""

    name: str
    manifest: FinetuneManifest
    reused: bool


def train_committee(frames: list[Atoms], models: Path, name: str, settings: ActiveLearningSettings) -> list[Member]:
    """The committee ``name`` in the folder ``models``: each member found again where its folder holds a manifest
    of these frames, fine-tuned (seed = its index) where not (a folder without a manifest: a killed training)."""
    ids = sorted(str(f.info["frame_id"]) for f in frames)
    members = []
    for seed, member in enumerate(committee_names(name, settings.committee)):
        folder = models / member
        if (folder / FINETUNED_MANIFEST).is_file():
            manifest = FinetuneManifest.model_validate(read_finetuned_manifest(folder))
            split = manifest.split
            if sorted(split.train + split.validation + split.test) != ids:
                raise SeiscreenError(f"{folder} holds a model of other frames than round {name}'s: move it away "
                                     "(the loop names its models by their frames)")
            members.append(Member(member, manifest, True))
        else:
            members.append(Member(member, finetune(frames, folder, settings.finetune_settings(seed)), False))
    return members


@dataclass(frozen=True)
class Decision:
    """What a round's spreads decide: the disputed hops (largest spread first), the DFT single points to run now,
    and why the loop stops after this round (None: it goes on)."""

    flagged: list[BarrierSpread]
    single_points: int
    stop: str | None


def decide(spreads: list[BarrierSpread], settings: ActiveLearningSettings, round_: int, spent: int) -> Decision:
    """Go on while some ranked barrier's spread exceeds the threshold, the budget has single points left and
    rounds remain; each disputed hop asks for two single points (its highest image, then its start)."""
    flagged = sorted((s for s in spreads if s.spread > settings.spread_threshold), key=lambda s: -s.spread)
    stop = None
    if not spreads:
        stop = "no ranked surface at the fine-tuned level: nothing to judge"
    elif not flagged:
        stop = f"every ranked barrier's committee spread is at most {settings.spread_threshold} eV"
    elif spent >= settings.dft_budget:
        stop = f"DFT budget spent ({spent} of {settings.dft_budget} single points)"
    elif round_ >= settings.max_rounds:
        stop = f"max_rounds ({settings.max_rounds}) reached"
    points = 0 if stop else min(2 * len(flagged), settings.dft_budget - spent)
    return Decision(flagged, points, stop)


def disputed_structures(decision: Decision, pairs: dict[str, tuple[StoredStructure, StoredStructure]]
                        ) -> list[StoredStructure]:
    """The structures to recompute: per flagged hop (largest spread first) its (highest image, start) from
    ``pairs`` (by the spread's label), the first ``decision.single_points`` of them."""
    chosen = [s for spread in decision.flagged for s in pairs[spread.label]]
    return chosen[:decision.single_points]


class SpreadRow(BaseModel):
    """One ranked surface at a round's fine-tuned level, its limiting hop judged by the committee."""

    surface: str = Field(description="the surface's label")
    content_hash: str | None = Field(description="the surface document's content hash (results join on it)")
    calculator: str = Field(description="the fine-tuned preset that ranked it (the committee's first member)")
    hop_id: str = Field(description="the limiting hop judged")
    barrier: float = Field(description="eV: the surface's ranking barrier at this level")
    member_barriers: list[float] = Field(description="eV: each member's barrier at the hop's start and highest "
                                                     "image (no relaxation)")
    spread: float = Field(description="eV: the largest minus the smallest member barrier")


class RoundRecord(BaseModel):
    """One round of the loop, stored as a document and in the loop's manifest."""

    doc_type: Literal["active_learning_round"] = "active_learning_round"
    campaign: str = Field(description="the campaign's name")
    round: int = Field(description="1 for the first fine-tune after the funnel")
    models: list[str] = Field(description="the committee's model names (presets ml-ft:NAME)")
    reused: list[bool] = Field(description="per member: found trained by an earlier run")
    validation_force_mae: list[float] = Field(description="eV/Å per member, on its validation frames")
    dft_preset: str = Field(description="the preset of the frames trained on and of the loop's single points")
    n_frames: int = Field(description="frames trained on (train + validation)")
    loop_frames: int = Field(description="of them, the loop's own single points of earlier rounds")
    threshold: float = Field(description="eV: the spread above which a hop is disputed")
    spreads: list[SpreadRow] = Field(description="every ranked surface at this level")
    flagged: list[str] = Field(description="surfaces whose spread exceeds the threshold, largest first")
    single_points: int = Field(description="DFT single points run after this round's judgement")
    dft_spent: int = Field(description="the loop's DFT single points so far, this round's included")
    dft_budget: int = Field(description="the loop's budget of DFT single points")
    stop: str | None = Field(description="why the loop ends with this round; None: another round follows")


class LoopManifest(BaseModel):
    """``manifest.json`` of a campaign's loop: its rounds so far."""

    rounds: list[RoundRecord] = Field(default_factory=list, description="in order; a rerun replaces its rounds")

    def with_round(self, record: RoundRecord) -> LoopManifest:
        """The manifest with ``record`` in its round's place and later rounds dropped (a rerun recomputes them)."""
        return LoopManifest(rounds=[*(r for r in self.rounds if r.round < record.round), record])
