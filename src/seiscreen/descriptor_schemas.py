"""The descriptor panel's campaign settings and its document: one per material and calculator preset.

The panel puts the review's other criteria of an ideal SEI beside the surface barrier: mechanical strength
(``descriptors/mechanical.py``), sodiophilicity (the adatom's adsorption energy, already in every surface
document), and, as their engines are added, stability against Na metal, bulk Na transport and the band gap.

Adding a descriptor ``x`` (engine ``descriptors/x.py`` with ``XSettings``, ``XResult`` and ``compute_x``) takes one
field in each of three places: ``DescriptorSettings.x`` (its switch and settings, ``Switch``-annotated),
``DescriptorDoc.x`` (its result) and a step in ``workflow/descriptors.py`` (``DescriptorMaker._parts``); then
columns in ``descriptor_results.py`` (``PART_COLUMNS``) for the table and the report.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from seiscreen.descriptors.bulk import BulkResult, BulkSettings
from seiscreen.descriptors.mechanical import MechanicalResult, MechanicalSettings
from seiscreen.schemas import Provenance


def _switch(value: Any) -> Any:
    """A descriptor's key in the campaign file: ``false`` turns it off (None), ``true`` or an empty key turns it
    on with its default settings, a mapping sets them."""
    if value is False:
        return None
    if value is True or value is None:
        return {}
    return value


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
    # A new descriptor: one field here, as `mechanical`, e.g.
    # stability: Annotated[StabilitySettings | None, Switch] = Field(default_factory=StabilitySettings, ...)

    def enabled(self) -> list[str]:
        """The names of the descriptors turned on, in the panel's order."""
        return [name for name, info in type(self).model_fields.items()
                if name != "bulk" and getattr(self, name) not in (None, False)]

    @property
    def needs_bulk(self) -> bool:
        """Whether any computed part (not sodiophilicity, which is read) needs the relaxed bulk."""
        return any(name != "sodiophilicity" for name in self.enabled())


class DescriptorDoc(BaseModel):
    """One material's descriptors under one calculator preset, with the settings that made them."""

    doc_type: Literal["descriptors"] = "descriptors"
    material: str = Field(description="catalog name or CIF path, as in the campaign")
    preset: str = Field(description="the calculator preset every part was computed with")
    reference_metal: str = Field(description="the deposited metal (the campaign's adsorbate) the Monroe–Newman "
                                 "ratio compares with")
    role: Literal["material", "reference"] = Field("material", description="reference: the deposited metal's own "
                                                   "document, which the others' Monroe–Newman ratios divide by")
    settings: DescriptorSettings = Field(description="the panel's settings (which parts are on, and theirs)")
    provenance: Provenance = Field(description="calculator, versions, date and machine")
    content_hash: str | None = Field(None, description="identity of the inputs: a rerun reuses the document")
    bulk: BulkResult | None = Field(None, description="the relaxed bulk the parts start from")
    mechanical: MechanicalResult | None = Field(None, description="elastic tensor and moduli (None: off or failed)")
    # A new descriptor: one optional part here, typed as its engine's result, e.g.
    # stability: StabilityResult | None = None
    errors: dict[str, str] = Field(default_factory=dict, description="part -> why it failed (exception)")
    error: str | None = Field(None, description="set when any part failed: the document is not reused, a rerun "
                              "computes it again")
