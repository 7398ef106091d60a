"""Campaign files: YAML validated by pydantic, unknown or misspelt keys rejected with the allowed ones named."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated

import yaml
from ase.data import atomic_numbers, chemical_symbols
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from seiscreen.active_learning import ActiveLearningSettings
from seiscreen.calculators import get_preset, register_user_presets
from seiscreen.convergence import ConvergenceSettings
from seiscreen.descriptor_schemas import DescriptorSettings, Switch, empty_keys_on
from seiscreen.errors import SeiscreenError
from seiscreen.kinetics import KineticsSettings
from seiscreen.minima import MinimaSettings
from seiscreen.neb import NebProtocol
from seiscreen.parallel import ParallelSettings
from seiscreen.surfaces.slabs import SlabSettings, parse_miller
from seiscreen.user_presets import UserPresetDefinition, check_factory

Facet = Annotated[tuple[int, int, int], BeforeValidator(parse_miller)]

# Elements of MPtrj, the training set of CHGNet 0.3.0 and SevenNet-0: every element up to Pu but Po, At, Rn, Fr and
# Ra (the 89 ``chemical_species`` of 7net-0's checkpoint; tests/cli/test_bad_inputs.py checks them against it).
ML_ELEMENTS = frozenset(chemical_symbols[1:95]) - {"Po", "At", "Rn", "Fr", "Ra"}
# Exchange-correlation functionals GPAW names its setup files after (Na.PBE.gz, Na.1.LDA.gz, ...).
_SETUP_XC = ("LDA", "PBE", "revPBE", "RPBE", "GLLBSC")

# Closest the adatom may come to its own periodic image (Å). Below ~5 Å two images of a Na adatom sit in each
# other's first coordination shell, and the "diffusion barrier" is that of a row of adatoms.
MIN_IMAGE_DISTANCE = 5.0


def _preset_name(name: str) -> str:
    return get_preset(name).name  # aliases ("ml") resolved


def require_installed(preset_name: str) -> None:
    """A preset whose code is not installed fails now, not when its first job starts; a user preset's factory is
    imported and called once (it must return an ASE calculator)."""
    import importlib.util

    from seiscreen.calculators import _PACKAGE, _require

    preset = get_preset(preset_name)
    if preset.code == "factory":
        check_factory(preset.factory, preset.parameters, preset.name, preset.per_calculation_directory)
        return
    package = _PACKAGE[preset.code]
    if importlib.util.find_spec(package) is None:
        _require(package, preset)


def check_elements(preset_name: str, elements: set[str], what: str) -> None:
    """Refuse elements the preset cannot treat (EMT's few metals, the ML potentials' training set, GPAW's
    installed setups) now, not when its first job fails with an unrelated error; ``what`` names the material."""
    preset = get_preset(preset_name)
    if preset.code == "emt":
        from ase.calculators.emt import parameters

        missing = sorted(elements - set(parameters))
        if missing:
            metals = ", ".join(sorted(parameters))
            raise SeiscreenError(f"calculator preset {preset_name!r} has no parameters for {', '.join(missing)} "
                                 f"({what}): use an ML or GPAW preset, or EMT's metals ({metals})")
    elif preset.code in ("chgnet", "sevennet"):
        missing = sorted(elements - ML_ELEMENTS, key=atomic_numbers.get)
        if missing:
            raise SeiscreenError(f"calculator preset {preset_name!r} was not trained on {', '.join(missing)} ({what}): "
                                 "its training set (MPtrj) has every element up to Pu but Po, At, Rn, Fr and Ra: use a "
                                 "GPAW preset")
    elif preset.code == "gpaw":
        missing = [(el, name) for el in sorted(elements) if (name := _missing_gpaw_file(preset, el))]
        if missing:
            from gpaw import setup_paths

            raise SeiscreenError(f"calculator preset {preset_name!r} has no GPAW setup for "
                                 f"{', '.join(el for el, _ in missing)} ({what}): no {missing[0][1]}(.gz) in "
                                 f"{', '.join(map(str, setup_paths))}: install the dataset (GPAW_SETUP_PATH) or use an "
                                 "ML preset")


def _missing_gpaw_file(preset, element: str) -> str | None:
    """The name of the first setup or basis file GPAW would need for ``element`` and cannot find, or None."""
    from gpaw import setup_paths

    params = preset.parameters
    setups = params.get("setups", "paw")
    name = setups.get(element, setups.get("default", "paw")) if isinstance(setups, dict) else setups
    xc = params.get("xc", "LDA")
    if not isinstance(name, str) or name in ("ae", "ghost", "hgh", "sg15") or xc not in _SETUP_XC:
        return None  # generated or special setups: GPAW itself judges those
    prefix = element if name == "paw" else f"{element}.{name}"
    needed = [f"{prefix}.{xc}"]
    basis = params.get("basis")
    if params.get("mode") == "lcao" and isinstance(basis, str):
        inner = re.fullmatch(r".*[(](.*)[)]", basis)  # "sz(dzp)": GPAW reads the dzp file
        needed.append(f"{prefix}.{inner.group(1) if inner else basis}.basis")
    for file in needed:
        if not any((Path(folder) / f).exists() for folder in setup_paths for f in (file, file + ".gz")):
            return file
    return None


class MaterialSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    material: str  # catalog name or CIF path
    facets: list[Facet] = Field(default_factory=lambda: [(1, 0, 0)], min_length=1)
    terminations: list[str] | None = None  # termination ids to keep; None = every one
    # Overrides of the campaign's slab settings for this material (a Tasker-2 slab needs more planes).
    slab: dict | None = None
    # The adatom on this material when it is not the campaign's (metal self-diffusion: Li on Li, Mg on Mg).
    adsorbate: str | None = None


class Campaign(BaseModel):
    """A screening campaign. Every setting that changes a number lives here and is stored with the results."""

    model_config = ConfigDict(extra="forbid")

    name: str
    calculator: str = "ml"
    adsorbate: str = "Na"
    materials: list[MaterialSpec] = Field(min_length=1)
    slab: SlabSettings = Field(default_factory=SlabSettings)
    minima: dict = Field(default_factory=dict)  # MinimaSettings fields except the adsorbate
    neb: NebProtocol = Field(default_factory=NebProtocol)
    # Fidelity funnel: screen with the first preset, recompute the top_k ranked surfaces (None: every surface,
    # the unranked ones too: workflow.flows.funnel_candidates) with the next. The later fidelity finds its own
    # minima (the earlier ones only add starting points) and starts its bands from the earlier bands where the hop
    # is the same.
    fidelities: list[str] | None = Field(None, min_length=2)
    top_k: int | None = Field(None, ge=1)
    # Also compute every warm-started hop of a later fidelity from a cold IDPP start and keep the lower saddle: a
    # band seeded by the earlier fidelity can converge on a higher saddle of the same hop (GPAW NaBr(100): 0.159 eV
    # from the CHGNet band, 0.047 eV from IDPP; docs/calculators.md).
    cold_bands: bool = False
    # The active-learning loop after the funnel (fidelities: [ML, DFT]): a committee fine-tuned on the DFT frames
    # re-screens every surface, and disputed barriers go to DFT until the spread or the budget says stop
    # (active_learning.py, workflow/active_learning.py).
    finetune: ActiveLearningSettings | None = None
    # Where calculations run, not what they give: MPI ranks of each GPAW calculation and the images of a band
    # computed at the same time, each in its own process (GPAW, EMT, SevenNet: CHGNet bands are batched instead).
    parallel: ParallelSettings = Field(default_factory=ParallelSettings)
    max_hop_length: float = Field(6.0, gt=0)
    # Also compute the hops the Gabriel neighbour test left out (a third minimum at its disc's edge) when they could
    # lower a surface's percolation level (hopgraph.bypass_specs); false: the neighbour network alone.
    bypass_hops: bool = True
    max_refinements: int = Field(2, ge=0)
    # Saddle checks by finite-difference Hessian (on for ML presets by default) and the temperatures of D(T).
    kinetics: KineticsSettings = Field(default_factory=KineticsSettings)
    # Cell convergence: every surface computed in growing cells, ranked by its largest one (convergence.py).
    convergence: ConvergenceSettings | None = None
    # The descriptor panel (descriptor_schemas.DescriptorSettings): off without the key; present (even empty), every
    # descriptor on with its defaults, each turned off by `name: false`.
    descriptors: Annotated[DescriptorSettings | None, Switch] = None
    store: str | None = None
    # Calculator presets of the user's own (a factory returning an ASE calculator), for calculator: and fidelities:;
    # registered when the campaign is loaded (seiscreen.calculators.register_user_presets).
    presets: list[UserPresetDefinition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        if self.presets:
            register_user_presets(self.presets, "the campaign's presets")
        require_installed(self.calculator)  # unknown or missing preset: clear error now, not hours later
        if self.fidelities:
            for name in self.fidelities:
                require_installed(name)
            if "calculator" in self.model_fields_set and self.calculator != self.fidelities[0]:
                raise SeiscreenError(f"conflicting settings: calculator {self.calculator!r} but fidelities start "
                                     f"with {self.fidelities[0]!r}: drop 'calculator' or list it first")
            self.calculator = self.fidelities[0]
        elif self.top_k is not None or self.cold_bands:
            name = "top_k" if self.top_k is not None else "cold_bands"
            raise SeiscreenError(f"{name} without fidelities: list at least two presets under 'fidelities'")
        self._check_convergence()
        self._check_finetune()
        if "adsorbate" in self.minima and self.minima["adsorbate"] != self.adsorbate:
            raise SeiscreenError(f"conflicting settings: adsorbate {self.adsorbate!r} but minima.adsorbate "
                                 f"{self.minima['adsorbate']!r}: set the adsorbate once, at the top level")
        for k, element in [(None, self.adsorbate), *((k, m.adsorbate) for k, m in enumerate(self.materials))]:
            if element is not None and (element not in atomic_numbers or element == "X"):
                where = "adsorbate" if k is None else f"materials.{k}.adsorbate"
                raise SeiscreenError(f"{where}: unknown adsorbate element {element!r}: use a chemical symbol "
                                     "such as 'Na'")
        if self.descriptors is not None:
            self.descriptors.check_metal({self.adsorbate, *(m.adsorbate for m in self.materials if m.adsorbate)})
        if self.fidelities and len(set(map(_preset_name, self.fidelities))) < len(self.fidelities):
            raise SeiscreenError(f"conflicting settings: fidelities {self.fidelities} list one preset twice: list "
                                 "each preset once, cheapest first")
        self.parallel.check([get_preset(name).code for name in (self.fidelities or [self.calculator])])
        seen: set = set()
        for spec in self.materials:
            for facet in spec.facets:
                if (spec.material, tuple(facet)) in seen:  # two flows would compute the same surface at once
                    raise SeiscreenError(f"{spec.material} {tuple(facet)} is listed twice: remove the duplicate "
                                         "(one entry per material, with all its facets)")
                seen.add((spec.material, tuple(facet)))
        _part(MinimaSettings, {**self.minima, "adsorbate": self.adsorbate}, "minima")
        for k, spec in enumerate(self.materials):
            size = _part(SlabSettings, {**self.slab.model_dump(), **(spec.slab or {})},
                         f"materials.{k}.slab" if spec.slab else "slab").min_lateral_size
            if size < MIN_IMAGE_DISTANCE:
                raise SeiscreenError(f"{spec.material}: supercell too small for the adatom: min_lateral_size {size} Å "
                                     f"puts its periodic images closer than {MIN_IMAGE_DISTANCE} Å: set "
                                     f"slab.min_lateral_size to at least {MIN_IMAGE_DISTANCE} (9 Å is the default)")
        return self

    def _check_convergence(self) -> None:
        """A convergence section needs one calculator and sizes that keep the adatom's images apart."""
        if self.convergence is None:
            return
        if self.fidelities:
            raise SeiscreenError("convergence with fidelities is not supported: run the convergence campaign with "
                                 "one calculator, then the funnel at the converged cell size")
        if self.convergence.lateral and self.convergence.lateral[0] < MIN_IMAGE_DISTANCE:
            raise SeiscreenError(f"convergence.lateral: {self.convergence.lateral[0]} Å puts the adatom's periodic "
                                 f"images closer than {MIN_IMAGE_DISTANCE} Å: start at {MIN_IMAGE_DISTANCE} Å or more")

    def _check_finetune(self) -> None:
        """The loop learns the second fidelity's frames: two fidelities, the second recording (DFT)."""
        import importlib.util

        from seiscreen.finetuned_models import base_code

        if self.finetune is None:
            return
        if not self.fidelities or len(self.fidelities) != 2:
            raise SeiscreenError("finetune needs fidelities: [ML preset, DFT preset]: the committee learns the DFT "
                                 f"level's frames (got fidelities {self.fidelities})")
        if not get_preset(self.fidelities[1]).recording:
            raise SeiscreenError(f"finetune: the second fidelity {self.fidelities[1]!r} records no training frames: "
                                 "list a DFT preset (GPAW, or a preset of your own with records_frames: true)")
        package = {"chgnet": "chgnet", "sevennet": "sevenn"}[base_code(self.finetune.base_model)]
        if importlib.util.find_spec(package) is None:
            raise SeiscreenError(f"finetune.base_model {self.finetune.base_model!r} needs the {package} package: "
                                 f"pip install {package}")

    def slab_for(self, spec: MaterialSpec) -> SlabSettings:
        """The campaign's slab settings with the material's overrides applied."""
        if not spec.slab:
            return self.slab
        return SlabSettings(**{**self.slab.model_dump(), **spec.slab})

    @property
    def minima_settings(self) -> MinimaSettings:
        return self.minima_settings_for(self.adsorbate)

    def minima_settings_for(self, adsorbate: str | None) -> MinimaSettings:
        """The campaign's minima settings for one adatom element (None: the campaign's)."""
        return MinimaSettings(**{**self.minima, "adsorbate": adsorbate or self.adsorbate})


def _part(model: type[BaseModel], data: dict, where: str) -> BaseModel:
    """A nested settings block validated with its own name in the message (``minima.fmax``, not ``fmax``)."""
    try:
        return model(**data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(x) for x in error["loc"])
        if error["type"] == "extra_forbidden":
            allowed = sorted(set(model.model_fields) - {"adsorbate"})
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SeiscreenError(f"unknown key '{where}.{key}'{hint}: allowed keys are {', '.join(allowed)}") from None
        raise SeiscreenError(f"{where}.{key}: {error['msg'].removeprefix('Value error, ')}") from None


def load_campaign(path: str | Path, **overrides) -> Campaign:
    """Read and validate a campaign file; ``overrides`` (e.g. calculator, store) replace top-level keys."""
    path = Path(path)
    if path.is_dir():
        raise SeiscreenError(f"campaign file {path} is a folder: pass the path of a YAML file (see workflows/)")
    if not path.is_file():
        raise SeiscreenError(f"campaign file {path} not found: pass the path of a YAML file (see workflows/)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SeiscreenError(f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): "
                             "save it as UTF-8") from None
    except OSError as exc:
        raise SeiscreenError(f"cannot read the campaign file {path} ({exc.strerror}): check its permissions") from None
    except yaml.YAMLError as exc:
        raise SeiscreenError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}): fix the file") from None
    if not isinstance(raw, dict):
        raise SeiscreenError(f"{path} holds no campaign (expected a mapping with name and materials)")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if "descriptors" in raw:
        raw["descriptors"] = empty_keys_on(raw["descriptors"])
    try:
        return Campaign.model_validate(raw)
    except ValidationError as exc:
        raise SeiscreenError(f"{path}: {_explain(exc)}") from None


def _explain(exc: ValidationError) -> str:
    """The first validation problem as one sentence naming the key and the fix."""
    error = exc.errors()[0]
    where = ".".join(str(x) for x in error["loc"])
    if error["type"] == "extra_forbidden":
        model = _model_at(error["loc"][:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {where!r}{hint}: allowed keys are {', '.join(allowed)}"
    if error["type"] == "missing":
        return f"missing key {where!r}: add it to the campaign file"
    if error["type"] == "too_short" and error["loc"] == ("materials",):
        return "the campaign lists no materials: add at least one under 'materials'"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] = Campaign
    for part in loc:
        if isinstance(part, int):
            continue
        if part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        # list[MaterialSpec], ConvergenceSettings | None, list[UserPresetDefinition], MechanicalSettings | None
        inner = next((a for a in getattr(annotation, "__args__", (annotation,))
                      if isinstance(a, type) and issubclass(a, BaseModel)), annotation)
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return model
