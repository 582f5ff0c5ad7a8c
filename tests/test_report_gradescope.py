"""results.json: Gradescope's autograder format, one test per item."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import report_samples as samples
from harness.report import gradescope_results, render_item_markdown

TOP_LEVEL_KEYS = ["score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "stdout_visibility", "extra_data", "tests"]
TEST_KEYS = ["name", "score", "max_score", "status", "output", "output_format", "tags", "extra_data"]

SIGN_ERROR_OVERVIEW = """\
Submission `sign_error`: **2 / 5** on Question 2: Neural Networks (vector edition) (2 of 4 items passed).

- answers.yaml ignored for 2.4 dyhat_dw1: q2_4.py defines it

Reproduce with (seed `20240917`, 100 examples per item):

```sh
harness grade specs/q2_vector.yaml submissions/sign_error --seed 20240917
```"""


def test_results_have_exactly_the_gradescope_keys_and_one_test_per_item():
    result = samples.sign_error()
    document = gradescope_results(result)
    assert list(document) == TOP_LEVEL_KEYS
    assert [list(test) for test in document["tests"]] == [TEST_KEYS] * 4
    assert json.loads(json.dumps(document, indent=2, sort_keys=False)) == document


def test_sign_error_results_in_full():
    result = samples.sign_error()
    items = result.items
    assert gradescope_results(result, visibility={"2.4 dyhat_dw1": "after_published"}) == {
        "score": 2.0,
        "execution_time": 4,
        "output": SIGN_ERROR_OVERVIEW,
        "output_format": "md",
        "test_output_format": "md",
        "test_name_format": "text",
        "stdout_visibility": "hidden",
        "extra_data": {"isolation": "process+rlimits", "inputs": "drawn from the seed by Hypothesis (no lock)"},
        "tests": [
            {
                "name": "2.1 dyhat_dw2",
                "score": 1.0,
                "max_score": 1.0,
                "status": "passed",
                "output": "correct on 100 examples",
                "output_format": "md",
                "tags": [],
                "extra_data": {"status": "passed", "mistake": None, "summary": "correct on 100 examples",
                               "examples": 100},
            },
            {
                "name": "2.1 dyhat_db2",
                "score": 1.0,
                "max_score": 1.0,
                "status": "passed",
                "output": "correct on 100 examples",
                "output_format": "md",
                "tags": [],
                "extra_data": {"status": "passed", "mistake": None, "summary": "correct on 100 examples",
                               "examples": 100},
            },
            {
                "name": "2.3 dyhat_dx_unchanged_by_b2",
                "score": 0.0,
                "max_score": 1.0,
                "status": "failed",
                "output": render_item_markdown(items[2]),
                "output_format": "md",
                "tags": ["wrong claim"],
                "extra_data": {"status": "failed", "mistake": "wrong claim", "summary": "wrong answer",
                               "examples": 100},
            },
            {
                "name": "2.4 dyhat_dw1",
                "score": 0.0,
                "max_score": 2.0,
                "status": "failed",
                "output": render_item_markdown(items[3]),
                "output_format": "md",
                "tags": ["sign error"],
                "extra_data": {
                    "status": "failed",
                    "mistake": "sign error",
                    "summary": "sign error",
                    "examples": 1,
                    "counterexample": {
                        "inputs": {"x": [0.5], "w1": [[1.0], [-0.5]], "b1": [0.0, 0.0],
                                   "w2": [0.25, -1.0], "b2": 0.0},
                        "dimensions": {"H": 2, "D": 1},
                        "activation": "logistic",
                    },
                },
                "visibility": "after_published",
            },
        ],
    }


def test_an_item_that_could_not_run_is_a_failed_test():
    tests = gradescope_results(samples.module_error())["tests"]
    assert [test["status"] for test in tests] == ["passed", "passed", "passed", "failed"]
    assert tests[3]["output"].startswith("q2_4.py could not be imported\n\n")


def test_scores_carry_no_float_noise():
    result = samples.passing()
    question = result.questions[0]
    items = tuple(replace(item, score=value, max_score=value) for item, value in zip(question.items, (0.1, 0.2)))
    result = replace(result, questions=(replace(question, items=items),))
    document = gradescope_results(result)
    assert document["score"] == 0.3
    assert json.dumps(document["score"]) == "0.3"


def test_visibility_for_tests_the_result_lacks_is_ignored():
    # A crashed grading yields fewer tests than the spec's visibility mapping names.
    document = gradescope_results(samples.passing(), visibility={"9.9 missing": "hidden"})
    assert all("visibility" not in test for test in document["tests"])


def test_unknown_visibility_value_is_rejected_with_the_accepted_ones():
    with pytest.raises(ValueError) as info:
        gradescope_results(samples.passing(), visibility={"2.4 dyhat_dw1": "secret"})
    assert str(info.value) == (
        "visibility of test '2.4 dyhat_dw1' is 'secret'; Gradescope accepts one of: "
        "'hidden', 'after_due_date', 'after_published', 'visible'"
    )


def test_an_item_that_could_not_run_keeps_its_status_and_mistake_in_extra_data():
    test = gradescope_results(samples.module_error())["tests"][3]
    assert (test["status"], test["extra_data"]["status"]) == ("failed", "error")
    assert test["extra_data"]["summary"] == "q2_4.py could not be imported"


def test_a_counterexample_value_json_cannot_hold_is_written_as_text():
    result = samples.sign_error()
    question = result.questions[-1]
    item = question.items[-1]
    example = replace(item.counterexample, inputs=(("x", (float("nan"), float("inf"))), ("b2", -0.0)))
    items = (*question.items[:-1], replace(item, counterexample=example))
    result = replace(result, questions=(*result.questions[:-1], replace(question, items=items)))
    inputs = gradescope_results(result)["tests"][-1]["extra_data"]["counterexample"]["inputs"]
    assert inputs == {"x": ["nan", "inf"], "b2": -0.0}
    json.dumps(inputs, allow_nan=False)
