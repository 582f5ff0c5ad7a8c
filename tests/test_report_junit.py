"""junit.xml: parsed back and checked the way CI test reporters read it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import report_samples as samples
from harness.report import render_item_text, render_junit

PASSING_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="harness" tests="4" failures="0" errors="0" time="3.620">
  <testsuite name="reference_solution (Question 2: Neural Networks (vector edition))" tests="4" failures="0" errors="0" skipped="0" time="3.620">
    <properties>
      <property name="spec_file" value="specs/q2_vector.yaml" />
      <property name="seed" value="20240917" />
      <property name="examples" value="100" />
      <property name="rtol" value="1e-07" />
      <property name="atol" value="1e-12" />
      <property name="reference_digits" value="30" />
      <property name="harness_version" value="0.1.0" />
      <property name="hypothesis_version" value="6.100.0" />
      <property name="numpy_version" value="1.26.4" />
      <property name="mpmath_version" value="1.3.0" />
      <property name="python_version" value="3.11.9" />
      <property name="isolation" value="process+rlimits" />
      <property name="command" value="harness grade specs/q2_vector.yaml submissions/reference_solution --seed 20240917" />
      <property name="inputs" value="drawn from the seed by Hypothesis (no lock)" />
    </properties>
    <testcase classname="reference_solution.2.1" name="dyhat_dw2" />
    <testcase classname="reference_solution.2.1" name="dyhat_db2" />
    <testcase classname="reference_solution.2.3" name="dyhat_dx_unchanged_by_b2" />
    <testcase classname="reference_solution.2.4" name="dyhat_dw1" />
  </testsuite>
</testsuites>
"""

SIGN_ERROR_TEXT = """sign error

Your result is the exact negative of the true derivative at every failing input.
Check the sign of the derivative of the logistic function: it is a1 * (1 - a1), never a1 * (a1 - 1).

Where: q2_4.py, line 12

The smallest input on which it fails:

- Dimensions: H = 2, D = 1
- Activation: logistic

    x = [0.5]
    w1 = [[   1],
          [-0.5]]
    b1 = [0, 0]
    w2 = [0.25, -1]
    b2 = 0

Your function received:

    x = [0.5]
    w2 = [0.25, -1]
    a1 = [0.6224593312018546, 0.43782349911420193]
    yhat = 0.42991237547008293

Expected (shape (2, 1)):

    [[0.007199565645458146],
     [-0.03016222117774602]]

Your function returned (shape (2, 1)):

    [[-0.007199565645458146],
     [  0.03016222117774602]]

Largest absolute difference: 0.06032444235549204 (allowed there: 3.016222117774602e-09)."""


def _class():
    return [samples.passing(), samples.sign_error(), samples.module_error()]


def test_passing_submission_in_full():
    assert render_junit([samples.passing()]) == PASSING_JUNIT


def test_counts_add_up_at_every_level():
    root = ET.fromstring(render_junit(_class()))
    assert root.tag == "testsuites"
    assert {key: root.get(key) for key in ("tests", "failures", "errors", "time")} == {
        "tests": "12",
        "failures": "2",
        "errors": "1",
        "time": "10.860",
    }
    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == [
        "reference_solution (Question 2: Neural Networks (vector edition))",
        "sign_error (Question 2: Neural Networks (vector edition))",
        "broken_module (Question 2: Neural Networks (vector edition))",
    ]
    for suite in suites:
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(sum(case.find("failure") is not None for case in cases))
        assert suite.get("errors") == str(sum(case.find("error") is not None for case in cases))
        assert suite.get("skipped") == "0"
        assert suite.get("time") == "3.620"


def test_one_testcase_per_item_named_by_submission_question_and_item():
    suite = ET.fromstring(render_junit([samples.sign_error()])).find("testsuite")
    assert [(case.get("classname"), case.get("name")) for case in suite.findall("testcase")] == [
        ("sign_error.2.1", "dyhat_dw2"),
        ("sign_error.2.1", "dyhat_db2"),
        ("sign_error.2.3", "dyhat_dx_unchanged_by_b2"),
        ("sign_error.2.4", "dyhat_dw1"),
    ]


def test_failure_carries_summary_and_plain_text_diagnosis_with_counterexample():
    item = samples.sign_error().questions[2].items[0]
    case = ET.fromstring(render_junit([samples.sign_error()])).find("testsuite/testcase[@name='dyhat_dw1']")
    failure = case.find("failure")
    assert failure.get("message") == "sign error"
    assert failure.text == SIGN_ERROR_TEXT == render_item_text(item, output=False)
    assert case.find("system-out").text == "a1 = [0.62245933 0.4378235 ]\n"


def test_item_that_could_not_run_is_an_error_not_a_failure():
    case = ET.fromstring(render_junit([samples.module_error()])).find("testsuite/testcase[@name='dyhat_dw1']")
    assert case.find("failure") is None
    error = case.find("error")
    assert error.get("message") == "q2_4.py could not be imported"
    assert "SyntaxError: '(' was never closed (q2_4.py, line 7)" in error.text


def test_settings_are_suite_properties():
    suite = ET.fromstring(render_junit([samples.passing()])).find("testsuite")
    properties = {prop.get("name"): prop.get("value") for prop in suite.find("properties")}
    assert properties["seed"] == "20240917"
    assert properties["rtol"] == "1e-07"
    assert properties["command"] == "harness grade specs/q2_vector.yaml submissions/reference_solution --seed 20240917"


def test_hostile_strings_survive_the_round_trip_as_text():
    text = render_junit([samples.hostile()])
    root = ET.fromstring(text)  # the control characters were made visible, so this parses
    suite = root.find("testsuite")
    assert suite.get("name") == '=cmd|"`x`"<b>&amp;</b>,*_[a](u)_*\\n# h (Question 2: Neural Networks (vector edition))'
    case = suite.find("testcase[@name='dyhat_dw1']")
    assert case.get("classname") == '=cmd|"`x`"<b>&amp;</b>,*_[a](u)_*\\n# h.2.4'
    assert case.find("failure").get("message") == "wrong <b>value</b> & *more* | `x`"
    assert "ValueError: </failure>\\x00 ``` & <" in case.find("failure").text
    assert case.find("system-out").text == samples.HOSTILE_OUTPUT.replace("\x1b", "\\x1b")
    assert len(root.findall(".//testcase")) == 4


def test_junit_is_deterministic():
    assert render_junit(_class()) == render_junit(_class())
