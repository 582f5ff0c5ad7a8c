"""Render grading results: per-student markdown and Gradescope JSON, the class summary (markdown,
HTML, chart), grades and mistakes CSV, JUnit.

Every function here is pure: results in, text (or a JSON-ready dict) out, the same bytes for the
same results. Writing files is the caller's job.
"""

from __future__ import annotations

from harness.report.gradescope import gradescope_results
from harness.report.junit import render_junit
from harness.report.markdown import (
    escape_text,
    render_item_markdown,
    render_item_text,
    render_submission_markdown,
)
from harness.report.summary import render_class_html, render_class_summary, render_grades_csv, render_mistakes_csv

__all__ = [
    "escape_text",
    "gradescope_results",
    "render_class_html",
    "render_class_summary",
    "render_grades_csv",
    "render_item_markdown",
    "render_item_text",
    "render_junit",
    "render_mistakes_csv",
    "render_submission_markdown",
]
