"""GPAW with an implicit solvent: the solvents of the review's electrolytes and the GPAW calculator that puts a
slab in one.

The model is GPAW's continuum solvent (A. Held and M. Walter, J. Chem. Phys. 141, 174108 (2014)): a smooth
cavity from a repulsive 1/r^12 potential of strength ``u0`` at the atoms' van der Waals radii, a dielectric
constant ``epsinf`` outside it, and a cavity term ``surface_tension`` times the cavity's area. A preset carries
the solvent as plain data under its ``solvent`` parameter (:func:`solvent_parameters`), so every number it gives
stores, and hashes, the solvent it was computed in. :func:`solvation_gpaw` builds the calculator for one SCF
rung of :class:`seiscreen.gpaw_scf.ScfRetryCalculator`.

Only the dielectric constants are the organic solvents' own: ``u0`` and ``surface_tension`` are GPAW's fit to
water (HW14), not fitted to any of them (docs/calculators.md, "Implicit solvent").
"""

from __future__ import annotations

from typing import Any

from ase.units import Pascal, m

from seiscreen.errors import SeiscreenError

#: HW14's water cavity, the only fitted one: u0 (eV) and the cavity term's surface tension, 18.4 mN/m, in the
#: eV/Å² GPAW's solvation API takes; Bondi van der Waals radii with H at 1.09 Å (ASE's table otherwise).
HW14_U0 = 0.180
HW14_SURFACE_TENSION = 18.4e-3 * Pascal * m
HW14_RADII = {"H": 1.09}
ROOM_TEMPERATURE = 298.15  # K: the Boltzmann factor that turns the repulsive potential into the cavity

#: The solvents a preset can carry: name -> (what it is, static dielectric constant, where that number is from).
SOLVENTS: dict[str, tuple[str, float, str]] = {
    "water": ("water (the solvent HW14 is fitted to: the model's check)", 78.36,
              "A. Held and M. Walter, J. Chem. Phys. 141, 174108 (2014), 25 °C"),
    "ec": ("ethylene carbonate (EC)", 89.78,
           "K. Xu, Chem. Rev. 104, 4303 (2004), Table 1; at 40 °C (EC melts at 36.4 °C)"),
    "pc": ("propylene carbonate (PC)", 64.92, "K. Xu, Chem. Rev. 104, 4303 (2004), Table 1; 25 °C"),
    "dme": ("1,2-dimethoxyethane (DME, monoglyme)", 7.2, "K. Xu, Chem. Rev. 104, 4303 (2004), Table 2; 25 °C"),
    "diglyme": ("diethylene glycol dimethyl ether (diglyme, G2)", 7.23,
                "Y. Marcus, The Properties of Solvents (Wiley, 1998); 25 °C"),
}

# The solvent block's keys, each a number GPAW's solvation classes take (atomic_radii: symbol -> Å).
_KEYS = ("solvent", "electrolyte", "epsinf", "u0", "surface_tension", "temperature", "atomic_radii")


def solvent_parameters(name: str) -> dict[str, Any]:
    """The ``solvent`` parameter block of solvent ``name`` (a key of :data:`SOLVENTS`): its dielectric
    constant with HW14's water cavity (``u0`` in eV, ``surface_tension`` in eV/Å², ``temperature`` in K)."""
    if name not in SOLVENTS:
        raise SeiscreenError(f"unknown solvent {name!r}: choose one of {', '.join(SOLVENTS)}")
    electrolyte, epsinf, _ = SOLVENTS[name]
    return {"solvent": name, "electrolyte": electrolyte, "epsinf": epsinf, "u0": HW14_U0,
            "surface_tension": HW14_SURFACE_TENSION, "temperature": ROOM_TEMPERATURE,
            "atomic_radii": dict(HW14_RADII)}


def solvation_gpaw(solvent: dict[str, Any], keywords: dict[str, Any]):
    """A GPAW calculator in the implicit solvent ``solvent`` (a :func:`solvent_parameters` block), with the GPAW
    ``keywords`` of its vacuum twin.

    A twin with a dipole layer (``poissonsolver={'dipolelayer': 'xy'}``, every slab preset) gets GPAW's solvated
    jellium method with no excess electron: the same solvent with a dipole correction that knows the dielectric
    (``SolvationGPAW`` refuses a dipole layer), its energy the canonical one (the grand potential with N = 0), its
    SCF criteria the twin's (the work-function criterion SJM adds is needed only to find a potential: off). A twin
    without one gets ``SolvationGPAW``. GPAW's legacy implementation both: its new one (``legacy_gpaw=False``)
    returned the vacuum energy plus the cavity term alone in GPAW 26.7.
    """
    from gpaw.solvation import (EffectivePotentialCavity, GradientSurface, LinearDielectric, Power12Potential,
                                SolvationGPAW, SurfaceInteraction)
    from gpaw.solvation.sjm import SJM

    missing = [key for key in _KEYS if key not in solvent]
    if missing:
        raise SeiscreenError(f"solvent block {solvent!r} lacks {', '.join(missing)}: build it with "
                             "seiscreen.gpaw_solvent.solvent_parameters")
    model = {"cavity": EffectivePotentialCavity(
                 effective_potential=Power12Potential(atomic_radii=dict(solvent["atomic_radii"]), u0=solvent["u0"]),
                 temperature=solvent["temperature"], surface_calculator=GradientSurface()),
             "dielectric": LinearDielectric(epsinf=solvent["epsinf"]),
             "interactions": [SurfaceInteraction(surface_tension=solvent["surface_tension"])]}
    keywords = dict(keywords)
    poisson = keywords.get("poissonsolver")
    if poisson is None:
        return SolvationGPAW(**model, **keywords)
    if poisson != {"dipolelayer": "xy"}:
        raise SeiscreenError(f"poissonsolver {poisson!r} with a solvent: only {{'dipolelayer': 'xy'}} (through "
                             "GPAW's SJM) or none is supported")
    keywords["convergence"] = {**keywords.get("convergence", {}), "work function": float("inf")}
    # The uncharged jellium goes anywhere with grid points: the cell's top 1 Å, not SJM's default (from 3 Å above
    # the highest atom), which refuses a cell with less vacuum above the adatom
    sj = {"excess_electrons": 0.0, "jelliumregion": {"top": -0.5, "thickness": 1.0}}
    calc = SJM(**model, sj=sj, **keywords)
    # SJM stores the free energy (its grand potential, = E at N = 0) in its results without listing it
    calc.implemented_properties = [*calc.implemented_properties, "free_energy"]
    return calc
