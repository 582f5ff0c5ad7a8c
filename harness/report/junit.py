"""Render results as JUnit XML, the test report format GitLab, Jenkins and GitHub reporters read.

One ``<testsuite>`` per submission and one ``<testcase>`` per item; a failed item carries a
``<failure>`` (an item that could not run, an ``<error>``) whose message is the item's summary and
whose text is the diagnosis and counterexample as plain text. Captured output goes to the
testcase's ``<system-out>``; the reproduction settings to the suite's ``<properties>``. Only the
attributes of the widely accepted JUnit schema are written (testcases carry no ``time``: the
harness times submissions, not items).
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.report.markdown import format_number, render_item_text, visible
from harness.results import ItemResult, SubmissionResult


def render_junit(results: Sequence[SubmissionResult]) -> str:
    """Render the results of any number of submissions as one JUnit XML document."""
    items = [item for result in results for item in result.items]
    root = ET.Element("testsuites", {"name": "harness", **_counts(items)})
    root.set("time", _seconds(sum(result.execution_time for result in results)))
    for result in results:
        root.append(_testsuite(result))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testsuite(result: SubmissionResult) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        {
            "name": _text(f"{result.submission} ({result.assignment})"),
            **_counts(result.items),
            "skipped": "0",
            "time": _seconds(result.execution_time),
        },
    )
    properties = ET.SubElement(suite, "properties")
    settings = dataclasses.asdict(result.settings)
    for name, value in [("spec_file", result.spec_file), *settings.items()]:
        text = format_number(value) if isinstance(value, float) else str(value)
        ET.SubElement(properties, "property", name=name, value=_text(text))
    for item in result.items:
        suite.append(_testcase(result.submission, item))
    return suite


def _testcase(submission: str, item: ItemResult) -> ET.Element:
    classname = _text(f"{submission}.{item.question_id}")
    case = ET.Element("testcase", classname=classname, name=_text(item.name))
    if item.status != "passed":
        tag = "failure" if item.status == "failed" else "error"
        problem = ET.SubElement(case, tag, message=_text(item.summary))
        problem.text = render_item_text(item, output=False)
    if item.output:
        ET.SubElement(case, "system-out").text = _text(item.output, keep="\n\t")
    return case


def _counts(items: Sequence[ItemResult]) -> dict[str, str]:
    return {
        "tests": str(len(items)),
        "failures": str(sum(item.status == "failed" for item in items)),
        "errors": str(sum(item.status == "error" for item in items)),
    }


def _seconds(seconds: float) -> str:
    return f"{seconds:.3f}"


def _text(text: str, *, keep: str = "") -> str:
    # XML 1.0 cannot hold most control characters at all, even escaped.
    return visible(text, keep=keep)
