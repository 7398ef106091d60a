"""The docs site builds with no warning, and the import rules of docs/architecture.md hold in the source."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "seiscreen"
DOCS = ROOT / "docs"

# The layers of docs/architecture.md: a module imports only from its own layer and lower-numbered ones.
LAYERS: dict[str, int] = {
    "seiscreen.surfaces": 1, "seiscreen.surfaces.slabs": 1, "seiscreen.surfaces.sites": 1,
    "seiscreen.surfaces.symmetry": 1, "seiscreen.surfaces.hops": 1, "seiscreen.surfaces.percolation": 1,
    "seiscreen.surfaces.diffusion": 1,
    "seiscreen.catalog": 1, "seiscreen.errors": 1, "seiscreen.progress": 1, "seiscreen.convergence": 1,
    "seiscreen.calculators": 2, "seiscreen.user_presets": 2, "seiscreen.batched": 2, "seiscreen.frames": 2,
    "seiscreen.gpaw_scf": 2, "seiscreen.gpaw_solvent": 2, "seiscreen.finetuned_models": 2,
    "seiscreen.minima": 3, "seiscreen.neb": 3, "seiscreen.neb.protocol": 3, "seiscreen.neb.checkpoint": 3,
    "seiscreen.neb.mirror": 3, "seiscreen.neb.gates": 3, "seiscreen.neb.band": 3, "seiscreen.neb.driver": 3,
    "seiscreen.parallel": 3, "seiscreen.checkpoints": 3, "seiscreen.finetune": 3, "seiscreen.finetune_chgnet": 3,
    "seiscreen.finetune_sevennet": 3, "seiscreen.committee": 3, "seiscreen.active_learning": 3,
    "seiscreen.single_points": 3,
    "seiscreen.vibrations": 3,
    "seiscreen.bands": 3, "seiscreen.bands.level": 3, "seiscreen.bands.ends": 3, "seiscreen.bands.warm": 3,
    "seiscreen.bands.run": 3, "seiscreen.bands.hop": 3, "seiscreen.bands.valleys": 3, "seiscreen.bands.smearing": 3,
    "seiscreen.bands.saddle": 3,
    "seiscreen.descriptors": 3, "seiscreen.descriptors.bulk": 3, "seiscreen.descriptors.mechanical": 3,
    "seiscreen.descriptors.stability": 3, "seiscreen.descriptors.gap": 3,
    "seiscreen.descriptors.transport": 3, "seiscreen.descriptors.transport_sites": 3,
    "seiscreen.schemas": 4, "seiscreen.hopgraph": 4, "seiscreen.verdicts": 4,
    "seiscreen.kinetics": 4, "seiscreen.kinetic_schemas": 4, "seiscreen.descriptor_schemas": 4,
    "seiscreen": 5, "seiscreen.store": 5, "seiscreen.trust": 5, "seiscreen.results": 5,
    "seiscreen.store_open": 5, "seiscreen.store_collections": 5, "seiscreen.store_lock": 5,
    "seiscreen.store_reuse": 5, "seiscreen.store_export": 5, "seiscreen.store_import": 5,
    "seiscreen.store_frames": 5, "seiscreen.descriptor_results": 5, "seiscreen.store_read": 5,
    "seiscreen.campaign": 6, "seiscreen.workflow": 6, "seiscreen.workflow.base": 6, "seiscreen.workflow.slabs": 6,
    "seiscreen.workflow.minima": 6, "seiscreen.workflow.hops": 6, "seiscreen.workflow.summary": 6,
    "seiscreen.workflow.saddles": 6,
    "seiscreen.workflow.surface": 6, "seiscreen.workflow.flows": 6, "seiscreen.workflow.cells": 6,
    "seiscreen.workflow.descriptors": 6, "seiscreen.workflow.active_learning": 6,
    "seiscreen.runner": 7, "seiscreen.execution": 7, "seiscreen.execution.dispatch": 7,
    "seiscreen.execution.worker": 7, "seiscreen.execution.local": 7, "seiscreen.execution.slurm": 7,
    "seiscreen.execution.remote": 7, "seiscreen.execution.status": 7,
    "seiscreen.compare_stores": 8, "seiscreen.reproduce": 8, "seiscreen.cli": 8, "seiscreen.execution.commands": 8,
    "seiscreen.cli_common": 8, "seiscreen.frames_backfill": 8,
    "seiscreen.cli_tables": 8, "seiscreen.cli_store": 8, "seiscreen.cli_training": 8,
    "seiscreen.report": 8, "seiscreen.report.literature": 8, "seiscreen.report.compare": 8,
    "seiscreen.report.plots": 8, "seiscreen.report.html": 8, "seiscreen.report.export": 8,
    "seiscreen.report.panel": 8,
}
WORKFLOW_PACKAGES = ("jobflow", "jobflow_remote", "maggma", "dask", "distributed")
CALCULATOR_PACKAGES = ("ase.calculators", "ase.optimize", "chgnet", "sevenn", "gpaw", "torch")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function; ``from a import b`` gives ``a.b`` when
    that is a seiscreen module, else ``a``; relative imports resolved."""
    known = package_modules()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return out


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_imports_are_parsed_with_relative_and_submodule_forms(tmp_path):
    """The parser the rules rely on sees ``from seiscreen import x``, relative and function-level imports."""
    jobs = imports(PACKAGE / "workflow" / "hops.py")
    assert "seiscreen.progress" in jobs and "jobflow" in jobs
    assert "seiscreen.surfaces.sites" in imports(PACKAGE / "checkpoints.py")  # imported inside a function


def test_surfaces_import_no_jobflow_and_no_calculator():
    """docs/architecture.md: geometry is pure, it imports no workflow package, no calculator, and of seiscreen
    only errors, catalog and other surfaces modules (never jobs, flows, calculators, runner or cli)."""
    modules = sorted((PACKAGE / "surfaces").glob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        for name in imports(path):
            where = f"{path.relative_to(ROOT)} imports {name}"
            assert not within(name, WORKFLOW_PACKAGES + CALCULATOR_PACKAGES), where
            assert not within(name, tuple(f"seiscreen.{m}" for m in ("jobs", "flows", "calculators", "runner",
                                                                   "cli"))), where
            if within(name, ("seiscreen",)):
                assert within(name, ("seiscreen.errors", "seiscreen.catalog", "seiscreen.surfaces")), where


def test_every_module_has_a_layer_and_imports_only_its_layer_and_above():
    """docs/architecture.md: every import points to the same layer or a lower-numbered one, and layers 1-4
    import no workflow package."""
    modules = package_modules()
    assert set(modules) == set(LAYERS), (
        "modules without a layer (add them to LAYERS here and to docs/architecture.md): "
        f"{sorted(set(modules) - set(LAYERS))}; layers of modules that are gone: {sorted(set(LAYERS) - set(modules))}")
    for module, path in modules.items():
        for name in imports(path):
            if name in LAYERS:
                assert LAYERS[name] <= LAYERS[module], (
                    f"{module} (layer {LAYERS[module]}) imports {name} (layer {LAYERS[name]})")
            if LAYERS[module] <= 4:
                assert not within(name, WORKFLOW_PACKAGES), f"{module} (layer {LAYERS[module]}) imports {name}"


def test_architecture_page_and_api_reference_name_every_module():
    """Every module is placed in docs/architecture.md (by its path) and rendered on an API page (``::: name``)."""
    architecture = (DOCS / "architecture.md").read_text(encoding="utf-8")
    rendered = set()
    for page in (DOCS / "api").glob("*.md"):
        rendered.update(re.findall(r"^::: (\S+)", page.read_text(encoding="utf-8"), flags=re.MULTILINE))
    for module, path in package_modules().items():
        if path.name != "__init__.py":
            assert str(path.relative_to(PACKAGE)) in architecture, f"docs/architecture.md does not place {module}"
            assert module in rendered, f"no docs/api page renders {module}"
    assert rendered <= set(LAYERS), f"API pages render modules that do not exist: {sorted(rendered - set(LAYERS))}"


@pytest.mark.slow
def test_docs_site_builds_strict_without_warnings(tmp_path):
    """``mkdocs build --strict``: a broken link, a nav entry without a page, a page left out of the nav or a
    docstring griffe cannot read fails the build."""
    missing = [name for name in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
               if importlib.util.find_spec(name.split(".")[0]) is None
               or (name.count(".") and importlib.util.find_spec(name) is None)]
    if missing:
        pytest.skip(f"docs tools not installed ({', '.join(missing)}): pip install -e '.[dev]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = done.stdout + done.stderr
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert done.returncode == 0 and not warnings, log
    site = tmp_path / "site"
    assert (site / "architecture" / "index.html").exists()
    neb = (site / "api" / "neb" / "index.html").read_text(encoding="utf-8")
    assert 'id="seiscreen.neb.gates.judge_band"' in neb  # the API pages are rendered from the docstrings


def test_the_import_graph_has_no_cycles():
    """docs/architecture.md: the import graph is what the layers say, with no cycle inside a layer either. Imports
    for type checking only (``if TYPE_CHECKING:``) and a package importing its own submodules do not count."""
    modules = package_modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", "") == "TYPE_CHECKING" for node in ast.walk(block)}
        names = set()
        for node in ast.walk(tree):
            if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            names.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                         for a in node.names)
        graph[module] = {n for n in names if n in modules and n != module and not n.startswith(module + ".")}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for name in sorted(graph[module]):
            assert state.get(name) != 1, f"import cycle: {' -> '.join([*path, module, name])}"
            if name not in state:
                visit(name, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
