"""The layers hold: import contracts (pyproject.toml, checked by import-linter), no import cycle, small modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(cwd)}, timeout=300)


def test_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module,line,contract", [
    ("core/sizing.py", "from modules import shared", "Only webui may import the WebUI, gradio or fastapi"),
    ("batch/manifest.py", "import gradio", "Only webui may import the WebUI, gradio or fastapi"),
    ("cli.py", "from .webui import paths", "Only webui may import the WebUI, gradio or fastapi"),
    ("core/masks.py", "import torch", "core is pure Python + numpy/PIL"),
    ("core/planning.py", "from ..stages import segment", "Layers:"),
    ("batch/runner.py", "import ray", "Only cluster imports Ray"),
    ("batch/runner.py", "from ..cluster import options", "Layers:"),
    ("cluster/actors.py", "from .. import cli", "Layers:"),
])
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "alien_filters", tmp_path / "alien_filters",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "alien_filters" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken


def test_no_import_cycle_between_modules():
    graph = grimp.build_graph("alien_filters", exclude_type_checking_imports=True)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(imported, module):
                chain = graph.find_shortest_chain(imported, module)
                cycles.append(" -> ".join((module, *chain)))
    assert cycles == []


def test_every_module_is_at_most_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "alien_filters").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
