"""Build a submission's ``results.json`` in Gradescope's autograder format.

Follows https://gradescope-autograders.readthedocs.io/en/latest/specs/ : a top-level ``score``,
``execution_time``, ``output`` and one test per item. Gradescope knows only ``"passed"`` and
``"failed"``, so an item that could not be run (status ``"error"``) is reported as failed; its
output says why, and its ``extra_data`` keeps the harness's own status.

Each test carries its kind of mistake as a tag (``["sign error"]``; none for a passed item), so
Gradescope's per-tag statistics count the class's mistakes, and the diagnosis as data in
``extra_data``. The formats are explicit: outputs are markdown, test names plain text (an item
name such as ``dyhat_dw1`` is not markdown), and the autograder's stdout (tracebacks of a crash,
meant for the instructor) is hidden from students.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from harness.report.markdown import render_item_markdown, render_overview_markdown
from harness.results import ItemResult, StepResult, SubmissionResult, Value

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
"""The visibility settings Gradescope accepts for a test."""


def gradescope_results(
    result: SubmissionResult, *, visibility: Mapping[str, str] | None = None
) -> dict:
    """Return the ``results.json`` document for one submission (the caller ``json.dumps`` it).

    ``visibility`` maps a test name (``"2.4 dyhat_dw1"``) to one of :data:`VISIBILITIES`; tests
    it does not name get Gradescope's default. Names the result lacks are ignored, so a spec-wide
    mapping also fits the one-test result of a submission whose grading crashed. Scores are
    rounded to 6 decimals to drop float noise, and ``execution_time`` to whole seconds, as the
    format's example shows.
    """
    visibility = dict(visibility or {})
    _check_visibility(visibility)
    tests = []
    for item in result.items:
        test = {
            "name": item.test_name,
            "score": _score(item.score),
            "max_score": _score(item.max_score),
            "status": "passed" if item.status == "passed" else "failed",
            "output": render_item_markdown(item),
            "output_format": "md",
            "tags": [item.mistake] if item.mistake else [],
            "extra_data": _extra_data(item),
        }
        if item.test_name in visibility:
            test["visibility"] = visibility[item.test_name]
        tests.append(test)
    return {
        "score": _score(result.score),
        "execution_time": round(result.execution_time),
        "output": render_overview_markdown(result),
        "output_format": "md",
        "test_output_format": "md",
        "test_name_format": "text",
        "stdout_visibility": "hidden",
        # How the submission was graded, for the instructor: the isolation that ran, the inputs.
        "extra_data": {"isolation": result.settings.isolation, "inputs": result.settings.inputs,
                       **({"steps": [_step_data(step) for step in result.steps]} if result.steps else {})},
        "tests": tests,
    }


def _extra_data(item: ItemResult) -> dict:
    """The item's verdict as data: its status, kind of mistake, summary and counterexample."""
    data: dict = {"status": item.status, "mistake": item.mistake, "summary": item.summary,
                  "examples": item.examples}
    example = item.counterexample
    if example is not None:
        data["counterexample"] = {
            "inputs": {name: _json_value(value) for name, value in example.inputs},
            "dimensions": dict(example.dimensions),
            "activation": example.activation,
        }
    return data


def _step_data(step: StepResult) -> dict:
    """One step of a write-up as data: where, as written, and whether it holds (``None``: unchecked)."""
    return {"question": step.question_id, "line": step.line, "latex": step.latex, "holds": step.holds}


def _json_value(value: Value) -> object:
    """A report value as strict JSON: lists for arrays, a string for a value JSON cannot hold."""
    if isinstance(value, tuple):
        return [_json_value(entry) for entry in value]
    return value if math.isfinite(value) else repr(value)


def _score(x: float) -> float:
    return round(float(x), 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def _check_visibility(visibility: Mapping[str, str]) -> None:
    for name, value in visibility.items():
        if value not in VISIBILITIES:
            raise ValueError(
                f"visibility of test {name!r} is {value!r}; Gradescope accepts one of: "
                f"{', '.join(map(repr, VISIBILITIES))}"
            )
