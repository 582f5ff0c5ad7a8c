"""Write rendered reports to disk, atomically, so an interrupted run keeps what it finished."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.report import (
    gradescope_results,
    render_class_html,
    render_class_summary,
    render_grades_csv,
    render_mistakes_csv,
    render_submission_markdown,
)
from harness.report.charts import totals_svg
from harness.report.summary import CHART_FILE, graded_results
from harness.results import SubmissionResult


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, 0o644)  # reports are for others to read (mkstemp makes them private)
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


CLASS_FILES = ("summary.md", "summary.html", "grades.csv", "mistakes.csv")
"""The class files ``write_class`` writes, besides the chart (``CHART_FILE``) when a submission was graded."""


def write_class(out: Path, results: Sequence[SubmissionResult]) -> None:
    """The class's files for every finished submission: ``summary.md``, ``summary.html`` (with the
    chart ``totals.svg`` when a submission was graded), ``grades.csv`` and ``mistakes.csv``."""
    ordered = sorted(results, key=lambda r: r.submission)
    graded = graded_results(ordered)
    chart = None
    if graded:
        maximum = max(result.max_score for result in graded)
        chart = totals_svg([result.score for result in graded], maximum,
                           f"{graded[0].assignment}: totals of {len(graded)} submissions")
    if chart is not None:
        write_atomically(out / CHART_FILE, chart)
    write_atomically(out / "summary.md", render_class_summary(ordered, chart=chart is not None))
    write_atomically(out / "summary.html", render_class_html(ordered, chart))
    write_atomically(out / "grades.csv", render_grades_csv(ordered))
    write_atomically(out / "mistakes.csv", render_mistakes_csv(ordered))
