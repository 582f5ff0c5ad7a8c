"""GitHub Actions in a student repository: the workflow file, and what its grading step reports.

``harness init-ci github`` writes ``.github/workflows/harness.yml``: check out (without keeping
the token), set up Python, install the harness, ``harness grade --github``, upload the report
folder as an artifact; every action pinned to a commit. By default it also vendors the harness
that runs it into ``.harness/`` of the repository (``harness.integrations.vendor``), which the
workflow installs: that install resolves wherever the pinned dependencies do, needs no package
index entry, git access or token for the harness, and grades with exactly the instructor's
harness and dependency versions. ``--install`` names another source (a git URL, a wheel in the
repository); the dependencies stay pinned either way.

The workflow stays a few lines because the step's logic lives here, where tests can run it:
``publish`` appends each markdown report to the file named by ``$GITHUB_STEP_SUMMARY`` and prints
an ``::error`` workflow command (an annotation) at the line of each item that did not pass, at
most ``ANNOTATION_LIMIT`` of them. The grade command's exit code (``--fail-under``) fails the job.
What is graded (specs, submission) comes from ``[tool.harness]`` in the repository's
pyproject.toml, like every other entry point.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from harness import ItemResult, SubmissionResult, UsageError, find_config, render_item_text, render_submission_markdown
from harness.integrations import DISTRIBUTION, vendor

if TYPE_CHECKING:
    from harness import Assignment

WORKFLOW = Path(".github/workflows/harness.yml")
"""Where ``init-ci github`` writes the workflow, relative to the repository."""

VENDORED = Path(".harness")
"""Where ``init-ci github`` vendors the harness, relative to the repository (a dot-folder, so
grading the repository as a submission passes over it)."""

DEFAULT_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
"""The job's Python: the instructor's, which the pinned dependency versions are known to install on."""

ACTIONS = {
    "checkout": "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1  # v7.0.1",
    "setup_python": "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97  # v7.0.0",
    "upload_artifact": "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f  # v7.0.0",
}
"""Each action pinned to the commit of a release tag (a tag can be moved; a commit cannot)."""

REPORT_FOLDER = "harness-report"
"""The folder the workflow grades into and uploads as the ``harness-report`` artifact."""

ANNOTATION_LIMIT = 10
"""GitHub shows at most 10 error annotations per step: the rest are summarised in the last one."""

SUMMARY_LIMIT = 1 << 20
"""GitHub refuses a step summary above 1 MiB; a longer report is cut, pointing at the artifact."""

_WORKFLOW_TEXT = """\
# Grades this repository with the derivative homework harness on every push.
# Written by `harness init-ci github`. What is graded (specs, submission) is set in
# [tool.harness] of pyproject.toml. Results: the job summary, annotations on the lines of your
# code, and the {folder} artifact (report.md, results.json). The harness and its dependencies
# are pinned to the versions your instructor grades with.
name: harness

"on":  # quoted: YAML 1.1 readers take a bare on for the boolean true
  push:
  pull_request:
  workflow_dispatch:

permissions:
  contents: read

jobs:
  grade:
    runs-on: ubuntu-latest
    steps:
      - uses: {checkout}
        with:
          persist-credentials: false
      - uses: {setup_python}
        with:
          python-version: {python}
      - name: Install the harness
        run: |
          python -m pip install {install}
      - name: Grade
        run: |
          {grade}
      - name: Upload the report
        if: always()
        uses: {upload_artifact}
        with:
          name: {folder}
          path: {folder}
"""


def workflow(*, install: str | None = None, python: str | None = None,
             fail_under: float | None = None) -> str:
    """The workflow's text: ``install`` is what pip installs (default: the vendored ``./.harness``).

    The install step also pins the harness's dependencies to the versions of this run.
    """
    install = f"./{VENDORED.as_posix()}" if install is None else install
    python = DEFAULT_PYTHON if python is None else python
    for name, value in (("--install", install), ("--python", python)):
        if not value.strip() or any(ord(c) < 32 for c in value):
            raise UsageError(f"{name} {value!r}: expected a non-empty value on one line")
    _check_install(install)
    grade = f"harness grade --github --out {REPORT_FOLDER}"
    if fail_under is not None:
        grade += f" --fail-under {fail_under:g}"
    requirements = " ".join(map(shlex.quote, [install, *vendor.pinned_requirements()]))
    return _WORKFLOW_TEXT.format(python=json.dumps(python), install=requirements, grade=grade,
                                 folder=REPORT_FOLDER, **ACTIONS)


def _check_install(install: str) -> None:
    """Refuse the one source known not to resolve: the harness's name, which no package index has."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", install)
    if name and name.group(0).lower().replace("_", "-") == DISTRIBUTION and "@" not in install:
        raise UsageError(
            f"--install {install!r}: {DISTRIBUTION} is not on any package index, so the workflow "
            "could not install it; leave out --install to vendor this harness into the repository "
            f"({VENDORED}/), or pass a source pip can reach: a git URL such as "
            "git+https://github.com/OWNER/REPO@TAG, or a wheel committed to the repository "
            "(./wheels/derivgrade_harness-VERSION-py3-none-any.whl)"
        )


def init_workflow(repository: Path, *, force: bool = False, install: str | None = None,
                  **settings: Any) -> tuple[list[Path], list[str]]:
    """Write the workflow (and, without ``install``, the vendored harness) into ``repository``.

    Returns the paths written and warnings about the repository. ``settings`` are ``workflow``'s.
    The warnings say which ``[tool.harness]`` keys the grading step will miss: it grades what the
    repository's configuration names.
    """
    path = repository / WORKFLOW
    vendored = repository / VENDORED
    for existing in (path, vendored) if install is None else (path,):
        if existing.exists() and not force:
            raise UsageError(f"{existing} exists; pass --force to overwrite it")
    text = workflow(install=install, **settings)
    config = find_config(repository)
    warnings = []
    if not config.specs:
        warnings.append(f"{repository} has no [tool.harness] specs, so the workflow grades against "
                        "specs/*.yaml; to choose, add to pyproject.toml: specs = [\"path/to/spec.yaml\"]")
    if config.submission is None:
        warnings.append(f"{repository} has no [tool.harness] submission, so the workflow grades "
                        "submissions/*; to grade the repository itself, add: submission = \".\"")
    written = [path]
    if install is None:
        if vendored.is_dir() and not vendored.is_symlink():
            shutil.rmtree(vendored)
        elif vendored.exists() or vendored.is_symlink():
            vendored.unlink()
        for name, data in vendor.source_tree("harness init-ci github, for the workflow").items():
            (vendored / name).parent.mkdir(parents=True, exist_ok=True)
            (vendored / name).write_bytes(data)
        written.append(vendored)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return written, warnings


# ---------------------------------------------------------------------------------------------
# The grading step


def publish(
    assignments: Sequence[Assignment],
    results: Mapping[str, Sequence[SubmissionResult]],
    submissions: Sequence[Path],
    *,
    environ: Mapping[str, str] = os.environ,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Report a grading run to GitHub Actions: the job summary and one annotation per failed item.

    ``results`` maps each assignment's path to its graded submissions (``RunOutcome.results``);
    ``submissions`` are the folders graded, so annotations can name files in the repository.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    workspace = Path(environ.get("GITHUB_WORKSPACE") or Path.cwd())
    folders = {folder.name: folder for folder in submissions}
    reports = []
    annotations = []
    for assignment in assignments:
        modules = {question.id: question.module for question in assignment.questions}
        for result in results.get(assignment.path, ()):
            reports.append(render_submission_markdown(result))
            annotations.extend(
                annotation(item, folders[result.submission], workspace, modules.get(item.question_id))
                for item in result.items if item.status != "passed"
            )
    for line in _capped_annotations(annotations):
        print(line, file=stdout)
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        print("harness: --github: GITHUB_STEP_SUMMARY is not set, so no job summary was written",
              file=stderr)
        return
    with open(summary, "a", encoding="utf-8") as stream:
        stream.write(_capped("\n---\n\n".join(reports)))


def annotation(item: ItemResult, submission: Path, workspace: Path, module: str | None = None) -> str:
    """The ``::error`` workflow command for an item that did not pass, at its file and line."""
    properties = {}
    source = item.source or (f"{module}.py" if module else None)
    if source is not None and (submission / source).is_file():
        relative = os.path.relpath((submission / source).resolve(), workspace.resolve())
        if not relative.startswith(".."):
            properties["file"] = relative
            line = item.line
            if line is None:
                line = _error_line(item, source) or _assignment_line(item, submission / source)
            if line is not None:
                properties["line"] = str(line)
    properties["title"] = f"{item.test_name}: {item.summary}"
    fields = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::error {fields}::{_escape_data(render_item_text(item, output=False))}"


def _capped_annotations(annotations: Sequence[str]) -> list[str]:
    """At most ``ANNOTATION_LIMIT`` annotations, the last one counting those left out."""
    if len(annotations) <= ANNOTATION_LIMIT:
        return list(annotations)
    rest = len(annotations) - (ANNOTATION_LIMIT - 1)
    return [*annotations[:ANNOTATION_LIMIT - 1],
            f"::error title={rest} more failing items::{rest} more failing items: see the job summary"]


_PLACE = re.compile(r"\((?P<file>[^(),]+), line (?P<line>\d+)\)")


def _error_line(item: ItemResult, source: str) -> int | None:
    """The line an error message names in ``source`` (a SyntaxError: ``(q2_4.py, line 7)``)."""
    error = item.counterexample.error if item.counterexample is not None else None
    for text in (item.summary, item.diagnosis or "", error or ""):
        for match in _PLACE.finditer(text):
            if match["file"] == source:
                return int(match["line"])
    return None


def _assignment_line(item: ItemResult, path: Path) -> int | None:
    """The line where a claim's module assigns its answer (``name = True``), read, never run."""
    if item.kind != "claim" or path.suffix != ".py":
        return None
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(target, ast.Name) and target.id == item.name for target in targets):
            return node.lineno
    return None


def _escape_data(text: str) -> str:
    # As @actions/core escapes a command's message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _capped(text: str) -> str:
    note = f"\n\n(The report is cut here: the full report is in the {REPORT_FOLDER} artifact.)\n"
    data = text.encode("utf-8")
    if len(data) <= SUMMARY_LIMIT:
        return text
    keep = SUMMARY_LIMIT - len(note.encode("utf-8"))
    return data[:keep].decode("utf-8", errors="ignore") + note
