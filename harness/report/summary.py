"""Render the class-wide outputs: ``summary.md`` and ``grades.csv``.

Both take the results of one assignment (one spec file), one row per submission sorted by folder
name, one column per item in the spec's order.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence

from harness.report.markdown import (
    escape_text,
    format_score,
    inline_code,
    reproduction_markdown,
)
from harness.results import ItemResult, RunSettings, SubmissionResult


def render_class_summary(results: Sequence[SubmissionResult]) -> str:
    """Render ``<out>/summary.md``: each submission's item scores, per-item pass rates, settings."""
    rows = _sorted(results)
    if not rows:
        return "# Class summary\n\nNo submissions were graded.\n"
    names = _test_names(rows)
    by_name = [_items_by_name(result) for result in rows]
    score_rows = [
        [
            inline_code(result.submission, in_table=True),
            *(format_score(items[name].score) if name in items else "–" for name in names),
            f"{format_score(result.score)} / {format_score(result.max_score)}",
        ]
        for result, items in zip(rows, by_name)
    ]
    item_rows = [
        _item_row(name, [items[name] for items in by_name if name in items]) for name in names
    ]
    parts = [
        f"# Class summary: {escape_text(rows[0].assignment)}",
        f"{len(rows)} submission{'s' if len(rows) != 1 else ''} graded against "
        f"{inline_code(rows[0].spec_file)}.",
        "## Scores",
        _table(
            ["submission", *(inline_code(name, in_table=True) for name in names), "total"],
            ["---", *("---:" for _ in names), "---:"],
            score_rows,
        ),
        "## Items",
        _table(
            ["item", "max", "passed", "pass rate", "mean score"],
            ["---", "---:", "---:", "---:", "---:"],
            item_rows,
        ),
        "## How to reproduce",
        *_settings_parts(rows),
    ]
    return "\n\n".join(parts) + "\n"


def render_grades_csv(results: Sequence[SubmissionResult]) -> str:
    """Render ``<out>/grades.csv``: ``submission,<test names...>,total,max``, a row per submission.

    Lines end in ``\\n``; write the text unchanged (``newline=""``) so quoted fields survive.
    A cell is empty where a submission has no such item.
    """
    rows = _sorted(results)
    names = _test_names(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", *names, "total", "max"])
    for result in rows:
        items = _items_by_name(result)
        writer.writerow(
            [
                result.submission,
                *(format_score(items[name].score) if name in items else "" for name in names),
                format_score(result.score),
                format_score(result.max_score),
            ]
        )
    return buffer.getvalue()


def _sorted(results: Sequence[SubmissionResult]) -> list[SubmissionResult]:
    assignments = sorted({(result.assignment, result.spec_file) for result in results})
    if len(assignments) > 1:
        raise ValueError(
            "a class summary covers one assignment, but these results come from "
            f"{len(assignments)}: {', '.join(f'{name!r} ({spec})' for name, spec in assignments)}; "
            "render each assignment's results separately"
        )
    return sorted(results, key=lambda result: result.submission)


def _test_names(rows: Sequence[SubmissionResult]) -> list[str]:
    """Every item's test name, in the order the submissions list them."""
    return list(dict.fromkeys(item.test_name for result in rows for item in result.items))


def _items_by_name(result: SubmissionResult) -> dict[str, ItemResult]:
    return {item.test_name: item for item in result.items}


def _item_row(name: str, items: list[ItemResult]) -> list[str]:
    passed = sum(item.status == "passed" for item in items)
    mean = sum(item.score for item in items) / len(items)
    return [
        inline_code(name, in_table=True),
        format_score(max(item.max_score for item in items)),
        f"{passed} / {len(items)}",
        f"{100 * passed / len(items):.0f}%",
        format_score(mean),
    ]


def _table(header: list[str], align: list[str], rows: list[list[str]]) -> str:
    return "\n".join(f"| {' | '.join(cells)} |" for cells in [header, align, *rows])


def _settings_parts(rows: Sequence[SubmissionResult]) -> list[str]:
    """The settings shared by the run, grouped if submissions were graded differently.

    Commands differ per submission, so each report.md gives its own; the rest should be shared.
    """
    groups: dict[RunSettings, list[str]] = {}
    for result in rows:
        shared = dataclasses.replace(result.settings, command="")
        groups.setdefault(shared, []).append(result.submission)
    note = "Each submission's `report.md` gives the exact command that reproduces it."
    if len(groups) == 1:
        (settings,) = groups
        return [reproduction_markdown(settings, None, command=False), note]
    parts = ["The submissions were not all graded with the same settings."]
    for settings, submissions in groups.items():
        parts += [
            f"Settings for {', '.join(inline_code(name) for name in submissions)}:",
            reproduction_markdown(settings, None, command=False),
        ]
    return [*parts, note]
