"""The review's reference data (``seiscreen/data/literature.yaml``): sources, numbers and orderings.

Numbers are converted to eV. Each entry says whether it is a number or only an ordering, and which method its
source used as far as the review tells (e.g. Choudhury 2017: implicit solvent).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seiscreen.errors import SeiscreenError

EV_PER = {"eV": 1.0, "meV": 1e-3, "kJ/mol": 1.0 / 96.485332, "kcal/mol": 4.184 / 96.485332}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    ref: int | None = None  # the review's reference number (None: a source the review does not cite)
    short: str  # "Cao 2024"
    citation: str
    method: str
    method_short: str  # for legends: "DFT", "JDFT, implicit solvent"
    solvent: str = "not stated"


class LiteratureValue(_Strict):
    id: str
    source: str
    material: str
    facet: str | None  # "(100)"; None: not given (matches every facet of the material)
    facet_stated: bool  # False: the review names no facet, the one here is an assumption
    adsorbate: str = "Na"
    value: float
    unit: str
    quantity: str
    comparable: bool  # False: not a Na-adatom surface barrier; drawn, never judged
    quote: str
    where: str

    @property
    def value_ev(self) -> float:
        return self.value * EV_PER[self.unit]


class Ordering(_Strict):
    """``lower`` has a lower ``quantity`` than each of ``higher`` (one pair each), on each of ``facets``:
    the percolation barrier, or the adsorption energy of the lowest minimum (lower: the adatom binds more
    strongly; the bulk-adsorbate reference cancels in a comparison under one calculator)."""

    id: str
    source: str
    kind: Literal["number", "ordering-only"]
    statement: str
    quantity: Literal["barrier", "adsorption_energy"] = "barrier"
    lower: str
    higher: list[str] = Field(min_length=1)
    facets: list[str | None] = Field(default_factory=lambda: [None], min_length=1)
    facet_stated: bool
    adsorbate: str = "Na"  # "self": each material's own atom (metal self-diffusion)
    note: str = ""
    quote: str
    where: str


class DescriptorClaim(_Strict):
    """A qualitative statement of the review about a criterion of the descriptor panel, made testable: the
    material's ``column`` of ``load_results(...).descriptors`` compared by ``op`` with ``value``, or with another
    panel column (``than_column``, of ``than_material`` or the same material), under one calculator preset."""

    id: str
    source: str
    statement: str
    material: str
    column: str  # a column of load_results(...).descriptors ("monroe_newman_ratio", "barrier", ...)
    op: Literal[">=", ">", "<=", "<"]
    value: float | None = None
    than_material: str | None = None  # compare with another material's panel value (None: the same material)
    than_column: str | None = None  # ... of this column (None: the same column)
    note: str = ""
    quote: str
    where: str

    @model_validator(mode="after")
    def _one_reference(self) -> DescriptorClaim:
        if (self.value is None) == (self.than_material is None and self.than_column is None):
            raise ValueError(f"{self.id}: give either a value or than_material / than_column")
        return self


class MeasuredModuli(_Strict):
    """A material's measured elastic moduli, against which the panel's are compared (never judged: a calculator's
    error is reported, not tuned): either the single-crystal elastic constants (cubic: C11, C12, C44, GPa), whose
    Voigt–Reuss–Hill K and G are compared, or what the source gives of the bulk, shear and Young's modulus (GPa),
    each compared with the panel's VRH value of the same quantity. ``kind`` and ``temperature_k`` say what was
    measured where the source says it (the panel's moduli are static, 0 K)."""

    id: str
    source: str
    material: str
    c11_gpa: float | None = Field(None, gt=0)
    c12_gpa: float | None = None
    c44_gpa: float | None = Field(None, gt=0)
    bulk_gpa: float | None = Field(None, gt=0)
    shear_gpa: float | None = Field(None, gt=0)
    youngs_gpa: float | None = Field(None, gt=0)
    kind: Literal["isothermal", "adiabatic"] | None = None  # None: the source does not say
    temperature_k: float | None = Field(None, gt=0)  # None: not stated (the method says "room temperature" if so)
    method: str
    where: str

    @model_validator(mode="after")
    def _tensor_or_moduli(self) -> MeasuredModuli:
        tensor = [x is not None for x in (self.c11_gpa, self.c12_gpa, self.c44_gpa)]
        moduli = [x is not None for x in (self.bulk_gpa, self.shear_gpa, self.youngs_gpa)]
        if any(tensor) and not all(tensor):
            raise ValueError(f"{self.id}: gives only some of c11_gpa, c12_gpa, c44_gpa: give all three")
        if all(tensor) and any(moduli):
            raise ValueError(f"{self.id}: gives both elastic constants and moduli: give one or the other (the "
                             "moduli of the constants are computed)")
        if not any(tensor) and not any(moduli):
            raise ValueError(f"{self.id}: gives no value: give c11_gpa, c12_gpa and c44_gpa, or at least one of "
                             "bulk_gpa, shear_gpa, youngs_gpa")
        return self

    @property
    def has_tensor(self) -> bool:
        return self.c11_gpa is not None

    def moduli(self) -> dict[str, float]:
        """Voigt–Reuss–Hill bulk and shear moduli (GPa) of the cubic tensor, as the panel computes its own (an
        entry with elastic constants only)."""
        from seiscreen.descriptors.mechanical import vrh_moduli

        if not self.has_tensor:
            raise ValueError(f"{self.id} gives moduli, not elastic constants: see measured()")
        c11, c12, c44 = self.c11_gpa, self.c12_gpa, self.c44_gpa
        voigt = [[c11, c12, c12, 0, 0, 0], [c12, c11, c12, 0, 0, 0], [c12, c12, c11, 0, 0, 0],
                 [0, 0, 0, c44, 0, 0], [0, 0, 0, 0, c44, 0], [0, 0, 0, 0, 0, c44]]
        return vrh_moduli(voigt)

    def measured(self) -> dict[str, float | None]:
        """The quantities compared with the panel's (``bulk``, ``shear``, ``youngs``, GPa; None: the source gives
        none): a tensor's VRH K and G, or the moduli the source gives."""
        if self.has_tensor:
            vrh = self.moduli()
            return {"bulk": vrh["bulk_modulus_vrh_gpa"], "shear": vrh["shear_modulus_vrh_gpa"], "youngs": None}
        return {"bulk": self.bulk_gpa, "shear": self.shear_gpa, "youngs": self.youngs_gpa}

    def conditions(self) -> str:
        """The conditions the entry states: "isothermal, 295 K", "adiabatic", "293 K" or "" (none)."""
        return ", ".join(x for x in (self.kind or "", f"{self.temperature_k:g} K" if self.temperature_k else "") if x)


class Context(_Strict):
    source: str
    statement: str
    where: str


class Literature(_Strict):
    review: dict
    sources: dict[str, Source]
    values: list[LiteratureValue]
    orderings: list[Ordering]
    descriptor_claims: list[DescriptorClaim] = Field(default_factory=list)
    moduli: list[MeasuredModuli] = Field(default_factory=list)
    context: list[Context] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known(self) -> Literature:
        for entry in [*self.values, *self.orderings, *self.descriptor_claims, *self.moduli]:
            if entry.source not in self.sources:
                raise ValueError(f"{entry.id}: unknown source {entry.source!r} (known: {', '.join(self.sources)})")
        for value in self.values:
            if value.unit not in EV_PER:
                raise ValueError(f"{value.id}: unknown unit {value.unit!r} (known: {', '.join(EV_PER)})")
        return self

    def source_label(self, key: str) -> str:
        """'Cao 2024 [77]' for a source key ('Whitfield 1976' for one the review does not cite); the review itself
        is 'review'."""
        source = self.sources.get(key)
        if source is None:
            return key
        return f"{source.short} [{source.ref}]" if source.ref is not None else source.short

    def values_frame(self) -> pd.DataFrame:
        """One row per literature number, in eV, with its source and method."""
        rows = [{"id": v.id, "material": v.material, "facet": v.facet, "facet_stated": v.facet_stated,
                 "adsorbate": v.adsorbate, "value_ev": v.value_ev, "value": v.value, "unit": v.unit,
                 "quantity": v.quantity, "comparable": v.comparable, "source": self.source_label(v.source),
                 "method_short": self.sources[v.source].method_short, "method": self.sources[v.source].method,
                 "solvent": self.sources[v.source].solvent}
                for v in self.values]
        return pd.DataFrame(rows, columns=["id", "material", "facet", "facet_stated", "adsorbate", "value_ev",
                                           "value", "unit", "quantity", "comparable", "source", "method_short",
                                           "method", "solvent"])

    def orderings_frame(self) -> pd.DataFrame:
        """One row per review ordering: the statement, number or ordering-only, source and method."""
        rows = [{"id": o.id, "statement": o.statement, "kind": o.kind, "quantity": o.quantity, "lower": o.lower,
                 "higher": ", ".join(o.higher), "facets": ", ".join(f or "any" for f in o.facets),
                 "facet_stated": o.facet_stated, "adsorbate": o.adsorbate, "source": self.source_label(o.source),
                 "method_short": self.sources[o.source].method_short, "method": self.sources[o.source].method,
                 "solvent": self.sources[o.source].solvent}
                for o in self.orderings]
        return pd.DataFrame(rows)


DEFAULT_LITERATURE = "literature.yaml"


def load_literature(path: str | Path | None = None) -> Literature:
    """The shipped reference data, or a YAML file of the same layout."""
    if path is None:
        text = files("seiscreen").joinpath("data", DEFAULT_LITERATURE).read_text(encoding="utf-8")
        where = f"seiscreen/data/{DEFAULT_LITERATURE}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise SeiscreenError(f"cannot read literature file {path} ({exc.strerror})") from None
        where = str(path)
    try:
        return Literature(**yaml.safe_load(text))
    except ValidationError as exc:
        raise SeiscreenError(f"literature file {where} is not valid: {_one_line(exc)}") from None
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise SeiscreenError(f"literature file {where} is not valid: {exc}") from None


def _one_line(exc: ValidationError) -> str:
    """Pydantic's errors on one line: "moduli[0]: <message>; ..." (the entry's place, then what is wrong)."""
    parts = []
    for error in exc.errors():
        place = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in error["loc"]).removeprefix(".")
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{place}: {message}" if place else message)
    return "; ".join(parts)
