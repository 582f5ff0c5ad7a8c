"""Write rendered reports to disk, atomically, so an interrupted run keeps what it finished."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.report import (
    gradescope_results,
    render_class_summary,
    render_grades_csv,
    render_submission_markdown,
)
from harness.results import SubmissionResult


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_submission(out: Path, result: SubmissionResult, visibility: dict[str, str] | None = None) -> Path:
    """``<out>/<submission>/report.md`` and ``results.json``; returns the submission's folder."""
    folder = out / result.submission
    results = gradescope_results(result, visibility=visibility)
    # results.json is written last: its presence marks a finished submission.
    write_atomically(folder / "report.md", render_submission_markdown(result))
    write_atomically(folder / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return folder


def write_class(out: Path, results: Sequence[SubmissionResult]) -> None:
    """``<out>/summary.md`` and ``<out>/grades.csv`` for every finished submission."""
    ordered = sorted(results, key=lambda r: r.submission)
    write_atomically(out / "summary.md", render_class_summary(ordered))
    write_atomically(out / "grades.csv", render_grades_csv(ordered))
