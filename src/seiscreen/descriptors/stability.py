"""Stability of a coating against Na metal: the reaction energy towards the Na-richest phases of its system.

The caller relaxes the coating, Na metal and the competing phases of the coating's chemical system with one
calculator and hands in their energies per atom; :func:`compute_stability` builds pymatgen's ``PhaseDiagram`` from
``PDEntry``s and walks the tie-line coating–Na with ``InterfacialReactivity``. The kink nearest Na is the coating
fully converted into the products that coexist with Na metal; its energy, per atom of Na that went in, is the
reaction energy (0 = stable in contact with Na). :func:`competing_phases` lists what the catalog holds for a system.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Composition

from seiscreen.catalog import load_catalog
from seiscreen.errors import SeiscreenError

if TYPE_CHECKING:  # the phase-diagram modules (pandas, matplotlib) load where a diagram is built
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram


class StabilitySettings(BaseModel):
    """How the reaction with the metal is judged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metal: str = Field("Na", description="The metal the coating touches (an element symbol); Na for Na anodes.")
    tolerance_ev_per_atom: float = Field(
        1e-4, ge=0.0,
        description="Reaction energies per metal atom above -tolerance count as 0 (stable): the hull's numerical "
                    "noise, far below any calculator's error.")


class CompetingPhases(BaseModel):
    """The catalog's phases of a material's chemical system."""

    chemical_system: str = Field(description="Elements of the material, sorted and joined by '-'.")
    present: list[str] = Field(description="Catalog names with a structure file (the material itself included).")
    missing: list[str] = Field(description="Catalog phases of the system without a structure, and elements "
                                           "with no catalog entry (their phase diagram is then incomplete).")


class StabilityResult(BaseModel):
    """A coating's reaction with the metal and its place on the hull."""

    coating: str = Field(description="Reduced formula of the coating.")
    metal: str = Field(description="The metal it touches.")
    chemical_system: str = Field(description="Elements of the phase diagram, sorted and joined by '-'.")
    reaction_energy_ev_per_metal_atom: float = Field(
        description="Energy of coating + metal -> the products that coexist with the metal, per atom of metal "
                    "consumed (eV); 0 = stable in contact with the metal, negative = reacts.")
    stable_against_metal: bool = Field(description="True when the reaction energy is 0 (within the tolerance).")
    metal_per_formula_unit: float = Field(description="Metal atoms consumed per formula unit of the coating.")
    reaction: str = Field(description="The balanced reaction (the coating alone when it does not react).")
    products: list[str] = Field(description="Reduced formulas of the products in contact with the metal.")
    energy_above_hull_ev_per_atom: float | None = Field(
        description="The coating's energy above the hull (eV/atom); None when an element has no reference.")
    method: str = Field(description="'phase diagram' (every element has a reference) or 'pseudo-binary' (the "
                                    "line coating-metal only, pymatgen's CompoundPhaseDiagram).")
    phases_present: list[str] = Field(description="Formulas of the phases the diagram was built from.")
    phases_missing: list[str] = Field(description="Phases of the system that were not available (catalog "
                                                  "names without a structure, elements without a reference).")
    settings: StabilitySettings = Field(description="The settings used.")


def _composition(formula: str) -> Composition:
    """A formula's composition, or one clear error."""
    try:
        return Composition(formula)
    except (ValueError, KeyError):
        raise SeiscreenError(f"phase {formula!r} is not a chemical formula: key phases by formula "
                             "(e.g. 'Na3Bi')") from None


def _entries(energies: Mapping[str, float]) -> list[PDEntry]:
    """One ``PDEntry`` per phase from its energy per atom (eV/atom)."""
    from pymatgen.analysis.phase_diagram import PDEntry

    return [PDEntry(_composition(formula), float(energy) * _composition(formula).num_atoms, name=formula)
            for formula, energy in energies.items()]


def _check_inputs(coating: str, phases: Mapping[str, float], metal: str) -> Composition:
    """The coating's composition, once the energies hold the coating and the metal."""
    names = {_composition(k).reduced_formula: k for k in phases}
    composition = _composition(coating)
    for needed in (composition.reduced_formula, metal):
        if needed not in names:
            raise SeiscreenError(f"no energy for {needed}: phases must hold the coating and the metal "
                                 f"(given: {', '.join(sorted(phases))})")
    if metal not in {el.symbol for el in composition.elements}:
        raise SeiscreenError(f"{coating} holds no {metal}: the reaction with {metal} metal is computed for "
                             f"{metal} compounds")
    return composition


def _tie_line_kink(diagram: PhaseDiagram, coating: Composition, metal: Composition) -> tuple[float, object]:
    """Fraction x of coating atoms at the kink nearest the metal (1 = none) and the reaction there."""
    with warnings.catch_warnings():  # "no matching entry": energies are recomputed from the caller's numbers
        warnings.simplefilter("ignore", UserWarning)
        from pymatgen.analysis.interface_reactions import InterfacialReactivity

        reactivity = InterfacialReactivity(coating, metal, diagram, norm=True, use_hull_energy=False)
        kinks = [(x, reaction) for _, x, _, reaction, _ in reactivity.get_kinks() if x > 1e-9]
    return min(kinks, key=lambda kink: kink[0])


def _reaction_energy(diagram: PhaseDiagram, coating: Composition, metal: Composition, x: float,
                     e_coating: float, e_metal: float) -> float:
    """Energy per atom of metal consumed at coating fraction x: hull of the mixture minus the reactants."""
    if x >= 1.0 - 1e-9:
        return 0.0
    mixture = coating.fractional_composition * x + metal.fractional_composition * (1.0 - x)
    per_atom = diagram.get_hull_energy_per_atom(mixture) - x * e_coating - (1.0 - x) * e_metal
    return float(per_atom / (1.0 - x))


def _pseudo_binary_kink(entries: list[PDEntry], coating: Composition, metal: Composition) -> tuple[float, PDEntry]:
    """The stable phase nearest the metal on the line coating-metal, and its fraction x of coating atoms."""
    from pymatgen.analysis.phase_diagram import CompoundPhaseDiagram

    diagram = CompoundPhaseDiagram(entries, [coating, metal])
    coating_el, metal_el = diagram.elements
    best = (1.0, None)
    for entry in diagram.stable_entries:
        a, b = entry.composition[coating_el], entry.composition[metal_el]
        x = a / (a + b)
        if 1e-9 < x < best[0] - 1e-9:
            best = (x, entry.original_entry)
    return best


def _balanced(coating: Composition, metal: Composition, products: list[Composition]):
    """coating + n metal -> products, for one formula unit of the coating (pymatgen's ``Reaction``)."""
    from pymatgen.analysis.reaction_calculator import Reaction

    reduced = Composition(coating.reduced_formula)
    reactants = [reduced] if products == [reduced] else [reduced, metal]
    reaction = Reaction(reactants, products)
    reaction.normalize_to(reduced, 1.0)
    return reaction


def compute_stability(coating: str, phases: Mapping[str, float], settings: StabilitySettings | None = None,
                      missing: Sequence[str] = ()) -> StabilityResult:
    """The reaction energy of ``coating`` with the metal towards the metal-richest products of its system.

    Args:
        coating: formula of the coating (a metal compound), e.g. ``"NaBi"``.
        phases: relaxed energy per atom (eV/atom) of every phase, keyed by formula: the coating, the metal and the
            competing phases, all from one calculator.
        settings: the metal and the tolerance; defaults for Na.
        missing: phases of the system known to exist but not computed (see :func:`competing_phases`), recorded in
            the result.

    Returns:
        The reaction energy per metal atom consumed (0 = stable against the metal), the products, the energy above
        the hull (when every element has a reference) and the phases used and missing.
    """
    settings = settings or StabilitySettings()
    composition = _check_inputs(coating, phases, settings.metal)
    metal = Composition(settings.metal)
    by_formula = {Composition(k).reduced_formula: float(v) for k, v in phases.items()}
    e_coating, e_metal = by_formula[composition.reduced_formula], by_formula[settings.metal]
    entries = _entries(phases)
    elements = sorted({el.symbol for e in entries for el in e.composition.elements})
    unreferenced = [el for el in elements if el not in by_formula]
    if unreferenced:  # no full diagram: the line coating-metal holds every product of the two
        x, product = _pseudo_binary_kink(entries, composition, metal)
        products = [product.composition] if product is not None else [composition]
        energy = (0.0 if product is None else
                  float((product.energy_per_atom - x * e_coating - (1 - x) * e_metal) / (1 - x)))
        e_hull, method = None, "pseudo-binary"
    else:
        from pymatgen.analysis.phase_diagram import PhaseDiagram

        diagram = PhaseDiagram(entries)
        x, reaction = _tie_line_kink(diagram, composition, metal)
        products = [Composition(p.reduced_formula) for p in reaction.products]
        energy = _reaction_energy(diagram, composition, metal, x, e_coating, e_metal)
        coating_entry = next(e for e in entries if e.composition.reduced_formula == composition.reduced_formula)
        e_hull, method = float(diagram.get_e_above_hull(coating_entry, allow_negative=True)), "phase diagram"
    stable = energy > -settings.tolerance_ev_per_atom
    if stable:
        energy, products = 0.0, [Composition(composition.reduced_formula)]
    reaction = _balanced(composition, metal, products)
    return StabilityResult(
        coating=composition.reduced_formula, metal=settings.metal, chemical_system="-".join(elements),
        reaction_energy_ev_per_metal_atom=energy, stable_against_metal=stable,
        metal_per_formula_unit=0.0 if stable else float(-reaction.get_coeff(metal)),
        reaction=str(reaction), products=sorted(p.reduced_formula for p in products),
        energy_above_hull_ev_per_atom=e_hull, method=method,
        phases_present=sorted(by_formula), phases_missing=sorted({*missing, *unreferenced}), settings=settings)


def competing_phases(material: str) -> CompetingPhases:
    """The catalog's phases of ``material``'s chemical system (every element of each within the material's).

    Elements of the system with no catalog entry are listed as missing: their phase diagram lacks a reference.
    """
    catalog = load_catalog()
    if material not in catalog:
        raise SeiscreenError(f"unknown material {material!r}: use a name from `seiscreen materials`")
    system = {el.symbol for el in Composition(catalog[material].formula).elements}
    present, missing = [], []
    for name, entry in catalog.items():
        if {el.symbol for el in Composition(entry.formula).elements} <= system:
            (present if entry.file else missing).append(name)
    formulas = {Composition(catalog[n].formula).reduced_formula for n in present}
    missing += [el for el in sorted(system) if el not in formulas]
    return CompetingPhases(chemical_system="-".join(sorted(system)), present=present, missing=missing)
