"""GitHub Actions in a student repository: the workflow file, and what its grading step reports.

``harness init-ci github`` writes ``.github/workflows/harness.yml``: check out, set up Python,
install the harness, ``harness grade --github``, upload the report folder as an artifact. The
workflow stays a few lines because the step's logic lives here, where tests can run it:
``publish`` appends each markdown report to the file named by ``$GITHUB_STEP_SUMMARY`` and prints
an ``::error`` workflow command (an annotation) at the line of each item that did not pass. The
grade command's exit code (``--fail-under``) fails the job. What is graded (specs, submission)
comes from ``[tool.harness]`` in the repository's pyproject.toml, like every other entry point.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from harness.errors import UsageError
from harness.report import render_item_text, render_submission_markdown
from harness.results import ItemResult, SubmissionResult

WORKFLOW = Path(".github/workflows/harness.yml")
"""Where ``init-ci github`` writes the workflow, relative to the repository."""

DEFAULT_INSTALL = "derivgrade-harness"
DEFAULT_PYTHON = "3.11"
REPORT_FOLDER = "harness-report"
"""The folder the workflow grades into and uploads as the ``harness-report`` artifact."""

SUMMARY_LIMIT = 1 << 20
"""GitHub refuses a step summary above 1 MiB; a longer report is cut, pointing at the artifact."""

_WORKFLOW_TEXT = """\
# Grades this repository with the derivative homework harness on every push.
# Written by `harness init-ci github`. What is graded (specs, submission) is set in
# [tool.harness] of pyproject.toml. Results: the job summary, annotations on the lines of your
# code, and the {folder} artifact (report.md, results.json).
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
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
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
        uses: actions/upload-artifact@v4
        with:
          name: {folder}
          path: {folder}
"""


def workflow(*, install: str = DEFAULT_INSTALL, python: str = DEFAULT_PYTHON,
             fail_under: float | None = None) -> str:
    """The workflow's text: ``install`` is a requirement (``derivgrade-harness==0.1``) or a git URL."""
    for name, value in (("--install", install), ("--python", python)):
        if not value.strip() or any(ord(c) < 32 for c in value):
            raise UsageError(f"{name} {value!r}: expected a non-empty value on one line")
    grade = f"harness grade --github --out {REPORT_FOLDER}"
    if fail_under is not None:
        grade += f" --fail-under {fail_under:g}"
    return _WORKFLOW_TEXT.format(python=json.dumps(python), install=shlex.quote(install),
                                 grade=grade, folder=REPORT_FOLDER)


def write_workflow(repository: Path, text: str, *, force: bool = False) -> Path:
    """Write ``text`` to the repository's ``.github/workflows/harness.yml``; returns the path."""
    path = repository / WORKFLOW
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# The grading step


def publish(
    graded: Sequence[tuple[SubmissionResult, Path, Mapping[str, str]]],
    *,
    environ: Mapping[str, str] = os.environ,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Report graded submissions to GitHub Actions: the step summary and one annotation per failure.

    Each entry is a result, its submission folder and its spec's modules by question id (to place
    an answer that names no file of its own, such as a claim, in its question's module).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    workspace = Path(environ.get("GITHUB_WORKSPACE") or Path.cwd())
    for result, submission, modules in graded:
        for item in result.items:
            if item.status != "passed":
                print(annotation(item, submission, workspace, modules.get(item.question_id)), file=stdout)
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        print("harness: --github: GITHUB_STEP_SUMMARY is not set, so no job summary was written",
              file=stderr)
        return
    text = "\n---\n\n".join(render_submission_markdown(result) for result, _, _ in graded)
    with open(summary, "a", encoding="utf-8") as stream:
        stream.write(_capped(text))


def annotation(item: ItemResult, submission: Path, workspace: Path, module: str | None = None) -> str:
    """The ``::error`` workflow command for an item that did not pass, at its file and line."""
    properties = {}
    source = item.source or (f"{module}.py" if module else None)
    if source is not None and (submission / source).is_file():
        relative = os.path.relpath((submission / source).resolve(), workspace.resolve())
        if not relative.startswith(".."):
            properties["file"] = relative
            if item.line is not None and item.source is not None:
                properties["line"] = str(item.line)
    properties["title"] = f"{item.test_name}: {item.summary}"
    fields = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::error {fields}::{_escape_data(render_item_text(item, output=False))}"


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
