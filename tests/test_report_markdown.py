"""report.md: what a student reads. Whole reports are pinned where the wording matters."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import harness.report
import report_samples as samples
from harness.report import render_item_markdown, render_submission_markdown
from harness.report.markdown import format_number, format_value, inline_code

SIGN_ERROR_REPORT = r"""# Grading report: Question 2: Neural Networks (vector edition)

- Submission: `sign_error`
- Total score: **2 / 5**
- Items passed: 2 of 4

## Notes

- answers.yaml ignored for 2.4 dyhat_dw1: q2_4.py defines it

## Question 2.1: Output layer (2 / 2)

> Differentiate $\hat{y}$ with respect to $\mathbf{w}_2$ and $b_2$.

### PASS: 2.1 `dyhat_dw2` (1 / 1)

correct on 100 examples

### PASS: 2.1 `dyhat_db2` (1 / 1)

correct on 100 examples

## Question 2.3: Does the input gradient depend on b2? (0 / 1)

### FAIL: 2.3 `dyhat_dx_unchanged_by_b2` (0 / 1)

wrong answer

Claim: d yhat/dx is unchanged when b2 changes

Your answer: `True`; correct answer: `False`.

b2 shifts z2, and the slope of the activation at z2 scales every derivative of yhat.

Where: `answers.yaml`, line 2

Evidence: two inputs that differ only in `b2` (one of 100 pairs compared):

- Activation: `logistic`

First input:

```text
x = 0.5
w1 = 1
b1 = 0
w2 = 0.25
b2 = 0
```

Derivative at the first input: `0.014599170221653197`.

Second input:

```text
x = 0.5
w1 = 1
b1 = 0
w2 = 0.25
b2 = 1
```

Derivative at the second input: `0.010699808129570177`.

## Question 2.4: Logistic activation (0 / 2)

> With $\sigma$ the logistic function, find
> $\partial \hat{y} / \partial \mathbf{w}_1$.

### FAIL: 2.4 `dyhat_dw1` (0 / 2)

sign error

Your result is the exact negative of the true derivative at every failing input.
Check the sign of the derivative of the logistic function: it is a1 \* (1 - a1), never a1 \* (a1 - 1).

Where: `q2_4.py`, line 12

The smallest input on which it fails:

- Dimensions: `H = 2`, `D = 1`
- Activation: `logistic`

```text
x = [0.5]
w1 = [[   1],
      [-0.5]]
b1 = [0, 0]
w2 = [0.25, -1]
b2 = 0
```

Your function received:

```text
x = [0.5]
w2 = [0.25, -1]
a1 = [0.6224593312018546, 0.43782349911420193]
yhat = 0.42991237547008293
```

Expected (shape (2, 1)):

```text
[[0.007199565645458146],
 [-0.03016222117774602]]
```

Your function returned (shape (2, 1)):

```text
[[-0.007199565645458146],
 [  0.03016222117774602]]
```

Largest absolute difference: `0.06032444235549204` (allowed there: `3.016222117774602e-09`).

Output printed by your code:

```text
a1 = [0.62245933 0.4378235 ]
```

## How to reproduce

- Spec file: `specs/q2_vector.yaml`
- Seed: `20240917`
- Examples per item: `100`
- Tolerance: `rtol = 1e-07`, `atol = 1e-12`
- Reference precision: `30` digits
- Inputs: `drawn from the seed by Hypothesis (no lock)`
- Isolation: `process+rlimits`
- Versions: harness `0.1.0`, Hypothesis `6.100.0`, numpy `1.26.4`, mpmath `1.3.0`, Python `3.11.9`

Command:

```sh
harness grade specs/q2_vector.yaml submissions/sign_error --seed 20240917
```
"""

PASSING_REPORT = r"""# Grading report: Question 2: Neural Networks (vector edition)

- Submission: `reference_solution`
- Total score: **5 / 5**
- Items passed: 4 of 4

## Question 2.1: Output layer (2 / 2)

> Differentiate $\hat{y}$ with respect to $\mathbf{w}_2$ and $b_2$.

### PASS: 2.1 `dyhat_dw2` (1 / 1)

correct on 100 examples

### PASS: 2.1 `dyhat_db2` (1 / 1)

correct on 100 examples

## Question 2.3: Does the input gradient depend on b2? (1 / 1)

### PASS: 2.3 `dyhat_dx_unchanged_by_b2` (1 / 1)

correct

Claim: d yhat/dx is unchanged when b2 changes

Your answer: `False`; correct answer: `False`.

## Question 2.4: Logistic activation (2 / 2)

> With $\sigma$ the logistic function, find
> $\partial \hat{y} / \partial \mathbf{w}_1$.

### PASS: 2.4 `dyhat_dw1` (2 / 2)

correct on 100 examples

## How to reproduce

- Spec file: `specs/q2_vector.yaml`
- Seed: `20240917`
- Examples per item: `100`
- Tolerance: `rtol = 1e-07`, `atol = 1e-12`
- Reference precision: `30` digits
- Inputs: `drawn from the seed by Hypothesis (no lock)`
- Isolation: `process+rlimits`
- Versions: harness `0.1.0`, Hypothesis `6.100.0`, numpy `1.26.4`, mpmath `1.3.0`, Python `3.11.9`

Command:

```sh
harness grade specs/q2_vector.yaml submissions/reference_solution --seed 20240917
```
"""

MODULE_ERROR_ITEM = r"""q2_4.py could not be imported

Python stopped at a syntax error in q2_4.py, so none of its functions could be checked.

Where: `q2_4.py`, line 7

Error:

```text
SyntaxError: '(' was never closed (q2_4.py, line 7)
```"""

HOSTILE_ITEM = r"""wrong \<b\>value\</b\> & \*more\* \| \`x\`

Use \`yhat \* (1 - yhat)\`;
indented
\# not a heading
1\. not a list \<i\>x\</i\> \&amp;

next

Where: `q2_4.py`, line 12

The smallest input on which it fails:

- Dimensions: `H = 2`, `D = 1`
- Activation: `logistic`

```text
x = [0.5]
w1 = [[   1],
      [-0.5]]
b1 = [0, 0]
w2 = [0.25, -1]
b2 = 0
```

Your function received:

```text
x = [0.5]
w2 = [0.25, -1]
a1 = [0.6224593312018546, 0.43782349911420193]
yhat = 0.42991237547008293
```

Expected (shape (2, 1)):

```text
[[0.007199565645458146],
 [-0.03016222117774602]]
```

Your function returned (shape (2, 1)):

```text
[[-0.007199565645458146],
 [  0.03016222117774602]]
```

Error:

````text
ValueError: </failure>\x00 ``` & <
````

Largest absolute difference: `0.06032444235549204` (allowed there: `3.016222117774602e-09`).

Output printed by your code:

`````text
```
</testcase>]]>
````python
<script>alert(1)</script> &amp; \x1b[31mred
`````"""


def test_sign_error_report_shows_diagnosis_claim_evidence_and_whole_counterexample():
    assert render_submission_markdown(samples.sign_error()) == SIGN_ERROR_REPORT


def test_passing_report_shows_scores_without_details():
    assert render_submission_markdown(samples.passing()) == PASSING_REPORT


def test_module_error_is_shown_as_an_error_with_its_message():
    item = samples.module_error().questions[2].items[0]
    assert render_item_markdown(item) == MODULE_ERROR_ITEM
    assert "### ERROR: 2.4 `dyhat_dw1` (0 / 2)\n" in render_submission_markdown(samples.module_error())


def test_report_is_deterministic_and_ignores_execution_time():
    result = samples.sign_error()
    first = render_submission_markdown(result)
    assert render_submission_markdown(samples.sign_error()) == first
    assert render_submission_markdown(replace(result, execution_time=999.5)) == first


def test_hostile_text_is_escaped_and_output_cannot_leave_its_fence():
    result = samples.hostile()
    assert render_item_markdown(result.questions[2].items[0]) == HOSTILE_ITEM
    report = render_submission_markdown(result)
    assert "- Submission: ``=cmd|\"`x`\"<b>&amp;</b>,*_[a](u)_*\\n# h``\n" in report
    assert "- note with \\<b\\>html\\</b\\>\n" in report
    # Outside code spans and fenced blocks, no raw HTML tag survives.
    prose = re.sub(r"(`{3,})text\n.*?\n\1\n", "", report, flags=re.DOTALL)
    prose = re.sub(r"(`+).*?\1", "", prose)
    assert not re.search(r"(?<!\\)<[a-z/]", prose)


def test_code_span_outlasts_backticks_and_pads_edges():
    assert inline_code("a") == "`a`"
    assert inline_code("`a`") == "`` `a` ``"
    assert inline_code("a``b") == "```a``b```"
    assert inline_code("x|y", in_table=True) == "`x\\|y`"
    assert inline_code("line\nbreak") == "`line\\nbreak`"


def test_values_print_as_nested_lists_with_matrix_rows_aligned():
    result = samples.sign_error()
    report = render_submission_markdown(result)
    assert "w1 = [[   1],\n      [-0.5]]\n" in report
    assert format_value(((1.0, 2.5), (-3.0, 4.0))) == "[[1, 2.5], [-3, 4]]"
    assert format_value((((1.0,), (2.0,)), ((3.0,), (4.0,)))) == "[[[1], [2]], [[3], [4]]]"
    assert format_value(()) == "[]"
    assert format_value(True) == "True"


def test_three_dimensional_arrays_keep_one_row_per_line():
    item = samples.sign_error().questions[2].items[0]
    cube = (((1.0, -2.0), (3.0, 4.0)), ((5.0, 6.0), (7.0, 8.5)))
    example = replace(item.counterexample, expected=cube, expected_shape=(2, 2, 2))
    text = render_item_markdown(replace(item, counterexample=example))
    assert (
        "Expected (shape (2, 2, 2)):\n\n"
        "```text\n"
        "[[[  1,  -2],\n"
        "  [  3,   4]],\n"
        " [[  5,   6],\n"
        "  [  7, 8.5]]]\n"
        "```\n"
    ) in text


@given(st.floats(allow_nan=False))
def test_numbers_read_back_as_the_same_float(x):
    assert float(format_number(x)) == x


def test_numbers_drop_a_trailing_point_zero_only():
    assert [format_number(x) for x in (1.0, -0.0, 0.1, 1e-08, 1e16, float("inf"))] == [
        "1",
        "-0",
        "0.1",
        "1e-08",
        "1e+16",
        "inf",
    ]


def test_report_package_imports_nothing_but_the_standard_library_and_results():
    allowed = {"__future__", "collections", "csv", "dataclasses", "html", "io", "itertools", "math", "re",
               "statistics", "typing", "unicodedata", "xml"}
    package = Path(harness.report.__file__).parent
    for module in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed or name == "harness.results" or name.startswith(
                    "harness.report."
                ), f"{module.name} imports {name}"
