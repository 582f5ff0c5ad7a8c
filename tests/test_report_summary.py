"""summary.md and grades.csv: the class view, one row per submission."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

import report_samples as samples
from harness.report import render_class_summary, render_grades_csv

SUMMARY = """# Class summary: Question 2: Neural Networks (vector edition)

3 submissions graded against `specs/q2_vector.yaml`.

## Scores

| submission | `2.1 dyhat_dw2` | `2.1 dyhat_db2` | `2.3 dyhat_dx_unchanged_by_b2` | `2.4 dyhat_dw1` | total |
| --- | ---: | ---: | ---: | ---: | ---: |
| `broken_module` | 1 | 1 | 1 | 0 | 3 / 5 |
| `reference_solution` | 1 | 1 | 1 | 2 | 5 / 5 |
| `sign_error` | 1 | 1 | 0 | 0 | 2 / 5 |

## Items

| item | max | passed | pass rate | mean score |
| --- | ---: | ---: | ---: | ---: |
| `2.1 dyhat_dw2` | 1 | 3 / 3 | 100% | 1 |
| `2.1 dyhat_db2` | 1 | 3 / 3 | 100% | 1 |
| `2.3 dyhat_dx_unchanged_by_b2` | 1 | 2 / 3 | 67% | 0.666667 |
| `2.4 dyhat_dw1` | 2 | 1 / 3 | 33% | 0.666667 |

## How to reproduce

- Seed: `20240917`
- Examples per item: `100`
- Tolerance: `rtol = 1e-07`, `atol = 1e-12`
- Reference precision: `30` digits
- Isolation: `process+rlimits`
- Versions: harness `0.1.0`, Hypothesis `6.100.0`, numpy `1.26.4`, mpmath `1.3.0`, Python `3.11.9`

Each submission's `report.md` gives the exact command that reproduces it.
"""

GRADES = """submission,2.1 dyhat_dw2,2.1 dyhat_db2,2.3 dyhat_dx_unchanged_by_b2,2.4 dyhat_dw1,total,max
broken_module,1,1,1,0,3,5
reference_solution,1,1,1,2,5,5
sign_error,1,1,0,0,2,5
"""


def _class():
    # Deliberately not in folder-name order: the renderers sort.
    return [samples.sign_error(), samples.passing(), samples.module_error()]


def test_summary_lists_scores_pass_rates_and_settings():
    assert render_class_summary(_class()) == SUMMARY


def test_grades_csv_has_one_row_per_submission_sorted_by_folder_name():
    assert render_grades_csv(_class()) == GRADES


def test_renderers_are_deterministic_whatever_the_input_order():
    assert render_class_summary(list(reversed(_class()))) == SUMMARY
    assert render_grades_csv(list(reversed(_class()))) == GRADES


def test_hostile_folder_name_round_trips_through_csv():
    rows = list(csv.reader(io.StringIO(render_grades_csv([samples.hostile(), samples.passing()]), newline="")))
    assert rows == [
        ["submission", "2.1 dyhat_dw2", "2.1 dyhat_db2", "2.3 dyhat_dx_unchanged_by_b2", "2.4 dyhat_dw1", "total", "max"],
        [samples.HOSTILE_NAME, "1", "1", "0", "0", "2", "5"],
        ["reference_solution", "1", "1", "1", "2", "5", "5"],
    ]


def test_hostile_folder_name_stays_inside_its_table_cell():
    summary = render_class_summary([samples.hostile()])
    assert "| ``=cmd\\|\"`x`\"<b>&amp;</b>,*_[a](u)_*\\n# h`` | 1 | 1 | 0 | 0 | 2 / 5 |\n" in summary


def test_scores_are_printed_without_float_noise():
    result = samples.passing()
    question = result.questions[0]
    items = tuple(replace(item, score=value) for item, value in zip(question.items, (0.1, 0.2)))
    result = replace(result, questions=(replace(question, items=items),))
    assert render_grades_csv([result]).splitlines()[1] == "reference_solution,0.1,0.2,0.3,2"


def test_results_of_different_assignments_are_refused():
    scalar = replace(samples.passing(), assignment="Question 2 (scalar edition)", spec_file="specs/q2.yaml")
    with pytest.raises(ValueError) as info:
        render_grades_csv([samples.passing(), scalar])
    assert str(info.value) == (
        "a class summary covers one assignment, but these results come from 2: "
        "'Question 2 (scalar edition)' (specs/q2.yaml), "
        "'Question 2: Neural Networks (vector edition)' (specs/q2_vector.yaml); "
        "render each assignment's results separately"
    )


def test_submissions_graded_with_different_settings_are_grouped():
    other = replace(samples.passing(), settings=replace(samples.passing().settings, seed=7))
    summary = render_class_summary([samples.sign_error(), other])
    reproduction = summary.split("## How to reproduce\n\n")[1]
    assert reproduction.startswith(
        "The submissions were not all graded with the same settings.\n\n"
        "Settings for `reference_solution`:\n\n"
        "- Seed: `7`\n"
    )
    assert "Settings for `sign_error`:\n\n- Seed: `20240917`\n" in reproduction


def test_no_submissions_give_a_header_only():
    assert render_class_summary([]) == "# Class summary\n\nNo submissions were graded.\n"
    assert render_grades_csv([]) == "submission,total,max\n"
