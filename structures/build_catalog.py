"""Build the bulk-structure catalog of seiscreen.

Every structure is generated from crystallographic data written below (space
group, experimental lattice parameters, Wyckoff positions), checked with
spglib through pymatgen's SpacegroupAnalyzer, and written as a CIF of the
conventional standard cell.  The script also writes catalog.yaml.

Run from anywhere:

    .venv/bin/python structures/build_catalog.py

The output is deterministic: running the script twice gives identical files.
Where the literature data below were entered from memory of the cited source
rather than re-read from it, the entry's ``note`` says so.  All numbers are
meant as starting points for a DFT relaxation, never as final geometries.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import yaml
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

HERE = Path(__file__).resolve().parent
SYMPREC = 0.01  # Å; used for the check and for CifWriter

WYCKOFF_1963 = "R.W.G. Wyckoff, Crystal Structures, Vol. 1, 2nd ed., Interscience (1963)"


def rocksalt(name, a, anion, source, note=""):
    """NaX rocksalt: Na on 4a (0,0,0), X on 4b (1/2,1/2,1/2) of Fm-3m."""
    return dict(
        name=name, formula=name, role="coating", structure_type="rocksalt",
        space_group="Fm-3m", number=225, lattice=dict(a=a),
        sites=[("Na", (0, 0, 0)), (anion, (0.5, 0.5, 0.5))],
        oxidation_states={"Na": 1, anion: -1}, source=source, note=note,
    )


def element(name, structure_type, space_group, number, lattice, xyz, source, note):
    """An elemental reference of a phase diagram: one Wyckoff orbit of one element."""
    return dict(
        name=name, formula=name, role="reference", structure_type=structure_type,
        space_group=space_group, number=number, lattice=lattice, sites=[(name, xyz)],
        oxidation_states={name: 0}, source=source, note=note,
    )


def missing_phase(formula, structure_type, space_group, number, lattice, n_atoms, source, note):
    """A competing phase whose cell is known but whose coordinates could not be verified: listed, not shipped."""
    return dict(
        file=None, formula=formula, role="competing phase", structure_type=structure_type,
        space_group=space_group, space_group_number=number, lattice=lattice,
        n_atoms_conventional=n_atoms, oxidation_states={el: 0 for el in Composition(formula).as_dict()},
        source=source, dft_feasible=False, note=note,
    )


# ---------------------------------------------------------------------------
# Crystallographic data.  Each entry: space group (Hermann-Mauguin as pymatgen
# spells it), experimental lattice parameters (Å, conventional cell), and one
# representative position per Wyckoff orbit.
# ---------------------------------------------------------------------------
MATERIALS = [
    # --- coatings ------------------------------------------------------------
    # NaF (villiaumite), room temperature.  Source: Wyckoff (1963) table of
    # rocksalt alkali halides; 4.634 Å is the commonly tabulated RT value.
    rocksalt(
        "NaF", 4.634, "F",
        source=f"{WYCKOFF_1963}: rocksalt NaF, room temperature",
        note=("Room-temperature X-ray value, quoted from memory of standard "
              "compilations (spread between compilations about 0.01 Å)."),
    ),
    # NaCl (halite), 25 °C.  Source: ICDD PDF 5-628 / Wyckoff (1963).
    rocksalt(
        "NaCl", 5.6402, "Cl",
        source=f"ICDD PDF 5-628 (halite, a = 5.6402 Å at 26 °C); {WYCKOFF_1963}",
        note="Room-temperature value.",
    ),
    # NaBr, room temperature.  Source: Wyckoff (1963).
    rocksalt(
        "NaBr", 5.977, "Br",
        source=f"{WYCKOFF_1963}: rocksalt NaBr, room temperature",
        note=("Room-temperature value, quoted from memory of standard "
              "compilations (5.973-5.977 Å reported)."),
    ),
    # NaI, room temperature.  Source: Wyckoff (1963).
    rocksalt(
        "NaI", 6.473, "I",
        source=f"{WYCKOFF_1963}: rocksalt NaI, room temperature",
        note=("Room-temperature value, quoted from memory of standard "
              "compilations. NaI is hygroscopic; the bulk value is for the "
              "anhydrous salt."),
    ),
    # Na2Se, antifluorite: Se on 4a (0,0,0), Na on 8c (1/4,1/4,1/4).
    # Source: Zintl, Harder & Dauth, Z. Elektrochem. 40, 588 (1934).
    dict(
        name="Na2Se", formula="Na2Se", role="coating", structure_type="antifluorite",
        space_group="Fm-3m", number=225, lattice=dict(a=6.823),
        sites=[("Se", (0, 0, 0)), ("Na", (0.25, 0.25, 0.25))],
        oxidation_states={"Na": 1, "Se": -2},
        source=("Zintl, Harder & Dauth, Z. Elektrochem. 40, 588 (1934) "
                "(antifluorite Na2Se); a as carried in ICSD/ICDD-based compilations"),
        note=("Reported room-temperature lattice constants range from about "
              "6.81 to 6.83 Å; 6.823 Å is quoted from memory and was not "
              "re-checked against the original paper. Positions are fixed by "
              "symmetry."),
    ),
    # Na3P, Na3As type: Na1 on 2b (0,0,1/4), Na2 on 4f (1/3,2/3,z), P on
    # 2c (1/3,2/3,1/4).  Source: Brauer & Zintl, Z. Phys. Chem. B 37, 323 (1937).
    dict(
        name="Na3P", formula="Na3P", role="coating", structure_type="Na3As",
        space_group="P6_3/mmc", number=194, lattice=dict(a=4.99, c=8.83),
        sites=[("Na", (0, 0, 0.25)), ("Na", (1 / 3, 2 / 3, 0.583)),
               ("P", (1 / 3, 2 / 3, 0.25))],
        oxidation_states={"Na": 1, "P": -3},
        source=("Brauer & Zintl, Z. Phys. Chem. B 37, 323 (1937): Na3P in the "
                "Na3As type (P6_3/mmc), a = 4.99, c = 8.83 Å, Na(4f) z = 0.583"),
        note=("Lattice constants and z(Na2) are the classic Na3As-type values, "
              "quoted from memory (uncertain by about 0.01 Å and 0.003). Later "
              "work describes Na3P as a Cu3P-type (P6_3cm, ICSD coll. code "
              "182164) superstructure with a about sqrt(3) x 4.99 Å; the "
              "P6_3/mmc cell shipped here is the small averaged (sub)cell."),
    ),
    # --- alloys ----------------------------------------------------------------
    # NaIn, NaTl (B32) type, Fd-3m origin choice 1 (pymatgen default):
    # Na on 8a (0,0,0), In on 8b (1/2,1/2,1/2).
    # Source: Zintl & Neumayr, Z. Phys. Chem. B 20, 272 (1933).
    dict(
        name="NaIn", formula="NaIn", role="alloy", structure_type="NaTl (B32)",
        space_group="Fd-3m", number=227, lattice=dict(a=7.32),
        sites=[("Na", (0, 0, 0)), ("In", (0.5, 0.5, 0.5))],
        oxidation_states={"Na": 0, "In": 0},
        source="Zintl & Neumayr, Z. Phys. Chem. B 20, 272 (1933): NaIn in the NaTl type",
        note=("a = 7.32 Å quoted from memory (values of 7.30-7.32 Å appear in "
              "the literature). Positions fixed by symmetry (Fd-3m, origin "
              "choice 1)."),
    ),
    # NaBi, CuAu (L1_0) type: Na on 1a (0,0,0), Bi on 1d (1/2,1/2,1/2).
    # Source: Zintl & Dullenkopf, Z. Phys. Chem. B 16 (1932).
    dict(
        name="NaBi", formula="NaBi", role="alloy", structure_type="CuAu (L1_0)",
        space_group="P4/mmm", number=123, lattice=dict(a=3.46, c=4.80),
        sites=[("Na", (0, 0, 0)), ("Bi", (0.5, 0.5, 0.5))],
        oxidation_states={"Na": 0, "Bi": 0},
        source="Zintl & Dullenkopf, Z. Phys. Chem. B 16 (1932): NaBi in the CuAu type",
        note=("Primitive tetragonal 2-atom description of the CuAu type "
              "(equivalent to the face-centred tetragonal setting with "
              "a' = a*sqrt(2)). Lattice constants quoted from memory to "
              "0.01 Å."),
    ),
    # NaZn13: Na on 8a (1/4,1/4,1/4), Zn1 on 8b (0,0,0), Zn2 on 96i (0,y,z).
    # Source: Shoemaker, Marsh, Ewing & Pauling, Acta Cryst. 5, 637 (1952)
    # (structure type first found by Zintl & Haucke, 1938).
    dict(
        name="NaZn13", formula="NaZn13", role="alloy", structure_type="NaZn13 (D2_3)",
        space_group="Fm-3c", number=226, lattice=dict(a=12.2836),
        sites=[("Na", (0.25, 0.25, 0.25)), ("Zn", (0, 0, 0)),
               ("Zn", (0, 0.1806, 0.1192))],
        oxidation_states={"Na": 0, "Zn": 0},
        source=("Shoemaker, Marsh, Ewing & Pauling, Acta Cryst. 5, 637 (1952): "
                "a = 12.2836 Å, Zn(96i) y = 0.1806, z = 0.1192"),
        dft_feasible=False,
        note=("112 atoms in the conventional cell (28 in the primitive cell). "
              "Refined parameters quoted from memory of the cited paper. A "
              "slab of the 12.3 Å cubic cell holds a few hundred atoms: too "
              "large for DFT slabs on a 2-core machine (use the ML potential)."),
    ),
    # Na15Sn4, Cu15Si4 (D8_6) type: Na1 on 12a (3/8,0,1/4), Na2 on 48e (x,y,z),
    # Sn on 16c (x,x,x).  Lattice: ICSD coll. code 105167 (a about 13.14 Å).
    dict(
        name="Na15Sn4", formula="Na15Sn4", role="alloy", structure_type="Cu15Si4 (D8_6)",
        space_group="I-43d", number=220, lattice=dict(a=13.14),
        sites=[("Na", (0.375, 0, 0.25)), ("Na", (0.1215, 0.1575, 0.9587)),
               ("Sn", (0.2083, 0.2083, 0.2083))],
        oxidation_states={"Na": 0, "Sn": 0},
        source=("Na15Sn4 in the Cu15Si4 type, ICSD coll. code 105167 "
                "(a about 13.14 Å, quoted from memory); positional parameters: generic "
                "Cu15Si4/Li15Si4-type values"),
        note=("DOUBT: the free positional parameters (Sn 16c x = 0.2083; Na2 48e "
              "0.1215, 0.1575, 0.9587) are typical Cu15Si4-type values entered "
              "from memory, NOT the refined Na15Sn4 values. The resulting "
              "geometry is chemically sensible (each Sn has 12 Na at "
              "3.20-3.55 Å, Na-Na >= 3.36 Å), but relax positions before use or "
              "replace with the ICSD 105167 CIF. 76 atoms in the conventional "
              "cell (38 in the primitive cell); slabs of the 13.1 Å cubic cell "
              "are too large for DFT on a 2-core machine (use the ML "
              "potential)."),
        dft_feasible=False,
    ),
    # --- competing phases (phase diagrams of the stability descriptor) -------------
    # Na3Bi, Na3As (D0_18) type: Na1 on 2b (0,0,1/4), Na2 on 4f (1/3,2/3,z), Bi on
    # 2c (1/3,2/3,1/4).  The Na-richest Na-Bi phase, formed from NaBi + Na when Bi
    # anodes are sodiated.
    dict(
        name="Na3Bi", formula="Na3Bi", role="competing phase", structure_type="Na3As (D0_18)",
        space_group="P6_3/mmc", number=194, lattice=dict(a=5.448, c=9.655),
        sites=[("Na", (0, 0, 0.25)), ("Na", (1 / 3, 2 / 3, 0.583)),
               ("Bi", (1 / 3, 2 / 3, 0.25))],
        oxidation_states={"Na": 0, "Bi": 0},
        source=("Brauer & Zintl, Z. Phys. Chem. B 37, 323 (1937): Na3Bi in the Na3As "
                "(D0_18) type, a = 5.448, c = 9.655 Å; the AFLOW prototype "
                "AB3_hP8_194_c_bf lists Na3Bi among its compounds; Materials Project "
                "mp-27838 (P6_3/mmc, on the PBE hull, 3.63 g/cm3)"),
        note=("Lattice constants (the values used in the Dirac-semimetal literature) "
              "and z(Na2) = 0.583 (the Na3As-type value) quoted from memory of the "
              "cited sources; the density they give, 3.72 g/cm3, is 2.5 % above "
              "Materials Project's PBE density, as expected from PBE's volume "
              "overestimate. DFT finds a P-3c1 distortion slightly lower in energy "
              "at 0 K (arXiv:1404.1157); the experimental P6_3/mmc cell is shipped."),
    ),
    # Elemental references: the phase diagram of a chemical system needs every element.
    element(
        "Bi", "alpha-As (A7)", "R-3m", 166, dict(a=4.5461, c=11.8623), (0, 0, 0.23389),
        source=("Cucka & Barrett, Acta Cryst. 15, 865 (1962): Bi, a = 4.5461, "
                "c = 11.8623 Å (hexagonal axes), z = 0.23389; Materials Project mp-23152"),
        note="Room-temperature values, quoted from memory of the cited paper.",
    ),
    element(
        "In", "In (A6)", "I4/mmm", 139, dict(a=3.2523, c=4.9461), (0, 0, 0),
        source=f"{WYCKOFF_1963}: In, a = 3.2523, c = 4.9461 Å; Materials Project mp-85",
        note="Room-temperature values, quoted from memory of standard compilations.",
    ),
    element(
        "Sn", "diamond (A4), alpha-Sn", "Fd-3m", 227, dict(a=6.4892), (0, 0, 0),
        source=f"{WYCKOFF_1963}: grey (alpha) Sn, a = 6.4892 Å; Materials Project mp-117",
        note=("alpha-Sn, the stable form below 13 °C and the 0 K reference of a phase "
              "diagram (beta-Sn lies a few meV/atom above it in DFT)."),
    ),
    element(
        "Zn", "hcp (A3)", "P6_3/mmc", 194, dict(a=2.6649, c=4.9468), (1 / 3, 2 / 3, 0.25),
        source=f"{WYCKOFF_1963}: Zn, a = 2.6649, c = 4.9468 Å; Materials Project mp-79",
        note="Room-temperature values (c/a = 1.856); NaZn13 is the only Na-Zn compound.",
    ),
    element(
        "Se", "trigonal Se (A8)", "P3_121", 152, dict(a=4.3662, c=4.9536), (0.2254, 0, 1 / 3),
        source=("Cherin & Unger, Inorg. Chem. 6, 1589 (1967): trigonal Se, "
                "a = 4.3662, c = 4.9536 Å, x = 0.2254; Materials Project mp-14"),
        note="Room-temperature values, quoted from memory of the cited paper.",
    ),
    element(
        "P", "black phosphorus (A17)", "Cmce", 64, dict(a=3.3136, b=10.478, c=4.3763), (0, 0.10168, 0.08056),
        source=("Brown & Rundqvist, Acta Cryst. 19, 684 (1965): black P, a = 3.3136, "
                "b = 10.478, c = 4.3763 Å, P on 8f (0, 0.10168, 0.08056); Materials Project mp-157"),
        note=("Black phosphorus, the stable allotrope; a layered van der Waals solid "
              "(an ML potential without dispersion may swell its interlayer spacing)."),
    ),
    # --- metals (reference scale) -----------------------------------------------
    # bcc Na, 295 K.  Source: Barrett, Acta Cryst. 9, 671 (1956).
    dict(
        name="Na", formula="Na", role="metal", structure_type="bcc (A2)",
        space_group="Im-3m", number=229, lattice=dict(a=4.2906),
        sites=[("Na", (0, 0, 0))], oxidation_states={"Na": 0},
        source=("Barrett, Acta Cryst. 9, 671 (1956): bcc Na, a = 4.2906 Å at "
                "room temperature, 4.225 Å at 5 K"),
        note=("Room-temperature lattice constant (4.29 Å). At low temperature "
              "a = 4.23 Å (about 4.225 Å at 5 K), which is the value to compare "
              "with 0 K DFT; below about 36 K Na partly transforms to "
              "close-packed (hcp/9R) stackings."),
    ),
    # bcc Li, room temperature.  Source: Barrett (1956); Wyckoff (1963).
    dict(
        name="Li", formula="Li", role="metal", structure_type="bcc (A2)",
        space_group="Im-3m", number=229, lattice=dict(a=3.509),
        sites=[("Li", (0, 0, 0))], oxidation_states={"Li": 0},
        source=f"Barrett, Acta Cryst. 9, 671 (1956); {WYCKOFF_1963}: bcc Li, a = 3.509 Å at room temperature",
        note=("Room-temperature value; at low temperature a is about 3.48 Å and "
              "Li partly transforms to close-packed stackings below about 75 K."),
    ),
    # hcp Mg: Mg on 2c (1/3,2/3,1/4).  Source: Wyckoff (1963).
    dict(
        name="Mg", formula="Mg", role="metal", structure_type="hcp (A3)",
        space_group="P6_3/mmc", number=194, lattice=dict(a=3.2094, c=5.2108),
        sites=[("Mg", (1 / 3, 2 / 3, 0.25))], oxidation_states={"Mg": 0},
        source=f"{WYCKOFF_1963}: hcp Mg, a = 3.2094, c = 5.2108 Å at room temperature",
        note="Room-temperature values; c/a = 1.624.",
    ),
    # Stand-ins for tests and demos with ASE's EMT, which has no Na/F/Br/I/Se parameters.
    dict(
        name="Al", formula="Al", role="stand-in", structure_type="fcc (A1)",
        space_group="Fm-3m", number=225, lattice=dict(a=4.05),
        sites=[("Al", (0, 0, 0))], oxidation_states={"Al": 0},
        source=f"{WYCKOFF_1963}: fcc Al, a = 4.0495 Å at room temperature (rounded to 4.05 Å, ASE's value)",
        note="Stand-in host for EMT tests (Au adatom on Al(100), ASE's classic NEB example); not a coating.",
    ),
    dict(
        name="Cu", formula="Cu", role="stand-in", structure_type="fcc (A1)",
        space_group="Fm-3m", number=225, lattice=dict(a=3.615),
        sites=[("Cu", (0, 0, 0))], oxidation_states={"Cu": 0},
        source=f"{WYCKOFF_1963}: fcc Cu, a = 3.615 Å at room temperature",
        note="Stand-in for EMT tests and benchmarks (Cu adatom on Cu(100)); not a coating.",
    ),
]

# Entries listed in the catalog without a structure file.
NOT_SHIPPED = {
    "NaSn2": dict(
        file=None, formula="NaSn2", role="alloy",
        structure_type="own type (2D polyanion of realgar-like Sn8 units)",
        space_group=None, space_group_number=None, lattice=None,
        n_atoms_conventional=None, oxidation_states={"Na": 0, "Sn": 0},
        source=("NaSn2: 'A Novel Binary Zintl Phase with 2D Polyanions of "
                "Realgar-Type Units Sn8', Inorg. Chem. 44, 477-479 (2005) "
                "(Fässler group, TU München)"),
        dft_feasible=False,
        note=("NOT SHIPPED: the experimental structure could not be verified. "
              "The crystallographic report cited as source describes a new "
              "structure type, (Na+)4[Sn8]4-, whose 2D tin polyanions are built "
              "from realgar-type Sn8 units; its space group, cell and "
              "coordinates could not be checked here, so none were written. The electrochemically formed 'NaSn2' "
              "of Na-Sn anodes (Stratford et al., J. Am. Chem. Soc. 2017, Na "
              "storage in tin anodes, PDF/DFT/NMR) may not be the same phase. "
              "Add it from the published CIF (or ICSD) to screen it; until "
              "then dft_feasible is false."),
    ),
    "Na22Ga39": dict(
        file=None, formula="Na22Ga39", role="alloy",
        structure_type="own type (Ga icosahedral/cluster framework)",
        space_group="Pnma", space_group_number=62, lattice=None,
        n_atoms_conventional=244, oxidation_states={"Na": 0, "Ga": 0},
        source=("Na22Ga39 single-crystal structure by Ling & Belin (early "
                "1980s); citation given from memory, verify in ICSD"),
        dft_feasible=False,
        note=("NOT SHIPPED. The Na-Ga alloy named in the review. Orthorhombic "
              "(Pnma as recalled, Z = 4: 4 x 61 = 244 atoms in the conventional "
              "cell; verify), a "
              "framework of Ga12 icosahedra and larger Ga clusters with Na in "
              "the cavities; cell edges roughly 15 x 15 x 22 Å (approximate, "
              "from memory, so no lattice is given). A slab of this cell holds "
              "several hundred atoms: far too large for DFT slabs on a 2-core "
              "machine. No verified coordinates are shipped; a user can add it "
              "from a CIF."),
    ),
    "Na2In": missing_phase(
        "Na2In", "Na2Tl type (isolated In4 tetrahedra)", "C222_1", 20, dict(a=13.855, b=8.836, c=11.762), 48,
        source=("Sevov & Corbett, J. Solid State Chem. 103, 114 (1993): Na2In, the "
                "sodium-richest Na-In phase, isostructural with Na2Tl, C222_1, Z = 16, "
                "a = 13.855, b = 8.836, c = 11.762 Å"),
        note=("NOT SHIPPED: the cell and space group are from the paper's abstract; its "
              "atomic coordinates could not be read here, so no structure was written. "
              "Without it NaIn's reaction with Na (NaIn + Na -> Na2In) cannot be "
              "computed: the stability descriptor lists it as missing."),
    ),
    "NaSn": missing_phase(
        "NaSn", "NaPb type (Na4Sn4 with Sn4 tetrahedra)", "I4_1/acd", 142, dict(a=10.475, c=17.412), 64,
        source=("Baitinger, von Schnering, Grin & Kniep, Z. Kristallogr. NCS 214 (1999): "
                "redetermination of Na4Sn4, I4_1/acd, a = 10.475, c = 17.412 Å, Z = 8 "
                "(COD 8101628)"),
        note=("NOT SHIPPED: the cell is from the COD entry's header (its formula weight "
              "and density, 1.97 g/cm3, count half the 64 atoms that Z = 8 Na4Sn4 puts in "
              "the cell: 3.94 g/cm3); its atomic coordinates could not be read here. The Na-Sn phases between NaSn and "
              "Na15Sn4 reported from sodiation of Sn (Na5Sn2, R-3m, Ellis et al. / ORNL "
              "2012; Na9Sn4 and Na7Sn3, Stratford et al., J. Am. Chem. Soc. 2017) are "
              "missing for the same reason. Na15Sn4 is the Na-richest Na-Sn phase, so "
              "its reaction with Na needs none of them; its energy above the hull does."),
    ),
}


def build(entry: dict) -> Structure:
    """Structure from the space group, lattice and one site per Wyckoff orbit."""
    p = entry["lattice"]
    lattice = Lattice.from_parameters(
        p["a"], p.get("b", p["a"]), p.get("c", p["a"]),
        p.get("alpha", 90), p.get("beta", 90),
        p.get("gamma", 120 if entry["number"] in range(143, 195) else 90),
    )
    species = [el for el, _ in entry["sites"]]
    coords = [xyz for _, xyz in entry["sites"]]
    return Structure.from_spacegroup(entry["space_group"], lattice, species, coords)


def check(entry: dict, structure: Structure) -> Structure:
    """Fail loudly unless spglib finds the intended space group and formula."""
    sga = SpacegroupAnalyzer(structure, symprec=SYMPREC)
    found = (sga.get_space_group_symbol(), sga.get_space_group_number())
    if found != (entry["space_group"], entry["number"]):
        sys.exit(f"{entry['name']}: detected space group {found}, "
                 f"intended {(entry['space_group'], entry['number'])}")
    reduced = structure.composition.reduced_formula
    if reduced != Composition(entry["formula"]).reduced_formula:
        sys.exit(f"{entry['name']}: formula {reduced}, intended {entry['formula']}")
    return sga.get_conventional_standard_structure()


def main() -> None:
    catalog = {}
    for entry in MATERIALS:
        conventional = check(entry, build(entry))
        cif = HERE / f"{entry['name']}.cif"
        CifWriter(conventional, symprec=SYMPREC).write_file(cif)
        # Re-read the file and check it once more, so a bad CIF cannot ship.
        with warnings.catch_warnings():  # "coordinates rounded to ideal values"
            warnings.simplefilter("ignore", UserWarning)
            reread = Structure.from_file(cif)
        if len(check(entry, reread)) != len(conventional):
            sys.exit(f"{entry['name']}: {cif.name} does not hold the conventional cell")
        catalog[entry["name"]] = dict(
            file=cif.name,
            formula=conventional.composition.reduced_formula,
            role=entry["role"],
            structure_type=entry["structure_type"],
            space_group=entry["space_group"],
            space_group_number=entry["number"],
            lattice=dict(entry["lattice"]),
            n_atoms_conventional=len(conventional),
            oxidation_states=dict(entry["oxidation_states"]),
            source=entry["source"],
            dft_feasible=entry.get("dft_feasible", True),
            note=entry["note"],
        )
        print(f"{entry['name']:8s} {entry['space_group']:9s} "
              f"{len(conventional):4d} atoms -> {cif.name}")
    catalog.update(NOT_SHIPPED)
    header = ("# Bulk-structure catalog of seiscreen. Generated by "
              "structures/build_catalog.py; do not edit by hand.\n")
    text = yaml.safe_dump({"materials": catalog}, sort_keys=False,
                          allow_unicode=True, width=1000)
    (HERE / "catalog.yaml").write_text(header + text, encoding="utf-8")
    print(f"catalog.yaml: {len(catalog)} materials")


if __name__ == "__main__":
    main()
