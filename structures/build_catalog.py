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
