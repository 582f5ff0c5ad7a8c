"""Render the class-wide outputs: ``summary.md``, ``summary.html``, ``grades.csv``, ``mistakes.csv``.

All take the results of one assignment (one spec file), one row per submission sorted by folder
name, one column per item in the spec's order. The summary is built once as a few blocks
(headings, paragraphs, tables, a text histogram) and rendered twice: markdown for GitHub and the
terminal, a self-contained HTML page for a TA's browser (with the chart inlined;
``harness.report.charts``). Its text never depends on the chart.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from harness.report.charts import histogram
from harness.report.markdown import (
    Block,
    Code,
    Heading,
    Paragraph,
    Preformatted,
    Table,
    cell_segments,
    format_score,
    render_markdown_blocks,
    reproduction_markdown,
)
from harness.results import ItemResult, RunSettings, SubmissionResult

CHART_FILE = "totals.svg"
"""The chart of the totals' distribution, beside summary.md (written when a submission was graded)."""

MAX_NAMES = 20
"""Submissions named per mistake in the summary; mistakes.csv lists every one."""


# -- the blocks only the summary has -------------------------------------------------------------
@dataclass(frozen=True)
class Histogram(Preformatted):
    """The text histogram of the totals: in HTML only when there is no chart to show instead."""


@dataclass(frozen=True)
class Chart:
    """The chart image, when there is one (markdown links it, HTML inlines it)."""

    file: str
    alt: str


@dataclass(frozen=True)
class Markdown:
    """Markdown made elsewhere (the reproduction settings); HTML shows its source as text."""

    text: str


SummaryBlock = Union[Block, Histogram, Chart, Markdown]


# -- the summary ---------------------------------------------------------------------------------
def summary_blocks(results: Sequence[SubmissionResult], *, chart: bool = False) -> list[SummaryBlock]:
    """The class summary as blocks; ``chart`` adds the chart of the totals (``CHART_FILE``)."""
    rows = _sorted(results)
    if not rows:
        return [Heading("Class summary", 1), Paragraph(("No submissions were graded.",))]
    names = _test_names(rows)
    by_name = [_items_by_name(result) for result in rows]
    ungradable = [result for result in rows if result.not_gradable is not None]
    counted = f"{len(rows)} submission{'s' if len(rows) != 1 else ''} graded against "
    intro: tuple = (counted, Code(rows[0].spec_file), ".")
    if ungradable:
        intro += (f" {len(ungradable)} could not be graded at all (see below).",)
    blocks: list[SummaryBlock] = [Heading(f"Class summary: {rows[0].assignment}", 1), Paragraph(intro)]
    graded = graded_results(rows)
    if graded:
        blocks += [Heading("Totals")]
        if ungradable:
            plural = "s" if len(graded) != 1 else ""
            blocks.append(Paragraph((f"Of the {len(graded)} submission{plural} that could be graded.",)))
        blocks.append(_totals_table(graded))
        if chart:
            blocks.append(Chart(CHART_FILE, "Distribution of the totals"))
        blocks.append(Histogram(_text_histogram(graded)))
    blocks += [
        Heading("Scores"),
        Table(
            ("submission", "total", "percent", *(Code(name) for name in names)),
            (False, True, True, *(True for _ in names)),
            tuple(
                (
                    Code(result.submission),
                    f"{format_score(result.score)} / {format_score(result.max_score)}",
                    _percent(result),
                    *(format_score(items[name].score) if name in items else "–" for name in names),
                )
                for result, items in zip(rows, by_name)
            ),
        ),
        Heading("Items"),
        Table(
            ("item", "max", "passed", "pass rate", "mean score", "mistakes"),
            (False, True, True, True, True, False),
            tuple(_item_row(name, [items[name] for items in by_name if name in items]) for name in names),
        ),
        *_mistake_blocks(rows, names, by_name),
    ]
    if ungradable:
        blocks += [
            Heading("Not gradable"),
            Table(("submission", "why"), (False, False),
                  tuple((Code(result.submission), result.not_gradable) for result in ungradable)),
        ]
    blocks += [Heading("How to reproduce"), *_settings_blocks(rows)]
    return blocks


def graded_results(results: Sequence[SubmissionResult]) -> list[SubmissionResult]:
    """The submissions that could be graded: the class statistics and the chart are of these."""
    return [result for result in results if result.not_gradable is None]


def _totals_table(rows: Sequence[SubmissionResult]) -> Table:
    totals = sorted(result.score for result in rows)
    maximum = max(result.max_score for result in rows)
    lower, median, upper = _quartiles(totals)

    def points(value: float) -> str:
        share = f" ({100 * value / maximum:.0f}%)" if maximum else ""
        return f"{format_score(round(value, 2))}{share}"

    return Table(
        ("statistic", f"total (of {format_score(maximum)})"),
        (False, True),
        (
            ("mean", points(statistics.fmean(totals))),
            ("median", points(median)),
            ("lower quartile", points(lower)),
            ("upper quartile", points(upper)),
            ("lowest", points(totals[0])),
            ("highest", points(totals[-1])),
        ),
    )


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """Lower quartile, median, upper quartile (linear interpolation, as numpy's default)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    lower, median, upper = statistics.quantiles(values, n=4, method="inclusive")
    return lower, median, upper


def _text_histogram(rows: Sequence[SubmissionResult]) -> str:
    """The distribution of totals as text bars: one line per bin, ``[low, high)``."""
    maximum = max(result.max_score for result in rows)
    bins = histogram([result.score for result in rows], maximum)
    largest = max(count for _, _, count in bins) or 1
    labels = [
        f"{format_score(low)}–{format_score(high)}" + (" " if index == len(bins) - 1 else "")
        for index, (low, high, _) in enumerate(bins)
    ]
    width = max(len(label) for label in labels)
    lines = ["totals (points)   submissions"]
    for label, (_, _, count) in zip(labels, bins):
        bar = "█" * round(30 * count / largest)
        lines.append(f"{label.ljust(width)}  {bar} {count}".rstrip())
    return "\n".join(lines)


def _percent(result: SubmissionResult) -> str:
    return f"{100 * result.score / result.max_score:.0f}%" if result.max_score else "–"


def _item_row(name: str, items: list[ItemResult]) -> tuple:
    passed = sum(item.status == "passed" for item in items)
    mean = sum(item.score for item in items) / len(items)
    kinds = _mistake_counts(items)
    return (
        Code(name),
        format_score(max(item.max_score for item in items)),
        f"{passed} / {len(items)}",
        f"{100 * passed / len(items):.0f}%",
        format_score(round(mean, 2)),
        ", ".join(f"{kind}: {len(who)}" for kind, who in kinds) or "–",
    )


def _mistake_counts(items: Sequence[ItemResult]) -> list[tuple[str, list[ItemResult]]]:
    """Each kind of mistake among ``items`` with the items that make it, the most frequent first."""
    kinds: dict[str, list[ItemResult]] = {}
    for item in items:
        if item.status != "passed":
            kinds.setdefault(item.mistake or "wrong", []).append(item)
    return sorted(kinds.items(), key=lambda entry: (-len(entry[1]), entry[0]))


def _mistake_blocks(rows, names, by_name) -> list[SummaryBlock]:
    """The mistakes of the class: how often each kind occurs, and per item who made it."""
    every = [items[name] for items in by_name for name in names if name in items]
    overall = _mistake_counts(every)
    if not overall:
        return [Heading("Mistakes"), Paragraph(("No mistakes: every item passed for every submission.",))]
    owners = {id(item): result.submission for result, items in zip(rows, by_name) for item in items.values()}
    detail = []
    for name in names:
        for kind, items in _mistake_counts([items[name] for items in by_name if name in items]):
            who = [owners[id(item)] for item in items]
            shown: list = [Code(submission) for submission in who[:MAX_NAMES]]
            parts: list = []
            for index, code in enumerate(shown):
                parts += [", "] if index else []
                parts.append(code)
            if len(who) > MAX_NAMES:
                parts.append(f", and {len(who) - MAX_NAMES} more (mistakes.csv lists every one)")
            detail.append((Code(name), kind, str(len(who)), tuple(parts)))
    summary = "; ".join(
        f"{kind}: {len({owners[id(item)] for item in items})} submission"
        f"{'s' if len({owners[id(item)] for item in items}) != 1 else ''}"
        for kind, items in overall
    )
    return [
        Heading("Mistakes"),
        Paragraph((f"Every failed item has a diagnosis; across the class: {summary}.",)),
        Table(("item", "mistake", "submissions", "who"), (False, False, True, False), tuple(detail)),
    ]


def _settings_blocks(rows: Sequence[SubmissionResult]) -> list[SummaryBlock]:
    """The settings shared by the run, grouped if submissions were graded differently.

    Commands differ per submission, so each report.md gives its own; the rest should be shared.
    """
    groups: dict[RunSettings, list[str]] = {}
    for result in rows:
        shared = dataclasses.replace(result.settings, command="")
        groups.setdefault(shared, []).append(result.submission)
    note = Paragraph(("Each submission's ", Code("report.md"), " gives the exact command that reproduces it."))
    if len(groups) == 1:
        (settings,) = groups
        return [Markdown(reproduction_markdown(settings, None, command=False)), note]
    blocks: list[SummaryBlock] = [Paragraph(("The submissions were not all graded with the same settings.",))]
    for settings, submissions in groups.items():
        names: list = []
        for index, name in enumerate(submissions):
            names += [", "] if index else []
            names.append(Code(name))
        blocks += [Paragraph(("Settings for ", *names, ":")),
                   Markdown(reproduction_markdown(settings, None, command=False))]
    return [*blocks, note]


# -- rendering -----------------------------------------------------------------------------------
def render_class_summary(results: Sequence[SubmissionResult], *, chart: bool = False) -> str:
    """Render ``<out>/summary.md``: the distribution of totals, scores, items, mistakes, settings."""
    return "\n\n".join(_markdown_block(block) for block in summary_blocks(results, chart=chart)) + "\n"


def _markdown_block(block: SummaryBlock) -> str:
    if isinstance(block, Chart):
        return f"![{block.alt}]({block.file})"
    if isinstance(block, Markdown):
        return block.text
    return render_markdown_blocks([block])


def render_class_html(results: Sequence[SubmissionResult], chart_svg: str | None = None) -> str:
    """Render ``<out>/summary.html``: the same summary as one self-contained page (chart inlined)."""
    blocks = summary_blocks(results, chart=chart_svg is not None)
    title = next((block.text for block in blocks if isinstance(block, Heading)), "Class summary")
    body = "\n".join(filter(None, (_html_block(block, chart_svg) for block in blocks)))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem}"
    "th{background:#f3f3f3}td.r,th.r{text-align:right;white-space:nowrap}code{font-size:.9em}pre{background:#f7f7f7;padding:.6rem}"
    "figure{margin:1rem 0}figure svg{max-width:100%;height:auto}"
)


def _html_text(segments: tuple) -> str:
    return "".join(
        f"<code>{html.escape(segment.text)}</code>" if isinstance(segment, Code) else html.escape(str(segment))
        for segment in segments
    )


def _html_block(block: SummaryBlock, chart_svg: str | None) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{_html_text(block.segments)}</p>"
    if isinstance(block, Table):
        def cells(tag: str, row: tuple) -> str:
            right_aligned = ' class="r"'
            return "".join(
                f"<{tag}{right_aligned if right else ''}>{_html_text(cell_segments(cell))}</{tag}>"
                for cell, right in zip(row, block.right_aligned)
            )

        rows = "".join(f"<tr>{cells('td', row)}</tr>" for row in block.rows)
        return f"<table><thead><tr>{cells('th', block.header)}</tr></thead><tbody>{rows}</tbody></table>"
    if isinstance(block, Chart):
        svg = chart_svg or ""
        start = svg.find("<svg")  # drop the XML prologue and doctype: the page is HTML
        return f"<figure aria-label=\"{html.escape(block.alt)}\">{svg[start:] if start >= 0 else ''}</figure>"
    if isinstance(block, Histogram) and chart_svg is not None:
        return ""
    return f"<pre>{html.escape(block.text)}</pre>"


def render_grades_csv(results: Sequence[SubmissionResult]) -> str:
    """Render ``<out>/grades.csv``: ``submission,<test names...>,total,max,percent,status``.

    Lines end in ``\\n``; write the text unchanged (``newline=""``) so quoted fields survive.
    A cell is empty where a submission has no such item. ``status`` is ``graded`` or ``not
    gradable: <why>`` (an empty upload is not a 0 for its work).
    """
    rows = _sorted(results)
    names = _test_names(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", *names, "total", "max", "percent", "status"])
    for result in rows:
        items = _items_by_name(result)
        percent = f"{100 * result.score / result.max_score:.2f}" if result.max_score else ""
        writer.writerow(
            [
                result.submission,
                *(format_score(items[name].score) if name in items else "" for name in names),
                format_score(result.score),
                format_score(result.max_score),
                percent,
                result.status,
            ]
        )
    return buffer.getvalue()


def render_mistakes_csv(results: Sequence[SubmissionResult]) -> str:
    """Render ``<out>/mistakes.csv``: ``submission,item,mistake,summary``, a row per failed item."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "item", "mistake", "summary"])
    for result in _sorted(results):
        for item in result.items:
            if item.status != "passed":
                writer.writerow([result.submission, item.test_name, item.mistake or "wrong", item.summary])
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
