"""The descriptor panel's campaign settings and its document: one per material and calculator preset.

The panel puts the review's other criteria of an ideal SEI beside the surface barrier: mechanical strength
(``descriptors/mechanical.py``), sodiophilicity (the adatom's adsorption energy, already in every surface
document), stability against the deposited metal (``descriptors/stability.py``) and its bulk transport
(``descriptors/transport.py``) and its electronic insulation (the PBE band gap, ``descriptors/gap.py``).

Adding a descriptor ``x`` (engine ``descriptors/x.py`` with ``XSettings``, ``XResult`` and ``compute_x``) takes one
field in each of three places: ``DescriptorSettings.x`` (its switch and settings, ``Switch``-annotated),
``DescriptorDoc.x`` (its result) and a step in ``workflow/descriptors.py`` (``DescriptorMaker._parts``); then
columns in ``descriptor_results.py`` (``PART_COLUMNS``) for the table and the report.

Stability against the metal and bulk transport concern the deposited metal (the campaign's adsorbate): their
``metal`` and ``species`` are set from it (``DescriptorSettings.for_metal``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from seiscreen.descriptors.bulk import BulkResult, BulkSettings
from seiscreen.descriptors.gap import GapResult, GapSettings
from seiscreen.descriptors.mechanical import MechanicalResult, MechanicalSettings
from seiscreen.descriptors.stability import StabilityResult, StabilitySettings
from seiscreen.descriptors.transport import TransportResult, TransportSettings
from seiscreen.errors import SeiscreenError
from seiscreen.schemas import Provenance


def _switch(value: Any) -> Any:
    """A descriptor's key: ``false`` (or None, off as stored) turns it off, ``true`` turns it on with its default
    settings, a mapping sets them. An empty key in a campaign file reads as on (``campaign.empty_keys_on``)."""
    if value is False:
        return None
    if value is True:
        return {}
    return value


def empty_keys_on(section: Any) -> Any:
    """The campaign file's ``descriptors:`` section with its empty keys (YAML null) read as on: an empty
    ``descriptors:`` or ``mechanical:`` means "on, with the defaults", while a stored None means off."""
    if section is None:
        return {}
    if isinstance(section, dict):
        return {key: ({} if value is None else value) for key, value in section.items()}
    return section


Switch = BeforeValidator(_switch)


class DescriptorSettings(BaseModel):
    """The campaign's ``descriptors:`` section. Present, it turns on every descriptor by default; each can be
    turned off (``mechanical: false``) or given settings (``mechanical: {relax_ions: false}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bulk: BulkSettings = Field(default_factory=BulkSettings, description="the bulk relaxation every descriptor "
                               "of a material starts from (relaxed once per material and preset)")
    mechanical: Annotated[MechanicalSettings | None, Switch] = Field(
        default_factory=MechanicalSettings, description="elastic tensor, VRH moduli, Born stability and the "
        "Monroe–Newman ratio against the campaign's adsorbate metal; false: off")
    sodiophilicity: bool = Field(True, description="the lowest adsorption energy of the adatom against its bulk "
                                 "metal over the material's ranked surfaces (read from the surface documents)")
    stability: Annotated[StabilitySettings | None, Switch] = Field(
        default_factory=StabilitySettings, description="the reaction energy with the deposited metal towards the "
        "metal-richest phases of the material's system (the catalog's competing phases, relaxed with the same "
        "preset); false: off")
    transport: Annotated[TransportSettings | None, Switch] = Field(
        default_factory=TransportSettings, description="the 3D percolation barrier of the deposited metal's "
        "vacancy (and interstitial) hops through the relaxed bulk (gated NEB in a supercell); false: off")

    gap: Annotated[GapSettings | None, Switch] = Field(
        default_factory=GapSettings, description="the PBE band gap from GPAW, whatever the preset, at the "
        "material's starting geometry (the catalog's experimental cell or the CIF's): computed once per material "
        "and gap settings, reused by every preset's document; false: off")

    def enabled(self) -> list[str]:
        """The names of the descriptors turned on, in the panel's order."""
        return [name for name, info in type(self).model_fields.items()
                if name != "bulk" and getattr(self, name) not in (None, False)]

    @property
    def needs_bulk(self) -> bool:
        """Whether any computed part (not sodiophilicity, which is read) needs the relaxed bulk."""
        return any(name != "sodiophilicity" for name in self.enabled())

    def for_metal(self, metal: str) -> DescriptorSettings:
        """These settings with the deposited metal as the stability's metal and the transport's species."""
        update: dict = {}
        if self.stability is not None:
            update["stability"] = self.stability.model_copy(update={"metal": metal})
        if self.transport is not None:
            update["transport"] = self.transport.model_copy(update={"species": metal})
        return self.model_copy(update=update)

    def check_metal(self, metals: set[str]) -> None:
        """Refuse a stability ``metal`` or transport ``species`` set to other than the deposited metal(s)."""
        for part, key in (("stability", "metal"), ("transport", "species")):
            settings = getattr(self, part)
            if settings is not None and key in settings.model_fields_set and {getattr(settings, key)} != metals:
                raise SeiscreenError(f"descriptors.{part}.{key} {getattr(settings, key)!r}: it is the deposited "
                                     f"metal, the campaign's adsorbate ({', '.join(sorted(metals))}): drop the key")

    def bulk_only(self) -> DescriptorSettings:
        """Every descriptor off, the bulk relaxation kept: what a competing phase's document is computed with."""
        return self.model_copy(update={name: (False if name == "sodiophilicity" else None)
                                       for name in self.enabled()})


class DescriptorDoc(BaseModel):
    """One material's descriptors under one calculator preset, with the settings that made them."""

    doc_type: Literal["descriptors"] = "descriptors"
    material: str = Field(description="catalog name or CIF path, as in the campaign")
    preset: str = Field(description="the calculator preset every part was computed with")
    reference_metal: str = Field(description="the deposited metal (the campaign's adsorbate) the Monroe–Newman "
                                 "ratio compares with")
    role: Literal["material", "reference", "phase"] = Field(
        "material", description="reference: the deposited metal's own document, which the others' Monroe–Newman "
        "ratios divide by; phase: a competing phase of a material's system, its bulk relaxed only (its energy "
        "enters the stability of every material of that system)")
    settings: DescriptorSettings = Field(description="the panel's settings (which parts are on, and theirs)")
    provenance: Provenance = Field(description="calculator, versions, date and machine")
    content_hash: str | None = Field(None, description="identity of the inputs: a rerun reuses the document")
    bulk: BulkResult | None = Field(None, description="the relaxed bulk the parts start from")
    mechanical: MechanicalResult | None = Field(None, description="elastic tensor and moduli (None: off or failed)")
    stability: StabilityResult | None = Field(None, description="reaction with the deposited metal (None: off, "
                                              "failed or skipped)")
    transport: TransportResult | None = Field(None, description="bulk vacancy/interstitial barriers and the 3D "
                                              "percolation barrier (None: off, failed or skipped)")
    gap: GapResult | None = Field(None, description="the PBE band gap (None: off, failed or skipped)")
    gap_hash: str | None = Field(None, description="identity of the gap's inputs (starting structure and gap "
                                 "settings, not the preset): any document with it lends its gap")
    errors: dict[str, str] = Field(default_factory=dict, description="part -> why it failed (exception)")
    skipped: dict[str, str] = Field(default_factory=dict, description="part -> why it does not apply (a material "
                                    "without the deposited metal has no bulk transport of it): not an error")
    error: str | None = Field(None, description="set when any part failed: the document is not reused, a rerun "
                              "computes it again")
