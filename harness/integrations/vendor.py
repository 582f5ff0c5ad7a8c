"""The harness as it runs here, ready to ship: its source tree and its dependencies' exact versions.

The Gradescope bundle (``harness-src/``) and a student repository's workflow (``.harness/``) both
pip-install this tree, so they grade with exactly the harness, and the same numpy, Hypothesis,
mpmath and PyYAML, as the instructor's run: the inputs Hypothesis draws from a seed, and the
numbers numpy computes, depend on those versions. The tree needs no package index for the harness
itself, only for its pinned dependencies.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

from harness import __version__, parse_toml
from harness.integrations import DISTRIBUTION

PACKAGE = Path(__file__).resolve().parent.parent
"""The harness package's folder, copied into the tree."""

_PYPROJECT = """\
# The harness, shipped here by {shipper}; pip-install this folder.
# Its dependencies are pinned to the versions of the run that shipped it, so grading here draws
# the same inputs and computes the same numbers.
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = {name}
version = {version}
requires-python = {python}
dependencies = {dependencies}

[project.scripts]
harness = "harness.cli:run"

[tool.setuptools.packages.find]
include = ["harness*"]

[tool.setuptools.package-data]
harness = ["*.json", "py.typed"]
"""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def source_tree(shipper: str) -> dict[str, bytes]:
    """The files of the installable tree, by path inside it: ``pyproject.toml`` and ``harness/...``.

    ``shipper`` names what ships it in the pyproject.toml's first comment (``"harness gradescope"``).
    """
    files = {"pyproject.toml": pyproject(shipper).encode()}
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[f"harness/{path.relative_to(PACKAGE).as_posix()}"] = path.read_bytes()
    return files


def pyproject(shipper: str) -> str:
    """The tree's pyproject.toml: this harness's version, its dependencies pinned."""
    python, dependencies = declared_requirements()
    return _PYPROJECT.format(shipper=shipper, name=json.dumps(DISTRIBUTION), version=json.dumps(__version__),
                             python=json.dumps(python), dependencies=json.dumps(pinned(dependencies)))


def pinned(requirements: list[str]) -> list[str]:
    """Each requirement pinned to the version installed here (``numpy==2.4.6``), its marker kept.

    A requirement not installed here (``tomli; python_version < '3.11'`` on 3.11) is kept as
    declared: nothing here says which version grading would use.
    """
    result = []
    for requirement in requirements:
        requirement = requirement.replace("'", '"')  # one quoting style, so a shell line stays readable
        match = _NAME.match(requirement.strip())
        name = match.group(0) if match else requirement
        marker = requirement.partition(";")[2].strip()
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            result.append(requirement)
            continue
        result.append(f"{name}=={version}" + (f"; {marker}" if marker else ""))
    return result


def pinned_requirements() -> list[str]:
    """The harness's runtime dependencies, pinned to the versions of this run."""
    return pinned(declared_requirements()[1])


def declared_requirements() -> tuple[str, list[str]]:
    """(requires-python, runtime dependencies) as the project declares them.

    In a source checkout (run in place or installed editable) its pyproject.toml is the truth,
    which installed metadata may lag behind; an installed wheel has only its metadata.
    """
    pyproject = PACKAGE.parent / "pyproject.toml"
    if pyproject.is_file():
        project = parse_toml(pyproject.read_text(encoding="utf-8"), pyproject).get("project", {})
        if project.get("name") == DISTRIBUTION:
            return project.get("requires-python", ">=3.10"), list(project.get("dependencies", []))
    info = metadata.metadata(DISTRIBUTION)
    required = [r for r in metadata.requires(DISTRIBUTION) or [] if "extra ==" not in r]
    return info.get("Requires-Python") or ">=3.10", required
