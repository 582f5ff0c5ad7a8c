"""summary.md, summary.html, grades.csv and mistakes.csv: the class view, one row per submission."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

import report_samples as samples
from harness.report import render_class_html, render_class_summary, render_grades_csv, render_mistakes_csv

SUMMARY = """# Class summary: Question 2: Neural Networks (vector edition)

3 submissions graded against `specs/q2_vector.yaml`.

## Totals

| statistic | total (of 5) |
| --- | ---: |
| mean | 3.33 (67%) |
| median | 3 (60%) |
| lower quartile | 2.5 (50%) |
| upper quartile | 4 (80%) |
| lowest | 2 (40%) |
| highest | 5 (100%) |

```text
totals (points)   submissions
0–1    0
1–2    0
2–3   ██████████████████████████████ 1
3–4   ██████████████████████████████ 1
4–5   ██████████████████████████████ 1
```

## Scores

| submission | total | percent | `2.1 dyhat_dw2` | `2.1 dyhat_db2` | `2.3 dyhat_dx_unchanged_by_b2` | `2.4 dyhat_dw1` |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| `broken_module` | 3 / 5 | 60% | 1 | 1 | 1 | 0 |
| `reference_solution` | 5 / 5 | 100% | 1 | 1 | 1 | 2 |
| `sign_error` | 2 / 5 | 40% | 1 | 1 | 0 | 0 |

## Items

| item | max | passed | pass rate | mean score | mistakes |
| --- | ---: | ---: | ---: | ---: | --- |
| `2.1 dyhat_dw2` | 1 | 3 / 3 | 100% | 1 | – |
| `2.1 dyhat_db2` | 1 | 3 / 3 | 100% | 1 | – |
| `2.3 dyhat_dx_unchanged_by_b2` | 1 | 2 / 3 | 67% | 0.67 | wrong claim: 1 |
| `2.4 dyhat_dw1` | 2 | 1 / 3 | 33% | 0.67 | not checked: 1, sign error: 1 |

## Mistakes

Every failed item has a diagnosis; across the class: not checked: 1 submission; sign error: 1 submission; wrong claim: 1 submission.

| item | mistake | submissions | who |
| --- | --- | ---: | --- |
| `2.3 dyhat_dx_unchanged_by_b2` | wrong claim | 1 | `sign_error` |
| `2.4 dyhat_dw1` | not checked | 1 | `broken_module` |
| `2.4 dyhat_dw1` | sign error | 1 | `sign_error` |

## How to reproduce

- Seed: `20240917`
- Examples per item: `100`
- Tolerance: `rtol = 1e-07`, `atol = 1e-12`
- Reference precision: `30` digits
- Inputs: `drawn from the seed by Hypothesis (no lock)`
- Isolation: `process+rlimits`
- Versions: harness `0.1.0`, Hypothesis `6.100.0`, numpy `1.26.4`, mpmath `1.3.0`, Python `3.11.9`

Each submission's `report.md` gives the exact command that reproduces it.
"""

GRADES = """submission,2.1 dyhat_dw2,2.1 dyhat_db2,2.3 dyhat_dx_unchanged_by_b2,2.4 dyhat_dw1,total,max,percent,status
broken_module,1,1,1,0,3,5,60.00,graded
reference_solution,1,1,1,2,5,5,100.00,graded
sign_error,1,1,0,0,2,5,40.00,graded
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
        ["submission", "2.1 dyhat_dw2", "2.1 dyhat_db2", "2.3 dyhat_dx_unchanged_by_b2", "2.4 dyhat_dw1", "total", "max",
         "percent", "status"],
        [samples.HOSTILE_NAME, "1", "1", "0", "0", "2", "5", "40.00", "graded"],
        ["reference_solution", "1", "1", "1", "2", "5", "5", "100.00", "graded"],
    ]


def test_hostile_folder_name_stays_inside_its_table_cell():
    summary = render_class_summary([samples.hostile()])
    assert "| ``=cmd\\|\"`x`\"<b>&amp;</b>,*_[a](u)_*\\n# h`` | 2 / 5 | 40% | 1 | 1 | 0 | 0 |\n" in summary


def test_scores_are_printed_without_float_noise():
    result = samples.passing()
    question = result.questions[0]
    items = tuple(replace(item, score=value) for item, value in zip(question.items, (0.1, 0.2)))
    result = replace(result, questions=(replace(question, items=items),))
    assert render_grades_csv([result]).splitlines()[1] == "reference_solution,0.1,0.2,0.3,2,15.00,graded"


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
    assert render_grades_csv([]) == "submission,total,max,percent,status\n"


def test_mistakes_csv_lists_every_failed_item_with_its_kind_of_mistake():
    rows = list(csv.reader(io.StringIO(render_mistakes_csv(_class()), newline="")))
    assert rows == [
        ["submission", "item", "mistake", "summary"],
        ["broken_module", "2.4 dyhat_dw1", "not checked", "q2_4.py could not be imported"],
        ["sign_error", "2.3 dyhat_dx_unchanged_by_b2", "wrong claim", "wrong answer"],
        ["sign_error", "2.4 dyhat_dw1", "sign error", "sign error"],
    ]


def test_each_mistake_names_the_submissions_behind_it_up_to_a_limit():
    many = [replace(samples.sign_error(), submission=f"student_{number:02d}") for number in range(25)]
    summary = render_class_summary(many)
    assert "across the class: sign error: 25 submissions; wrong claim: 25 submissions." in summary
    row = next(line for line in summary.splitlines() if line.startswith("| `2.4 dyhat_dw1` | sign error |"))
    assert row.startswith("| `2.4 dyhat_dw1` | sign error | 25 | `student_00`, `student_01`, ")
    assert row.endswith("`student_19`, and 5 more (mistakes.csv lists every one) |")


def test_a_submission_that_could_not_be_graded_is_not_a_zero_in_the_status_column():
    empty = replace(samples.module_error(), submission="empty_upload", not_gradable="the submission is empty")
    grades = render_grades_csv([empty, samples.passing()])
    assert grades.splitlines()[1].split(",")[-1] == "not gradable: the submission is empty"
    summary = render_class_summary([empty, samples.passing()])
    assert "2 submissions graded against `specs/q2_vector.yaml`. 1 could not be graded at all (see below)." in summary
    assert "## Totals\n\nOf the 1 submission that could be graded.\n\n" in summary
    assert "| mean | 5 (100%) |" in summary  # the empty upload is not a 0 in the statistics
    assert "## Not gradable\n\n| submission | why |\n| --- | --- |\n| `empty_upload` | the submission is empty |" in summary


def test_the_html_summary_is_one_self_contained_page_with_the_same_tables():
    page = render_class_html(_class())
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert "<h2>Mistakes</h2>" in page and "<td><code>sign_error</code></td>" in page
    assert "src=" not in page and "href=" not in page and "<link" not in page and "<script" not in page
    assert "<pre>totals (points)" in page  # no chart given: the text histogram stands in
    with_chart = render_class_html(_class(), '<?xml version="1.0"?>\n<svg id="chart"></svg>\n')
    assert '<figure aria-label="Distribution of the totals"><svg id="chart"></svg>\n</figure>' in with_chart
    assert "<pre>totals (points)" not in with_chart and "<?xml" not in with_chart


def test_hostile_names_are_escaped_in_the_html_summary():
    page = render_class_html([samples.hostile()])
    assert "<b>" not in page and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in page
