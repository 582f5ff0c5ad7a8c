"""Backward passes, second derivatives and value items: references, verdicts and diagnoses.

Each bundled spec's answer keys are written answers here (``FormulaAnswer``, graded in float64 by
the safe evaluator, no worker): a key always passes, and a perturbed key always fails with a
counterexample beyond the tolerance.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.answers import FormulaAnswer
from harness.check import Checker
from harness.errors import SpecError
from harness.formula import parse
from harness.reference import reference_answer
from harness.spec import load_spec, load_spec_text
import mpmath

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ("calculus_sheet", "matrix_calculus", "cs231n_layers")
KEYED = [
    (spec, question.id, item.name)
    for spec in BUNDLED
    for question in load_spec(ROOT / "specs" / f"{spec}.yaml").questions
    for item in question.items
    if getattr(item, "expected", None) is not None
]


@lru_cache(maxsize=None)
def checker(spec: str) -> Checker:
    return Checker(load_spec(ROOT / "specs" / f"{spec}.yaml"), examples=12)


def grade(spec: str, question_id: str, name: str, formula: str):
    check = checker(spec)
    question = check.assignment.question(question_id)
    return check.check_derivative(question, question.item(name), FormulaAnswer(parse(formula), None))


@pytest.mark.parametrize(("spec", "question_id", "name"), KEYED)
def test_every_bundled_answer_key_passes_as_a_written_answer(spec, question_id, name):
    item = checker(spec).assignment.question(question_id).item(name)
    result = grade(spec, question_id, name, item.expected.source)
    assert result.status == "passed", (result.summary, result.diagnosis)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(KEYED), st.floats(1e-6, 0.5), st.floats(1e-6, 0.5))
def test_a_perturbed_answer_key_always_fails_beyond_the_tolerance(case, eps, delta):
    spec, question_id, name = case
    item = checker(spec).assignment.question(question_id).item(name)
    result = grade(spec, question_id, name, f"(1 + {eps!r}) * ({item.expected.source}) + {delta!r}")
    assert result.status == "failed", result.summary
    assert result.counterexample.max_abs_error > result.counterexample.tolerance


def test_a_backward_pass_is_the_upstream_gradient_contracted_with_the_jacobian():
    assignment = load_spec(ROOT / "specs" / "cs231n_layers.yaml")
    model = assignment.question("1").model
    rng = np.random.default_rng(0)
    point = {"x": rng.normal(size=(3, 2)), "W": rng.normal(size=(2, 4)), "b": rng.normal(size=4),
             "dout": rng.normal(size=(3, 4)), "N": 3, "D": 2, "C": 4}
    got = reference_answer(model, "backward", "out", "W", point, upstream="dout")
    np.testing.assert_allclose(np.asarray(got, dtype=float), point["x"].T @ point["dout"], rtol=1e-14)
    assert got.shape == (2, 4)


def test_a_second_derivative_matches_its_closed_form_to_25_digits():
    model = load_spec(ROOT / "specs" / "calculus_sheet.yaml").question("6").model

    for x in (-2.5, -0.3, 0.0, 1.25):
        got = reference_answer(model, "second", "f", "x", {"x": np.asarray(x)}, wrt2="x")[()]
        with mpmath.workdps(60):
            want = (4 * mpmath.mpf(x) ** 3 - 6 * mpmath.mpf(x)) * mpmath.exp(-mpmath.mpf(x) ** 2)
            assert abs(got - want) <= mpmath.mpf(10) ** -25 * max(1, abs(want))


def test_the_mistakes_particular_to_the_new_kinds_are_named():
    cases = [
        ("cs231n_layers", "1", "affine_backward_b", "dout", "not summed over the batch"),
        ("cs231n_layers", "3", "softmax_loss_gradient", "softmax(scores) - onehot(y, C)", "missing 1/N"),
        ("cs231n_layers", "1", "affine_backward_x", "-(dout @ W.T)", "sign error"),
        ("matrix_calculus", "1", "quadratic_hessian", "2 * B", "not symmetric"),
    ]
    for spec, question_id, name, formula, mistake in cases:
        result = grade(spec, question_id, name, formula)
        assert (result.status, result.mistake) == ("failed", mistake), (name, result.summary)


def test_the_counterexample_shows_only_the_variables_the_item_uses():
    spec = """\
title: Two functions
variables:
  x: {}
  u: {}
model:
  f: x ** 2
  g: sin(u)
questions:
  - id: "1"
    title: f
    module: m
    items:
      - {function: df, points: 1, of: f, wrt: x}
"""
    result = _check_first_item(spec, "3 * x")
    assert [name for name, _ in result.counterexample.inputs] == ["x"]


def test_labels_reach_a_written_answer_and_are_drawn_within_their_range():
    check = checker("cs231n_layers")
    question = check.assignment.question("3")
    for example in check.draw(question, None, 30):
        sizes = example.size_map
        labels = example.point["y"]
        assert labels.shape == (sizes["N"],)
        assert set(labels.tolist()) <= set(range(sizes["C"]))
        arguments = check.arguments(question.item("softmax_loss"), example, None, ("y", "N"))
        assert arguments["y"].dtype == np.int64 and arguments["N"] == sizes["N"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("wrt: scores", "wrt: y"),
         "at questions[0].items[0].wrt: 'y' takes integer values (labels or integers): nothing can be "
         "differentiated with respect to it"),
        (("of: loss, wrt: scores", "value: loss, wrt: scores"),
         "at questions[0].items[0].wrt: a value item (value: loss) has no 'wrt': it returns a quantity, not a "
         "derivative"),
        (("labels: C", "labels: K"), "at questions[0].variables.y.labels: unknown dimension 'K'; declared "
         "dimensions: N, C"),
        (("labels: C", "labels: C, domain: [0, 3]"),
         "at questions[0].variables.y: 'y' has both 'labels' and 'domain'; a variable has one of them"),
    ],
)
def test_mistakes_with_the_new_constructs_are_spec_errors_naming_the_key(change, message):
    spec = """\
title: Labels
dimensions: {N: [1, 3], C: [2, 3]}
questions:
  - id: "1"
    title: Softmax loss
    module: m
    variables:
      scores: {shape: [N, C]}
      y: {shape: [N], labels: C}
    model:
      loss: -sum(onehot(y, C) * log_softmax(scores)) / N
    items:
      - {function: grad, points: 1, of: loss, wrt: scores}
"""
    with pytest.raises(SpecError) as caught:
        load_spec_text(spec.replace(*change), "labels.yaml")
    assert message in str(caught.value)


def test_an_item_with_no_gradable_input_is_an_error_of_its_own_not_a_pass():
    spec = """\
title: Only kinks
variables:
  x: {domain: [-1.0e-7, 1.0e-7]}
model:
  f: relu(x)
questions:
  - id: "1"
    title: relu at its kink
    module: m
    items:
      - {function: df, points: 1, of: f, wrt: x}
"""
    result = _check_first_item(spec, "heaviside(x)")
    assert (result.status, result.summary, result.score) == ("error", "no gradable input in the domains", 0.0)


def _check_first_item(spec: str, formula: str):
    """The first question's first item of ``spec`` checked at 5 examples against the written ``formula``."""
    assignment = load_spec_text(spec, "spec.yaml")
    question = assignment.questions[0]
    return Checker(assignment, examples=5).check_derivative(question, question.items[0],
                                                            FormulaAnswer(parse(formula), None))
