"""The public API: ``harness.__all__`` is what the package exports, and the adapters use only it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = [
    ROOT / "harness" / "cli.py",
    ROOT / "harness" / "pytest_plugin.py",
    *sorted((ROOT / "harness" / "integrations").glob("*.py")),
    *sorted((ROOT / "benchmarks").glob("*.py")),
]
ALLOWED = ("harness", "harness.integrations")  # the API, and the adapters among themselves


def test_all_lists_exactly_the_names_the_package_exports():
    assert sorted(harness.__all__[1:]) == harness.__all__[1:] and harness.__all__[0] == "__version__"
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name
    tree = ast.parse((ROOT / "harness" / "__init__.py").read_text())
    typed = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and node.module != "__future__" and node.module not in ("importlib", "typing")
             for alias in node.names}
    assert typed == set(harness.__all__)  # the names type checkers see are the names exported


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="'grade_submission'"):
        harness.grade_submission  # noqa: B018


def test_each_name_comes_from_the_module_the_table_says():
    assert harness.grade.__module__ == "harness.grading"
    assert harness.InternalError.__mro__[1:3] == (harness.HarnessError, RuntimeError)
    assert issubclass(harness.SpecError, ValueError)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_adapter_imports_only_the_public_api(adapter):
    imported = set()
    for node in ast.walk(ast.parse(adapter.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names if alias.name.startswith("harness")}
    internal = {name for name in imported if name not in ALLOWED and not name.startswith("harness.integrations.")}
    assert not internal, f"{adapter.name} imports internals: {sorted(internal)}"


def test_importing_harness_loads_nothing_heavy():
    code = "import sys, harness; print(sorted(m for m in sys.modules if m.startswith(('harness', 'numpy', 'hypothesis'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "['harness', 'harness._version']\n"
